"""The numpy kernels that turn a slice group's rows into per-slice summaries.

Rows are samples in slices (slice ``k`` covers ``((k-1)·S, k·S]``), given as each row's position
``slot`` among the slices summarised (``slice − first_slice`` for one group; for many groups at
once, the group's first slot plus that). Per slot:

- throughput: ``rate_per_s = Σ increase / (S / 1000)`` over the rows with a known increase; the
  slot counts when it holds one;
- GPU band: per pool, the aggregate (avg, max or min) over the pool's series of each series'
  *last* value in the slice — a series without a sample there takes no part (a vanished GPU is
  not read as 0; NaN: no series had one); the slot counts when it holds any sample. Its
  ``low`` and ``high`` are the lowest and highest pool aggregate.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["band_extremes", "band_slices", "band_slots", "last_in_slot", "slot_extremes", "throughput_slices"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def throughput_slices(
    slot: I64, increase: F64, known: Bools, n_slots: int, slice_ms: int | I64
) -> tuple[Bools, F64]:
    """Per slot ``0 … n_slots-1``: whether it counts, and ``rate_per_s = Σ increase / (S / 1000)``.

    ``increase`` is each row's reset-corrected increase since its series' previous sample;
    ``known`` False for a series' first sample (no previous value, so no increase is known).
    ``slice_ms``: the slice length, or each slot's.
    """
    total = np.bincount(slot, weights=np.where(known, increase, 0.0), minlength=n_slots)[:n_slots]
    samples_known = np.bincount(slot, weights=known.astype(np.float64), minlength=n_slots)[:n_slots]
    rate_per_s: F64 = total.astype(np.float64, copy=False) / (slice_ms / 1000.0)
    return samples_known > 0, rate_per_s


def last_in_slot(series: I64, slot: I64) -> Bools:
    """Rows sorted by series then time: whether each is its series' last in its slot."""
    last = np.ones(len(slot), dtype=np.bool_)
    last[:-1] = (series[1:] != series[:-1]) | (slot[1:] != slot[:-1])
    return last


def band_slices(
    slot: I64, series: I64, values: F64, pool: I64, n_pools: int, aggregate: str, n_slots: int
) -> tuple[Bools, F64]:
    """One band group's slots: whether each counts (any sample), and the ``n_slots × n_pools``
    grid of pool aggregates of each series' last value in the slot (NaN: no sample).

    Rows must be sorted by series, then time; ``pool[i]`` is row ``i``'s pool.
    """
    last = last_in_slot(series, slot)
    cell = slot[last] * n_pools + pool[last]  # (slot, pool) → slot·n_pools + pool
    last_values = values[last]
    n_cells = n_slots * n_pools
    samples = np.bincount(cell, minlength=n_cells)[:n_cells]
    per_cell: F64
    if aggregate == "avg":
        total = np.bincount(cell, weights=last_values, minlength=n_cells)[:n_cells]
        per_cell = np.divide(total, samples, out=np.full(n_cells, np.nan), where=samples > 0)
    else:
        per_cell = np.full(n_cells, -np.inf if aggregate == "max" else np.inf)
        (np.maximum if aggregate == "max" else np.minimum).at(per_cell, cell, last_values)
        per_cell[samples == 0] = np.nan
    counted: Bools = np.bincount(slot, minlength=n_slots)[:n_slots] > 0
    return counted, per_cell.reshape(n_slots, n_pools)


def band_extremes(grid: F64) -> tuple[F64, F64]:
    """The lowest and highest pool aggregate of each slice (row of ``grid``; NaN where no pool has a sample)."""
    if grid.shape[1] > 16:
        return np.fmin.reduce(grid, axis=1), np.fmax.reduce(grid, axis=1)
    low, high = grid[:, 0].copy(), grid[:, 0].copy()
    for pool in range(1, grid.shape[1]):  # column by column: fast for the usual few pools
        np.fmin(low, grid[:, pool], out=low)
        np.fmax(high, grid[:, pool], out=high)
    return low, high


def band_slots(
    owner: I64, series: I64, slot: I64, values: F64, pool: I64, group_first_slot: I64, group_first_cell: I64,
    group_cells: I64, n_pools: I64, aggregate_code: I64,
) -> tuple[F64, I64]:
    """``band_slices`` for the rows of many band groups at once, each with its own aggregate.

    Row ``i`` belongs to the group at position ``owner[i]``; rows sorted by group, series, time.
    A group's cells (one per slot and pool) start at ``group_first_cell``, ``group_cells`` of them:
    cell = first cell + (slot − the group's first slot) · n_pools + pool. ``aggregate_code`` per
    group (``AGGREGATE_CODES``). Returns each cell's aggregate (NaN: no sample) and its slot.
    """
    last = last_in_slot(series, slot)
    owner, slot, values, pool = owner[last], slot[last], values[last], pool[last]
    cell = group_first_cell[owner] + (slot - group_first_slot[owner]) * n_pools[owner] + pool
    n_cells = int(group_cells.sum())
    samples = np.bincount(cell, minlength=n_cells)[:n_cells]
    cell_group = np.repeat(np.arange(len(group_cells)), group_cells)
    cell_code = aggregate_code[cell_group]
    per_cell = np.full(n_cells, np.nan)
    row_code = aggregate_code[owner]
    if (row_code == 0).any():
        avg = row_code == 0
        total = np.bincount(cell[avg], weights=values[avg], minlength=n_cells)[:n_cells]
        np.divide(total, samples, out=per_cell, where=(samples > 0) & (cell_code == 0))
    for code, extreme, start in ((1, np.maximum, -np.inf), (2, np.minimum, np.inf)):
        rows = row_code == code
        if rows.any():
            found = np.full(n_cells, start)
            extreme.at(found, cell[rows], values[rows])
            per_cell = np.where((cell_code == code) & (samples > 0), found, per_cell)
    cell_in_group = np.arange(n_cells) - group_first_cell[cell_group]
    cell_slot = group_first_slot[cell_group] + cell_in_group // n_pools[cell_group]
    return per_cell, cell_slot


def slot_extremes(cell_slot: I64, per_cell: F64, n_slots: int) -> tuple[F64, F64]:
    """The lowest and highest cell aggregate of each slot (NaN where none has a sample)."""
    low, high = np.full(n_slots, np.nan), np.full(n_slots, np.nan)
    np.fmin.at(low, cell_slot, per_cell)
    np.fmax.at(high, cell_slot, per_cell)
    return low, high
