"""The freshness objectives' store: per objective, the cumulative count of good time slices in a
ring (``slo.timeslice.SlicedObjectives``, shared with throughput and GPU-band objectives), grouped by
the series they read so a group's data is looked at once (fed by ``slo.freshness_groups``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from redline.slo.series.cumulative import NO_TS
from redline.slo.timeslice import NO_SLICE, SlicedObjectives, slice_index

__all__ = ["FreshnessStore"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class FreshnessStore(SlicedObjectives):
    """Cumulative counts of good time slices, one ring per freshness objective.

    Slice ``k`` covers ``((k-1)·S, k·S]``; its data age is ``age(k) = k·S − v`` where ``v`` (Unix
    seconds) is the value of the latest sample at or before the slice end (the minimum over
    series, i.e. the oldest). A slice counts once data exists at its end; it is good when
    ``age(k) ≤ max_age``. Slices are final once a sample at or after their end has arrived;
    slices after the newest sample are counted at evaluation from the newest value.

    Objectives reading the same series with the same slice length form a *group*: they see
    the same data, so the group holds it (first and final slice, newest sample) once.
    """

    def __init__(
        self, groups: Sequence[int], max_age_s: Sequence[float], slice_s: Sequence[float],
        keep_slices: Sequence[int],
    ) -> None:
        objective_slice_ms = np.asarray([round(s * 1000) for s in slice_s], dtype=np.int64)
        n_groups = max(groups) + 1 if len(groups) else 0
        group_slice_ms = np.zeros(n_groups, dtype=np.int64)
        for g in range(n_groups):
            lengths = {int(ms) for ms, og in zip(objective_slice_ms.tolist(), groups, strict=True) if og == g}
            if len(lengths) != 1:
                raise ValueError("objectives of one freshness group must share their slice length")
            group_slice_ms[g] = lengths.pop()
        super().__init__(groups, group_slice_ms, keep_slices)
        self.max_age_ms = np.asarray([round(a * 1000) for a in max_age_s], dtype=np.int64)
        self.last_ts = np.full(n_groups, NO_TS, dtype=np.int64)
        """Each group's newest sample timestamp."""
        self.last_value = np.full(n_groups, np.nan)
        """Each group's newest value (min over its series)."""

    def nbytes(self) -> int:
        """Bytes held by the slice counts."""
        return self.good.nbytes()

    def add_steps(self, g: int, times: I64, group_min: F64) -> None:
        """Append group ``g``'s min-over-series value at new, ascending timestamps (after its newest)."""
        if len(times) == 0:
            return
        slice_ms = int(self.slice_ms[g])
        if self.first_slice[g] == NO_SLICE:
            self.start(g, int(slice_index(times[:1], slice_ms)[0]))
        final_slice = int(self.final_slice[g])
        last_ended = int(times[-1]) // slice_ms  # the newest slice whose end a sample has reached
        if last_ended > final_slice:
            n_new = last_ended - final_slice
            ends_ms = np.arange(final_slice + 1, last_ended + 1, dtype=np.int64) * slice_ms
            # the latest sample at or before each slice end: count the samples by the first
            # slice end at or after them (every new sample is after slice final_slice's end)
            first_end = np.minimum(slice_index(times, slice_ms) - (final_slice + 1), n_new)
            latest = np.cumsum(np.bincount(first_end, minlength=n_new + 1)[:n_new]) - 1
            value = np.where(latest >= 0, group_min[np.maximum(latest, 0)], self.last_value[g])
            age_ms = ends_ms - value * 1000.0
            objs = self.members[g]
            good = age_ms[None, :] <= self.max_age_ms[objs, None]
            self.good.extend(objs, final_slice, int(self.first_slice[g]), good)
            self.final_slice[g] = last_ended
        self.last_ts[g] = int(times[-1])
        self.last_value[g] = float(group_min[-1])

    def add_points(self, groups: I64, ts: I64, values: F64) -> I64:
        """``add_steps`` with one new sample for each of ``groups`` (distinct), all at once, where it
        finalises at most one slice (the usual tick); returns the groups left for ``add_steps``."""
        slice_ms = self.slice_ms[groups]
        empty = self.first_slice[groups] == NO_SLICE
        sample_slice = -(-ts // slice_ms)
        first_slice = np.where(empty, sample_slice, self.first_slice[groups])
        final_slice = np.where(empty, sample_slice - 1, self.final_slice[groups])
        last_ended = ts // slice_ms
        one_at_most = last_ended - final_slice <= 1
        left = groups[~one_at_most]
        if not one_at_most.all():
            keep = one_at_most
            groups, ts, values, slice_ms = groups[keep], ts[keep], values[keep], slice_ms[keep]
            first_slice, final_slice, last_ended = first_slice[keep], final_slice[keep], last_ended[keep]
        self.first_slice[groups] = first_slice
        self.final_slice[groups] = final_slice
        ending = np.flatnonzero(last_ended > final_slice)
        if len(ending):
            g = groups[ending]
            end_ms = last_ended[ending] * slice_ms[ending]
            value = np.where(end_ms >= ts[ending], values[ending], self.last_value[g])
            age_ms = end_ms - value * 1000.0
            owner, objs = self.objectives_of(g)
            good = age_ms[owner] <= self.max_age_ms[objs]
            self.good.append(objs, final_slice[ending][owner], first_slice[ending][owner], good)
            self.final_slice[g] = last_ended[ending]
        self.last_ts[groups] = ts
        self.last_value[groups] = values
        return left

    def counts_in(self, objs: I64, lo_ms: I64, hi_ms: I64 | int) -> tuple[I64, I64]:
        """(good, counted) slices of objectives ``objs`` whose end lies in ``(lo_ms, hi_ms]`` (element-wise;
        ``hi_ms`` no later than the evaluation time: slices after the newest sample count from it).

        Every slice of the window counts once the group has data; the final ones are good as the
        ring says, the later ones while the newest value ``v`` is young enough:
        ``k·S − v ≤ max_age``, i.e. ``k ≤ ⌊(v + max_age) / S⌋``.
        """
        win = self.window(objs, lo_ms, hi_ms)
        counted = np.where(win.has_data & (win.last >= win.first), win.last - win.first + 1, 0)
        good = np.where((counted > 0) & (win.final_last >= win.first), self.final_good(objs, win), 0)
        final_slice = self.final_slice[win.group]
        last_value = self.last_value[win.group]
        after_final = (counted > 0) & (win.last > final_slice) & ~np.isnan(last_value)
        if after_final.any():
            first_after = np.maximum(final_slice + 1, win.first)
            with np.errstate(invalid="ignore"):
                newest_ms = np.where(after_final, last_value, 0.0) * 1000.0
                last_good = np.floor((newest_ms + self.max_age_ms[objs]) / win.slice_ms)
            young = np.maximum(0.0, np.minimum(win.last, last_good) - first_after + 1)
            good = good + np.where(after_final, young, 0.0).astype(np.int64)
        return good, counted
