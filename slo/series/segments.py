"""The fine tier of ``CounterSides``: every side's exact points (time, cumulative count) for the
last hours, each side one segment of a shared pool.

Side ``side``'s points are ``times[offset[side] : offset[side] + length[side]]`` (ascending) and
the same slice of ``cumulative``; its segment has room for ``capacity[side]`` points. One pool
for every side lets a reader answer all sides with one vectorised search (``segment_search``)
instead of a Python loop. A full segment first drops the points older than the tier needs
(``keep_ms`` before the side's newest, keeping the last one before that edge, so a window
starting there still finds its value), else moves to the pool's end with twice the room; a full
pool is repacked, or doubled when over half of it is live.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["FineSegments", "segment_search"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

_MIN_SEGMENT = 16
_MIN_POOL = 1024


def segment_search(pool: I64, segment_offset: I64, segment_length: I64, target: I64, *, right: bool) -> I64:
    """``np.searchsorted(pool[offset : offset + length], target)`` per query, for many segments at once.

    Each query has its own ascending segment of ``pool``; the result is the index within it
    (``side="right"`` when ``right``). A vectorised binary search: one pass per bit of the
    longest segment, keeping ``low <= answer <= high`` for every query.
    """
    low = np.zeros(len(segment_offset), dtype=np.int64)
    if len(segment_offset) == 0 or len(pool) == 0:
        return low
    high = segment_length.astype(np.int64, copy=True)
    last_slot = len(pool) - 1
    for _ in range(int(high.max()).bit_length()):
        middle = (low + high) >> 1
        probe = pool[np.minimum(segment_offset + middle, last_slot)]
        answer_above = (probe <= target) if right else (probe < target)
        answer_above &= low < high
        low = np.where(answer_above, middle + 1, low)
        high = np.where(answer_above, high, middle)
    return low


class FineSegments:
    """Exact points per side in one shared pool: allocation, trimming, writing and search."""

    def __init__(self, n_sides: int, keep_ms: int) -> None:
        self.keep_ms = keep_ms
        self.times = np.zeros(0, dtype=np.int64)
        self.cumulative = np.zeros(0, dtype=np.float64)
        self._used = 0
        self.offset = np.zeros(n_sides, dtype=np.int64)
        self.length = np.zeros(n_sides, dtype=np.int64)
        self.capacity = np.zeros(n_sides, dtype=np.int64)

    def nbytes(self) -> int:
        """Bytes of the pool and the segment table."""
        arrays = (self.times, self.cumulative, self.offset, self.length, self.capacity)
        return sum(int(a.nbytes) for a in arrays)

    def grow(self, n_sides: int) -> None:
        """Room in the segment table for ``n_sides`` sides (the new ones empty)."""
        extra = n_sides - len(self.offset)
        if extra > 0:
            self.offset = np.concatenate([self.offset, np.zeros(extra, dtype=np.int64)])
            self.length = np.concatenate([self.length, np.zeros(extra, dtype=np.int64)])
            self.capacity = np.concatenate([self.capacity, np.zeros(extra, dtype=np.int64)])

    # -- room ------------------------------------------------------------------------------

    def _allocate(self, size: int) -> int:
        """Room for a segment of ``size`` points at the pool's end (growing or repacking it)."""
        if self._used + size > len(self.times):
            live = int(self.capacity.sum())
            if live + size <= len(self.times) // 2:
                self._repack(len(self.times))
            else:
                self._repack(max(2 * (live + size), _MIN_POOL))
        segment_offset = self._used
        self._used += size
        return segment_offset

    def _repack(self, pool_size: int) -> None:
        """Copy every live segment (capacity > 0) to the front of a new pool of ``pool_size``."""
        times = np.zeros(pool_size, dtype=np.int64)
        cumulative = np.zeros(pool_size, dtype=np.float64)
        position = 0
        for side in np.flatnonzero(self.capacity).tolist():
            start, count = int(self.offset[side]), int(self.length[side])
            times[position : position + count] = self.times[start : start + count]
            cumulative[position : position + count] = self.cumulative[start : start + count]
            self.offset[side] = position
            position += int(self.capacity[side])
        self.times, self.cumulative, self._used = times, cumulative, position

    def reserve(self, side: int, extra: int, newest_ms: int) -> None:
        """Room for ``extra`` more points in ``side``'s segment (``newest_ms``: its newest point):
        drop the points before ``newest_ms − keep_ms`` but the last of them, else move it."""
        start, count, room = int(self.offset[side]), int(self.length[side]), int(self.capacity[side])
        if count + extra <= room:
            return
        dropped = 0
        if count:
            edge_ms = newest_ms - self.keep_ms
            before_edge = int(np.searchsorted(self.times[start : start + count], edge_ms, side="left"))
            dropped = max(before_edge - 1, 0)
        kept = count - dropped
        if kept + extra <= room and 2 * kept <= room:
            self.times[start : start + kept] = self.times[start + dropped : start + count]
            self.cumulative[start : start + kept] = self.cumulative[start + dropped : start + count]
            self.length[side] = kept
            return
        new_room = max(2 * (kept + extra), _MIN_SEGMENT)
        kept_times = self.times[start + dropped : start + count].copy()  # _allocate may repack the pool
        kept_cumulative = self.cumulative[start + dropped : start + count].copy()
        self.capacity[side] = 0  # the old place is dead: not copied if the pool is repacked
        self.length[side] = 0
        new_offset = self._allocate(new_room)
        self.times[new_offset : new_offset + kept] = kept_times
        self.cumulative[new_offset : new_offset + kept] = kept_cumulative
        self.offset[side], self.length[side], self.capacity[side] = new_offset, kept, new_room

    # -- writing ---------------------------------------------------------------------------

    def write(self, side: int, times: I64, cumulative: F64, newest_ms: int, *, restart: bool = False) -> None:
        """Append points newer than ``side``'s newest (``newest_ms``); ``restart``: drop the old ones."""
        if restart:
            self.length[side] = 0
        self.reserve(side, len(times), newest_ms)
        end = int(self.offset[side] + self.length[side])
        self.times[end : end + len(times)] = times
        self.cumulative[end : end + len(times)] = cumulative
        self.length[side] += len(times)

    def write_one_each(self, sides: I64, times: I64, cumulative: F64, newest_ms: I64) -> None:
        """Append one point to each of ``sides`` (distinct), all at once (a scrape tick)."""
        full = np.flatnonzero(self.length[sides] >= self.capacity[sides])
        for i in full.tolist():
            self.reserve(int(sides[i]), 1, int(newest_ms[i]))
        end = self.offset[sides] + self.length[sides]
        self.times[end] = times
        self.cumulative[end] = cumulative
        self.length[sides] += 1

    def add_late(self, side: int, time_ms: int, step: float, newest_ms: int, first_ms: int) -> float:
        """Fold in a point at ``time_ms``, at or before ``side``'s newest: ``cumulative += step`` at
        and after it (a new point if none is at ``time_ms``, unless it is older than the segment's
        first point, which then stands for all before it). Returns the side's newest cumulative."""
        self.reserve(side, 1, newest_ms)
        start, count = int(self.offset[side]), int(self.length[side])
        position = int(np.searchsorted(self.times[start : start + count], time_ms, side="left"))
        exact = position < count and int(self.times[start + position]) == time_ms
        older_than_segment = position == 0 and count > 0 and int(self.times[start]) > first_ms
        at = start + position
        if not exact and not older_than_segment:
            before = float(self.cumulative[at - 1]) if position > 0 else 0.0
            self.times[at + 1 : start + count + 1] = self.times[at : start + count]
            self.cumulative[at + 1 : start + count + 1] = self.cumulative[at : start + count]
            self.times[at] = time_ms
            self.cumulative[at] = before
            count += 1
            self.length[side] = count
        self.cumulative[at : start + count] += step
        return float(self.cumulative[start + count - 1])

    # -- reading ---------------------------------------------------------------------------

    def count_at_or_before(self, sides: I64, time_ms: I64, *, inclusive: bool = True) -> I64:
        """Per query, the number of ``sides[i]``'s points at or before ``time_ms[i]`` (strictly
        before when not ``inclusive``): the index just past the latest such point."""
        return segment_search(self.times, self.offset[sides], self.length[sides], time_ms, right=inclusive)

    def slot(self, sides: I64, index: I64) -> I64:
        """Where point ``index`` of each side's segment lies in the pool (clamped into it)."""
        out: I64 = np.minimum(self.offset[sides] + index, max(len(self.times) - 1, 0))
        return out

    def value_before(self, sides: I64, count: I64) -> F64:
        """``cumulative[count − 1]`` of each side's segment: the value of the latest of its first
        ``count`` points (0 when ``count`` is 0)."""
        if len(self.cumulative) == 0:
            return np.zeros(len(sides), dtype=np.float64)
        out: F64 = np.where(count > 0, self.cumulative[self.slot(sides, count - 1)], 0.0)
        return out
