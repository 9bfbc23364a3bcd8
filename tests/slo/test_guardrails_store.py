from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.guardrail_store import ring_lengths
from redline.slo.guardrails import GuardrailEvaluator
from redline.slo.results import ObjectiveResult
from redline.slo.spec import BURN_WINDOWS, GuardrailSpec

MIN = 60_000
HOUR = 60 * MIN
SPEND = "redline_spend_usd_total"
INFER = "vllm:request_success_total"


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("UTC")).timestamp() * 1000)


def _series(metric: str, labels: str, start: str, minutes: int, per_minute: float) -> pl.DataFrame:
    ts = _ms(start) + np.arange(minutes + 1, dtype=np.int64) * MIN
    values = per_minute * np.arange(minutes + 1, dtype=np.float64)
    n = len(ts)
    return pl.DataFrame(
        {"metric": [metric] * n, "labels": [labels] * n, "timestamp": ts, "value": values}, schema=SAMPLE_SCHEMA
    )


def _spec(name: str, selector: str = SPEND, **budget: Any) -> GuardrailSpec:
    return GuardrailSpec.model_validate({"name": name, "budget": {"spend": selector, "limit": 50_000, **budget}})


def _per1k(name: str, window: str, **cost: Any) -> GuardrailSpec:
    return GuardrailSpec.model_validate(
        {"name": name, "window": window, "cost_per_1k": {"spend": SPEND, "inferences": INFER, "max": 1.0, **cost}}
    )


def _run(specs: list[GuardrailSpec], frame: pl.DataFrame, at: int) -> list[ObjectiveResult]:
    ev = GuardrailEvaluator(specs)
    ev.ingest(frame)
    return ev.evaluate(at)


def test_ring_lengths_round_a_keep_up_to_a_longer_one_within_15_percent() -> None:
    assert ring_lengths([100, 95, 50, 100, 44, 30]) == [100, 100, 50, 100, 50, 30]
    assert ring_lengths([]) == []


def test_a_quarter_budget_does_not_make_a_week_budget_on_other_series_keep_a_quarter() -> None:
    # team a: eight models, shown back one by one (eight tracks); team b: one series
    frame = pl.concat([
        *(_series(SPEND, f'model="m{i}",team="a"', "2026-11-01T00:00", 2 * 1440, 1.0) for i in range(8)),
        _series(SPEND, 'team="b"', "2026-11-01T00:00", 2 * 1440, 1.0),
    ])
    a, b = f'{SPEND}{{team="a"}}', f'{SPEND}{{team="b"}}'
    mixed = GuardrailEvaluator([
        _spec("week", a, period="week", showback_by=["model"]), _spec("quarter", b, period="quarter"),
    ])
    quarters = GuardrailEvaluator([
        _spec("q1", a, period="quarter", showback_by=["model"]), _spec("q2", b, period="quarter"),
    ])
    mixed.ingest(frame)
    quarters.ingest(frame)
    # a week's ring is (7 + 1) days against a quarter's 93: eight of them cost less than one quarter ring
    assert mixed.memory_bytes() < 0.4 * quarters.memory_bytes()
    at = _ms("2026-11-03T00:00")
    (week, quarter) = mixed.evaluate(at)
    assert week.details is not None and week.details["spent"] == 8 * 1440.0  # the week began Monday Nov 2
    assert week.details["showback"][0] == {"model": "m0", "spent": 1440.0}
    assert quarter.details is not None and quarter.details["spent"] == 2 * 1440.0  # Q4 began Oct 1


def test_evaluating_in_the_past_reads_as_if_later_data_had_not_arrived() -> None:
    # team b stops at Nov 2 10:00; evaluated at Nov 2 12:00, half a day before the newest sample
    frame = pl.concat([
        _series(SPEND, 'model="x",team="a"', "2026-10-31T00:00", 3 * 1440, 0.5),
        _series(SPEND, 'model="y",team="b"', "2026-10-31T00:00", 2 * 1440 + 600, 1.5),
        _series(INFER, 'model="x"', "2026-10-31T00:00", 3 * 1440, 1000.0),
        _series(INFER, 'model="y"', "2026-10-31T00:00", 3 * 1440, 500.0),
    ])
    specs = [
        _spec("month", showback_by=["team"]),
        _spec("b-week", f'{SPEND}{{team="b"}}', period="week"),
        _per1k("per1k", "1d", showback_by=["model"]),
    ]
    at = _ms("2026-11-02T12:00")
    later = _run(specs, frame, at)
    assert later == _run(specs, frame.filter(pl.col("timestamp") <= at), at)
    month, b_week, per1k = later
    assert month.details is not None and month.details["spent"] == 36 * 60 * 0.5 + 34 * 60 * 1.5
    assert b_week.burn_rates["1h"] is None and b_week.burn_rates["6h"] is not None  # b's last sample 2 h before
    assert per1k.sli == (1440 * 0.5 + 1320 * 1.5) / 1440 / 1.5


def test_a_series_first_seen_after_the_cold_start_counts_as_if_present_from_the_start() -> None:
    a = pl.concat([
        _series(SPEND, 'model="x",team="a"', "2026-11-01T00:00", 1440, 0.5),
        _series(INFER, 'model="x"', "2026-11-01T00:00", 1440, 1000.0),
    ])
    b = pl.concat([
        _series(SPEND, 'model="y",team="b"', "2026-11-01T00:00", 1440, 1.5),
        _series(INFER, 'model="y"', "2026-11-01T00:00", 1440, 250.0),
    ])
    specs = [_spec("month", showback_by=["team"]), _per1k("per1k", "1d", showback_by=["model"])]
    at = _ms("2026-11-02T00:00")
    late = GuardrailEvaluator(specs)
    late.ingest(a)
    late.ingest(b)  # new tracks after the first blocks were sized
    together = _run(specs, pl.concat([a, b]), at)
    assert late.evaluate(at) == together
    month, per1k = together
    assert month.details is not None
    assert month.details["showback"] == [{"team": "b", "spent": 2160.0}, {"team": "a", "spent": 720.0}]
    assert per1k.sli == 2880 / 1800 and per1k.events == 1_800_000.0


def test_selectors_with_regex_negative_and_empty_matchers_pick_the_same_series_as_promql() -> None:
    frame = pl.concat([
        _series(SPEND, 'model="x",team="a"', "2026-11-01T00:00", 60, 1.0),
        _series(SPEND, 'model="y",team="b"', "2026-11-01T00:00", 60, 2.0),
        _series(SPEND, 'team="c"', "2026-11-01T00:00", 60, 4.0),
        _series(SPEND, 'pod="p"', "2026-11-01T00:00", 60, 8.0),
    ])
    specs = [
        _spec("regex", f'{SPEND}{{team=~"a|c"}}'),
        _spec("not-a", f'{SPEND}{{team!="a"}}'),
        _spec("no-model", f'{SPEND}{{model=""}}'),
        _spec("no-team", f'{SPEND}{{team=""}}'),
        _spec("exact", f'{SPEND}{{team="b",model="y"}}'),
        _spec("exact-miss", f'{SPEND}{{team="b",model="x"}}'),
        _spec("all", showback_by=["team"]),
    ]
    results = _run(specs, frame, _ms("2026-11-01T01:00"))
    spent = {r.name: (r.details or {}).get("spent") for r in results}
    assert spent == {
        "regex": 60 * 5.0, "not-a": 60 * 14.0, "no-model": 60 * 12.0, "no-team": 60 * 8.0, "exact": 60 * 2.0,
        "exact-miss": None, "all": 60 * 15.0,
    }
    assert results[-1].details is not None and results[-1].details["showback"] == [
        {"team": None, "spent": 480.0}, {"team": "c", "spent": 240.0}, {"team": "b", "spent": 120.0},
        {"team": "a", "spent": 60.0},
    ]
    assert results[5].status == "no_data" and results[5].burn_rates == dict.fromkeys(BURN_WINDOWS)
