from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.engine import SLOEvaluator
from redline.slo.results import ObjectiveResult
from redline.slo.spec import SLOSpec

MIN = 60_000
T0 = 28_000_000 * MIN  # a minute boundary in 2023
DAY_S = 86400.0


def _series(metric: str, labels: str, minutes: np.ndarray, values: np.ndarray) -> pl.DataFrame:
    n = len(minutes)
    return pl.DataFrame(
        {"metric": [metric] * n, "labels": [labels] * n, "timestamp": T0 + minutes * MIN, "value": values},
        schema=SAMPLE_SCHEMA,
    )


def _pipeline() -> pl.DataFrame:
    """Two workers, 300 rows/min each for minutes 0…180; both stall in minutes 151…170 (no rows);
    worker b restarts at minute 100 (its counter starts again from 0)."""
    minutes = np.arange(0, 181, dtype=np.int64)
    step = np.where((minutes >= 151) & (minutes <= 170), 0.0, 300.0)
    step[0] = 1000.0  # the counters' level before the first scrape
    a = np.cumsum(step)
    b = a.copy()
    b[100:] = np.cumsum(step[100:])  # after the restart: only the rows since
    return pl.concat([
        _series("rows_processed_total", 'worker="a"', minutes, a),
        _series("rows_processed_total", 'worker="b"', minutes, b),
        _series("rows_processed_total", 'worker="other",job="x"', minutes, a * 7),
    ]).sample(fraction=1.0, shuffle=True, seed=3)


def _spec(**extra: object) -> SLOSpec:
    sli: dict[str, object] = {
        "counter": 'rows_processed_total{worker=~"a|b"}', "min_rate": 480, "per": "1m", **extra
    }
    return SLOSpec.model_validate(
        {"name": "rows", "objective": 80, "dimension": "data", "sli": {"throughput": sli}}
    )


def _one(ev: SLOEvaluator, at_minute: int) -> ObjectiveResult:
    (result,) = ev.evaluate(T0 + at_minute * MIN).objectives
    return result


def test_throughput_counts_stalled_slices_as_bad_and_a_restart_as_increase() -> None:
    ev = SLOEvaluator([_spec()])
    ev.ingest(_pipeline())
    r = _one(ev, 180)
    # slices 1…180 count (slice 0 holds only first samples); the 20 stalled ones are bad
    assert r.kind == "throughput" and r.dimension == "data"
    assert r.events == 180
    assert r.sli == pytest.approx(160 / 180, rel=1e-12)
    assert r.budget_remaining == pytest.approx(1 - (20 / 180) / 0.2, rel=1e-12)
    assert r.burn_rates["5m"] == 0.0
    assert r.burn_rates["30m"] == pytest.approx((20 / 30) / 0.2, rel=1e-12)
    assert r.burn_rates["1h"] == pytest.approx((20 / 60) / 0.2, rel=1e-12)
    assert r.burn_rates["6h"] == pytest.approx((20 / 180) / 0.2, rel=1e-12)
    # remaining budget over the burn of the last hour (= remaining bad minutes over the current
    # bad-minute rate once the window is full of slices)
    assert r.time_to_breach_seconds == pytest.approx((1 - (20 / 180) / 0.2) * 30 * DAY_S / ((20 / 60) / 0.2), rel=1e-12)
    assert r.status == "ok"


def test_throughput_objective_has_the_floor_as_events_per_second() -> None:
    ev = SLOEvaluator([_spec(min_rate=8, per="1s")])  # 8/s = 480/min: the same floor
    ev.ingest(_pipeline())
    assert _one(ev, 180).sli == pytest.approx(160 / 180, rel=1e-12)


def test_throughput_reason_gives_the_share_of_capacity_of_the_last_slice() -> None:
    ev = SLOEvaluator([_spec(capacity=1200)])
    ev.ingest(_pipeline())
    result = _one(ev, 180)
    assert result.reason.endswith("; at 50% of capacity")
    # The same as figures in status --json: 600 rows/min of a 1,200 capacity, half left.
    assert result.details == {
        "rate": pytest.approx(600.0), "per": "1m", "min_rate": 480.0, "slice": "1m",
        "capacity": 1200.0, "capacity_used": pytest.approx(0.5), "capacity_headroom": pytest.approx(0.5),
    }
    assert result.to_json()["details"]["capacity_headroom"] == pytest.approx(0.5)
    assert result.target_text() == "80%" and not result.is_guardrail
    stalled = SLOEvaluator([_spec(capacity=1200)])
    stalled.ingest(_pipeline().filter(pl.col("timestamp") <= T0 + 160 * MIN))
    assert _one(stalled, 160).details["capacity_headroom"] == pytest.approx(1.0)  # type: ignore[index]
    # The figures are the last finished slice's: not a slice still filling (half a minute into
    # minute 180 the open slice holds half its rows), and nothing once the source has stopped.
    assert _one(ev, 180).details["rate"] == pytest.approx(600.0)  # type: ignore[index]
    ev_half = SLOEvaluator([_spec(capacity=1200)])
    ev_half.ingest(_pipeline().filter(pl.col("timestamp") <= T0 + 179 * MIN))
    assert ev_half.evaluate(T0 + 179 * MIN + 30_000).objectives[0].details["rate"] == pytest.approx(600.0)  # type: ignore[index]
    silent = ev.evaluate(T0 + 190 * MIN).objectives[0]
    assert silent.details is None and "capacity" not in silent.reason


def test_throughput_reason_names_a_last_slice_under_the_floor() -> None:
    ev = SLOEvaluator([_spec(capacity=1200)])
    ev.ingest(_pipeline().filter(pl.col("timestamp") <= T0 + 160 * MIN))
    assert _one(ev, 160).reason.endswith(
        "; last 1m slice at 0 per 1m, under the floor of 480; at 0% of capacity"
    )


def test_throughput_slices_without_samples_do_not_count() -> None:
    frame = _pipeline().filter(
        ~pl.col("timestamp").is_between(T0 + 30 * MIN, T0 + 39 * MIN)  # the scraper is down 10 minutes
    )
    ev = SLOEvaluator([_spec()])
    ev.ingest(frame)
    r = _one(ev, 180)
    # minute 40's increase covers 11 minutes in one slice: counted, good
    assert r.events == 170
    assert r.sli == pytest.approx(150 / 170, rel=1e-12)


def test_throughput_without_recent_samples_has_no_burn_and_after_the_window_no_data() -> None:
    ev = SLOEvaluator([_spec()])
    ev.ingest(_pipeline())
    later = _one(ev, 190)
    assert later.burn_rates["5m"] is None
    assert later.events == 180
    gone = _one(ev, 180 + 31 * 1440)
    assert gone.status == "no_data" and gone.sli is None and gone.events == 0.0


def test_throughput_fed_scrape_by_scrape_or_hourly_equals_a_cold_start() -> None:
    frame = _pipeline()
    cold = SLOEvaluator([_spec(capacity=1200)])
    cold.ingest(frame)
    ticks = SLOEvaluator([_spec(capacity=1200)])
    for part in frame.sort("timestamp").partition_by("timestamp", maintain_order=True):
        ticks.ingest(part)
    hourly = SLOEvaluator([_spec(capacity=1200)])
    for part in frame.sort("timestamp").with_columns(h=pl.col("timestamp") // (60 * MIN)).partition_by(
        "h", maintain_order=True
    ):
        hourly.ingest(part.drop("h"))
    for at in (150, 165, 180, 200):
        expected = cold.evaluate(T0 + at * MIN).to_json()
        assert ticks.evaluate(T0 + at * MIN).to_json() == expected
        assert hourly.evaluate(T0 + at * MIN).to_json() == expected


def test_throughput_open_slice_counts_once_its_end_is_reached() -> None:
    frame = _pipeline()
    ev = SLOEvaluator([_spec()])
    ev.ingest(frame.filter(pl.col("timestamp") <= T0 + 120 * MIN))
    # the slice ending at minute 120 is still open (no later sample) but ends at `at`: it counts
    assert _one(ev, 120).events == 120
    assert _one(ev, 119).events == 119


def test_throughput_five_minute_slices_sum_their_scrapes() -> None:
    ev = SLOEvaluator([_spec(slice="5m", min_rate=480)])
    ev.ingest(_pipeline())
    r = _one(ev, 180)
    # slices ending at 5, 10, … 180 min: 36 (minute 0 ends the slice before, with first samples
    # only); those ending at 155, 160, 165, 170 hold only stalled minutes: bad
    assert r.events == 36
    assert r.sli == pytest.approx(32 / 36, rel=1e-12)


def test_throughput_objectives_on_one_counter_share_a_group_and_keep_their_own_floors() -> None:
    low = _spec()
    high = SLOSpec.model_validate(
        {"name": "rows-high", "objective": 80,
         "sli": {"throughput": {"counter": 'rows_processed_total{worker=~"a|b"}', "min_rate": 601, "per": "1m"}}}
    )
    ev = SLOEvaluator([low, high])
    ev.ingest(_pipeline())
    by_name = {o.name: o for o in ev.evaluate(T0 + 180 * MIN).objectives}
    assert by_name["rows"].sli == pytest.approx(160 / 180, rel=1e-12)
    assert by_name["rows-high"].sli == 0.0
    assert by_name["rows-high"].dimension == "users"
    assert [str(s) for s in ev.selectors()] == ['rows_processed_total{worker=~"a|b"}']
