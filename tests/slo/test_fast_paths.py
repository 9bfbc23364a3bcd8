"""The engine's fast paths give the same results as each other and as the arithmetic they replace.

A cold start (series by series on contiguous rows), hourly batches (whole arrays, side by side),
scrape-by-scrape ticks (all sides in one go, late samples folded in) and an unsorted frame must
all yield identical reports. Counts are whole numbers, so every path's float sums are exact.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import redline.slo.engine
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.engine import SLOEvaluator
from redline.slo.series.cumulative import segment_search
from redline.slo.series.increase import extrapolate_increase, extrapolate_increases
from redline.slo.spec import SLOSpec
from tests.frames import series_frame as _series

S = 1000
MIN = 60 * S
HOUR = 60 * MIN
T0 = 1_700_000_000_000 // HOUR * HOUR
SPAN = 30 * HOUR


def _specs(window: str) -> list[SLOSpec]:
    raw: list[dict[str, object]] = [
        {
            "name": "api-availability",
            "objective": 99.0,
            "window": window,
            "sli": {"ratio": {"errors": 'requests_total{code="500"}', "total": "requests_total"}},
        },
        {
            "name": "api-good",
            "objective": 95.0,
            "window": window,
            "sli": {"ratio": {"good": 'requests_total{code="200"}', "total": "requests_total"}},
        },
        {
            "name": "api-latency",
            "objective": 90.0,
            "window": window,
            "sli": {"latency": {"histogram": "rq_seconds", "threshold": "250ms"}},
        },
        {
            "name": "pipeline-fresh",
            "objective": 99.0,
            "window": window,
            "sli": {"freshness": {"last_success": "last_success_seconds", "max_age": "10m"}},
        },
        {
            "name": "pipeline-fresh-loose",
            "objective": 90.0,
            "window": window,
            "sli": {"freshness": {"last_success": "last_success_seconds", "max_age": "30m"}},
        },
    ]
    return [SLOSpec.model_validate(s) for s in raw]




def _counter(rng: np.random.Generator, ts: np.ndarray, low: int, high: int) -> np.ndarray:
    return np.cumsum(rng.integers(low, high, len(ts))).astype(np.float64)


def _history() -> pl.DataFrame:
    """30 h: instance a every 15 s with a 90-minute gap, instance b every 60 s (offset 7 s) with a
    counter reset, instance c from hour 12; a histogram; two last-success gauges, one stalling."""
    rng = np.random.default_rng(3)
    parts: list[pl.DataFrame] = []
    ts_a = T0 + np.arange(0, SPAN, 15 * S, dtype=np.int64)
    ts_a = ts_a[(ts_a < T0 + 20 * HOUR) | (ts_a >= T0 + 21 * HOUR + 30 * MIN)]
    ts_b = T0 + 7 * S + np.arange(0, SPAN, MIN, dtype=np.int64)
    ts_c = T0 + 12 * HOUR + 31 * S + np.arange(0, SPAN - 12 * HOUR, MIN, dtype=np.int64)
    instances = (("a", ts_a, (20, 30), (0, 3)), ("b", ts_b, (50, 90), (0, 5)), ("c", ts_c, (5, 9), (0, 2)))
    for inst, ts, ok, bad in instances:
        good = _counter(rng, ts, *ok)
        errors = _counter(rng, ts, *bad)
        if inst == "b":  # a restart at hour 9: both counters start again from a small value
            cut = np.searchsorted(ts, T0 + 9 * HOUR)
            good[cut:] -= good[cut - 1] - 3
            errors[cut:] -= errors[cut - 1] - 1
        if inst == "a":  # an incident in hours 25-26
            hot = (ts >= T0 + 25 * HOUR) & (ts < T0 + 26 * HOUR)
            errors += np.cumsum(np.where(hot, rng.integers(5, 15, len(ts)), 0)).astype(np.float64)
        parts.append(_series("requests_total", f'code="200",instance="{inst}"', ts, good))
        parts.append(_series("requests_total", f'code="500",instance="{inst}"', ts, errors))
    total = _counter(rng, ts_b, 80, 120)
    fast = np.floor(total * 0.8)
    for le, values in (("0.1", np.floor(total * 0.5)), ("0.25", fast), ("+Inf", total)):
        parts.append(_series("rq_seconds_bucket", f'le="{le}"', ts_b, values))
    ts_f = T0 + 30 * S + np.arange(0, SPAN, MIN, dtype=np.int64)
    runs_x = (ts_f // S // 600 * 600).astype(np.float64)
    runs_y = (ts_f // S // 300 * 300).astype(np.float64)
    runs_y[ts_f > T0 + 27 * HOUR] = runs_y[np.searchsorted(ts_f, T0 + 27 * HOUR)]  # y stalls
    parts.append(_series("last_success_seconds", 'job="x"', ts_f, runs_x))
    parts.append(_series("last_success_seconds", 'job="y"', ts_f, runs_y))
    parts.append(_series("unrelated_total", "", ts_b, total))
    frame = pl.concat(parts)
    # a NaN and a duplicate timestamp (the first of a batch wins), both to be ignored
    extra = pl.DataFrame(
        [
            ("requests_total", 'code="200",instance="b"', int(ts_b[100]), float("nan")),
            ("requests_total", 'code="200",instance="b"', int(ts_b[200]), 1e9),
        ],
        schema=SAMPLE_SCHEMA,
        orient="row",
    )
    return pl.concat([frame, extra])


def _instants() -> list[int]:
    end = T0 + SPAN - 1
    return [
        end,
        end - 17 * MIN - 3 * S,  # between scrapes
        T0 + 21 * HOUR,  # inside the gap of instance a
        T0 + 21 * HOUR + 40 * MIN,  # just after it
        T0 + 25 * HOUR + 20 * MIN,  # during the incident
        T0 + 12 * HOUR + 45 * S,  # just after instance c appears
        end - 20 * HOUR,
    ]


def _reports(ev: SLOEvaluator) -> list[object]:
    return [ev.evaluate(at).to_json() for at in _instants()]


def _cold(frame: pl.DataFrame, window: str) -> SLOEvaluator:
    ev = SLOEvaluator(_specs(window))
    ev.ingest(frame)
    return ev


@pytest.fixture(scope="module")
def history() -> pl.DataFrame:
    return _history()


@pytest.mark.parametrize("window", ["1d", "1h"])
def test_a_series_by_series_cold_start_equals_hourly_batches_then_scrape_by_scrape_ticks(
    history: pl.DataFrame, window: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redline.slo.engine, "_SMALL_BATCH", 1_000)  # the whole history: the large path
    cold = _cold(history, window)
    monkeypatch.setattr(redline.slo.engine, "_SMALL_BATCH", 10**9)
    warm = SLOEvaluator(_specs(window))
    head = history.filter(pl.col("timestamp") < T0 + SPAN - 2 * HOUR)
    hourly = head.with_columns(((pl.col("timestamp") - T0) // HOUR).alias("hour"))
    hourly = hourly.sort("hour", maintain_order=True)
    for chunk in hourly.partition_by("hour", maintain_order=True):
        warm.ingest(chunk.drop("hour"))
    # the last two hours one scrape at a time; instance b's rows arrive two minutes late
    tail = history.filter(pl.col("timestamp") >= T0 + SPAN - 2 * HOUR).with_columns(
        (pl.col("timestamp")
        + pl.when(pl.col("labels").str.contains('instance="b"')).then(2 * MIN).otherwise(0))
        .alias("arrives")
    )
    for chunk in tail.sort("arrives", maintain_order=True).partition_by("arrives", maintain_order=True):
        warm.ingest(chunk.drop("arrives"))
    warm.ingest(history.head(5_000))  # already ingested: ignored
    assert _reports(warm) == _reports(cold)


def test_an_unsorted_frame_gives_the_same_results_as_the_store_order(history: pl.DataFrame) -> None:
    no_duplicate = history.head(history.height - 1)  # shuffled, another duplicate could come first
    ordered = no_duplicate.sort("metric", "labels", "timestamp", maintain_order=True)
    shuffled = no_duplicate.sample(fraction=1.0, shuffle=True, seed=11)
    assert _reports(_cold(shuffled, "1d")) == _reports(_cold(ordered, "1d"))


def test_whole_array_and_series_by_series_paths_agree_on_one_big_batch(
    history: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redline.slo.engine, "_SMALL_BATCH", 1_000)
    large = _cold(history, "1d")
    monkeypatch.setattr(redline.slo.engine, "_SMALL_BATCH", 10**9)
    assert _reports(_cold(history, "1d")) == _reports(large)


def test_large_batches_with_series_split_across_runs_equal_one_cold_start(
    history: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redline.slo.engine, "_SMALL_BATCH", 1_000)
    ordered = history.head(history.height - 1).sort("metric", "labels", "timestamp", maintain_order=True)
    early = pl.col("timestamp") < T0 + 13 * HOUR
    halves = [ordered.filter(early), ordered.filter(~early)]
    one = _cold(ordered, "1d")
    # each series in two runs of one frame: its rows are gathered before anything else
    assert _reports(_cold(pl.concat(halves), "1d")) == _reports(one)
    # two large batches: the second continues every side and slice count
    two = SLOEvaluator(_specs("1d"))
    for half in halves:
        two.ingest(half)
    assert _reports(two) == _reports(one)


def _one_minute_history(hours: int) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    ts = T0 + np.arange(hours * 60, dtype=np.int64) * MIN
    good_inc = rng.integers(50, 100, len(ts))
    err_inc = rng.integers(0, 10, len(ts))
    good_inc[0] = err_inc[0] = 0
    age_ok = (ts // MIN) % 7 != 0  # every 7th minute the pipeline is 20 minutes behind
    last_success = np.where(age_ok, ts // S - 60, ts // S - 1200).astype(np.float64)
    frame = pl.concat(
        [
            _series("requests_total", 'code="200"', ts, np.cumsum(good_inc).astype(np.float64)),
            _series("requests_total", 'code="500"', ts, np.cumsum(err_inc).astype(np.float64)),
            _series("last_success_seconds", "", ts, last_success),
        ]
    )
    return frame, ts, err_inc / 1.0, (good_inc + err_inc) / 1.0


def test_day_windows_after_the_rings_wrapped_equal_sums_over_the_raw_increments() -> None:
    """A 1h objective keeps 25 h of minutes and slices; 40 h of data wrap both rings."""
    frame, ts, err_inc, tot_inc = _one_minute_history(40)
    ev = _cold(frame, "1h")
    for at in (int(ts[-1]), int(ts[-1]) - 40 * MIN - 20 * S):  # the rings keep 1 d + 1 h
        in_day = (ts >= at - 24 * HOUR) & (ts <= at)
        ratios = ev.error_ratios(at, "api-availability")
        # Prometheus: each series' increase over the samples in the day, extrapolated to the day's
        # edges at the day's mean rate (the same stretch for both series: their samples coincide)
        errors, total = err_inc[in_day][1:].sum(), tot_inc[in_day][1:].sum()
        assert ratios["1d"] == pytest.approx(errors / total, rel=1e-9)
        ends = np.arange(at // MIN - 1439, at // MIN + 1) * MIN  # the day's slice ends
        stale = ((ends // MIN) % 7 == 0) & (ends <= ts[-1])
        fresh = next(o for o in ev.evaluate(at).objectives if o.name == "pipeline-fresh")
        assert fresh.burn_rates["1d"] == pytest.approx(stale.sum() / 1440 / 0.01, rel=1e-12)


def test_ticks_over_days_keep_matching_a_cold_start_as_the_rings_wrap() -> None:
    frame, ts, _, _ = _one_minute_history(30)
    gap = (pl.col("timestamp") >= T0 + 27 * HOUR) & (pl.col("timestamp") < T0 + 28 * HOUR + 30 * MIN)
    frame = frame.filter(~gap)  # the first tick after it brings 90 minute boundaries at once
    cut = int(ts[0]) + 26 * HOUR
    warm = _cold(frame.filter(pl.col("timestamp") < cut), "1h")
    for chunk in frame.filter(pl.col("timestamp") >= cut).partition_by("timestamp", maintain_order=True):
        warm.ingest(chunk)
    cold = _cold(frame, "1h")
    for at in (int(ts[-1]), int(ts[-1]) - 30 * MIN, int(ts[-1]) - 5 * HOUR):
        assert warm.evaluate(at).to_json() == cold.evaluate(at).to_json()


def test_segment_search_is_searchsorted_within_each_segment() -> None:
    rng = np.random.default_rng(9)
    pool = np.zeros(0, dtype=np.int64)
    offs, lens = [], []
    for n in rng.integers(0, 40, 50).tolist():
        offs.append(len(pool))
        lens.append(n)
        pool = np.concatenate([pool, np.sort(rng.integers(0, 100, n)), rng.integers(0, 100, 3)])
    off, length = np.asarray(offs, dtype=np.int64), np.asarray(lens, dtype=np.int64)
    for side in ("left", "right"):
        targets = rng.integers(-5, 105, len(off))
        got = segment_search(pool, off, length, targets, right=side == "right")
        want = [
            int(np.searchsorted(pool[o : o + n], t, side=side))
            for o, n, t in zip(offs, lens, targets, strict=True)
        ]
        assert got.tolist() == want


def test_extrapolate_increases_equals_the_scalar_rule_bit_for_bit() -> None:
    rng = np.random.default_rng(4)
    n = 500
    first = rng.integers(0, 100_000, n)
    last = first + rng.integers(1, 400_000, n)
    samples = rng.integers(2, 50, n)
    start = first - rng.integers(0, 120_000, n)
    end = last + rng.integers(0, 120_000, n)
    raw = rng.random(n) * 1000
    got = extrapolate_increases(raw, first, last, samples, start, end).tolist()
    want = [
        extrapolate_increase(float(r), int(f), int(la), int(k), int(s), int(e))
        for r, f, la, k, s, e in zip(raw, first, last, samples, start, end, strict=True)
    ]
    assert got == want


def test_freshness_fed_scrape_by_scrape_from_its_first_sample_equals_a_cold_start() -> None:
    """20 s scrapes (a slice is finalised every third), from mid-slice, with a 3-minute gap."""
    ts = T0 + 25 * S + np.arange(0, 3 * HOUR, 20 * S, dtype=np.int64)
    ts = ts[(ts < T0 + HOUR) | (ts >= T0 + HOUR + 3 * MIN)]
    last_ok = (ts // S // 420 * 420).astype(np.float64)  # succeeds every 7 minutes
    frame = _series("last_success_seconds", 'job="x"', ts, last_ok)
    cold = _cold(frame, "1d")
    warm = SLOEvaluator(_specs("1d"))
    for chunk in frame.partition_by("timestamp", maintain_order=True):
        warm.ingest(chunk)
    for at in (int(ts[-1]), int(ts[-1]) + 5 * MIN, T0 + HOUR + MIN, T0 + 30 * S):
        assert warm.evaluate(at).to_json() == cold.evaluate(at).to_json()
    fresh = next(o for o in cold.evaluate(int(ts[-1])).objectives if o.name == "pipeline-fresh")
    assert fresh.events == 180  # slices ending at 1 min … 3 h after T0


def _availability(name: str, service: str) -> SLOSpec:
    return SLOSpec.model_validate(
        {
            "name": name,
            "objective": 99.9,
            "sli": {
                "ratio": {
                    "errors": f'http_requests_total{{service="{service}",code=~"5.."}}',
                    "total": f'http_requests_total{{service="{service}"}}',
                }
            },
        }
    )


def test_scrape_ticks_from_an_empty_engine_keep_every_point_as_segments_move() -> None:
    """241 scrapes 15 s apart from nothing, 30 services: the sides' fine segments outgrow their room
    again and again (moved, the shared pool grown and repacked) and must lose no point."""
    services = [f"s{i:02d}" for i in range(30)]
    ev = SLOEvaluator([_availability(f"{s}-availability", s) for s in services])
    rows: list[tuple[str, str, int, float]] = []
    good = bad = 0.0
    at = T0
    for step in range(241):
        good += 100
        bad += 20 if step >= 201 else 0
        at += 15 * S
        tick = [
            ("http_requests_total", f'code="{code}",service="{s}"', at, value)
            for s in services
            for code, value in (("200", good), ("500", bad))
        ]
        rows += tick
        ev.ingest(pl.DataFrame(tick, schema=SAMPLE_SCHEMA, orient="row"))
    for s in services:
        ratios = ev.error_ratios(at, f"{s}-availability")
        assert ratios["5m"] == pytest.approx(20 / 120, rel=1e-12)
        assert ratios["1h"] == pytest.approx(800 / 24_800, rel=1e-12)  # all 241 samples, no edge
    cold = SLOEvaluator([_availability(f"{s}-availability", s) for s in services])
    cold.ingest(pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row"))
    for t in (at, at - 7 * MIN - 5 * S, at - 50 * MIN):
        assert ev.evaluate(t).to_json() == cold.evaluate(t).to_json()
