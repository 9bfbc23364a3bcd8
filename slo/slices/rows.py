"""The rows slice groups summarise: one row per (group, sample) — a new sample of a series the
group reads, or a pending row of the group's open slice — built from a batch."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from redline.slo.series.batches import Batch, TickRows
from redline.slo.series.increase import increments
from redline.slo.series.rows import csr, csr_rows
from redline.slo.slices.group import GroupColumns, SliceGroup
from redline.slo.timeslice import slice_index

__all__ = ["BatchCache", "SeriesMembers", "SliceRows"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


class SliceRows(NamedTuple):
    """Rows of slice groups, as columns."""

    group: I64
    series: I64
    ts: I64
    value: F64
    """Throughput: the series' reset-corrected increase since its previous sample; band: the value."""
    known: Bools
    """False for a throughput series' first sample ever (no previous value: no increase known)."""
    pool: I64
    """The row's pool (value tuple of the band's ``by`` labels)."""

    @staticmethod
    def empty() -> SliceRows:
        """No rows."""
        none = np.zeros(0, dtype=np.int64)
        return SliceRows(none, none, none, np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.bool_), none)

    @staticmethod
    def of_series(group: int, series: int, pool: int, ts: I64, value: F64, known: Bools) -> SliceRows:
        """One series' rows for ``group``."""
        n = len(ts)
        return SliceRows(
            np.full(n, group, dtype=np.int64), np.full(n, series, dtype=np.int64), ts, value, known,
            np.full(n, pool, dtype=np.int64),
        )

    @staticmethod
    def concat(parts: Sequence[SliceRows]) -> SliceRows:
        """The rows of ``parts``, one after the other."""
        if len(parts) == 1:
            return parts[0]
        return SliceRows(
            np.concatenate([p.group for p in parts]), np.concatenate([p.series for p in parts]),
            np.concatenate([p.ts for p in parts]), np.concatenate([p.value for p in parts]),
            np.concatenate([p.known for p in parts]), np.concatenate([p.pool for p in parts]),
        )

    def take(self, which: Bools | I64) -> SliceRows:
        """The rows ``which`` selects (a mask or positions)."""
        return SliceRows(
            self.group[which], self.series[which], self.ts[which], self.value[which], self.known[which],
            self.pool[which],
        )


class BatchCache:
    """Per-series arrays of one ingest, computed once for all the groups reading a series
    (``readers``: group → its series) and dropped after its last reader, so a cold start holds
    few series' arrays at a time."""

    def __init__(self, readers: Mapping[int, list[int]]) -> None:
        self._readers_left = Counter(sid for sids in readers.values() for sid in sids)
        self._increments: dict[int, F64] = {}
        self._slices: dict[int, dict[int, I64]] = {}

    def increments(self, sid: int, batch: Batch, last_val: F64) -> F64:
        """Series ``sid``'s reset-corrected increase at each new sample (the batch's when it has them)."""
        _, values, given = batch
        if given is not None:
            return given
        cached = self._increments.get(sid)
        if cached is None:
            cached = self._increments[sid] = increments(values, float(last_val[sid]))
        return cached

    def slice_index(self, sid: int, ts: I64, slice_ms: int) -> I64:
        """The slice of each of series ``sid``'s new samples, for slices of ``slice_ms``."""
        per_length = self._slices.setdefault(sid, {})
        cached = per_length.get(slice_ms)
        if cached is None:
            cached = per_length[slice_ms] = slice_index(ts, slice_ms)
        return cached

    def done(self, sids: list[int]) -> None:
        """A group reading ``sids`` is done with them."""
        for sid in sids:
            self._readers_left[sid] -= 1
            if not self._readers_left[sid]:
                self._increments.pop(sid, None)
                self._slices.pop(sid, None)


class SeriesMembers:
    """Which groups read each series, in which pool; and the rows of a batch for those groups."""

    def __init__(self, groups: list[SliceGroup], columns: GroupColumns) -> None:
        self.groups = groups
        self.columns = columns
        self._members: list[list[tuple[int, int]]] = []  # per series id: (group, pool)
        self._csr: tuple[I64, I64, I64] | None = None

    def __bool__(self) -> bool:
        return bool(self._members)

    def add_series(self, sid: int, groups: Sequence[int], labels: dict[str, str]) -> None:
        """Register series ``sid`` (with these labels) as read by ``groups``."""
        while len(self._members) <= sid:
            self._members.append([])
        self._members[sid] = [(g, self.groups[g].pool(labels)) for g in groups]
        for g in groups:
            self.columns.n_pools[g] = max(1, len(self.groups[g].pools))
        self._csr = None

    def groups_of(self, sid: int) -> list[int]:
        """The groups reading series ``sid``."""
        return [g for g, _ in self._members[sid]] if sid < len(self._members) else []

    def pool(self, sid: int, g: int) -> int:
        """Series ``sid``'s pool in group ``g``."""
        return dict(self._members[sid])[g]

    def _series_csr(self) -> tuple[I64, I64, I64]:
        """Series → (group, pool) memberships as CSR arrays: pointer, groups, pools."""
        if self._csr is None:
            ptr, groups = csr([[g for g, _ in m] for m in self._members])
            _, pools = csr([[pool for _, pool in m] for m in self._members])
            self._csr = (ptr, groups, pools)
        return self._csr

    def tick_rows(self, tick: TickRows, last_val: F64) -> SliceRows | None:
        """The rows of a small batch for every group reading them, from its whole arrays (None: no
        group reads them); ``last_val``: each series' value before the batch."""
        sid, ts, val, inc = tick
        ptr, groups, pools = self._series_csr()
        first = np.ones(len(sid), dtype=np.bool_)
        first[1:] = sid[1:] != sid[:-1]
        known_row = ~(first & np.isnan(last_val[sid]))  # a series' first sample: no increase known
        inside = np.flatnonzero(sid < len(ptr) - 1)  # series registered after the last slice reader
        owner, entry = csr_rows(ptr, sid[inside])
        if len(owner) == 0:
            return None
        row = inside[owner]
        group = groups[entry]
        band = self.columns.is_band[group]
        value = np.where(band, val[row], inc[row])
        if band.any():
            np.maximum.at(self.columns.max_value, group[band], value[band])
        return SliceRows(group, sid[row], ts[row], value, known_row[row] | band, pools[entry])

    def group_rows(
        self, g: int, sids: list[int], batches: Mapping[int, Batch], last_val: F64, cache: BatchCache
    ) -> SliceRows:
        """Group ``g``'s new rows from the batches of its series ``sids`` (ascending)."""
        band = bool(self.columns.is_band[g])
        parts: list[SliceRows] = []
        for sid in sids:
            ts, values, _ = batches[sid]
            known = np.ones(len(ts), dtype=np.bool_)
            if band:
                self.columns.note_values(g, values)
            else:
                known[0] = not math.isnan(float(last_val[sid]))
                values = cache.increments(sid, batches[sid], last_val)
            parts.append(SliceRows.of_series(g, sid, self.pool(sid, g), ts, values, known))
        return SliceRows.concat(parts)
