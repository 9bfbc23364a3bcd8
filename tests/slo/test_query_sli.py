"""Query SLIs, the pure half: the expressions sent for each window, and objectives computed from
recorded answers (the rows the ``promql`` collector stores). The real-Prometheus half is
tests/conformance/test_query_sli_in_prometheus.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from pydantic import ValidationError

from redline.kernel.errors import ConfigError
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels
from redline.slo.backtest import backtest
from redline.slo.engine import SLOEvaluator
from redline.slo.openslo import load_openslo
from redline.slo.promql_translate import with_window_placeholder
from redline.slo.query_sli import QUERY_SLI_METRIC, QueryEvaluator, window_lengths, window_queries
from redline.slo.rules import prometheus_rules
from redline.slo.sloth import load_sloth
from redline.slo.spec import SLOSpec
from redline.slo.spec_source import documents
from redline.slo.whatif import whatif

ROOT = Path(__file__).resolve().parents[2]
AT_MS = int(datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp() * 1000)
ERRORS = 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))'
TOTAL = "sum(rate(http_requests_total[{{.window}}]))"


def spec(**sli: Any) -> SLOSpec:
    extra = sli.pop("_spec", {})
    body = {"source": "prom", "errors": ERRORS, "total": TOTAL} if not sli else {"source": "prom", **sli}
    return SLOSpec.model_validate({"name": "api", "objective": 99.9, "sli": {"query": body}, **extra})


def answers(at_ms: int, by_window: dict[str, dict[str, float]], name: str = "api", **extra: str) -> pl.DataFrame:
    """Recorded answers as the collector stores them: one row per side and window."""
    rows = [
        (QUERY_SLI_METRIC, format_labels({"side": side, "slo": name, "source": "prom", "window": w, **extra}),
         at_ms, value)
        for w, sides in by_window.items()
        for side, value in sides.items()
    ]
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def test_every_window_is_asked_in_one_expression_per_side_labelled_by_window() -> None:
    queries = dict(window_queries(spec(), AT_MS))
    assert list(queries) == ["errors", "total"]
    errors = queries["errors"].split(" or label_replace")
    assert len(errors) == 8
    assert errors[0] == (
        'label_replace(((sum(rate(http_requests_total{code=~"5.."}[5m]))) or on() vector(0)), "window", "5m", "", "")'
    )
    assert errors[-1] == (
        '(((sum(rate(http_requests_total{code=~"5.."}[30d]))) or on() vector(0)), "window", "slo", "", "")'
    )
    # The total has no "or on() vector(0)": no series there is no traffic, never 100%.
    assert queries["total"].endswith('label_replace((sum(rate(http_requests_total[30d]))), "window", "slo", "", "")')


def test_a_calendar_objective_asks_for_the_time_since_its_period_started() -> None:
    month = spec(_spec={"calendar": {"period": "month", "timezone": "UTC"}}, **{
        "source": "prom", "errors": ERRORS, "total": TOTAL,
    })
    # 2026-03-10 12:00 UTC is 9.5 days into March.
    assert window_lengths(month, AT_MS)["slo"] == 9.5 * 86400
    (_, errors), _ = window_queries(month, AT_MS)
    assert '[9d12h]' in errors


def test_burn_rates_budget_and_time_to_breach_come_from_the_recorded_ratios() -> None:
    ev = SLOEvaluator([spec()])
    ev.ingest(answers(AT_MS, {
        "5m": {"errors": 2.0, "total": 100.0},
        "1h": {"errors": 0.5, "total": 100.0},
        "slo": {"errors": 0.05, "total": 100.0},
    }))
    (result,) = ev.evaluate(AT_MS + 30_000).objectives
    assert result.burn_rates["5m"] == pytest.approx(20.0)
    assert result.burn_rates["1h"] == pytest.approx(5.0)
    assert result.burn_rates["30m"] is None  # not answered: unknown, not 0
    assert result.sli == pytest.approx(0.9995)
    assert result.budget_remaining == pytest.approx(0.5)
    assert result.time_to_breach_seconds == pytest.approx(0.5 * 30 * 86400 / 5.0)
    assert (result.kind, result.dimension, result.events) == ("availability", "users", 100.0)
    assert ev.error_ratios(AT_MS, "api")["5m"] == pytest.approx(0.02)


def test_good_and_error_ratio_forms() -> None:
    good = SLOSpec.model_validate({"name": "g", "objective": 99, "sli": {"query": {
        "source": "prom", "good": 'sum(rate(ok[{{.window}}]))', "total": TOTAL}}})
    ratio = SLOSpec.model_validate({"name": "r", "objective": 99, "sli": {"query": {
        "source": "prom", "error_ratio": '1 - sum(rate(ok[{{.window}}])) / sum(rate(all[{{.window}}]))'}}})
    ev = SLOEvaluator([good, ratio])
    ev.ingest(pl.concat([
        answers(AT_MS, {"slo": {"good": 97.0, "total": 100.0}}, name="g"),
        answers(AT_MS, {"slo": {"error_ratio": 0.005}}, name="r"),
    ]))
    by_name = {o.name: o for o in ev.evaluate(AT_MS).objectives}
    assert by_name["g"].budget_remaining == pytest.approx(1 - 0.03 / 0.01)
    assert by_name["g"].status == "breached"
    assert by_name["r"].budget_remaining == pytest.approx(0.5)
    assert by_name["r"].events == 0.0


def test_answers_older_than_the_staleness_are_not_used() -> None:
    ev = SLOEvaluator([spec(source="prom", errors=ERRORS, total=TOTAL, staleness="2m")])
    ev.ingest(answers(AT_MS, {"slo": {"errors": 0.0, "total": 10.0}}))
    assert ev.evaluate(AT_MS + 119_000).objectives[0].status == "ok"
    stale = ev.evaluate(AT_MS + 121_000).objectives[0]
    assert stale.status == "no_data" and stale.sli is None
    assert stale.reason == "no answer from source 'prom' in the last 2m (see its health)"


def test_a_failed_side_falls_back_to_the_newest_complete_collection_then_says_which_failed() -> None:
    """The errors query failed at the newest collection: its previous answer is not mixed with the
    newest total; the previous complete collection stands while it is recent enough, and after
    that the objective is no_data naming the failed side — never 100%."""
    ev = SLOEvaluator([spec()])
    ev.ingest(answers(AT_MS, {"slo": {"errors": 5.0, "total": 100.0}}))
    ev.ingest(answers(AT_MS + 30_000, {"slo": {"total": 200.0}}))
    assert ev.evaluate(AT_MS + 30_000).objectives[0].sli == pytest.approx(0.95)
    later = ev.evaluate(AT_MS + 301_000).objectives[0]  # the complete one is 301 s old: past 5 min
    assert later.status == "no_data" and later.sli is None
    assert later.reason == (
        "the errors query has no answer for the 30d window at the last collection: it failed, answered no "
        "series or answered NaN (see source 'prom' health)"
    )


def test_one_answer_after_an_outage_does_not_stretch_the_staleness() -> None:
    """1-minute collections, then six hours without an answer, then one: that answer counts for
    5 minutes (twice the typical 1-minute gap, at least 5 minutes), not for twice the outage."""
    ev = SLOEvaluator([spec()])
    for k in range(10):
        ev.ingest(answers(AT_MS + k * 60_000, {"slo": {"errors": 0.0, "total": 10.0}}))
    back = AT_MS + 9 * 60_000 + 6 * 3600_000
    ev.ingest(answers(back, {"slo": {"errors": 5.0, "total": 10.0}}))
    assert ev.evaluate(back + 240_000).objectives[0].status == "breached"
    gone = ev.evaluate(back + 301_000).objectives[0]
    assert gone.status == "no_data" and gone.reason == "no answer from source 'prom' in the last 5m (see its health)"


def test_an_unset_staleness_is_twice_the_collection_interval_at_least_five_minutes() -> None:
    ev = SLOEvaluator([spec()])
    ten = 600_000
    ev.ingest(pl.concat([answers(AT_MS + k * ten, {"slo": {"errors": 0.0, "total": 10.0}}) for k in range(3)]))
    assert ev.evaluate(AT_MS + 2 * ten + 2 * ten - 1000).objectives[0].status == "ok"  # 19m59s after: still on
    gone = ev.evaluate(AT_MS + 2 * ten + 2 * ten + 1000).objectives[0]
    assert gone.status == "no_data" and gone.reason == "no answer from source 'prom' in the last 20m (see its health)"


def test_a_calendar_objective_does_not_carry_the_last_period_over_and_ratios_stay_in_range() -> None:
    month = SLOSpec.model_validate({"name": "api", "objective": 99.9, "calendar": {"period": "month"}, "sli": {
        "query": {"source": "prom", "good": "sum(rate(ok[{{.window}}]))", "total": TOTAL}}})
    start = int(datetime(2026, 4, 1, tzinfo=UTC).timestamp() * 1000)
    ev = SLOEvaluator([month])
    ev.ingest(answers(start - 60_000, {"slo": {"good": 90.0, "total": 100.0}}))
    ev.ingest(answers(start - 60_000, {"1h": {"good": 99.0, "total": 100.0}}))
    assert ev.evaluate(start - 30_000).objectives[0].status == "breached"
    april = ev.evaluate(start + 30_000).objectives[0]
    assert april.status == "no_data"  # March's own window is not April's ...
    assert april.burn_rates["1h"] == pytest.approx(10.0)  # ... but the last hour is the last hour
    # Two separate queries can disagree by a hair: good over total is clipped to 100%.
    ev.ingest(answers(start + 60_000, {"slo": {"good": 100.5, "total": 100.0}}))
    fresh = ev.evaluate(start + 60_000).objectives[0]
    assert fresh.sli == 1.0 and fresh.budget_remaining == 1.0


def test_a_collection_of_answers_no_objective_reads_is_ignored() -> None:
    ev = SLOEvaluator([spec()])
    ev.ingest(answers(AT_MS, {"slo": {"errors": 1.0, "total": 10.0}}, name="someone-else"))
    assert ev.evaluate(AT_MS).objectives[0].status == "no_data"


def test_the_agent_keeps_only_the_answers_a_later_evaluation_can_use() -> None:
    ev = QueryEvaluator([spec()])
    for k in range(3000):
        ev.ingest(answers(AT_MS + k * 60_000, {"slo": {"errors": 0.0, "total": 10.0}}))
        ev.evaluate(AT_MS + k * 60_000)
    # 1-minute collections, a 5-minute staleness: the collections of the last 5 minutes and the
    # one before them — not 3,000 — and the memory stays bounded however long it runs.
    assert ev.collections_held() == 7
    assert ev.memory_bytes() < 2 * 1024 * (8 + 16 * 8)


def test_no_traffic_is_no_data_and_several_series_per_window_is_an_error() -> None:
    ev = SLOEvaluator([spec()])
    ev.ingest(answers(AT_MS, {"slo": {"errors": 0.0, "total": 0.0}}))
    quiet = ev.evaluate(AT_MS).objectives[0]
    assert quiet.status == "no_data" and quiet.reason == "no events in the last 30d"
    ev.ingest(pl.concat([
        answers(AT_MS + 30_000, {"slo": {"errors": 1.0, "total": 50.0}}, code="200"),
        answers(AT_MS + 30_000, {"slo": {"errors": 1.0, "total": 50.0}}, code="500"),
    ]))
    split = ev.evaluate(AT_MS + 30_000).objectives[0]
    assert split.status == "no_data" and split.error is not None
    assert "answers with more than one series for one window (code=\"200\"" in split.error
    assert "aggregate with sum()" in split.error


def test_answers_arriving_out_of_order_or_twice_keep_the_newest_per_time() -> None:
    ev = SLOEvaluator([spec()])
    ev.ingest(answers(AT_MS + 60_000, {"slo": {"errors": 1.0, "total": 100.0}}))
    ev.ingest(answers(AT_MS, {"slo": {"errors": 9.0, "total": 100.0}}))
    ev.ingest(answers(AT_MS, {"slo": {"errors": 3.0, "total": 100.0}}))
    assert ev.evaluate(AT_MS + 30_000).objectives[0].sli == pytest.approx(0.97)
    assert ev.evaluate(AT_MS + 60_000).objectives[0].sli == pytest.approx(0.99)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"source": "p", "errors": "sum(rate(x[5m]))", "total": TOTAL},
         "errors: query 'sum(rate(x[5m]))' has no {{.window}}"),
        ({"source": "p", "errors": ERRORS, "error_ratio": ERRORS}, "give 'error_ratio' alone"),
        ({"source": "p", "errors": ERRORS, "good": ERRORS, "total": TOTAL}, "exactly one of 'errors' or 'good'"),
        ({"source": "p", "total": TOTAL}, "exactly one of 'errors' or 'good'"),
    ],
)
def test_a_query_sli_that_cannot_be_run_is_refused_saying_why(body: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        SLOSpec.model_validate({"name": "x", "objective": 99, "sli": {"query": body}})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"group_by": ["model"]}, "group_by cannot expand a query SLI"),
        ({"maintenance": [{"day": "sunday", "start": "02:00", "end": "04:00"}]}, "maintenance windows cannot"),
        ({"min_events": 100}, "min_events needs event counts"),
    ],
)
def test_what_a_query_sli_cannot_honour_is_an_error(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SLOSpec.model_validate({"name": "x", "objective": 99, "sli": {"query": {
            "source": "p", "errors": ERRORS, "total": TOTAL}}, **extra})


def test_sloth_with_a_backend_keeps_the_queries_as_written() -> None:
    doc = yaml.safe_load((ROOT / "examples" / "sloth.yaml").read_text())
    avail, latency = load_sloth(doc, "sloth.yaml", backend="prom").specs
    events = doc["slos"][0]["sli"]["events"]
    assert avail.sli.query is not None and avail.sli.ratio is None
    assert (avail.sli.query.source, avail.sli.query.errors, avail.sli.query.total) == (
        "prom", events["error_query"], events["total_query"],
    )
    assert avail.kind == "availability"
    assert latency.sli.query is not None and latency.kind == "latency"  # the bucket shape says latency


def test_every_range_of_a_query_takes_the_window_or_the_query_is_refused() -> None:
    assert with_window_placeholder("sum(rate(a_total[5m] @ end())) % sum(rate(b_total[5m])) # by hand") == (
        "sum(rate(a_total[{{.window}}] @ end())) % sum(rate(b_total[{{.window}}])) # by hand"
    )
    with pytest.raises(ConfigError, match=r"cannot set the window in PromQL query .*unexpected \$ at column 22, "
                       r"before a range"):
        with_window_placeholder("sum(rate(a_total[5m] $ end())) + sum(rate(b_total[5m]))")


def test_openslo_lt_is_strict_with_or_without_a_backend() -> None:
    """An age of exactly the maximum is stale under ``op: lt``: the backend compares with ``>=``,
    the engine (which counts an age at most max_age as fresh) gets a maximum 1 ms lower."""
    docs = [d for d in yaml.safe_load_all((ROOT / "examples" / "openslo.yaml").read_text()) if d is not None]
    fresh_doc = next(d for d in docs if d["metadata"]["name"] == "orders-table-freshness")
    fresh_doc["spec"]["objectives"][0]["op"] = "lt"
    (native,) = load_openslo(documents([fresh_doc], "openslo.yaml")).specs
    assert native.sli.freshness is not None and native.sli.freshness.max_age == pytest.approx(7199.999)
    (queried,) = load_openslo(documents([fresh_doc], "openslo.yaml"), backend="prom").specs
    assert queried.sli.query is not None and queried.sli.query.errors is not None
    assert ">= bool 7200.0" in queried.sli.query.errors


def test_openslo_with_a_backend_sets_each_range_to_the_window_and_ages_by_subquery() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "examples" / "openslo.yaml").read_text()) if d is not None]
    by_name = {s.name: s for s in load_openslo(documents(docs, "openslo.yaml"), backend="prom").specs}
    avail = by_name["checkout-availability"].sli.query  # counter: true, sum(SELECTOR): a raw counter
    assert avail is not None and avail.good == (
        'sum(increase(http_requests_total{service="checkout",code!~"5.."}[{{.window}}]))'
    )
    fast = by_name["checkout-latency-fast"].sli.query
    assert fast is not None and by_name["checkout-latency-fast"].kind == "latency"
    assert fast.good == 'sum(rate(http_request_duration_seconds_bucket{service="checkout",le="0.3"}[{{.window}}]))'
    fresh = by_name["orders-table-freshness"]
    assert fresh.kind == "freshness" and fresh.effective_dimension == "data"
    assert fresh.sli.query is not None
    assert fresh.sli.query.errors == (
        'sum_over_time((max(time() - max(etl_last_success_timestamp_seconds{table="orders"})) > bool 7200.0)'
        "[{{.window}}:5m])"  # op: lte: an age of exactly 2 h is still fresh
    )


def test_rules_record_a_query_sli_as_written_and_what_if_changes_only_its_objective() -> None:
    groups = prometheus_rules([spec()])["groups"]
    sli_rules = {r["record"]: r["expr"] for r in groups[0]["rules"]}
    assert sli_rules["slo:sli_error:ratio_rate1h"] == (  # the errors side as the agent runs it
        '((sum(rate(http_requests_total{code=~"5.."}[1h]))) or on() vector(0)) / (sum(rate(http_requests_total[1h])))'
    )
    samples = answers(AT_MS, {"slo": {"errors": 0.05, "total": 100.0}, "1h": {"errors": 0.5, "total": 100.0}})
    relaxed = whatif(spec(), samples, AT_MS, objective=99.0)
    assert relaxed.current.budget_remaining == pytest.approx(0.5)
    assert relaxed.alternative.budget_remaining == pytest.approx(0.95)
    with pytest.raises(ValueError, match="its threshold is written in its PromQL"):
        whatif(spec(), samples, AT_MS, threshold_s=0.25)


def _many(minutes: int, start_ms: int, name: str = "api") -> pl.DataFrame:
    """``minutes`` collections, 1 minute apart, every window and side: the error ratio of every
    window at collection k is k / 1e6 (total 100, errors k / 1e4)."""
    frames = []
    for k in range(minutes):
        frames.append(answers(start_ms + k * 60_000, {
            w: {"errors": k / 1e4, "total": 100.0} for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "slo")
        }, name=name))
    return pl.concat(frames).sort("labels", "timestamp")  # as the store returns them: by series


def test_a_cold_start_of_many_collections_reads_the_same_as_collection_by_collection() -> None:
    history = _many(4000, AT_MS)  # 64,000 rows: read run by run
    assert history.height > 50_000
    cold, warm = SLOEvaluator([spec()]), SLOEvaluator([spec()])
    cold.ingest(history)
    for k in range(0, 4000, 500):
        warm.ingest(history.filter(pl.col("timestamp") == AT_MS + k * 60_000))
    at = AT_MS + 3500 * 60_000 + 30_000
    assert cold.error_ratios(at, "api")["1h"] == pytest.approx(3500 / 1e6)
    assert warm.error_ratios(at, "api")["1h"] == pytest.approx(3500 / 1e6)
    # Older collections arriving after newer ones are merged in time order.
    late = SLOEvaluator([spec()])
    late.ingest(history.filter(pl.col("timestamp") >= AT_MS + 2000 * 60_000))
    late.ingest(history.filter(pl.col("timestamp") < AT_MS + 2000 * 60_000))
    assert late.error_ratios(AT_MS + 1234 * 60_000, "api")["5m"] == pytest.approx(1234 / 1e6)
    assert late.error_ratios(at, "api")["5m"] == pytest.approx(3500 / 1e6)


def test_two_series_for_one_window_in_a_cold_start_are_named_at_their_times() -> None:
    history = pl.concat([
        _many(4000, AT_MS),
        answers(AT_MS + 3999 * 60_000, {"slo": {"total": 5.0}}, code="500"),
    ]).sort("labels", "timestamp")
    ev = SLOEvaluator([spec()])
    ev.ingest(history)
    clean = ev.evaluate(AT_MS + 3990 * 60_000).objectives[0]
    assert clean.error is None and clean.sli == pytest.approx(1 - 3990 / 1e6)
    split = ev.evaluate(AT_MS + 3999 * 60_000).objectives[0]
    assert split.error is not None and "the total query answers with more than one series" in split.error


def test_a_backtest_replays_the_policy_over_recorded_answers() -> None:
    """Two hours of collections; from minute 60 to 89 the 1h and 5m ratios are 2% (20× a 0.1%
    budget, over the 14.4× page factor), otherwise 0: one page, from minute 60 to minute 90."""
    frames = []
    for k in range(120):
        bad = 60 <= k < 90
        frames.append(answers(AT_MS + k * 60_000, {
            w: {"errors": 2.0 if bad and w in ("5m", "1h") else 0.0, "total": 100.0}
            for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "slo")
        }))
    report = backtest([spec()], pl.concat(frames), start_ms=AT_MS, end_ms=AT_MS + 119 * 60_000, hysteresis=False)
    (page,) = [e for e in report.episodes if e.severity == "page"]
    assert (page.slo, page.start_ms, page.end_ms) == ("api", AT_MS + 60 * 60_000, AT_MS + 90 * 60_000)
    assert page.peak_burn == pytest.approx(20.0)
