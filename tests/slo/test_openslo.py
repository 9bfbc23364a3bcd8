"""OpenSLO (v1 and v1alpha) objects loaded into Redline objectives."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.slo.calendar import calendar_bounds
from redline.slo.engine import SLOEvaluator
from redline.slo.openslo import load_openslo
from redline.slo.spec import AlertTierSpec
from redline.slo.spec_source import ImportResult, SpecDocument, SpecProblems, documents

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "specs"
PEER = ROOT / "tests" / "fixtures" / "peer-specs"


def _docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _example() -> list[dict[str, Any]]:
    return _docs(ROOT / "examples" / "openslo.yaml")


def _doc(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(d for d in docs if d["metadata"]["name"] == name)


def _load(docs: list[Any], source: str = "o.yaml", backend: str | None = None) -> ImportResult:
    return load_openslo(documents(docs, source), backend)


def _problems(docs: list[Any], source: str = "o.yaml", backend: str | None = None) -> list[str]:
    with pytest.raises(SpecProblems) as err:
        _load(docs, source, backend)
    return [str(p) for p in err.value.problems]


def _edited(name: str, edit: Any) -> list[dict[str, Any]]:
    docs = copy.deepcopy(_example())
    edit(_doc(docs, name)["spec"])
    return docs


def test_the_example_loads_ratio_latency_and_freshness_objectives() -> None:
    result = _load(_example(), "examples/openslo.yaml")
    by_name = {s.name: s for s in result.specs}
    assert list(by_name) == [
        "checkout-availability", "checkout-latency-fast", "checkout-latency-very-fast", "orders-table-freshness",
    ]
    avail = by_name["checkout-availability"]
    assert (avail.objective, avail.window, avail.labels) == (99.9, 28 * 86400.0, {"service": "checkout"})
    assert avail.sli.ratio is not None
    assert str(avail.sli.ratio.good) == 'http_requests_total{service="checkout",code!~"5.."}'
    assert str(avail.sli.ratio.total) == 'http_requests_total{service="checkout"}'
    fast, very_fast = by_name["checkout-latency-fast"], by_name["checkout-latency-very-fast"]
    assert (fast.objective, very_fast.objective) == (95.0, 90.0)
    assert fast.sli.latency is not None
    assert (str(fast.sli.latency.histogram), fast.sli.latency.threshold) == (
        'http_request_duration_seconds{service="checkout"}', 0.3,
    )
    fresh = by_name["orders-table-freshness"].sli.freshness
    assert fresh is not None
    assert (str(fresh.last_success), fresh.max_age, fresh.slice) == (
        'etl_last_success_timestamp_seconds{table="orders"}', 7200.0, 300.0,
    )
    SLOEvaluator(result.specs)


def test_a_burnrate_alert_condition_becomes_a_tier_of_the_objective() -> None:
    avail = _load(_example()).specs[0]
    assert avail.alerting.tiers == (
        AlertTierSpec(severity="page", long_window="1h", short_window="5m", factor=14.4, **{"for": 300.0}),
    )
    assert _load(_example()).specs[1].alerting.tiers is None  # no policy: the default tiers


def test_rolling_wins_over_a_calendar_time_zone() -> None:
    docs = _edited("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "4w", "isRolling": True,
                   "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Paris"}}]))
    result = _load(docs)
    avail = result.specs[0]
    assert (avail.calendar, avail.window) == (None, 28 * 86400.0)
    assert "o.yaml: document 4: spec.timeWindow[0].calendar: isRolling: true: the window is rolling; the calendar " \
           "is not used" in [str(n) for n in result.notes]


def test_a_calendar_window_becomes_a_calendar_objective_from_any_start_time() -> None:
    docs = _edited("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "1M", "calendar": {
        "startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Paris"}}]))
    spec = _load(docs).specs[0]
    assert spec.calendar is not None and (spec.calendar.period, spec.calendar.timezone) == ("month", "Europe/Paris")
    # OpenSLO's own example: a week from Saturday 12:00 in New York.
    weekly = _docs(PEER / "openslo/examples/treat-low-traffic-as-equally-important-timeslices-slo.yaml")
    window = weekly[0]["spec"]["timeWindow"][0]
    docs = _edited("checkout-availability", lambda s: s.update(timeWindow=[window]))
    result = _load(docs)
    spec = result.specs[0]
    assert spec.calendar is not None
    assert (spec.calendar.period, spec.calendar.start, spec.calendar.timezone) == (
        "1w", "2022-01-01T12:00:00", "America/New_York",
    )
    assert not [n for n in result.notes if "startTime" in str(n)]  # nothing moved: its weeks are its own
    # Tuesday 12 March 2024, two days after New York went to summer time: the week runs from
    # Saturday 9 March 12:00 EST (17:00 UTC) to Saturday 16 March 12:00 EDT (16:00 UTC), 167 h.
    at = _utc_ms("2024-03-12T09:00:00")
    assert calendar_bounds(at, spec.calendar) == (_utc_ms("2024-03-09T17:00:00"), _utc_ms("2024-03-16T16:00:00"))


def _utc_ms(text: str) -> int:
    return round(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_a_calendar_window_of_any_length_runs_back_to_back_from_its_start_time() -> None:
    docs = _edited("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "1d", "isRolling": False,
        "calendar": {"startTime": "2024-01-01 06:30:00", "timeZone": "Europe/Paris"}}]))
    spec = _load(docs).specs[0]
    assert spec.calendar is not None and (spec.calendar.period, spec.calendar.start) == ("1d", "2024-01-01T06:30:00")
    assert spec.window == 86400.0
    # Days from 06:30 in Paris: 05:30 UTC in winter, 04:30 UTC in summer; the day DST starts
    # (02:00 on 31 March 2024) is 23 hours long, as a person in Paris counts it.
    assert calendar_bounds(_utc_ms("2024-01-15T05:29:59"), spec.calendar) == (
        _utc_ms("2024-01-14T05:30:00"), _utc_ms("2024-01-15T05:30:00"))
    assert calendar_bounds(_utc_ms("2024-03-31T03:00:00"), spec.calendar) == (
        _utc_ms("2024-03-30T05:30:00"), _utc_ms("2024-03-31T04:30:00"))
    assert calendar_bounds(_utc_ms("2024-03-31T12:00:00"), spec.calendar) == (
        _utc_ms("2024-03-31T04:30:00"), _utc_ms("2024-04-01T04:30:00"))
    # Before its start, the periods run back the same way.
    assert calendar_bounds(_utc_ms("2023-12-31T06:00:00"), spec.calendar) == (
        _utc_ms("2023-12-31T05:30:00"), _utc_ms("2024-01-01T05:30:00"))
    # A length that is no whole day counts elapsed time from the start: 90-minute periods.
    docs = _edited("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "90m", "isRolling": False,
        "calendar": {"startTime": "2024-01-01 06:30:00", "timeZone": "Europe/Paris"}}]))
    spec = _load(docs).specs[0]
    assert spec.calendar is not None and spec.calendar.period == "1h30m"
    assert calendar_bounds(_utc_ms("2024-01-01T09:00:00"), spec.calendar) == (
        _utc_ms("2024-01-01T08:30:00"), _utc_ms("2024-01-01T10:00:00"))


@pytest.mark.parametrize(("duration", "seconds"), [("90m", 5400.0), ("12h", 43200.0), ("28d", 28 * 86400.0),
                         ("2w", 14 * 86400.0), ("1M", 30 * 86400.0), ("1Q", 90 * 86400.0), ("1Y", 365 * 86400.0)])
def test_rolling_windows_in_every_unit_of_the_spec(duration: str, seconds: float) -> None:
    docs = _edited("checkout-availability", lambda s: s.update(timeWindow=[{"duration": duration,
                                                                           "isRolling": True}]))
    assert _load(docs).specs[0].window == seconds


def test_an_slo_without_a_time_window_is_thirty_days_rolling() -> None:
    docs = _edited("checkout-availability", lambda s: s.pop("timeWindow"))
    result = _load(docs)
    assert result.specs[0].window == 30 * 86400.0
    assert "o.yaml: document 4: spec: no timeWindow: Redline uses a rolling 30-day window" in map(str, result.notes)


def test_a_top_level_list_and_references_across_files_resolve() -> None:
    docs = _example()
    slis = [d for d in docs if d["kind"] in ("SLI", "DataSource", "AlertPolicy", "AlertCondition",
                                              "AlertNotificationTarget", "Service")]
    slos = [d for d in docs if d["kind"] == "SLO"]
    both = [SpecDocument("objects.yaml", 0, slis), *documents(slos, "slos.yaml")]
    names = [o.spec.name for o in load_openslo(both).objectives]
    assert names[0] == "checkout-availability" and len(names) == 4
    (problem,) = _problems_of(both[1:])
    assert problem == "slos.yaml: spec.indicatorRef = checkout-good-requests: no SLI of that name in the files given"


def _problems_of(docs: list[SpecDocument]) -> list[str]:
    with pytest.raises(SpecProblems) as err:
        load_openslo(docs)
    return [str(p) for p in err.value.problems]


def test_v1alpha_objects_load() -> None:
    docs = _docs(PEER / "sloth/examples/openslo-kubernetes-apiserver.yml")
    result = _load(docs, "k.yml", backend="prom")
    assert [s.name for s in result.specs] == ["requests-availability-openslo", "requests-latency-openslo-0",
                                             "requests-latency-openslo-1"]
    assert {s.window for s in result.specs} == {30 * 86400.0}
    queries = result.specs[0].sli.query
    assert queries is not None and queries.good is not None and "{{.window}}" in queries.good


def test_timeslices_of_a_ratio_run_on_a_backend_as_subqueries() -> None:
    docs = [_doc(_edited("checkout-latency", lambda s: s.update(budgetingMethod="Timeslices", objectives=[
        {"displayName": "fast", "target": 0.95, "timeSliceTarget": 0.9, "timeSliceWindow": "1m"}])),
        "checkout-latency")]
    (problem,) = _problems(docs)
    assert problem == ("o.yaml: spec.budgetingMethod = Timeslices: time slices of a ratio are computed "
                       "by a backend: give this file's slo_files entry a backend (a promql source)")
    spec = next(s for s in _load(docs, backend="prom").specs if s.name == "checkout-latency")
    assert spec.sli.query is not None
    good = ('((sum(rate(http_request_duration_seconds_bucket{service="checkout",le="0.3"}[1m]))) / '
            '(sum(rate(http_request_duration_seconds_count{service="checkout"}[1m]))))')
    assert spec.sli.query.errors == f"sum_over_time(({good} < bool 0.9)[{{{{.window}}}}:1m])"
    assert spec.sli.query.total == f"count_over_time({good}[{{{{.window}}}}:1m])"
    docs = [_doc(_edited("checkout-latency", lambda s: s.update(budgetingMethod="RatioTimeslices", objectives=[
        {"displayName": "fast", "target": 0.95, "timeSliceWindow": "1m"}])), "checkout-latency")]
    spec = next(s for s in _load(docs, backend="prom").specs if s.name == "checkout-latency")
    assert spec.sli.query is not None and spec.sli.query.error_ratio == f"1 - avg_over_time({good}[{{{{.window}}}}:1m])"


def test_a_threshold_on_any_gauge_runs_on_a_backend_by_subquery() -> None:
    (alpha,) = [d for d in _docs(PEER / "openslo/v1alpha/slos.yaml")[0] if d["metadata"]["name"] ==
                "web-latency-threshold"]
    (problem,) = _problems([alpha])
    assert problem == ("o.yaml: spec.indicator.thresholdMetric: a threshold on a gauge other than a data age "
                       "(time() - SELECTOR) is evaluated by a backend: give this file's slo_files entry a backend "
                       "(a promql source)")
    (spec,) = _load([alpha], backend="prom").specs
    assert spec.sli.query is not None and spec.calendar is not None
    sample = '(api_server_requestMsec{host="*",job="nginx"})'
    assert spec.sli.query.errors == f"sum_over_time(({sample} <= bool 200.0)[{{{{.window}}}}:1m])"  # good: gt 200
    assert spec.sli.query.total == f"count_over_time({sample}[{{{{.window}}}}:1m])"


def test_a_raw_ratio_is_an_error_ratio() -> None:
    (sli,) = [d for d in _docs(PEER / "openslo/v1/slis.yaml")[0] if d["metadata"]["name"] == "wifi-client-satisfaction"]
    slo = {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": "wifi"}, "spec": {
        "indicatorRef": "wifi-client-satisfaction", "budgetingMethod": "Occurrences",
        "objectives": [{"target": 0.95}]}}
    (spec,) = _load([sli, slo], backend="prom").specs
    assert spec.sli.query is not None and spec.sli.query.error_ratio is not None
    assert spec.sli.query.error_ratio.startswith("1 - (1 - (\n  sum(sum_over_time(poller_client_satisfaction_ratio")


def test_a_composite_slo_is_refused_naming_the_field() -> None:
    assert _problems(_docs(FIXTURES / "openslo-composite.yaml"), "composite.yaml") == [
        "composite.yaml: spec.indicator: an SLO without its own indicator is a composite SLO, which Redline does "
        "not support yet"
    ]


def test_an_unknown_kind_names_the_document_and_kind() -> None:
    (problem,) = _problems(_docs(FIXTURES / "openslo-unknown-kind.yaml"), "unknown-kind.yaml")
    assert problem.startswith("unknown-kind.yaml: document 2: kind = Dashboard: unknown kind: expected one of ")


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        ("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "2M", "calendar": {
            "startTime": "2024-01-01 00:00:00", "timeZone": "UTC"}}]),
         "document 4: spec.timeWindow[0].duration = 2M: a calendar window of months, quarters or years in Redline "
         "is one month or quarter (1M, 1Q); fixed lengths are in m, h, d or w"),
        ("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "1M", "calendar": {
            "startTime": "mid-January", "timeZone": "UTC"}}]),
         "document 4: spec.timeWindow[0].calendar.startTime = mid-January: expected a date and time "
         "(2022-01-01 00:00:00)"),
        ("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "30 days", "isRolling": True}]),
         "document 4: spec.timeWindow[0].duration = 30 days: expected a duration shorthand: a whole number and one "
         "of m h d w M Q Y (28d, 1M)"),
        ("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "1M", "calendar": {
            "startTime": "2024-01-01 00:00:00", "timeZone": "Mars/Olympus_Mons"}}]),
         "document 4: spec.timeWindow[0].calendar.timeZone = Mars/Olympus_Mons: unknown time zone (expected an IANA "
         "name such as Europe/Paris)"),
        ("checkout-availability", lambda s: s.update(budgetingMethod="Sometimes"),
         "document 4: spec.budgetingMethod = Sometimes: expected Occurrences, Timeslices or RatioTimeslices"),
        ("orders-table-freshness", lambda s: s.update(budgetingMethod="Occurrences"),
         "document 6: spec.budgetingMethod = Occurrences: Redline evaluates a thresholdMetric (a data age) as "
         "Timeslices only"),
        ("checkout-availability", lambda s: s.update(indicatorRef="nope"),
         "document 4: spec.indicatorRef = nope: no SLI of that name in the files given"),
        ("checkout-availability", lambda s: s["objectives"][0].update(target=99.9),
         "document 4: spec.objectives[0].target = 99.9: expected a fraction above 0 and below 1 (or targetPercent)"),
        ("checkout-availability", lambda s: s["objectives"][0].update(indicatorRef="x", compositeWeight=1),
         "document 4: spec.objectives[0].indicator: a composite SLO (an indicator per objective) is not supported"),
        ("checkout-availability", lambda s: s["alertPolicies"][0].update(alertPolicyRef="nope"),
         "document 4: spec.alertPolicies[0].alertPolicyRef = nope: no AlertPolicy of that name in the files given"),
        ("checkout-latency", lambda s: s["indicator"]["spec"]["ratioMetric"]["total"]["metricSource"].update(
            type="Datadog"),
         "document 5: spec.indicator.spec.ratioMetric.total.metricSource.type = Datadog: Redline reads Prometheus "
         "queries only"),
        ("checkout-latency", lambda s: s["indicator"]["spec"]["ratioMetric"]["good"]["metricSource"]["spec"].update(
            query="histogram_quantile(0.99, sum(rate(x_bucket[5m])) by (le))"),
         "document 5: spec.indicator.spec: PromQL query histogram_quantile(0.99, sum(rate(x_bucket[5m])) by (le)) "
         "is not a shape Redline can evaluate"),
        ("orders-table-freshness", lambda s: s["objectives"][0].update(op="gt"),
         "document 6: spec.objectives[0].op = gt: a data age must stay below a maximum (lt or lte)"),
    ],
)
def test_what_redline_cannot_honour_names_the_field_and_the_value(name: str, edit: Any, message: str) -> None:
    problem = _problems(_edited(name, edit))[0]  # the first objective's (each objective says it)
    assert problem.startswith("o.yaml: " + message), problem


def test_every_problem_is_listed_not_just_the_first() -> None:
    docs = copy.deepcopy(_example())
    _doc(docs, "checkout-availability")["spec"]["budgetingMethod"] = "Sometimes"
    _doc(docs, "orders-table-freshness")["spec"]["objectives"][0]["op"] = "gt"
    _doc(docs, "fast-burn")["spec"]["condition"]["op"] = "lte"
    assert _problems(docs) == [
        "o.yaml: document 4: spec.budgetingMethod = Sometimes: expected Occurrences, Timeslices or RatioTimeslices",
        "o.yaml: document 6: spec.objectives[0].op = gt: a data age must stay below a maximum (lt or lte)",
    ]
    _doc(docs, "checkout-availability")["spec"]["budgetingMethod"] = "Occurrences"
    assert _problems(docs)[0] == ("o.yaml: document 8: spec.condition.op = lte: a burn-rate alert fires above its "
                                  "threshold (gt or gte)")


def test_another_api_version_is_refused() -> None:
    docs = _example()
    docs[0]["apiVersion"] = "openslo/v2alpha"
    assert _problems(docs)[0] == "o.yaml: apiVersion = openslo/v2alpha: expected openslo/v1 or openslo/v1alpha"


def _published() -> list[Path]:
    return sorted((PEER / "openslo").rglob("*.yaml")) + sorted((PEER / "sloth/examples").glob("openslo-*.yml"))


def test_the_sdk_example_slo_runs_its_raw_counters_in_time_slices_on_a_backend() -> None:
    (spec,) = _load(_docs(PEER / "openslo/v1/slos.yaml"), backend="prom").specs
    assert spec.calendar is not None and (spec.calendar.period, spec.calendar.start) == ("1w", "2022-01-01T12:00:00")
    assert spec.labels == {"service": "web", "env": "prod", "team": "team-a,team-b"}
    good = ('((sum(increase(http_requests{k8s_cluster="prod",component="web",code=~"2xx|4xx"}[1m]))) / '
            '(sum(increase(http_requests{k8s_cluster="prod",component="web"}[1m]))))')
    assert spec.sli.query is not None
    assert spec.sli.query.errors == f"sum_over_time(({good} < bool 0.95)[{{{{.window}}}}:1m])"


REFUSED = {  # the spec's examples that name no real metric source
    "budgeting-method-occurences-slo.yaml": "spec.indicator.spec.thresholdMetric.metricSource.type = Any: Redline "
    "reads Prometheus queries only",
    "budgeting-method-ratio-timeslices.yaml": "spec.indicator.spec.ratioMetric.good.metricSource.type = Any: Redline "
    "reads Prometheus queries only",
    "budgeting-method-timeslices-slo.yaml": "spec.indicator.spec.ratioMetric.good.metricSource.type = Any: Redline "
    "reads Prometheus queries only",  # its minute-long calendar window from 12:00 in New York loads
    "treat-low-traffic-as-equally-important-timeslices-slo.yaml": "spec.indicator.spec.ratioMetric.good."
    "metricSource.type = Any: Redline reads Prometheus queries only",
    "v1alpha/slos.yaml": "[1].spec.objectives[0].ratioMetrics.good.source = datadog: Redline reads Prometheus "
    "queries only",
}


@pytest.mark.parametrize("path", _published(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_published_openslo_example_loads_or_names_what_redline_cannot_evaluate(path: Path) -> None:
    docs = _docs(path)
    refused = REFUSED.get(f"{path.parent.name}/{path.name}", REFUSED.get(path.name))
    if refused is not None:
        problems = _problems(docs, path.name, backend="prom")
        assert problems[0].startswith(f"{path.name}: {refused}"), problems
        second = REFUSED.get(f"{path.parent.name}/{path.name}#1")
        assert second is None or problems[1].startswith(f"{path.name}: {second}"), problems
        return
    result = _load(docs, path.name, backend="prom")
    slos = [d for d in (docs[0] if isinstance(docs[0], list) else docs) if d.get("kind") == "SLO"]
    assert len(result.specs) >= len(slos)


def test_the_published_minute_long_calendar_window_loads_once_its_source_is_prometheus() -> None:
    # budgeting-method-timeslices-slo.yaml names no real source ("type: Any"); with Prometheus
    # queries in its place, its 1m calendar window from 12:00 in New York is read as written.
    (doc,) = _docs(PEER / "openslo/examples/budgeting-method-timeslices-slo.yaml")
    ratio = doc["spec"]["indicator"]["spec"]["ratioMetric"]
    for side, query in (("good", 'sum(rate(http_requests_total{code!~"5.."}[5m]))'),
                         ("total", "sum(rate(http_requests_total[5m]))")):
        ratio[side]["metricSource"] = {"type": "Prometheus", "spec": {"query": query}}
    result = _load([doc], backend="prom")
    assert len(result.specs) == 2  # its two objectives
    for spec in result.specs:
        assert spec.calendar is not None
        assert (spec.calendar.period, spec.calendar.start, spec.calendar.timezone) == (
            "1m", "2022-01-01T12:00:00", "America/New_York")
        assert calendar_bounds(_utc_ms("2024-07-04T15:30:42"), spec.calendar) == (
            _utc_ms("2024-07-04T15:30:00"), _utc_ms("2024-07-04T15:31:00"))
