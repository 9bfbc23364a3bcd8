"""Moving slice groups forward from their rows: each row's slice, the groups' summaries of the
slices from their open one through their newest, stored in ``slo.timeslice.SliceStore``; every
slice before a group's newest becomes final, the newest stays open with its rows pending."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from redline.slo.slices.group import GroupColumns, SliceGroup
from redline.slo.slices.rows import SliceRows
from redline.slo.slices.summaries import (
    band_extremes,
    band_slices,
    band_slots,
    slot_extremes,
    throughput_slices,
)
from redline.slo.timeslice import NO_SLICE, SliceStore

__all__ = ["SliceAdvance"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


class SliceAdvance:
    """Summarises the slices of groups' rows into ``store``. Not thread-safe."""

    def __init__(self, groups: list[SliceGroup], columns: GroupColumns, store: SliceStore) -> None:
        self.groups = groups
        self.columns = columns
        self.store = store

    def advance(self, rows: SliceRows) -> SliceRows:
        """Summarise the slices of the groups in ``rows`` (sorted by group, series, time), store
        them; every slice before a group's newest becomes final. Returns the newest slices' rows."""
        row_slice = -(-rows.ts // self.columns.slice_ms[rows.group])  # ⌈t / S⌉
        final_of_row = self.store.final_slice[rows.group]
        late = (final_of_row != NO_SLICE) & (row_slice <= final_of_row)
        if late.any():  # rows of final slices arrive too late to count
            rows, row_slice = rows.take(~late), row_slice[~late]
        if len(rows.group) == 0:
            return rows
        first_row = np.flatnonzero(np.concatenate([[True], rows.group[1:] != rows.group[:-1]]))
        groups = rows.group[first_row]
        owner = np.repeat(np.arange(len(groups)), np.diff(np.append(first_row, len(rows.group))))
        newest = np.maximum.reduceat(row_slice, first_row)
        final = self.store.final_slice[groups]
        first_new = np.where(final != NO_SLICE, final + 1, np.minimum.reduceat(row_slice, first_row))
        n_slices = newest - first_new + 1
        if len(groups) == 1 and int(n_slices[0]) > 2:  # one group over many slices (a cold start)
            self._advance_one(int(groups[0]), rows, row_slice - int(first_new[0]), int(first_new[0]), int(n_slices[0]))
            return rows.take(row_slice == newest[0])
        first_slot = np.cumsum(n_slices) - n_slices  # the groups' slices side by side: one slot each
        row_slot = first_slot[owner] + (row_slice - first_new[owner])
        counted, low, high, per_cell, first_cell = self._summaries(rows, owner, row_slot, groups, first_slot, n_slices)
        if int(n_slices.max()) <= 2:
            self.store.add_pairs(groups, first_new, n_slices, counted, low, high, first_slot)
        else:
            for j, g in enumerate(groups.tolist()):
                span = slice(int(first_slot[j]), int(first_slot[j] + n_slices[j]))
                self.store.add(g, int(first_new[j]), counted[span], low[span], high[span])
        for j, g in enumerate(groups.tolist()):
            n, top = int(n_slices[j]), int(newest[j])
            if self.columns.is_band[g]:
                pools, cell = int(self.columns.n_pools[g]), int(first_cell[j])
                summary = per_cell[cell : cell + n * pools].reshape(n, pools)
            else:
                summary = low[int(first_slot[j]) : int(first_slot[j]) + n, None]
            self.groups[g].record(top, n, summary)
        return rows.take(row_slice == newest[owner])

    def _summaries(
        self, rows: SliceRows, owner: I64, row_slot: I64, groups: I64, first_slot: I64, n_slices: I64
    ) -> tuple[Bools, F64, F64, F64, I64]:
        """Each slot's ``(counted, low, high)``; the band groups' aggregates per slot and pool
        (``band_slots``' cells) and each group's first cell."""
        n_slots = int(n_slices.sum())
        slot_group = np.repeat(np.arange(len(groups)), n_slices)
        band_group = self.columns.is_band[groups]
        band_slot, band_row = band_group[slot_group], band_group[owner]
        counted = np.zeros(n_slots, dtype=np.bool_)
        low = np.full(n_slots, np.nan)
        if not band_row.all():
            rate_rows = ~band_row
            slot_slice_ms = self.columns.slice_ms[groups][slot_group]
            has_rate, rate_per_s = throughput_slices(
                row_slot[rate_rows], rows.value[rate_rows], rows.known[rate_rows], n_slots, slot_slice_ms
            )
            counted = np.where(band_slot, counted, has_rate)
            low = np.where(band_slot, low, rate_per_s)
        high = low.copy()
        n_pools = self.columns.n_pools[groups]
        group_cells = np.where(band_group, n_slices * n_pools, 0)
        first_cell = np.cumsum(group_cells) - group_cells
        per_cell = np.zeros(0, dtype=np.float64)
        if band_row.any():
            band_rows = rows.take(band_row)
            per_cell, cell_slot = band_slots(
                owner[band_row], band_rows.series, row_slot[band_row], band_rows.value, band_rows.pool, first_slot,
                first_cell, group_cells, n_pools, self.columns.aggregate[groups],
            )
            has_sample = np.bincount(row_slot[band_row], minlength=n_slots)[:n_slots] > 0
            counted = np.where(band_slot, has_sample, counted)
            band_low, band_high = slot_extremes(cell_slot, per_cell, n_slots)
            low = np.where(band_slot, band_low, low)
            high = np.where(band_slot, band_high, high)
        return counted, low, high, per_cell, first_cell

    def _advance_one(self, g: int, rows: SliceRows, slot: I64, first_new: int, n_slices: int) -> None:
        """``advance`` for one group's rows (in slots ``slot``) over ``n_slices`` slices from ``first_new``."""
        grp = self.groups[g]
        if grp.kind == "throughput":
            counted, rate_per_s = throughput_slices(slot, rows.value, rows.known, n_slices, grp.slice_ms)
            summary = rate_per_s[:, None]
        else:
            n_pools = int(self.columns.n_pools[g])
            counted, summary = band_slices(slot, rows.series, rows.value, rows.pool, n_pools, grp.aggregate, n_slices)
        self.store_summaries(g, first_new, counted, summary)

    def store_summaries(self, g: int, first_new: int, counted: Bools, summary: F64) -> None:
        """Store group ``g``'s slices ``first_new …`` (``summary``: a row per slice, the rate or the
        pool aggregates) and keep its newest final and open summaries."""
        grp = self.groups[g]
        low, high = (summary[:, 0], summary[:, 0]) if grp.kind == "throughput" else band_extremes(summary)
        self.store.add(g, first_new, counted, low, high)
        grp.record(first_new + len(counted) - 1, len(counted), summary)
