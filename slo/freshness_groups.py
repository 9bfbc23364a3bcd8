"""Freshness objectives grouped by the series they read and their slice length, and feeding
new rows to ``slo.freshness_store.FreshnessStore``: the min over the group's series (latest value of
each) at each new timestamp; groups with a single new sample (the usual tick) all at once."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from redline.kernel.labels import Selector
from redline.slo.freshness_store import FreshnessStore
from redline.slo.series.batches import Batch
from redline.slo.series.cumulative import NO_TS

__all__ = ["FreshGroup", "ingest_freshness"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass
class FreshGroup:
    """Freshness objectives reading the same series with the same slice length."""

    selector: Selector
    slice_ms: int
    members: list[int] = field(default_factory=list)


def ingest_freshness(
    store: FreshnessStore, groups: Sequence[FreshGroup], series_groups: Sequence[list[int]],
    batches: Mapping[int, Batch], last_val: F64,
) -> None:
    """Add the batches' rows to the groups of their series; ``last_val``: each series' value before.

    A group's value at each new timestamp ``t`` is ``min over its series s of v_s(t)``, where
    ``v_s(t)`` is series ``s``'s latest value at or before ``t`` (its value before the batch when
    it has none in the batch yet).
    """
    touched: dict[int, list[int]] = {}
    for sid in batches:
        for g in series_groups[sid]:
            touched.setdefault(g, []).append(sid)
    single: tuple[list[int], list[int], list[float]] = ([], [], [])
    for g, in_batch in touched.items():
        known = [s for s in groups[g].members if s not in batches and not math.isnan(float(last_val[s]))]
        if len(in_batch) == 1 and not known:
            times, group_min = batches[in_batch[0]][0], batches[in_batch[0]][1]
        else:
            times, group_min = _min_over_series(in_batch, known, batches, last_val)
        newest = int(store.last_ts[g])
        if newest != NO_TS and int(times[0]) <= newest:
            newer = times > newest
            times, group_min = times[newer], group_min[newer]
        if len(times) == 1:
            single[0].append(g)
            single[1].append(int(times[0]))
            single[2].append(float(group_min[0]))
        else:
            store.add_steps(g, times, group_min)
    if single[0]:
        gs = np.asarray(single[0], dtype=np.int64)
        ts1 = np.asarray(single[1], dtype=np.int64)
        left = store.add_points(gs, ts1, np.asarray(single[2], dtype=np.float64))
        for g in left.tolist():
            i = single[0].index(g)
            store.add_steps(g, ts1[i : i + 1], np.asarray(single[2][i : i + 1]))


def _min_over_series(
    in_batch: list[int], known: list[int], batches: Mapping[int, Batch], last_val: F64
) -> tuple[I64, F64]:
    """The batch's distinct timestamps, and at each the min over the series (``in_batch`` and the
    ``known`` ones without new rows) of their latest value at or before it."""
    columns = in_batch + known
    times = np.unique(np.concatenate([batches[s][0] for s in in_batch]))
    latest = np.full((len(times), len(columns)), np.nan)  # row: timestamp, column: series
    for j, s in enumerate(in_batch):
        latest[np.searchsorted(times, batches[s][0]), j] = batches[s][1]
    for j, s in enumerate(columns):
        column = latest[:, j]
        has = ~np.isnan(column)
        last_row = np.maximum.accumulate(np.where(has, np.arange(len(column)), -1))  # carried forward
        latest[:, j] = np.where(last_row >= 0, column[np.maximum(last_row, 0)], last_val[s])
    return times, np.fmin.reduce(latest, axis=1)
