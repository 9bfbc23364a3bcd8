"""OpenSLO v1 documents loaded into Redline objectives."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.kernel.errors import ConfigError
from redline.slo.engine import SLOEvaluator
from redline.slo.openslo import load_openslo

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "specs"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _example() -> list[dict[str, Any]]:
    return _docs(ROOT / "examples" / "openslo.yaml")


def _doc(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(d for d in docs if d["metadata"]["name"] == name)


def test_the_example_loads_ratio_latency_and_freshness_objectives() -> None:
    notes: list[str] = []
    specs = load_openslo(_example(), "examples/openslo.yaml", notes)
    by_name = {s.name: s for s in specs}
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
    assert notes == [
        "examples/openslo.yaml: document 3 (SLO checkout-availability): spec.alertPolicies[0] "
        "(checkout-fast-burn) not applied: Redline pages and tickets by its own multiwindow policy"
    ]
    SLOEvaluator(specs)


def test_an_unknown_kind_names_the_document_and_kind() -> None:
    with pytest.raises(ConfigError) as err:
        load_openslo(_docs(FIXTURES / "openslo-unknown-kind.yaml"), "unknown-kind.yaml")
    assert str(err.value).startswith(
        "unknown-kind.yaml: document 1 (Dashboard checkout-board): kind: unknown kind 'Dashboard': expected one of "
    )


def test_a_composite_slo_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        load_openslo(_docs(FIXTURES / "openslo-composite.yaml"), "composite.yaml")
    assert str(err.value) == (
        "composite.yaml: document 0 (SLO checkout-composite): spec.indicator: an SLO without its own indicator "
        "is a composite SLO, which Redline does not support yet"
    )


def test_a_calendar_window_becomes_a_calendar_objective() -> None:
    docs = _edited("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "1M", "calendar": {
        "startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Paris"}}]))
    spec = next(s for s in load_openslo(docs, "x.yaml") if s.name.startswith("checkout-availability"))
    assert spec.calendar is not None
    assert (spec.calendar.period, spec.calendar.timezone) == ("month", "Europe/Paris")
    weekly = _edited("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "1w", "calendar": {
        "startTime": "2024-01-07 00:00:00", "timeZone": "UTC"}}]))  # a Sunday
    spec = next(s for s in load_openslo(weekly, "x.yaml") if s.name.startswith("checkout-availability"))
    assert spec.calendar is not None and (spec.calendar.period, spec.calendar.week_start) == ("week", "sunday")


def _edited(name: str, edit: Any) -> list[dict[str, Any]]:
    docs = copy.deepcopy(_example())
    edit(_doc(docs, name)["spec"])
    return docs


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        ("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "2w", "calendar": {
            "startTime": "2024-01-01 00:00:00", "timeZone": "UTC"}}]),
         "document 3 (SLO checkout-availability): spec.timeWindow[0].duration: '2w': a calendar window must be"),
        ("checkout-availability", lambda s: s.update(timeWindow=[{"duration": "1M", "calendar": {
            "startTime": "2024-01-15 00:00:00", "timeZone": "UTC"}}]),
         "document 3 (SLO checkout-availability): spec.timeWindow[0].calendar.startTime: '2024-01-15 00:00:00'"),
        ("checkout-availability", lambda s: s.update(budgetingMethod="RatioTimeslices"),
         "document 3 (SLO checkout-availability): spec.budgetingMethod: 'RatioTimeslices': Redline supports"),
        ("checkout-availability", lambda s: s.update(budgetingMethod="Timeslices"),
         "document 3 (SLO checkout-availability): spec.budgetingMethod: 'Timeslices' with a ratioMetric"),
        ("orders-table-freshness", lambda s: s.update(budgetingMethod="Occurrences"),
         "document 5 (SLO orders-table-freshness): spec.budgetingMethod: 'Occurrences' with a thresholdMetric"),
        ("checkout-availability", lambda s: s.update(indicatorRef="nope"),
         "document 3 (SLO checkout-availability): spec.indicatorRef: no SLI named 'nope'"),
        ("checkout-availability", lambda s: s["objectives"][0].update(target=99.9),
         "document 3 (SLO checkout-availability): spec.objectives[0].target: 99.9: expected a fraction"),
        ("checkout-availability", lambda s: s["objectives"][0].update(indicatorRef="x", compositeWeight=1),
         "document 3 (SLO checkout-availability): spec.objectives[0].indicator: a composite SLO"),
        ("checkout-availability", lambda s: s["alertPolicies"][0].update(alertPolicyRef="nope"),
         "document 3 (SLO checkout-availability): spec.alertPolicies[0].alertPolicyRef: no AlertPolicy named 'nope'"),
        ("checkout-latency", lambda s: s["indicator"]["spec"]["ratioMetric"]["total"]["metricSource"].update(
            type="Datadog"),
         "document 4 (SLO checkout-latency): spec.indicator.spec.ratioMetric.total.metricSource.type: 'Datadog'"),
        ("checkout-latency", lambda s: s["indicator"]["spec"]["ratioMetric"]["good"]["metricSource"]["spec"].update(
            query="histogram_quantile(0.99, sum(rate(x_bucket[5m])) by (le))"),
         "document 4 (SLO checkout-latency): spec.indicator.spec: PromQL query 'histogram_quantile(0.99"),
        ("orders-table-freshness", lambda s: s["objectives"][0].update(op="gt"),
         "document 5 (SLO orders-table-freshness): spec.objectives[0].op: 'gt'"),
        ("checkout-availability", lambda s: s.update(service="billing"),
         "document 3 (SLO checkout-availability): spec.service: no Service named 'billing'"),
    ],
)
def test_what_redline_cannot_honour_names_document_kind_name_and_field(name: str, edit: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_openslo(_edited(name, edit), "o.yaml")
    assert str(err.value).startswith("o.yaml: " + message), str(err.value)


def test_an_indicator_query_of_an_sli_document_is_named_with_its_reference() -> None:
    docs = copy.deepcopy(_example())
    _doc(docs, "checkout-good-requests")["spec"]["ratioMetric"]["total"]["metricSource"]["spec"]["query"] = "up"
    docs[2]["spec"]["ratioMetric"]["counter"] = False
    with pytest.raises(ConfigError) as err:
        load_openslo(docs, "o.yaml")
    assert str(err.value).startswith(
        "o.yaml: document 3 (SLO checkout-availability): spec.indicatorRef (checkout-good-requests) spec: "
        "PromQL query 'up' is not a shape"
    )


def test_another_api_version_is_refused() -> None:
    docs = _example()
    docs[0]["apiVersion"] = "openslo/v2alpha"
    expected = r"^o.yaml: document 0 \(Service checkout\): apiVersion: expected 'openslo/v1'"
    with pytest.raises(ConfigError, match=expected):
        load_openslo(docs, "o.yaml")
