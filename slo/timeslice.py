"""Time-slice SLIs: rings of cumulative slice counts, and the window lookups every time-slice kind shares.

Slice ``k`` of length ``S`` covers ``((k-1)·S, k·S]`` (``slice_index``). A time-slice objective's
SLI over a window ``W`` at time ``at`` is

    SLI = good slices / counted slices, over the slices whose end ``k·S`` lies in ``(at − W, at]``,

so each objective keeps the cumulative count of its good slices in a ring, and a window is two
lookups: ``good(k_lo … k_hi) = cum_good(k_hi) − cum_good(k_lo − 1)``.

``SliceRings`` is that ring storage; ``SlicedObjectives`` the part every time-slice store shares
(objectives in groups reading the same data, the first and last final slice of each group, the
window → slice range of a lookup); ``SliceStore`` holds throughput and GPU-band objectives
(freshness: ``slo.freshness_store.FreshnessStore``). A throughput or band group's newest slice
stays *open* (provisional, counted at evaluation) until a sample after its end arrives; earlier
slices are final. The slice summaries themselves are computed in ``slo.slices``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from redline.slo.series.rows import csr_rows

__all__ = ["NO_SLICE", "SliceRings", "SliceStore", "SliceWindow", "SlicedObjectives", "slice_index"]

NO_SLICE = -(2**63)
"""Slice-index sentinel: no data yet."""

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def slice_index(ts_ms: I64, slice_ms: int) -> I64:
    """The slice each timestamp belongs to: ``k = ⌈t / S⌉``, as slice ``k`` covers ``((k-1)·S, k·S]``."""
    out: I64 = -(-ts_ms // slice_ms)
    return out


class SliceRings:
    """Cumulative slice counts, one ring per row (an objective, or a group): ring ``r`` keeps
    ``cum(k)``, the count from its first slice through slice ``k``, for its last ``caps[r]``
    slices, at position ``k mod caps[r]``."""

    def __init__(self, caps: Sequence[int] | I64) -> None:
        self.cap = np.asarray(caps, dtype=np.int64)
        self.offset = np.concatenate([[0], np.cumsum(self.cap)[:-1]]).astype(np.int64)
        self.cells = np.zeros(int(self.cap.sum()), dtype=np.int32)  # zero pages until used

    def nbytes(self) -> int:
        """Bytes held by the counts."""
        return int(self.cells.nbytes)

    def through(self, rings: I64, last_slice: I64, first_slice: I64) -> I64:
        """``cum(last_slice)`` of each ring (element-wise): its count from ``first_slice`` through
        ``last_slice``; 0 for ``last_slice = first_slice − 1`` (the slice must be retained)."""
        out: I64 = np.where(
            last_slice >= first_slice, self.cells[self.offset[rings] + last_slice % self.cap[rings]], 0
        )
        return out

    def write(self, ring: int, from_slice: int, cumulative: npt.NDArray[np.int32] | I64) -> None:
        """Store ``cum`` of slices ``from_slice, from_slice + 1, …`` of ring ``ring`` (the last ``cap`` kept)."""
        cap, offset = int(self.cap[ring]), int(self.offset[ring])
        kept = min(len(cumulative), cap)
        if kept == 0:
            return
        position = (from_slice + len(cumulative) - kept) % cap
        before_wrap = min(kept, cap - position)
        first = len(cumulative) - kept
        self.cells[offset + position : offset + position + before_wrap] = cumulative[first : first + before_wrap]
        if before_wrap < kept:
            self.cells[offset : offset + kept - before_wrap] = cumulative[first + before_wrap :]

    def put(self, rings: I64, slices: I64, counts: I64) -> None:
        """Store one ``cum`` per (ring, slice); the positions must be distinct (at most ``cap`` slices a ring)."""
        self.cells[self.offset[rings] + slices % self.cap[rings]] = counts

    def append(self, rings: I64, final_slice: I64, first_slice: I64, good: Bools | I64) -> None:
        """One more final slice per ring (element-wise, distinct rings):
        ``cum(final + 1) = cum(final) + good``."""
        self.put(rings, final_slice + 1, self.through(rings, final_slice, first_slice) + good)

    def extend(self, rings: I64, final_slice: int, first_slice: int, good: Bools) -> None:
        """Slices ``final_slice + 1 …`` become final for every ring, ``good[i, j]`` whether slice
        ``final_slice + 1 + j`` of ring ``rings[i]`` is good: ``cum(final + 1 + j) = cum(final) + Σ good[i, :j+1]``."""
        before = self.through(rings, np.full(len(rings), final_slice), np.full(len(rings), first_slice))
        cumulative = before[:, None] + np.cumsum(good, axis=1, dtype=np.int32)  # bool→int32: fast
        for ring, row in zip(rings.tolist(), cumulative, strict=True):
            self.write(ring, final_slice + 1, row)


class SliceWindow(NamedTuple):
    """The slices of a window lookup (element-wise over objectives): those whose end lies in
    ``(lo, hi]`` are ``first … last`` (``first = ⌊lo / S⌋ + 1``, no earlier than the first retained
    slice; ``last = ⌊hi / S⌋``); the final ones among them end at ``final_last``."""

    group: I64
    slice_ms: I64
    has_data: Bools
    first: I64
    last: I64
    final_last: I64


class SlicedObjectives:
    """What every time-slice store shares: objectives in groups reading the same data, a ring of
    cumulative good-slice counts per objective, and per group its slice length and its first
    and last final slice.

    ``groups[j]`` is objective ``j``'s group, ``keep_slices[j]`` how many final slices it must
    keep (window plus margin). Subclasses answer ``counts_in``. Not thread-safe.
    """

    def __init__(self, groups: Sequence[int], group_slice_ms: Sequence[int] | I64, keep_slices: Sequence[int]) -> None:
        self.n = len(groups)
        self.group = np.asarray(groups, dtype=np.int64)
        self.slice_ms = np.asarray(group_slice_ms, dtype=np.int64)
        n_groups = len(self.slice_ms)
        self.members: list[I64] = [np.flatnonzero(self.group == g) for g in range(n_groups)]
        self.good = SliceRings(np.asarray(keep_slices, dtype=np.int64) + 1)
        self.cap = self.good.cap
        sizes = [len(m) for m in self.members]
        self._member_ptr = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        self._member_ids = np.concatenate([np.zeros(0, dtype=np.int64), *self.members]).astype(np.int64)
        self.first_slice = np.full(n_groups, NO_SLICE, dtype=np.int64)
        """Each group's first slice with data."""
        self.final_slice = np.full(n_groups, NO_SLICE, dtype=np.int64)
        """Each group's newest final slice (``first_slice − 1`` before any is final)."""

    def start(self, groups: I64 | int, first_slice: I64 | int) -> None:
        """Groups without data so far start at ``first_slice`` (none final yet)."""
        self.first_slice[groups] = first_slice
        self.final_slice[groups] = np.asarray(first_slice) - 1

    def objectives_of(self, groups: I64) -> tuple[I64, I64]:
        """Every objective of ``groups`` (distinct): the position in ``groups`` of its group, its id."""
        owner, entry = csr_rows(self._member_ptr, groups)
        return owner, self._member_ids[entry]

    def window(self, objs: I64, lo_ms: I64, hi_ms: I64 | int) -> SliceWindow:
        """The slices of objectives ``objs`` whose end lies in ``(lo_ms, hi_ms]`` (element-wise)."""
        group = self.group[objs]
        slice_ms = self.slice_ms[group]
        first_slice, final_slice = self.first_slice[group], self.final_slice[group]
        first_retained = np.maximum(first_slice, final_slice - (self.cap[objs] - 1) + 1)
        last = hi_ms // slice_ms
        first = np.maximum(lo_ms // slice_ms + 1, first_retained)
        return SliceWindow(
            group, slice_ms, first_slice != NO_SLICE, first, last, np.minimum(last, final_slice)
        )

    def final_good(self, objs: I64, win: SliceWindow) -> I64:
        """Good final slices of the window: ``cum_good(final_last) − cum_good(first − 1)``."""
        first_slice = self.first_slice[win.group]
        out: I64 = self.good.through(objs, win.final_last, first_slice) - self.good.through(
            objs, win.first - 1, first_slice
        )
        return out

    def counts(self, at_ms: int, windows_ms: I64) -> tuple[I64, I64]:
        """(good, counted) slices whose end lies in ``(at − W, at]``, per objective and window."""
        objs = np.broadcast_to(np.arange(self.n)[:, None], (self.n, len(windows_ms)))
        return self.counts_in(objs, np.broadcast_to(at_ms - windows_ms[None, :], objs.shape), at_ms)

    def counts_in(self, objs: I64, lo_ms: I64, hi_ms: I64 | int) -> tuple[I64, I64]:
        """(good, counted) slices of objectives ``objs`` whose end lies in ``(lo_ms, hi_ms]`` (element-wise)."""
        raise NotImplementedError


class SliceStore(SlicedObjectives):
    """Good slices per objective and counted slices per group, for throughput and GPU-band objectives.

    A group's slice summary is ``(counted, low, high)``: whether the slice has data, and the
    lowest and highest figure in it (throughput: ``low = high =`` the rate; GPU band: the lowest
    and highest pool aggregate). Objective ``j`` with bounds ``floor[j]``, ``ceiling[j]`` finds a slice

        good = counted ∧ low ≥ floor ∧ high ≤ ceiling.

    ``slice_ms[g]`` is group ``g``'s slice length; ``keep_slices[j]`` how many final slices
    objective ``j`` must keep. Not thread-safe.
    """

    def __init__(
        self, groups: Sequence[int], slice_ms: Sequence[int], floor: Sequence[float], ceiling: Sequence[float],
        keep_slices: Sequence[int],
    ) -> None:
        super().__init__(groups, slice_ms, keep_slices)
        self.floor = np.asarray(floor, dtype=np.float64)
        self.ceiling = np.asarray(ceiling, dtype=np.float64)
        group_cap = [int(self.cap[m].max()) if len(m) else 1 for m in self.members]
        self.counted = SliceRings(group_cap)
        n_groups = len(self.slice_ms)
        self.has_open = np.zeros(n_groups, dtype=np.bool_)
        self.open_counted = np.zeros(n_groups, dtype=np.int64)
        """Per group, whether its open slice counts."""
        self.open_good = np.zeros(self.n, dtype=np.int64)
        """Per objective, whether its group's open slice is good for it."""

    def nbytes(self) -> int:
        """Bytes held by the slice counts."""
        return self.good.nbytes() + self.counted.nbytes()

    def _good(self, objs: I64, counted: Bools, low: F64, high: F64) -> Bools:
        """``counted ∧ low ≥ floor ∧ high ≤ ceiling`` of objectives ``objs`` (broadcasting)."""
        out: Bools = counted & (low >= self.floor[objs]) & (high <= self.ceiling[objs])
        return out

    def add(self, g: int, first_new: int, counted: Bools, low: F64, high: F64) -> None:
        """Summaries of group ``g``'s slices ``first_new …``: all final but the last, which is open.

        ``first_new`` is the group's open slice (``final_slice + 1``), or its first slice.
        """
        n_slices = len(counted)
        if n_slices == 0:
            return
        if self.first_slice[g] == NO_SLICE:
            self.start(g, first_new)
        final_slice, first_slice = int(self.final_slice[g]), int(self.first_slice[g])
        if first_new != final_slice + 1:
            raise ValueError(f"slice group {g}: slices must continue at {final_slice + 1}, got {first_new}")
        objs = self.members[g]
        good = self._good(objs[:, None], counted[None, :], low[None, :], high[None, :])
        if n_slices == 2:  # one slice becomes final (the usual tick)
            finals = np.full(len(objs), final_slice)
            self.good.append(objs, finals, np.full(len(objs), first_slice), good[:, 0])
            self.counted.append(np.asarray([g]), finals[:1], np.asarray([first_slice]), counted[:1])
        elif n_slices > 2:
            self.good.extend(objs, final_slice, first_slice, good[:, :-1])
            self.counted.extend(np.asarray([g]), final_slice, first_slice, counted[None, :-1])
        self.final_slice[g] = final_slice + n_slices - 1
        self.has_open[g] = True
        self.open_counted[g] = int(counted[-1])
        self.open_good[objs] = good[:, -1]

    def add_pairs(
        self, groups: I64, first_new: I64, n_slices: I64, counted: Bools, low: F64, high: F64, start: I64
    ) -> None:
        """``add`` for many distinct groups at once, each with one or two slices (``n_slices``):
        group ``groups[i]``'s summaries are at ``start[i] …`` of ``counted``, ``low``, ``high`` (the usual tick)."""
        new = self.first_slice[groups] == NO_SLICE
        if new.any():
            self.start(groups[new], first_new[new])
        final_slice = self.final_slice[groups]
        if (first_new != final_slice + 1).any():
            i = int(np.flatnonzero(first_new != final_slice + 1)[0])
            raise ValueError(
                f"slice group {int(groups[i])}: slices must continue at {int(final_slice[i]) + 1}, "
                f"got {int(first_new[i])}"
            )
        owner, objs = self.objectives_of(groups)
        oldest, newest = start[owner], start[owner] + n_slices[owner] - 1
        two = n_slices == 2
        if two.any():  # the first slice becomes final
            first_slice = self.first_slice[groups]
            closing = two[owner]
            closing_objs, closing_owner, closing_slot = objs[closing], owner[closing], oldest[closing]
            good_oldest = self._good(closing_objs, counted[closing_slot], low[closing_slot], high[closing_slot])
            self.good.append(closing_objs, final_slice[closing_owner], first_slice[closing_owner], good_oldest)
            closed = groups[two]
            self.counted.append(closed, final_slice[two], first_slice[two], counted[start[two]])
            self.final_slice[closed] = final_slice[two] + 1
        self.has_open[groups] = True
        self.open_counted[groups] = counted[start + n_slices - 1]
        self.open_good[objs] = self._good(objs, counted[newest], low[newest], high[newest])

    def counts_in(self, objs: I64, lo_ms: I64, hi_ms: I64 | int) -> tuple[I64, I64]:
        """(good, counted) slices of objectives ``objs`` whose end lies in ``(lo_ms, hi_ms]``
        (element-wise): the final ones from the rings, plus the open slice when it lies inside."""
        win = self.window(objs, lo_ms, hi_ms)
        first_slice = self.first_slice[win.group]
        any_final = win.has_data & (win.final_last >= win.first)
        good = np.where(any_final, self.final_good(objs, win), 0)
        counted = np.where(
            any_final,
            self.counted.through(win.group, win.final_last, first_slice)
            - self.counted.through(win.group, win.first - 1, first_slice),
            0,
        )
        open_slice = self.final_slice[win.group] + 1
        open_inside = win.has_data & self.has_open[win.group] & (open_slice >= win.first) & (open_slice <= win.last)
        good = good + np.where(open_inside, self.open_good[objs], 0)
        counted = counted + np.where(open_inside, self.open_counted[win.group], 0)
        return good.astype(np.int64), counted.astype(np.int64)
