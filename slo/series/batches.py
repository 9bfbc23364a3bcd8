"""How every evaluator's ``ingest`` cuts a sample frame into each series' new rows.

Series are found as runs of equal (metric, labels) — the store returns frames sorted by series,
so a 30-day cold start is a few hundred runs. A small batch (a scrape tick) is handled as whole
arrays (``small_batches``), a large one series by series on contiguous rows (``large_batches``).
Either way each series gets its new rows: strictly ascending timestamps newer than what was
ingested before, non-finite values dropped, the first of duplicate timestamps kept.

Non-finite values: NaN (staleness markers included) and ±Inf are skipped. Prometheus drops
staleness markers from a range too; a real NaN or an infinity it keeps, and every window holding
one answers NaN or ±Inf — a figure no objective can use, and which a running sum would carry
into every later window. Skipping the sample keeps the windows around it exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.slo.series.increase import series_increments
from redline.slo.series.layouts import FrameLayouts

__all__ = [
    "MAX_RUNS", "Batch", "TickRows", "large_batches", "new_rows", "newest_rows", "runs", "series_runs",
    "small_batches", "tick_batches", "tick_rows",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Batch = tuple[I64, F64, F64 | None]
"""One series' new rows: timestamps (strictly ascending, newer than before), values, and
increments (``None``: computed when needed, so a cold start holds one series' at a time)."""
TickRows = tuple[I64, I64, F64, F64]
"""A small batch's rows as whole arrays: series, timestamp, value, increment (sorted by series, time)."""


def runs(samples: pl.DataFrame) -> tuple[I64, I64]:
    """Start and length of each run of rows with equal (metric, labels)."""
    # both columns at once (in parallel), each run-length list imploded to one row
    per_col = samples.select(
        pl.col(c).rle().struct.field("len").implode().alias(c) for c in ("labels", "metric")
    )
    ends = np.union1d(
        *(np.cumsum(per_col.get_column(c)[0].to_numpy().astype(np.int64)) for c in ("labels", "metric"))
    )
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return starts, (ends - starts).astype(np.int64)


MAX_RUNS = 10_000
"""Past this many runs (and more than one per 16 rows) a frame is sorted by series first."""


def series_runs(
    samples: pl.DataFrame, series_id: Callable[[str, str], int], layouts: FrameLayouts | None = None
) -> tuple[pl.DataFrame, I64, I64, I64] | None:
    """The frame (sorted by series when it was scattered), the start and length of each run of
    one series, and each run's id from ``series_id`` (−1: a series nobody reads). ``None`` when
    no run is read. With ``layouts``, a frame whose series columns were seen before reuses the
    runs and ids found then (``slo.series.layouts``): a steady scrape's are found once."""
    metric, labels = samples.get_column("metric"), samples.get_column("labels")
    layout = layouts.get(metric, labels) if layouts is not None else None
    if layout is None:
        starts, lengths = runs(samples)
        sorted_now = len(starts) > max(MAX_RUNS, samples.height // 16)
        if sorted_now:
            samples = samples.sort("metric", "labels", "timestamp", maintain_order=True)
            starts, lengths = runs(samples)
        keys = samples.select(
            pl.col("metric").gather(pl.Series(starts)), pl.col("labels").gather(pl.Series(starts))
        ).rows()
        run_sid = np.fromiter((series_id(m, lb) for m, lb in keys), dtype=np.int64, count=len(keys))
        layout = (starts, lengths, run_sid)
        if layouts is not None and not sorted_now:
            layouts.put(metric, labels, layout)
    starts, lengths, run_sid = layout
    if not (run_sid >= 0).any():
        return None
    return samples, starts, lengths, run_sid


def new_rows(sid: I64, ts: I64, val: F64, last_ts: I64) -> tuple[I64, I64, F64]:
    """The rows of a batch that are new, sorted by series and timestamp: read by someone
    (``sid >= 0``), finite, newer than the series' last ingested timestamp, and the first of
    several at one timestamp."""
    keep = (sid >= 0) & np.isfinite(val)
    sid, ts, val = sid[keep], ts[keep], val[keep]
    order = np.lexsort((ts, sid))
    sid, ts, val = sid[order], ts[order], val[order]
    fresh = ts > last_ts[sid]
    fresh[1:] &= (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])  # the first of duplicates wins
    if not fresh.all():
        sid, ts, val = sid[fresh], ts[fresh], val[fresh]
    return sid, ts, val


def small_batches(
    sid: I64, ts: I64, val: F64, last_ts: I64, last_val: F64
) -> tuple[dict[int, Batch], TickRows | None]:
    """Per series new rows, computed on whole arrays (a tick: one row per series); also the rows
    themselves, sorted by series and timestamp. ``sid`` -1: a series no objective reads."""
    tick = tick_rows(sid, ts, val, last_ts, last_val)
    return ({}, None) if tick is None else (tick_batches(tick), tick)


def tick_rows(sid: I64, ts: I64, val: F64, last_ts: I64, last_val: F64) -> TickRows | None:
    """A small batch's new rows as whole arrays, sorted by series and timestamp, with their
    increments (``None`` when there is none). ``sid`` -1: a series no objective reads."""
    sid, ts, val = new_rows(sid, ts, val, last_ts)
    if len(sid) == 0:
        return None
    first = np.concatenate([[True], sid[1:] != sid[:-1]])
    inc = series_increments(first, val, last_val[sid])
    return sid, ts, val, inc


def tick_batches(tick: TickRows) -> dict[int, Batch]:
    """``tick``'s rows cut per series (for readers that go series by series)."""
    sid, ts, val, inc = tick
    bounds = np.flatnonzero(sid[1:] != sid[:-1]) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.append(bounds, len(sid))
    return {
        s: (ts[a:b], val[a:b], inc[a:b])
        for s, a, b in zip(sid[starts].tolist(), starts.tolist(), ends.tolist(), strict=True)
    }


def newest_rows(sid: I64) -> I64:
    """The index of each series' last row in rows sorted by series (``TickRows``' order)."""
    return np.append(np.flatnonzero(sid[1:] != sid[:-1]), len(sid) - 1)


def large_batches(
    run_sid: I64, starts: I64, lengths: I64, ts_all: I64, val_all: F64, last_ts: I64
) -> dict[int, Batch]:
    """Per series new rows, series by series on contiguous rows (a cold start)."""
    spans_of: dict[int, list[tuple[int, int]]] = {}
    for s, a, n in zip(run_sid.tolist(), starts.tolist(), lengths.tolist(), strict=True):
        if s >= 0:
            spans_of.setdefault(s, []).append((a, a + n))
    out: dict[int, Batch] = {}
    for s, spans in spans_of.items():
        if len(spans) == 1:
            (a, b), = spans
            ts, val = ts_all[a:b], val_all[a:b]
        else:
            ts = np.concatenate([ts_all[a:b] for a, b in spans])
            val = np.concatenate([val_all[a:b] for a, b in spans])
        if not math.isfinite(float(val.sum())):  # cheaper than a mask when all are finite
            real = np.isfinite(val)
            ts, val = ts[real], val[real]
        if len(ts) > 1 and not (ts[1:] > ts[:-1]).all():
            if not (ts[1:] >= ts[:-1]).all():
                order = np.argsort(ts, kind="stable")
                ts, val = ts[order], val[order]
            distinct = np.concatenate([[True], ts[1:] != ts[:-1]])  # the first of duplicates wins
            ts, val = ts[distinct], val[distinct]
        last = int(last_ts[s])
        if len(ts) and int(ts[0]) <= last:
            j = int(np.searchsorted(ts, last, side="right"))
            ts, val = ts[j:], val[j:]
        if len(ts):
            out[s] = (ts, val, None)
    return out
