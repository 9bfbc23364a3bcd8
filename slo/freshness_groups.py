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
    """Add the batches' rows to the groups of their series; ``last_val``: each series' value before."""
    touched: dict[int, list[int]] = {}
    for sid in batches:
        for g in series_groups[sid]:
            touched.setdefault(g, []).append(sid)
    single: tuple[list[int], list[int], list[float]] = ([], [], [])
    for g, members in touched.items():
        known = [s for s in groups[g].members if s not in batches and not math.isnan(float(last_val[s]))]
        if len(members) == 1 and not known:
            ts_u, v_u = batches[members[0]][0], batches[members[0]][1]
        else:
            cols = members + known
            ts_u = np.unique(np.concatenate([batches[s][0] for s in members]))
            grid = np.full((len(ts_u), len(cols)), np.nan)
            for j, s in enumerate(members):
                grid[np.searchsorted(ts_u, batches[s][0]), j] = batches[s][1]
            for j, s in enumerate(cols):
                column = grid[:, j]
                has = ~np.isnan(column)
                idx = np.maximum.accumulate(np.where(has, np.arange(len(column)), -1))
                grid[:, j] = np.where(idx >= 0, column[np.maximum(idx, 0)], last_val[s])
            v_u = np.fmin.reduce(grid, axis=1)
        newest = int(store.last_ts[g])
        if newest != NO_TS and int(ts_u[0]) <= newest:
            newer = ts_u > newest
            ts_u, v_u = ts_u[newer], v_u[newer]
        if len(ts_u) == 1:
            single[0].append(g)
            single[1].append(int(ts_u[0]))
            single[2].append(float(v_u[0]))
        else:
            store.add_steps(g, ts_u, v_u)
    if single[0]:
        gs = np.asarray(single[0], dtype=np.int64)
        ts1 = np.asarray(single[1], dtype=np.int64)
        left = store.add_points(gs, ts1, np.asarray(single[2], dtype=np.float64))
        for g in left.tolist():
            i = single[0].index(g)
            store.add_steps(g, ts1[i : i + 1], np.asarray(single[2][i : i + 1]))
