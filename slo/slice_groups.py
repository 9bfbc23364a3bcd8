"""Throughput and GPU-band objectives, grouped by the data they read: the facade the engine uses.

A *slice group* is the objectives reading the same series the same way (slice length; for a band
also the aggregate and the ``by`` labels): its slices are summarised once, and
``slo.timeslice.SliceStore`` counts each objective's good slices. A group's newest slice stays
open — its rows kept as *pending* — until a sample after its end arrives.

``SliceGroups.ingest`` summarises the touched groups from one table of rows (group, series,
timestamp, increment or value, known, pool) sorted by group, series and time: the pending rows
and the new ones. A scrape tick builds that table for every group at once from the batch's
arrays, and as a tick moves each group by at most one slice, stores them all at once
(``SliceStore.add_pairs``); a large batch (a cold start) goes group by group to bound memory.
The parts are in ``slo.slices``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.kernel.labels import Selector
from redline.slo.series.batches import Batch, TickRows
from redline.slo.slices.advance import SliceAdvance
from redline.slo.slices.cold_start import ColdStart
from redline.slo.slices.group import GroupColumns, SliceGroup, group_key
from redline.slo.slices.reasons import band_problems, slice_reasons
from redline.slo.slices.rows import BatchCache, SeriesMembers, SliceRows
from redline.slo.spec import GPUBandSLI, ThroughputSLI
from redline.slo.timeslice import SliceStore

__all__ = ["SliceGroups", "band_problems"]

F64 = npt.NDArray[np.float64]

_TICK_ROWS = 200_000
"""A batch with up to this many rows summarises all its groups in one table."""


class SliceGroups:
    """The slice groups of an evaluator's throughput and GPU-band objectives (``slis``: each one's
    SLI and window in seconds, in the order of ``SliceStore``'s objectives). Not thread-safe."""

    def __init__(self, slis: Sequence[tuple[ThroughputSLI | GPUBandSLI, float]]) -> None:
        self.groups: list[SliceGroup] = []
        ids: dict[tuple[object, ...], int] = {}
        self.group_of: list[int] = []
        self._slis = [sli for sli, _ in slis]
        floor: list[float] = []
        ceiling: list[float] = []
        keep: list[int] = []
        for sli, window_s in slis:
            key, group = group_key(sli)
            if key not in ids:
                ids[key] = len(self.groups)
                self.groups.append(group)
            self.group_of.append(ids[key])
            floor.append(sli.min_per_second if isinstance(sli, ThroughputSLI) else sli.min)
            ceiling.append(math.inf if isinstance(sli, ThroughputSLI) else sli.max)
            keep.append(math.ceil((window_s + 86400.0) * 1000 / group.slice_ms))
        self.store = SliceStore(self.group_of, [g.slice_ms for g in self.groups], floor, ceiling, keep)
        self.columns = GroupColumns(self.groups)
        self.members = SeriesMembers(self.groups, self.columns)
        self._advance = SliceAdvance(self.groups, self.columns, self.store)
        self._cold_start = ColdStart(self._advance, self.members)
        self._pending = SliceRows.empty()

    def selectors(self) -> list[Selector]:
        """Each group's selector."""
        return [g.selector for g in self.groups]

    def add_series(self, sid: int, groups: Sequence[int], labels: dict[str, str]) -> None:
        """Register series ``sid`` (with these labels) as read by ``groups``."""
        self.members.add_series(sid, groups, labels)

    def nbytes(self) -> int:
        """Bytes held by the slice counts."""
        return self.store.nbytes()

    def ingest(self, batches: Mapping[int, Batch], tick: TickRows | None, last_val: F64) -> None:
        """Add new rows (``last_val``: each series' value before them): from ``tick``'s whole arrays
        when given and small, else from ``batches`` group by group."""
        if not self.groups or not self.members:
            return
        if tick is None or len(tick[0]) > _TICK_ROWS:
            self._ingest_by_group(batches, last_val)
            return
        rows = self.members.tick_rows(tick, last_val)
        if rows is None:
            return
        touched = np.zeros(len(self.groups), dtype=np.bool_)
        touched[rows.group] = True
        theirs = touched[self._pending.group]
        table = SliceRows.concat([self._pending.take(theirs), rows])
        order = np.lexsort((table.ts, table.series, table.group))
        kept = self._pending.take(~theirs)
        self._pending = SliceRows.concat([kept, self._advance.advance(table.take(order))])

    def _ingest_by_group(self, batches: Mapping[int, Batch], last_val: F64) -> None:
        """``ingest`` of a large batch, group by group: straight from the batches (``ColdStart``)
        for a group without pending rows, else on a table of its pending and new rows."""
        readers: dict[int, list[int]] = {}  # group → its series in the batches, ascending
        for sid in sorted(batches):
            for g in self.members.groups_of(sid):
                readers.setdefault(g, []).append(sid)
        if not readers:
            return
        pending_group = self._pending.group
        new_pending = [self._pending.take(~np.isin(pending_group, list(readers)))]
        cache = BatchCache(readers)
        for g, sids in readers.items():
            pending = self._pending.take(np.flatnonzero(pending_group == g))
            if len(pending.group) == 0:
                new_pending.append(self._cold_start.ingest(g, sids, batches, last_val, cache))
            else:
                table = SliceRows.concat([pending, self.members.group_rows(g, sids, batches, last_val, cache)])
                new_pending.append(self._advance.advance(table.take(np.lexsort((table.ts, table.series)))))
            cache.done(sids)
        self._pending = SliceRows.concat(new_pending)

    def reasons(self, at_ms: int) -> list[tuple[str, dict[str, Any] | None]]:
        """Per objective, what the newest finished slice before ``at_ms`` says (``slice_reasons``)."""
        return slice_reasons(self._slis, self.group_of, self.groups, self.columns, at_ms)
