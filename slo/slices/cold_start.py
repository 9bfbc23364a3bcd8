"""A large batch (a cold start) for a slice group without pending rows: summarised series by
series straight from the batches, with no table of all rows (a 30-day history of a group's
series would be one), sharing each series' slice indices and increments between groups."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from redline.slo.series.batches import Batch
from redline.slo.slices.advance import SliceAdvance
from redline.slo.slices.rows import BatchCache, SeriesMembers, SliceRows
from redline.slo.slices.summaries import throughput_slices
from redline.slo.timeslice import NO_SLICE

__all__ = ["ColdStart"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
_SeriesSlices = tuple[int, int, I64]
"""A series, its first row after the group's final slices, and the slice of each such row."""


_Scalar = TypeVar("_Scalar", bound=np.generic)


def _joined(parts: list[npt.NDArray[_Scalar]]) -> npt.NDArray[_Scalar]:
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


class ColdStart:
    """``SliceAdvance.advance`` for one group without pending rows, series by series."""

    def __init__(self, advance: SliceAdvance, members: SeriesMembers) -> None:
        self.advance = advance
        self.members = members

    def ingest(
        self, g: int, sids: list[int], batches: Mapping[int, Batch], last_val: F64, cache: BatchCache
    ) -> SliceRows:
        """Summarise group ``g``'s slices from the batches of its series ``sids`` (ascending),
        store them; returns the open slice's rows (pending)."""
        grp = self.advance.groups[g]
        band = grp.kind == "gpu"
        final = int(self.advance.store.final_slice[g])
        fresh: list[_SeriesSlices] = []
        for sid in sids:
            row_slice = cache.slice_index(sid, batches[sid][0], grp.slice_ms)
            first_row = int(np.searchsorted(row_slice, final, side="right")) if final != NO_SLICE else 0
            if first_row < len(row_slice):  # rows of final slices arrive too late to count
                fresh.append((sid, first_row, row_slice[first_row:]))
            if band:
                self.advance.columns.note_values(g, batches[sid][1])
        if not fresh:
            return SliceRows.empty()
        first_new = final + 1 if final != NO_SLICE else min(int(s[0]) for _, _, s in fresh)
        newest = max(int(s[-1]) for _, _, s in fresh)
        n_slices = newest - first_new + 1
        pending: list[SliceRows] = []
        values: list[F64] = []
        knowns: list[Bools] = []
        for sid, first_row, row_slice in fresh:
            ts, value, _ = batches[sid]
            if not band:
                value = cache.increments(sid, batches[sid], last_val)
            value = value[first_row:]
            known = np.ones(len(row_slice), dtype=np.bool_)
            # a throughput series' first sample ever has no increase
            known[0] = first_row > 0 or band or not math.isnan(float(last_val[sid]))
            values.append(value)
            knowns.append(known)
            open_row = int(np.searchsorted(row_slice, newest))  # the open slice's rows stay pending
            pending.append(SliceRows.of_series(
                g, sid, self.members.pool(sid, g), ts[first_row + open_row :], value[open_row:], known[open_row:]
            ))
        if band:
            counted, summary = self._band_grid(g, fresh, values, first_new, n_slices)
        else:
            slot = _joined([row_slice for _, _, row_slice in fresh]) - first_new
            counted, rate_per_s = throughput_slices(slot, _joined(values), _joined(knowns), n_slices, grp.slice_ms)
            summary = rate_per_s[:, None]
        self.advance.store_summaries(g, first_new, counted, summary)
        return SliceRows.concat(pending)

    def _band_grid(
        self, g: int, fresh: list[_SeriesSlices], values: list[F64], first_new: int, n_slices: int
    ) -> tuple[Bools, F64]:
        """``band_slices`` summed series by series onto per-pool arrays (series ascending: the same
        sums as one ``bincount`` over the rows)."""
        grp = self.advance.groups[g]
        n_pools = int(self.advance.columns.n_pools[g])
        shape = (n_pools, n_slices)
        acc = np.zeros(shape) if grp.aggregate == "avg" else np.full(shape, np.nan)
        samples = np.zeros(shape, dtype=np.int64)
        combine = np.fmax if grp.aggregate == "max" else np.fmin
        for (sid, _, row_slice), value in zip(fresh, values, strict=True):
            last = np.ones(len(row_slice), dtype=np.bool_)  # each series' last value in a slice
            last[:-1] = row_slice[1:] != row_slice[:-1]
            if not last.all():
                row_slice, value = row_slice[last], value[last]
            offset = int(row_slice[0]) - first_new
            # one sample in every slice (the usual history) is a contiguous range: no fancy indexing
            contiguous = int(row_slice[-1]) - int(row_slice[0]) == len(row_slice) - 1
            cols: slice | I64 = slice(offset, offset + len(row_slice)) if contiguous else row_slice - first_new
            pool = self.members.pool(sid, g)
            if grp.aggregate == "avg":
                acc[pool, cols] += value
            else:
                acc[pool, cols] = combine(acc[pool, cols], value)
            samples[pool, cols] += 1
        if grp.aggregate == "avg":
            acc = np.divide(acc, samples, out=np.full(shape, np.nan), where=samples > 0)
        counted: Bools = samples.sum(axis=0) > 0
        return counted, np.ascontiguousarray(acc.T)
