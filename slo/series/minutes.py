"""The coarse tier of ``CounterSides``: every side's cumulative count at each minute boundary,
a ring of whole hours.

Minute ``minute`` (``= ceil(t / 60 s)`` of the samples it covers) of side ``side`` holds the
cumulative count of the latest sample at or before ``minute × 60 s``:

    value(side, minute) = anchors[side, hour % ring_hours] + offsets[side, minute % ring_minutes]

with ``hour = minute // 60``: a float64 *anchor* per hour (the value of the hour's first stored
minute) and a float32 *offset* per minute from it. 4.1 bytes a minute instead of 8, and float32
offsets keep small error counts exact under large totals, where float32 values would not. The
ring holds ``ring_hours`` whole hours: minute ``minute`` is kept while
``minute >= (last_minute // 60 − ring_hours + 1) × 60`` (and ``>= first_minute``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["MINUTE_MS", "MinuteRing"]

MINUTE_MS = 60_000
MINUTES_PER_HOUR = 60

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class MinuteRing:
    """Per side, the cumulative count at every minute boundary of at least ``keep_minutes``."""

    def __init__(self, n_sides: int, keep_minutes: int) -> None:
        self.ring_hours = -(-keep_minutes // MINUTES_PER_HOUR) + 1
        self.ring_minutes = self.ring_hours * MINUTES_PER_HOUR
        self.first_minute = np.zeros(n_sides, dtype=np.int64)
        self.last_minute = np.zeros(n_sides, dtype=np.int64)
        # zero pages: memory is taken as sides receive data
        self.offsets = np.zeros((n_sides, self.ring_minutes), dtype=np.float32)
        self.anchors = np.zeros((n_sides, self.ring_hours), dtype=np.float64)

    def nbytes(self) -> int:
        """Bytes of the ring and its per-side bounds."""
        arrays = (self.offsets, self.anchors, self.first_minute, self.last_minute)
        return sum(int(a.nbytes) for a in arrays)

    def grow(self, n_sides: int) -> None:
        """Room for ``n_sides`` sides (the new ones empty; their rows stay zero pages until used)."""
        old = len(self.first_minute)
        if n_sides <= old:
            return
        self.first_minute = np.concatenate([self.first_minute, np.zeros(n_sides - old, dtype=np.int64)])
        self.last_minute = np.concatenate([self.last_minute, np.zeros(n_sides - old, dtype=np.int64)])
        offsets = np.zeros((n_sides, self.ring_minutes), dtype=np.float32)
        offsets[:old] = self.offsets
        anchors = np.zeros((n_sides, self.ring_hours), dtype=np.float64)
        anchors[:old] = self.anchors
        self.offsets, self.anchors = offsets, anchors

    def start(self, sides: I64 | int, first_ms: I64 | int) -> None:
        """Begin ``sides`` at their first sample ``first_ms``: no minute stored yet."""
        self.first_minute[sides] = np.asarray(first_ms) // MINUTE_MS
        self.last_minute[sides] = self.first_minute[sides] - 1

    # -- writing ---------------------------------------------------------------------------

    def append(self, side: int, parts: Sequence[tuple[I64, F64]], base: float, newest_ms: int) -> None:
        """Store ``side``'s minutes up to ``newest_ms`` from new points given per series as
        (times, increments): ``value(minute) = base + Σ increments at t <= minute × 60 s``
        (``np.bincount`` of each increment into minute ``ceil(t / 60 s)``, then one cumsum)."""
        first_new = int(self.last_minute[side]) + 1
        last_new = newest_ms // MINUTE_MS
        if last_new < first_new:
            return
        n_minutes = last_new - first_new + 1
        per_minute: F64 | None = None
        for times, increments in parts:
            minute = np.minimum(-(-times // MINUTE_MS) - first_new, n_minutes)  # n_minutes: too late
            binned: F64 = np.bincount(minute, weights=increments, minlength=n_minutes + 1).astype(
                np.float64, copy=False
            )
            per_minute = binned if per_minute is None else per_minute + binned
        assert per_minute is not None
        self._write(side, first_new, base + np.cumsum(per_minute[:n_minutes]))
        self.last_minute[side] = last_new

    def _write(self, side: int, first_new: int, values: F64) -> None:
        """Store the values of minutes ``first_new, first_new + 1, …`` (continuing the side's minutes)."""
        last_new = first_new + len(values) - 1
        ring_start = (last_new // MINUTES_PER_HOUR - self.ring_hours + 1) * MINUTES_PER_HOUR
        if ring_start > first_new:  # only the whole hours that fit
            values = values[ring_start - first_new :]
            first_new = ring_start
        n_values = len(values)
        hours = np.arange(first_new // MINUTES_PER_HOUR, last_new // MINUTES_PER_HOUR + 1, dtype=np.int64)
        first_of_hour = np.maximum(hours * MINUTES_PER_HOUR, first_new) - first_new  # index into values
        hour_anchors = values[first_of_hour]
        if first_new % MINUTES_PER_HOUR != 0 and first_new != int(self.first_minute[side]):
            hour_anchors[0] = self.anchors[side, hours[0] % self.ring_hours]  # the hour was begun before
        self.anchors[side, hours % self.ring_hours] = hour_anchors
        minutes_in_hour = np.diff(np.append(first_of_hour, n_values))
        offsets = (values - np.repeat(hour_anchors, minutes_in_hour)).astype(np.float32)
        column = first_new % self.ring_minutes
        head = min(n_values, self.ring_minutes - column)
        self.offsets[side, column : column + head] = offsets[:head]
        if head < n_values:  # wrapped round the ring
            self.offsets[side, : n_values - head] = offsets[head:]

    def append_one_each(self, sides: I64, time_ms: I64, before: F64, after: F64) -> None:
        """For one new point per side (``sides`` distinct) at ``time_ms``: every minute since the
        side's last takes ``after`` from ``ceil(time_ms / 60 s)`` on, ``before`` until then. At
        most an hour of minutes per side, so every minute's hour anchor is already stored or is
        the minute itself (``minute % 60 == 0`` or the side's first minute)."""
        first_new = self.last_minute[sides] + 1
        last_new = time_ms // MINUTE_MS
        n_new = np.maximum(last_new - first_new + 1, 0)
        total = int(n_new.sum())
        if total:
            row = np.repeat(np.arange(len(sides)), n_new)
            minute = np.repeat(first_new - np.cumsum(n_new) + n_new, n_new) + np.arange(total)
            side = sides[row]
            value = np.where(minute * MINUTE_MS >= time_ms[row], after[row], before[row])
            anchor_column = (minute // MINUTES_PER_HOUR) % self.ring_hours
            starts_anchor = (minute % MINUTES_PER_HOUR == 0) | (minute == self.first_minute[side])
            self.anchors[side[starts_anchor], anchor_column[starts_anchor]] = value[starts_anchor]
            offset = value - self.anchors[side, anchor_column]
            self.offsets[side, minute % self.ring_minutes] = offset.astype(np.float32)
            self.last_minute[sides] = np.maximum(self.last_minute[sides], last_new)

    def add_from(self, side: int, minute: int, delta: float) -> None:
        """Add ``delta`` to every stored minute from ``minute`` on (a late sample): to the offsets
        of the rest of ``minute``'s hour, then to the anchors of the later hours."""
        last = int(self.last_minute[side])
        if minute > last:
            return
        minute = max(minute, int(self.retained_from(side)))
        hour = minute // MINUTES_PER_HOUR
        rest_of_hour = np.arange(minute, min(hour * MINUTES_PER_HOUR + MINUTES_PER_HOUR - 1, last) + 1)
        self.offsets[side, rest_of_hour % self.ring_minutes] += np.float32(delta)
        later_hours = np.arange(hour + 1, last // MINUTES_PER_HOUR + 1)
        self.anchors[side, later_hours % self.ring_hours] += delta

    # -- reading ---------------------------------------------------------------------------

    def retained_from(self, sides: I64 | int) -> I64:
        """The first minute each side's ring still holds."""
        oldest_hour_start = (self.last_minute[sides] // MINUTES_PER_HOUR - self.ring_hours + 1) * MINUTES_PER_HOUR
        out: I64 = np.maximum(self.first_minute[sides], oldest_hour_start)
        return out

    def values(self, sides: I64, minutes: I64) -> F64:
        """``anchor + offset`` of each side's minute, clamped into the minutes it holds."""
        minute = np.minimum(np.maximum(minutes, self.retained_from(sides)), self.last_minute[sides])
        anchor = self.anchors[sides, (minute // MINUTES_PER_HOUR) % self.ring_hours]
        out: F64 = anchor + self.offsets[sides, minute % self.ring_minutes]
        return out
