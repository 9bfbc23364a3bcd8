from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.guardrails import GuardrailEvaluator, currency_of
from redline.slo.ranking import rank_objectives
from redline.slo.results import ObjectiveResult
from redline.slo.spec import BURN_WINDOWS, GuardrailSpec
from tests.frames import series_frame as _series

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
SPEND = "redline_spend_usd_total"
INFER = "vllm:request_success_total"


def _ms(text: str, tz: str = "UTC") -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)




def _rows(rows: list[tuple[str, str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def _minutes(start: int, count: int) -> np.ndarray[Any, Any]:
    return start + np.arange(count, dtype=np.int64) * MIN


def _budget(name: str = "monthly", **budget: Any) -> GuardrailSpec:
    return GuardrailSpec.model_validate({"name": name, "budget": {"spend": SPEND, **budget}})


def _cost(name: str = "per1k", window: str = "1d", **cost: Any) -> GuardrailSpec:
    return GuardrailSpec.model_validate(
        {"name": name, "window": window, "cost_per_1k": {"spend": SPEND, "inferences": INFER, **cost}}
    )


def _run(specs: list[GuardrailSpec], frame: pl.DataFrame, at_ms: int) -> list[ObjectiveResult]:
    ev = GuardrailEvaluator(specs)
    ev.ingest(frame)
    return ev.evaluate(at_ms)


def _steady_spend(start: str, days: int, per_minute: float, labels: str = 'team="a"') -> pl.DataFrame:
    ts = _minutes(_ms(start), days * 1440 + 1)
    return _series(SPEND, labels, ts, per_minute * np.arange(len(ts), dtype=np.float64))


# -- budget -----------------------------------------------------------------------------------


def test_budget_forecasts_the_month_end_from_the_last_24h_and_dates_the_crossing() -> None:
    # two teams, $1/min and $0.5/min from Oct 30 00:00 UTC; evaluated Nov 2 00:00 (30-day November)
    frame = pl.concat([
        _steady_spend("2026-10-30T00:00", 4, 1.0, 'team="a"'),
        _steady_spend("2026-10-30T00:00", 4, 0.5, 'team="b"'),
    ])
    (r,) = _run([_budget(limit=40_000, showback_by=["team"])], frame, _ms("2026-11-02T00:00"))
    assert r.kind == "budget" and r.dimension == "cost" and r.objective == 40_000
    assert r.window == "month" and r.window_seconds == 30 * 86400
    # one meaning per figure: value and target in USD, the used share a ratio
    assert (r.value, r.target, r.unit) == (2160.0, 40_000.0, "USD")
    assert r.budget_remaining == 1 - 2160 / 40_000
    assert r.budget_used_ratio == pytest.approx(2160 / 40_000, rel=1e-12)
    assert r.events == 2160.0
    # on pace: 40,000 / 30 days = 1,333.33/day; spending 2,160/day
    assert r.burn_rates == dict.fromkeys(BURN_WINDOWS, pytest.approx(2160 / (40_000 / 30)))
    assert r.status == "warning"
    assert r.time_to_breach_seconds == pytest.approx((40_000 - 2160) / 2160 * 86400)
    assert r.reason == (
        "spent $2,160 of $40,000 (5%); at $2,160/day the month ends at $64,800 — over by $24,800 on 2026-11-19"
    )
    d = r.details
    assert d is not None
    assert d["spent"] == 2160.0 and d["forecast"] == 64_800.0 and d["overrun"] == 24_800.0
    assert d["run_rate_per_day"] == 2160.0 and d["currency"] == "USD" and d["limit"] == 40_000
    assert d["crosses_at"] == pytest.approx(_ms("2026-11-02T00:00") / 1000 + (40_000 - 2160) / 2160 * 86400)
    assert d["period_start"] == _ms("2026-11-01T00:00") / 1000 and d["period_end"] == _ms("2026-12-01T00:00") / 1000
    assert d["showback"] == [{"team": "a", "spent": 1440.0}, {"team": "b", "spent": 720.0}]


def test_budget_under_its_forecast_is_ok_and_says_how_much_is_left() -> None:
    frame = _steady_spend("2026-10-30T00:00", 4, 1.0)
    (r,) = _run([_budget(limit=50_000)], frame, _ms("2026-11-02T00:00"))
    assert r.status == "ok" and r.time_to_breach_seconds is None
    assert r.details is not None and r.details["forecast"] == 1440 * 30 and r.details["crosses_at"] is None
    assert r.details["overrun"] == 0.0 and r.details["showback"] == []
    assert r.reason == "spent $1,440 of $50,000 (3%); at $1,440/day the month ends at $43,200, $6,800 under"


def test_budget_spent_past_its_limit_is_breached_with_zero_time_to_breach() -> None:
    frame = _steady_spend("2026-10-30T00:00", 4, 1.0)
    (r,) = _run([_budget(limit=1000)], frame, _ms("2026-11-02T00:00"))
    assert r.status == "breached" and r.time_to_breach_seconds == 0.0
    assert r.sli == 1.44 and r.budget_remaining == pytest.approx(-0.44)
    assert r.reason == "spent $1,440 of $1,000 (144%): over by $440; at $1,440/day the month ends at $43,200"


def test_a_series_starting_inside_the_period_counts_from_its_first_sample_at_its_average_rate() -> None:
    # first sample Nov 1 12:00 at $5,000 (a counter that existed elsewhere), then $2/min for 6 hours
    ts = _minutes(_ms("2026-11-01T12:00"), 361)
    frame = _series(SPEND, 'team="a"', ts, 5000 + 2.0 * np.arange(361))
    (r,) = _run([_budget(limit=50_000)], frame, _ms("2026-11-01T18:00"))
    assert r.details is not None
    assert r.details["spent"] == 720.0  # not 5,720
    # less than a day of data: the period-to-date average over its own span, $2/min
    assert r.details["run_rate_per_day"] == 2880.0
    left_days = 29.25
    assert r.details["forecast"] == 720 + 2880 * left_days


def test_spend_drop_is_a_credit_that_lowers_spend_or_a_reset_that_adds_the_new_value() -> None:
    at = _ms("2026-11-10T00:00")
    frame = _rows([
        (SPEND, "", _ms("2026-11-01T00:00"), 100.0),
        (SPEND, "", _ms("2026-11-05T00:00"), 400.0),
        (SPEND, "", _ms("2026-11-06T00:00"), 250.0),  # a $150 refund, or a restart at 250
        (SPEND, "", _ms("2026-11-09T00:00"), 300.0),
    ])
    (credit,) = _run([_budget(limit=10_000, decreases="credit")], frame, at)
    (reset,) = _run([_budget(limit=10_000, decreases="reset")], frame, at)
    assert credit.details is not None and reset.details is not None
    assert credit.details["spent"] == 200.0  # 300 − 100
    assert reset.details["spent"] == 300.0 + 250.0 + 50.0  # 300 before the reset, 250 after it, then 50


def test_no_spend_sample_in_the_period_is_no_data_never_zero_ok() -> None:
    frame = _steady_spend("2026-10-28T00:00", 3, 1.0)  # stops Oct 31 00:00
    (r,) = _run([_budget(limit=50_000)], frame, _ms("2026-11-03T00:00"))
    assert r.status == "no_data" and r.sli is None and r.budget_remaining is None
    assert r.time_to_breach_seconds is None and r.burn_rates == dict.fromkeys(BURN_WINDOWS)
    assert r.reason == "no spend samples this month (since 2026-11-01 00:00 UTC)"
    assert r.details is not None and r.details["spent"] is None
    (empty,) = GuardrailEvaluator([_budget(limit=50_000)]).evaluate(_ms("2026-11-03T00:00"))
    assert empty.status == "no_data"


def test_budget_period_follows_the_time_zone_with_its_dst_day() -> None:
    # New York: November starts 2026-11-01 00:00 EDT = 04:00 UTC and is 30 days and 1 hour long
    frame = _steady_spend("2026-10-31T00:00", 2, 1.0)
    tz = "America/New_York"
    (before,) = _run([_budget(limit=50_000, timezone=tz)], frame, _ms("2026-11-01T03:30"))
    (after,) = _run([_budget(limit=50_000, timezone=tz)], frame, _ms("2026-11-01T04:30"))
    assert before.window_seconds == 31 * 86400  # October in New York
    assert before.details is not None and before.details["spent"] == 27.5 * 60  # since Oct 31 00:00 UTC
    assert after.window_seconds == 30 * 86400 + 3600
    assert after.details is not None and after.details["spent"] == 30.0
    assert after.details["period_start"] == _ms("2026-11-01T04:00") / 1000
    assert after.details["period_end"] == _ms("2026-12-01T05:00") / 1000  # EST by then


def test_budget_evaluated_exactly_at_the_period_start_has_spent_nothing_and_forecasts_the_day_rate() -> None:
    frame = _steady_spend("2026-10-30T00:00", 2, 1.0)  # last sample exactly Nov 1 00:00
    (r,) = _run([_budget(limit=40_000)], frame, _ms("2026-11-01T00:00"))
    assert r.details is not None
    assert r.details["spent"] == 0.0 and r.sli == 0.0 and r.budget_remaining == 1.0
    assert r.details["forecast"] == 1440.0 * 30
    assert r.status == "warning"
    assert r.time_to_breach_seconds == pytest.approx(40_000 / 1440 * 86400)
    assert r.reason.startswith("spent $0 of $40,000 (0%); at $1,440/day the month ends at $43,200")


def test_a_week_period_starts_on_its_configured_weekday() -> None:
    frame = _steady_spend("2026-11-01T00:00", 5, 1.0)  # Sunday Nov 1 .. Friday Nov 6
    at = _ms("2026-11-05T00:00")  # Thursday
    (monday,) = _run([_budget(limit=50_000, period="week")], frame, at)
    (sunday,) = _run([_budget(limit=50_000, period="week", week_start="sunday")], frame, at)
    assert monday.details is not None and monday.details["spent"] == 3 * 1440.0
    assert sunday.details is not None and sunday.details["spent"] == 4 * 1440.0
    assert monday.window == "week" and monday.window_seconds == 7 * 86400


# -- cost per 1k -----------------------------------------------------------------------------


def _inference(start: str, count: int, per_minute: float, labels: str = 'model="m"') -> pl.DataFrame:
    ts = _minutes(_ms(start), count)
    return _series(INFER, labels, ts, per_minute * np.arange(count, dtype=np.float64))


def test_cost_per_1k_divides_the_window_spend_by_thousands_of_inferences() -> None:
    at = _ms("2026-11-03T00:00")
    # $0.25/min, 1,000 inferences/min over 3 days → $0.25 per 1k; max $0.20
    frame = pl.concat([
        _steady_spend("2026-10-31T00:00", 3, 0.25, 'model="m"'),
        _inference("2026-10-31T00:00", 3 * 1440 + 1, 1000.0),
    ])
    (r,) = _run([_cost(window="2d", max=0.2)], frame, at)
    assert r.kind == "cost_per_1k" and r.objective == 0.2 and r.window == "2d" and r.window_seconds == 2 * 86400
    assert r.value == 0.25 and r.budget_remaining == pytest.approx(-0.25)
    assert r.unit == "USD per 1k" and r.budget_used_ratio == pytest.approx(1.25)
    doc = r.to_json()  # the deprecated "sli" keeps its one documented meaning for guardrails: the share used
    assert (doc["value"], doc["target"], doc["sli"]) == (0.25, 0.2, doc["budget_used_ratio"])
    assert r.events == 2 * 1440 * 1000.0
    assert r.burn_rates == dict.fromkeys(BURN_WINDOWS, 1.25)
    assert r.status == "breached" and r.time_to_breach_seconds == 0.0
    assert r.reason == "$0.25 per 1k inferences over 2d (max $0.20): 25% over"
    assert r.details is not None
    assert r.details["spend"] == 720.0 and r.details["inferences"] == 2_880_000.0
    assert r.details["cost_per_1k"] == 0.25 and r.details["window_start"] == (at - 2 * DAY) / 1000


def test_cost_per_1k_warns_when_the_last_day_runs_above_the_max() -> None:
    # 2 days at $0.10 per 1k, then one day at $0.50 per 1k: the 3-day window is $0.2333, max $0.30
    ts = _minutes(_ms("2026-11-01T00:00"), 3 * 1440 + 1)
    minute = np.arange(len(ts))
    spend_step = np.where(minute > 2 * 1440, 0.5, 0.1)
    spend_step[0] = 0.0
    frame = pl.concat([
        _series(SPEND, 'model="m"', ts, np.cumsum(spend_step)),
        _series(INFER, 'model="m"', ts, 1000.0 * minute),
    ])
    (r,) = _run([_cost(window="3d", max=0.3)], frame, _ms("2026-11-04T00:00"))
    assert r.value == pytest.approx((2 * 1440 * 0.1 + 1440 * 0.5) / (3 * 1440))
    assert r.burn_rates["1d"] == pytest.approx(0.5 / 0.3)
    assert r.status == "warning" and r.time_to_breach_seconds is None
    assert r.reason == "$0.2333 per 1k inferences over 3d (max $0.30), but the last 1d ran at $0.50 per 1k"


def test_inference_counter_reset_mid_window_counts_the_new_value_as_increase() -> None:
    at = _ms("2026-11-01T10:00")
    frame = _rows([
        (SPEND, "", _ms("2026-11-01T00:00"), 10.0),
        (SPEND, "", _ms("2026-11-01T09:00"), 40.0),
        (INFER, "", _ms("2026-11-01T00:00"), 50_000.0),
        (INFER, "", _ms("2026-11-01T04:00"), 70_000.0),
        (INFER, "", _ms("2026-11-01T05:00"), 5_000.0),  # the server restarted
        (INFER, "", _ms("2026-11-01T09:00"), 15_000.0),
    ])
    (r,) = _run([_cost(window="1d", max=1.0)], frame, at)
    # 20,000 before the reset + 5,000 + 10,000 after it = 35,000 inferences; $30 spent
    assert r.events == 35_000.0
    assert r.sli == pytest.approx(30 / 35)
    assert r.status == "ok"


def test_cost_per_1k_without_inferences_or_without_spend_is_no_data() -> None:
    at = _ms("2026-11-02T00:00")
    spend = _steady_spend("2026-11-01T00:00", 1, 0.5, 'model="m"')
    inferences = _inference("2026-11-01T00:00", 1441, 1000.0)
    (no_inf,) = _run([_cost(max=1.0)], spend, at)
    (no_spend,) = _run([_cost(max=1.0)], inferences, at)
    assert no_inf.status == "no_data" and no_inf.sli is None and no_inf.reason == "no inferences in the last 1d"
    assert no_spend.status == "no_data" and no_spend.reason == "no spend samples in the last 1d"
    assert no_spend.burn_rates == dict.fromkeys(BURN_WINDOWS)


def test_cost_showback_joins_groups_on_both_sides_and_names_the_missing_side() -> None:
    at = _ms("2026-11-02T00:00")
    frame = pl.concat([
        _steady_spend("2026-11-01T00:00", 1, 1.0, 'model="big"'),
        _steady_spend("2026-11-01T00:00", 1, 0.25, 'model="small"'),
        _steady_spend("2026-11-01T00:00", 1, 0.5, 'model="orphan"'),
        _inference("2026-11-01T00:00", 1441, 1000.0, 'model="big"'),
        _inference("2026-11-01T00:00", 1441, 1000.0, 'model="small"'),
        _inference("2026-11-01T00:00", 1441, 500.0, 'pod="x"'),  # no model label
    ])
    (r,) = _run([_cost(max=1.0, showback_by=["model"])], frame, at)
    assert r.details is not None
    assert r.details["showback"] == [
        {"model": "big", "spend": 1440.0, "inferences": 1_440_000.0, "cost_per_1k": 1.0, "missing": None},
        {"model": "orphan", "spend": 720.0, "inferences": None, "cost_per_1k": None, "missing": "inferences"},
        {"model": "small", "spend": 360.0, "inferences": 1_440_000.0, "cost_per_1k": 0.25, "missing": None},
        {"model": None, "spend": None, "inferences": 720_000.0, "cost_per_1k": None, "missing": "spend"},
    ]
    assert r.sli == pytest.approx(2520 / 3600)


# -- ingest paths and the evaluator's contract ---------------------------------------------------


def _mixed_history() -> tuple[pl.DataFrame, list[GuardrailSpec], int]:
    start = _ms("2026-10-29T00:00")
    n = 4 * 1440
    ts = _minutes(start, n)
    minute = np.arange(n)
    a = np.cumsum(np.where(minute % 7 == 0, 1.25, 0.5))
    a[3000:] -= 40.0  # a credit
    b = np.cumsum(np.full(n, 0.75))
    b[4000:] = np.cumsum(np.full(n - 4000, 0.75))  # a restart
    inf = np.cumsum(np.full(n, 250.0))
    inf[2500:] = np.cumsum(np.full(n - 2500, 250.0))
    frame = pl.concat([
        _series(SPEND, 'model="x",team="a"', ts, a),
        _series(SPEND, 'model="y",team="b"', ts, b),
        _series(INFER, 'model="x"', ts, inf),
        _series(INFER, 'model="y"', ts, inf * 2),
        _series("unrelated_total", "", ts, inf),
    ])
    specs = [
        _budget("credit", limit=5000, showback_by=["team"]),
        _budget("reset", limit=5000, decreases="reset", timezone="Asia/Kolkata"),
        _cost("per1k", window="2d", max=3.0, showback_by=["model"], decreases="reset"),
    ]
    return frame, specs, start + (n - 1) * MIN


def test_cold_start_batches_and_scrape_ticks_give_the_same_results() -> None:
    frame, specs, at = _mixed_history()
    cold = _run(specs, frame, at)
    batched = GuardrailEvaluator(specs)
    for i in range(0, frame.height, 5000):
        batched.ingest(frame.slice(i, 5000))
    ticked = GuardrailEvaluator(specs)
    ticked.ingest(frame.filter(pl.col("timestamp") < at - DAY))
    by_time = frame.filter(pl.col("timestamp") >= at - DAY).sort("timestamp", maintain_order=True)
    for part in by_time.partition_by("timestamp", maintain_order=True):
        ticked.ingest(part)
    shuffled = _run(specs, frame.sample(fraction=1.0, shuffle=True, seed=4), at)
    assert batched.evaluate(at) == cold
    assert ticked.evaluate(at) == cold
    assert shuffled == cold
    assert [r.status for r in cold] == ["warning", "warning", "ok"]
    assert cold[0].details is not None and cold[0].details["spent"] == 1952.5
    assert cold[0].details["showback"] == [{"team": "b", "spent": 1079.25}, {"team": "a", "spent": 873.25}]


def test_unselected_series_and_late_or_nan_samples_are_ignored() -> None:
    frame, specs, at = _mixed_history()
    ev = GuardrailEvaluator(specs)
    ev.ingest(frame)
    before = ev.evaluate(at)
    ev.ingest(_rows([
        ("other_usd_total", "", at, 1e9),
        (SPEND, 'model="x",team="a"', at - HOUR, 1e9),  # older than that series' newest
        (SPEND, 'model="y",team="b"', at + MIN, float("nan")),
    ]))
    assert ev.evaluate(at) == before
    assert [str(s) for s in ev.selectors()] == [SPEND, INFER]


def test_results_rank_with_objectives_and_serialise_details_only_for_guardrails() -> None:
    frame, specs, at = _mixed_history()
    results = _run(specs, frame, at)
    ranked = rank_objectives(results)
    assert [r.name for r in ranked][-1] == "per1k"
    payload = json.loads(json.dumps([r.to_json() for r in results]))
    assert payload[0]["details"]["showback"][0]["team"] in ("a", "b")
    slo_like = ObjectiveResult(
        name="x", kind="availability", dimension="users", target=0.999, window="30d", window_seconds=1.0,
        value=None, budget_remaining=None, burn_rates={}, time_to_breach_seconds=None, status="no_data", reason="",
    )
    assert "details" not in slo_like.to_json()


def test_duplicate_guardrail_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="repeated: a"):
        GuardrailEvaluator([_budget("a", limit=1), _budget("a", limit=2)])


def test_currency_comes_from_the_spend_metric_name() -> None:
    assert currency_of("redline_spend_usd_total") == "USD"
    assert currency_of("cloud_cost_eur_total") == "EUR"
    assert currency_of("spend_total") is None


def test_a_guardrail_whose_spend_names_no_currency_keeps_money_units() -> None:
    limit = ObjectiveResult(
        name="g", kind="budget", dimension="cost", target=4_000.0, window="month", window_seconds=30 * 86400.0,
        value=2_228.0, budget_remaining=0.443, burn_rates={}, time_to_breach_seconds=None, status="ok", reason="",
        details={"currency": None},
    )
    assert (limit.unit, limit.target_text(), limit.value_text()) == ("money", "4,000", "2,228")
