"""Throughput and GPU-band objectives, grouped by the data they read: ingest and reasons.

A *slice group* is the objectives reading the same series the same way (slice length; for a band
also the aggregate and the ``by`` labels): its slices are summarised once, and
``slo.timeslice.SliceStore`` counts each objective's good slices. A group's newest slice stays
open — its rows kept as *pending* — until a sample after its end arrives.

``SliceGroups.ingest`` summarises the touched groups from one table of rows (group, series,
timestamp, increment or value, known, pool) sorted by group, series and time: the pending rows
and the new ones. A scrape tick builds that table for every group at once from the batch's
arrays, and as a tick moves each group by at most one slice, stores them all at once
(``SliceStore.add_pairs``); a large batch (a cold start) goes group by group to bound memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.kernel.labels import Selector, parse_labels
from redline.kernel.units import format_duration
from redline.slo.series.batches import Batch, TickRows
from redline.slo.series.increase import increments
from redline.slo.series.rows import csr, csr_rows
from redline.slo.spec import GPUBandSLI, ThroughputSLI
from redline.slo.timeslice import NO_SLICE, SliceStore, band_extremes, band_slices, slice_index, throughput_slices

__all__ = ["PERCENT_HINT", "SliceGroup", "SliceGroups", "band_problems"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
_Rows = tuple[I64, I64, I64, F64, Bools, I64]
"""Rows of slice groups: group, series, timestamp, increment (throughput) or value (band), known, pool."""

_AGGREGATES = {"avg": 0, "max": 1, "min": 2}
_TICK_ROWS = 200_000
"""A batch with up to this many rows summarises all its groups in one table."""

PERCENT_HINT = (
    "utilisation values above 1 look like a percentage; use a 0–1 ratio such as redline_gpu_utilization_ratio"
)


@dataclass
class SliceGroup:
    """Throughput or GPU-band objectives reading the same series the same way."""

    kind: str  # "throughput" or "gpu"
    selector: Selector
    slice_ms: int
    aggregate: str = "avg"
    by: tuple[str, ...] = ()
    pools: dict[tuple[str, ...], int] = field(default_factory=dict)
    """Each distinct value tuple of the ``by`` labels (one pool when ``by`` is empty)."""
    last_final: tuple[int, F64] | None = None
    open: tuple[int, F64] | None = None
    """(slice, rate) or (slice, aggregate per pool) of the last final slice and of the open one."""

    def pool(self, labels: dict[str, str]) -> int:
        """The pool of a series with these labels (a new one for an unseen value tuple)."""
        return self.pools.setdefault(tuple(labels.get(name, "") for name in self.by), len(self.pools))

    def pool_name(self, pool: int) -> str:
        """``{host="h0"}``-style name of a pool; ``all GPUs`` without ``by`` labels."""
        if not self.by:
            return "all GPUs"
        key = next(k for k, v in self.pools.items() if v == pool)
        return "{" + ",".join(f'{n}="{v}"' for n, v in zip(self.by, key, strict=True)) + "}"


def _group_of(sli: ThroughputSLI | GPUBandSLI) -> tuple[tuple[object, ...], SliceGroup]:
    slice_ms = round(sli.slice * 1000)
    if isinstance(sli, ThroughputSLI):
        return ("throughput", str(sli.counter), slice_ms), SliceGroup("throughput", sli.counter, slice_ms)
    key = ("gpu", str(sli.utilization), slice_ms, sli.aggregate, sli.by)
    return key, SliceGroup("gpu", sli.utilization, slice_ms, sli.aggregate, sli.by)


def _empty_rows() -> _Rows:
    i = np.zeros(0, dtype=np.int64)
    return i, i, i, np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.bool_), i


def _take(rows: _Rows, which: Bools | I64) -> _Rows:
    g, s, t, x, k, p = rows
    return g[which], s[which], t[which], x[which], k[which], p[which]


def _concat(parts: Sequence[_Rows]) -> _Rows:
    if len(parts) == 1:
        return parts[0]
    g, s, t, x, k, p = (np.concatenate([r[i] for r in parts]) for i in range(6))
    return g, s, t, x, k, p


class SliceGroups:
    """The slice groups of an evaluator's throughput and GPU-band objectives (``slis``: each one's
    SLI and window in seconds, in the order of ``SliceStore``'s objectives). Not thread-safe."""

    def __init__(self, slis: Sequence[tuple[ThroughputSLI | GPUBandSLI, float]]) -> None:
        self.groups: list[SliceGroup] = []
        ids: dict[tuple[object, ...], int] = {}
        self.group_of: list[int] = []
        self._slis = [sli for sli, _ in slis]
        lo: list[float] = []
        hi: list[float] = []
        keep: list[int] = []
        for sli, window_s in slis:
            key, group = _group_of(sli)
            if key not in ids:
                ids[key] = len(self.groups)
                self.groups.append(group)
            self.group_of.append(ids[key])
            lo.append(sli.min_per_second if isinstance(sli, ThroughputSLI) else sli.min)
            hi.append(math.inf if isinstance(sli, ThroughputSLI) else sli.max)
            keep.append(math.ceil((window_s + 86400.0) * 1000 / group.slice_ms))
        self.store = SliceStore(self.group_of, [g.slice_ms for g in self.groups], lo, hi, keep)
        self._slice_ms = np.asarray([g.slice_ms for g in self.groups], dtype=np.int64)
        self._gpu = np.asarray([g.kind == "gpu" for g in self.groups], dtype=np.bool_)
        self._aggregate = np.asarray([_AGGREGATES[g.aggregate] for g in self.groups], dtype=np.int64)
        self._n_pools = np.ones(len(self.groups), dtype=np.int64)
        self.max_value = np.full(len(self.groups), -np.inf)
        self._members: list[list[tuple[int, int]]] = []  # per series id: (group, pool)
        self._csr: tuple[I64, I64, I64] | None = None
        self._pending = _empty_rows()

    def selectors(self) -> list[Selector]:
        """Each group's selector."""
        return [g.selector for g in self.groups]

    def add_series(self, sid: int, groups: Sequence[int], labels: dict[str, str]) -> None:
        """Register series ``sid`` (with these labels) as read by ``groups``."""
        while len(self._members) <= sid:
            self._members.append([])
        self._members[sid] = [(g, self.groups[g].pool(labels)) for g in groups]
        for g in groups:
            self._n_pools[g] = max(1, len(self.groups[g].pools))
        self._csr = None

    def nbytes(self) -> int:
        """Bytes held by the slice counts."""
        return self.store.nbytes()

    # -- ingest ------------------------------------------------------------------------------

    def ingest(self, batches: Mapping[int, Batch], tick: TickRows | None, last_val: F64) -> None:
        """Add new rows (``last_val``: each series' value before them): from ``tick``'s whole arrays
        when given and small, else from ``batches`` group by group."""
        if not self.groups or not self._members:
            return
        if tick is not None and len(tick[0]) <= _TICK_ROWS:
            rows = self._tick_rows(tick, last_val)
            if rows is not None:
                touched = np.zeros(len(self.groups), dtype=np.bool_)
                touched[rows[0]] = True
                mine = touched[self._pending[0]]
                table = _concat([_take(self._pending, mine), rows])
                order = np.lexsort((table[2], table[1], table[0]))
                kept = _take(self._pending, ~mine)
                self._pending = _concat([kept, self._advance(_take(table, order))])
            return
        touched_sids: dict[int, list[int]] = {}
        for sid in sorted(batches):
            for g, _ in self._members[sid] if sid < len(self._members) else ():
                touched_sids.setdefault(g, []).append(sid)
        if not touched_sids:
            return
        pend_g = self._pending[0]
        new_pending = [_take(self._pending, ~np.isin(pend_g, list(touched_sids)))]
        computed: dict[int, F64] = {}
        k_of: dict[tuple[int, int], I64] = {}
        uses: dict[int, int] = {}  # groups left to read each series: cached arrays are dropped after
        for sids in touched_sids.values():
            for sid in sids:
                uses[sid] = uses.get(sid, 0) + 1
        for g, sids in touched_sids.items():
            pending = _take(self._pending, np.flatnonzero(pend_g == g))
            if len(pending[0]) == 0:
                new_pending.append(self._advance_series(g, sids, batches, last_val, computed, k_of))
            for sid in sids:
                uses[sid] -= 1
                if not uses[sid]:
                    computed.pop(sid, None)
                    k_of.pop((sid, self.groups[g].slice_ms), None)
                    for key in [key for key in k_of if key[0] == sid]:
                        del k_of[key]
            if len(pending[0]) == 0:
                continue
            table = _concat([pending, self._group_rows(g, sids, batches, last_val, computed)])
            if len(pending[0]):
                table = _take(table, np.lexsort((table[2], table[1])))
            new_pending.append(self._advance(table))
        self._pending = _concat(new_pending)

    def _series_csr(self) -> tuple[I64, I64, I64]:
        """Series → (group, pool) memberships as CSR arrays: pointer, groups, pools."""
        if self._csr is None:
            ptr, groups = csr([[g for g, _ in m] for m in self._members])
            _, pools = csr([[pool for _, pool in m] for m in self._members])
            self._csr = (ptr, groups, pools)
        return self._csr

    def _tick_rows(self, tick: TickRows, last_val: F64) -> _Rows | None:
        """The rows of a small batch for every group reading them, from its whole arrays."""
        sid, ts, val, inc = tick
        ptr, groups, pools = self._series_csr()
        first = np.ones(len(sid), dtype=np.bool_)
        first[1:] = sid[1:] != sid[:-1]
        known_row = ~(first & np.isnan(last_val[sid]))  # a series' first sample: no increase known
        inside = np.flatnonzero(sid < len(ptr) - 1)  # series registered after the last slice reader
        owner, pos = csr_rows(ptr, sid[inside])
        if len(owner) == 0:
            return None
        rep = inside[owner]
        g = groups[pos]
        gpu = self._gpu[g]
        x = np.where(gpu, val[rep], inc[rep])
        if gpu.any():
            np.maximum.at(self.max_value, g[gpu], x[gpu])
        return g, sid[rep], ts[rep], x, known_row[rep] | gpu, pools[pos]

    def _group_rows(
        self, g: int, sids: list[int], batches: Mapping[int, Batch], last_val: F64, computed: dict[int, F64]
    ) -> _Rows:
        """Group ``g``'s new rows from the batches of its series ``sids`` (ascending)."""
        gpu = bool(self._gpu[g])
        parts: list[_Rows] = []
        for sid in sids:
            ts, val, inc = batches[sid]
            known = np.ones(len(ts), dtype=np.bool_)
            pool = dict(self._members[sid])[g]
            if gpu:
                x = val
                self.max_value[g] = max(float(self.max_value[g]), float(val.max()))
            else:
                if inc is None:
                    inc = computed.get(sid)
                    if inc is None:
                        inc = computed[sid] = increments(val, float(last_val[sid]))
                known[0] = not math.isnan(float(last_val[sid]))
                x = inc
            n = len(ts)
            parts.append((np.full(n, g, dtype=np.int64), np.full(n, sid, dtype=np.int64), ts, x, known,
                          np.full(n, pool, dtype=np.int64)))
        return _concat(parts)

    def _advance(self, rows: _Rows) -> _Rows:
        """Summarise the slices of the groups in ``rows`` (sorted by group, series, time), store
        them; every slice before a group's newest becomes final. Returns the newest slices' rows."""
        g, sid, _, x, known, pool = rows
        k = -(-rows[2] // self._slice_ms[g])
        k_final_of = self.store.g_k_final[g]
        late = (k_final_of != NO_SLICE) & (k <= k_final_of)
        if late.any():  # rows of final slices arrive too late to count
            rows = _take(rows, ~late)
            g, sid, _, x, known, pool = rows
            k = k[~late]
        if len(g) == 0:
            return rows
        starts = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
        gs = g[starts]
        gi = np.repeat(np.arange(len(gs)), np.diff(np.append(starts, len(g))))
        k_last = np.maximum.reduceat(k, starts)
        k_final = self.store.g_k_final[gs]
        k_first = np.where(k_final != NO_SLICE, k_final + 1, np.minimum.reduceat(k, starts))
        n = k_last - k_first + 1
        if len(gs) == 1 and int(n[0]) > 2:  # one group over many slices (a cold start)
            self._advance_one(int(gs[0]), rows, k, int(k_first[0]), int(n[0]))
            return _take(rows, k == k_last[0])
        base = np.cumsum(n) - n
        size = int(n.sum())
        slot = base[gi] + (k - k_first[gi])
        slot_group = np.repeat(np.arange(len(gs)), n)
        gpu_g = self._gpu[gs]
        gpu_slot = gpu_g[slot_group]
        gpu_row = gpu_g[gi]
        counted = np.zeros(size, dtype=np.bool_)
        low = np.full(size, np.nan)
        if not gpu_row.all():
            t = ~gpu_row
            known_t = known[t]
            total = np.bincount(slot[t], weights=np.where(known_t, x[t], 0.0), minlength=size)[:size]
            seen = np.bincount(slot[t], weights=known_t.astype(np.float64), minlength=size)[:size] > 0
            rate = total / (self._slice_ms[gs][slot_group] / 1000.0)
            counted = np.where(gpu_slot, counted, seen)
            low = np.where(gpu_slot, low, rate)
        high = low.copy()
        agg = np.zeros(0, dtype=np.float64)
        agg_base = np.zeros(len(gs), dtype=np.int64)
        n_pools = self._n_pools[gs]
        if gpu_row.any():
            agg_n = np.where(gpu_g, n * n_pools, 0)
            agg_base = np.cumsum(agg_n) - agg_n
            agg, entry_slot = self._band(gi, sid, slot, x, pool, gpu_row, gs, base, agg_base, agg_n)
            in_band = np.bincount(slot[gpu_row], minlength=size)[:size] > 0
            counted = np.where(gpu_slot, in_band, counted)
            lo_b, hi_b = np.full(size, np.nan), np.full(size, np.nan)
            np.fmin.at(lo_b, entry_slot, agg)
            np.fmax.at(hi_b, entry_slot, agg)
            low = np.where(gpu_slot, lo_b, low)
            high = np.where(gpu_slot, hi_b, high)
        if int(n.max()) <= 2:
            self.store.add_pairs(gs, k_first, n, counted, low, high, base)
        else:
            for j, (grp, a, b) in enumerate(zip(gs.tolist(), base.tolist(), (base + n).tolist(), strict=True)):
                self.store.add(grp, int(k_first[j]), counted[a:b], low[a:b], high[a:b])
        for j, grp_id in enumerate(gs.tolist()):
            grp, nj, kl = self.groups[grp_id], int(n[j]), int(k_last[j])
            if gpu_g[j]:
                p, a = int(n_pools[j]), int(agg_base[j])
                newest, before = agg[a + (nj - 1) * p : a + nj * p], agg[a + (nj - 2) * p : a + (nj - 1) * p]
            else:
                b = int(base[j]) + nj
                newest, before = low[b - 1 : b], low[b - 2 : b - 1]
            if nj > 1:
                grp.last_final = (kl - 1, before)
            grp.open = (kl, newest)
        return _take(rows, k == k_last[gi])

    def _advance_series(
        self, g: int, sids: list[int], batches: Mapping[int, Batch], last_val: F64, computed: dict[int, F64],
        k_of: dict[tuple[int, int], I64],
    ) -> _Rows:
        """``_advance`` for group ``g`` without pending rows, series by series on the batches (a cold
        start): slice indices shared between groups (``k_of``), a band summed onto per-pool arrays."""
        grp = self.groups[g]
        k_final = int(self.store.g_k_final[g])
        cut: list[tuple[int, int, I64]] = []  # series, first new row, slice of each row
        for sid in sids:
            k = k_of.get((sid, grp.slice_ms))
            if k is None:
                k = k_of[(sid, grp.slice_ms)] = slice_index(batches[sid][0], grp.slice_ms)
            j = int(np.searchsorted(k, k_final, side="right")) if k_final != NO_SLICE else 0
            if j < len(k):  # rows of final slices arrive too late to count
                cut.append((sid, j, k[j:]))
        if grp.kind == "gpu":
            for sid in sids:
                self.max_value[g] = max(float(self.max_value[g]), float(batches[sid][1].max()))
        if not cut:
            return _empty_rows()
        k_first = k_final + 1 if k_final != NO_SLICE else min(int(k[0]) for _, _, k in cut)
        k_last = max(int(k[-1]) for _, _, k in cut)
        n = k_last - k_first + 1
        parts: list[_Rows] = []
        xs: list[F64] = []
        knowns: list[Bools] = []
        for sid, j, k in cut:
            ts, val, inc = batches[sid]
            if grp.kind == "gpu":
                x = val[j:]
            else:
                if inc is None:
                    inc = computed.get(sid)
                    if inc is None:
                        inc = computed[sid] = increments(val, float(last_val[sid]))
                x = inc[j:]
            known = np.ones(len(k), dtype=np.bool_)
            known[0] = j > 0 or grp.kind == "gpu" or not math.isnan(float(last_val[sid]))  # no increase known
            xs.append(x)
            knowns.append(known)
            tail = int(np.searchsorted(k, k_last))  # the open slice's rows stay pending
            m = len(k) - tail
            pool = dict(self._members[sid])[g]
            parts.append((np.full(m, g, dtype=np.int64), np.full(m, sid, dtype=np.int64), ts[j + tail :],
                          x[tail:], known[tail:], np.full(m, pool, dtype=np.int64)))
        if grp.kind == "throughput":
            k_all = np.concatenate([k for _, _, k in cut]) if len(cut) > 1 else cut[0][2]
            x_all = np.concatenate(xs) if len(xs) > 1 else xs[0]
            known_all = np.concatenate(knowns) if len(knowns) > 1 else knowns[0]
            counted, rate = throughput_slices(k_all, x_all, known_all, k_first, n, grp.slice_ms)
            low = high = rate
            summary = rate[:, None]
        else:
            counted, summary = self._band_series(g, cut, xs, k_first, n)
            low, high = band_extremes(summary)
        self.store.add(g, k_first, counted, low, high)
        if n > 1:
            grp.last_final = (k_last - 1, summary[-2])
        grp.open = (k_last, summary[-1])
        return _concat(parts)

    def _band_series(
        self, g: int, cut: list[tuple[int, int, I64]], values: list[F64], k_first: int, n: int
    ) -> tuple[Bools, F64]:
        """``band_slices`` summed series by series onto per-pool arrays (series ascending: the same
        sums as one ``bincount`` over the rows)."""
        grp = self.groups[g]
        n_pools = int(self._n_pools[g])
        acc = np.zeros((n_pools, n)) if grp.aggregate == "avg" else np.full((n_pools, n), np.nan)
        count = np.zeros((n_pools, n), dtype=np.int64)
        combine = np.fmax if grp.aggregate == "max" else np.fmin
        for (sid, _, k), v in zip(cut, values, strict=True):
            last = np.ones(len(k), dtype=np.bool_)
            last[:-1] = k[1:] != k[:-1]
            if not last.all():
                k, v = k[last], v[last]
            a = int(k[0]) - k_first
            # one sample in every slice (the usual history) is a contiguous range: no fancy indexing
            idx: slice | I64 = slice(a, a + len(k)) if int(k[-1]) - int(k[0]) == len(k) - 1 else k - k_first
            p = dict(self._members[sid])[g]
            if grp.aggregate == "avg":
                acc[p, idx] += v
            else:
                acc[p, idx] = combine(acc[p, idx], v)
            count[p, idx] += 1
        if grp.aggregate == "avg":
            acc = np.divide(acc, count, out=np.full((n_pools, n), np.nan), where=count > 0)
        counted: Bools = count.sum(axis=0) > 0
        return counted, np.ascontiguousarray(acc.T)

    def _advance_one(self, g: int, rows: _Rows, k: I64, k_first: int, n: int) -> None:
        """``_advance`` for one group's rows over ``n`` slices from ``k_first``."""
        grp = self.groups[g]
        _, sid, _, x, known, pool = rows
        if grp.kind == "throughput":
            counted, rate = throughput_slices(k, x, known, k_first, n, grp.slice_ms)
            low = high = rate
            summary = rate[:, None]
        else:
            counted, summary = band_slices(k, sid, x, pool, int(self._n_pools[g]), grp.aggregate, k_first, n)
            low, high = band_extremes(summary)
        self.store.add(g, k_first, counted, low, high)
        grp.last_final = (k_first + n - 2, summary[-2])
        grp.open = (k_first + n - 1, summary[-1])

    def _band(
        self, gi: I64, sid: I64, slot: I64, values: F64, pool: I64, gpu_row: Bools, gs: I64, base: I64,
        agg_base: I64, agg_n: I64,
    ) -> tuple[F64, I64]:
        """Per slice and pool of the GPU groups, the aggregate of each series' last value in the slice
        (NaN: no sample; a vanished GPU is not read as 0); and the slot of each aggregate."""
        gi, sid, slot, values, pool = gi[gpu_row], sid[gpu_row], slot[gpu_row], values[gpu_row], pool[gpu_row]
        last = np.ones(len(gi), dtype=np.bool_)
        last[:-1] = (sid[1:] != sid[:-1]) | (slot[1:] != slot[:-1])
        gi, slot, values, pool = gi[last], slot[last], values[last], pool[last]
        n_pools = self._n_pools[gs]
        key = agg_base[gi] + (slot - base[gi]) * n_pools[gi] + pool
        size = int(agg_n.sum())
        count = np.bincount(key, minlength=size)[:size]
        code = self._aggregate[gs]
        entry_group = np.repeat(np.arange(len(gs)), agg_n)
        entry_code = code[entry_group]
        agg = np.full(size, np.nan)
        row_code = code[gi]
        if (row_code == 0).any():
            avg = row_code == 0
            total = np.bincount(key[avg], weights=values[avg], minlength=size)[:size]
            np.divide(total, count, out=agg, where=(count > 0) & (entry_code == 0))
        for c, ufunc, start in ((1, np.maximum, -np.inf), (2, np.minimum, np.inf)):
            rows = row_code == c
            if rows.any():
                ext = np.full(size, start)
                ufunc.at(ext, key[rows], values[rows])
                agg = np.where((entry_code == c) & (count > 0), ext, agg)
        entry_slot = base[entry_group] + (np.arange(size) - agg_base[entry_group]) // n_pools[entry_group]
        return agg, entry_slot

    # -- reasons -----------------------------------------------------------------------------

    def reasons(self, at_ms: int) -> list[tuple[str, dict[str, Any] | None]]:
        """Per objective, what the newest finished slice before ``at_ms`` says: a throughput's rate
        under its floor and its share of capacity (also as figures: ``throughput_details``), a GPU
        band's pools outside the band."""
        # The newest finished slice (an open one holds only part of its slice's increase), while it
        # ended at most two slices before ``at_ms``: a source that stopped says nothing here.
        latest = [
            g.last_final[1].tolist()
            if g.last_final is not None and at_ms - 3 * g.slice_ms < g.last_final[0] * g.slice_ms <= at_ms - g.slice_ms
            else None
            for g in self.groups
        ]
        out: list[tuple[str, dict[str, Any] | None]] = []
        for j, sli in enumerate(self._slis):
            g = self.group_of[j]
            if isinstance(sli, ThroughputSLI):
                slice_ms = self.groups[g].slice_ms
                out.append((_throughput_reason(sli, latest[g], slice_ms), throughput_details(sli, latest[g], slice_ms)))
            else:
                out.append((_band_reason(sli, latest[g], self.groups[g], float(self.max_value[g]) > 1.0), None))
        return out


def throughput_details(th: ThroughputSLI, latest: list[float] | None, slice_ms: int) -> dict[str, Any] | None:
    """A throughput objective's figures for ``status --json`` (``details``): the newest slice's
    rate in the objective's unit, its floor, and with a ``capacity`` the share used and the
    saturation headroom (the share left: negative when over capacity)."""
    if latest is None or not math.isfinite(latest[0]):
        return None
    rate = latest[0] * th.per
    out: dict[str, Any] = {
        "rate": rate, "per": format_duration(th.per), "min_rate": th.min_rate,
        "slice": format_duration(slice_ms / 1000),
    }
    if th.capacity is not None:
        used = rate / th.capacity
        out |= {"capacity": th.capacity, "capacity_used": used, "capacity_headroom": 1.0 - used}
    return out


def _throughput_reason(th: ThroughputSLI, latest: list[float] | None, slice_ms: int) -> str:
    if latest is None:
        return ""
    rate = latest[0]
    parts: list[str] = []
    if rate < th.min_per_second:
        parts.append(
            f"last {format_duration(slice_ms / 1000)} slice at {rate * th.per:.3g} per {format_duration(th.per)}, "
            f"under the floor of {th.min_rate:g}"
        )
    if th.capacity is not None:
        parts.append(f"at {rate * th.per / th.capacity * 100:.0f}% of capacity")
    return "; ".join(parts)


def _band_reason(band: GPUBandSLI, agg: list[float] | None, grp: SliceGroup, percent: bool) -> str:
    parts: list[str] = []
    if agg is not None:  # NaN (a pool without samples) fails neither test
        for side, bad, bound, word in (
            ("below", [i for i, v in enumerate(agg) if v < band.min], band.min, "waste"),
            ("above", [i for i, v in enumerate(agg) if v > band.max], band.max, "saturation"),
        ):
            if not bad:
                continue
            worst = min(bad, key=agg.__getitem__) if side == "below" else max(bad, key=agg.__getitem__)
            more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
            parts.append(
                f"{side} {bound * 100:.0f}% ({word}) in {grp.pool_name(worst)} at {agg[worst] * 100:.0f}%{more}"
            )
    if percent:
        parts.append(PERCENT_HINT)
    return "; ".join(parts)


def band_problems(name: str, band: GPUBandSLI, series: pl.DataFrame, pairs: list[tuple[str, str]]) -> list[str]:
    """A GPU band's series that lack a ``by`` label, or hold values above 1."""
    matched = band.utilization.matching_series(pairs)
    if not matched:
        return []
    problems: list[str] = []
    parsed = [parse_labels(labels) for _, labels in matched]
    for label in band.by:
        lacking = sum(label not in labels for labels in parsed)
        if lacking:
            problems.append(
                f"objective {name!r}: {lacking} of the {len(matched)} series of {band.utilization} have no "
                f"{label!r} label, so they are pooled together under an empty {label}"
            )
    if "value" in series.columns:
        rows = series.filter(
            pl.col("metric") == band.utilization.metric, pl.col("labels").is_in([lb for _, lb in matched])
        )
        top = rows.get_column("value").max()
        if isinstance(top, (int, float)) and top > 1:
            problems.append(f"objective {name!r}: {band.utilization} has values up to {top:g}: {PERCENT_HINT}")
    return problems
