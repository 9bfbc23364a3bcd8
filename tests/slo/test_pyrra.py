"""Pyrra ServiceLevelObjective CRDs loaded into Redline objectives, with Pyrra's burn-rate tiers."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.slo.engine import SLOEvaluator
from redline.slo.pyrra import load_pyrra, pyrra_tiers
from redline.slo.spec import AlertTierSpec
from tests.slo.peer_specs import PEER as PEER_SPECS
from tests.slo.peer_specs import peer_doc, problems_of

PEER = PEER_SPECS / "pyrra"


def _doc(name: str) -> dict[str, Any]:
    return peer_doc(PEER / name)


def _problems(doc: Any, **kwargs: Any) -> list[str]:
    return problems_of(load_pyrra, doc, "p.yaml", **kwargs)


def _tier(sev: str, long: str, short: str, factor: float, for_s: float) -> AlertTierSpec:
    return AlertTierSpec(severity=sev, long_window=long, short_window=short, factor=factor, **{"for": for_s})


def test_pyrras_tiers_for_28_and_7_days_are_those_its_own_tests_expect() -> None:
    """slo/rules_test.go: 28d → 14× 1h/5m for 2m, 7× 6h/30m for 15m, 2× 1d/2h for 1h, 1× 4d/6h for 3h;
    7d → 14× 15m/1m for 1m, 7× 1h30m/8m for 4m, 2× 6h/30m for 15m, 1× 1d/1h30m for 45m."""
    assert pyrra_tiers(28 * 86400.0) == (
        _tier("page", "1h", "5m", 14, 120), _tier("page", "6h", "30m", 7, 900),
        _tier("ticket", "1d", "2h", 2, 3600), _tier("ticket", "4d", "6h", 1, 10800),
    )
    assert pyrra_tiers(7 * 86400.0) == (
        _tier("page", "15m", "1m", 14, 60), _tier("page", "1h30m", "8m", 7, 240),
        _tier("ticket", "6h", "30m", 2, 900), _tier("ticket", "1d", "1h30m", 1, 2700),
    )


def test_a_ratio_slo_with_its_target_as_a_string() -> None:
    (spec,) = load_pyrra(_doc("prometheus-http.yaml"), "p.yaml").specs
    assert (spec.name, spec.objective, spec.window) == ("prometheus-api-query", 99.0, 7 * 86400.0)
    assert spec.sli.ratio is not None
    assert str(spec.sli.ratio.errors) == 'prometheus_http_requests_total{handler="/api/v1/query",code=~"5.."}'
    assert spec.labels == {}  # prometheus/role select Pyrra's rule file; only pyrra.dev/ labels propagate
    assert spec.alerting.tiers == pyrra_tiers(7 * 86400.0)
    SLOEvaluator([spec])


def test_a_latency_slo_is_a_histogram_threshold() -> None:
    (spec,) = load_pyrra(_doc("caddy-response-latency.yaml"), "c.yaml").specs
    assert spec.sli.latency is not None and spec.window == 28 * 86400.0
    assert (str(spec.sli.latency.histogram), spec.sli.latency.threshold) == (
        'caddy_http_response_duration_seconds{job="caddy",handler="subroute",code!~"5.."}', 0.05,
    )


def test_grouping_alerting_and_propagated_labels() -> None:
    doc = copy.deepcopy(_doc("prometheus-http.yaml"))
    doc["metadata"]["labels"]["pyrra.dev/team"] = "observability"
    doc["spec"]["indicator"]["ratio"]["grouping"] = ["handler"]
    doc["spec"]["alerting"] = {"disabled": True, "name": "PromAPIBurn"}
    (spec,) = load_pyrra(doc, "p.yaml").specs
    assert spec.labels == {"team": "observability"} and spec.group_by == ("handler",)
    assert spec.alerting.name == "PromAPIBurn"
    assert spec.alerting.page.disable and spec.alerting.ticket.disable
    assert _problems(doc, backend="prom") == [
        "p.yaml: spec.indicator = [handler]: grouping is done by Redline's own evaluation; a backend answers one "
        "ratio per window: leave out the backend to group"
    ]


def test_native_histograms_and_bool_gauges_run_on_a_backend() -> None:
    doc = copy.deepcopy(_doc("prometheus-http.yaml"))
    doc["spec"]["indicator"] = {"latencyNative": {"latency": "100ms", "total": {
        "metric": 'http_request_duration_seconds{job="api"}'}}}
    assert _problems(doc) == [
        "p.yaml: spec.indicator.latencyNative: a native histogram or a boolean gauge is evaluated by a backend: "
        "give this file's slo_files entry a backend (a promql source)"
    ]
    (spec,) = load_pyrra(doc, "p.yaml", backend="prom").specs
    assert spec.sli.query is not None and spec.kind == "latency"
    assert spec.sli.query.error_ratio == (
        '1 - histogram_fraction(0, 0.1, sum(rate(http_request_duration_seconds{job="api"}[{{.window}}])))'
    )
    doc["spec"]["indicator"] = {"bool_gauge": {"metric": 'probe_success{job="blackbox"}'}}
    (spec,) = load_pyrra(doc, "p.yaml", backend="prom").specs
    assert spec.sli.query is not None and spec.sli.query.error_ratio == (
        '1 - (sum(sum_over_time(probe_success{job="blackbox"}[{{.window}}])) / '
        'sum(count_over_time(probe_success{job="blackbox"}[{{.window}}])))'
    )


def test_every_problem_is_named_with_the_value_as_written() -> None:
    doc = copy.deepcopy(_doc("caddy-response-latency.yaml"))
    doc["spec"]["target"] = "ninety"
    doc["spec"]["window"] = "a month"
    doc["spec"]["indicator"]["latency"]["success"]["metric"] = 'caddy_http_response_duration_seconds_count{job="x"}'
    assert _problems(doc) == [
        'p.yaml: spec.target = ninety: expected a percentage above 0 and below 100 ("99.5")',
        "p.yaml: spec.window = a month: expected a duration such as 28d or 4w",
        'p.yaml: spec.indicator.latency.success.metric = caddy_http_response_duration_seconds_count{job="x"}: '
        'expected a histogram bucket with an le bound (x_bucket{le="0.25"}) over its count',
    ]


@pytest.mark.parametrize("path", sorted(PEER.glob("*.yaml")), ids=lambda p: p.name)
def test_every_published_pyrra_example_loads(path: Path) -> None:
    (spec,) = load_pyrra(yaml.safe_load(path.read_text()), path.name).specs
    assert spec.sli.ratio is not None or spec.sli.latency is not None
    assert spec.alerting.tiers == pyrra_tiers(spec.window)
