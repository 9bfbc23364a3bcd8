"""Google slo-generator SLO files (Prometheus backend) loaded into Redline objectives."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.slo.engine import SLOEvaluator
from redline.slo.slo_generator import load_slo_generator
from tests.slo.peer_specs import PEER as PEER_SPECS
from tests.slo.peer_specs import peer_doc, problems_of

PEER = PEER_SPECS / "slo-generator"


def _doc(name: str) -> dict[str, Any]:
    return peer_doc(PEER / name)


def _problems(doc: Any, **kwargs: Any) -> list[str]:
    return problems_of(load_slo_generator, doc, "s.yaml", **kwargs)


def test_good_bad_ratio_is_a_ratio_objective() -> None:
    (spec,) = load_slo_generator(_doc("prometheus--slo_prom_metrics_availability_ratio.yaml"), "s.yaml").specs
    assert (spec.name, spec.objective, spec.window) == ("prom-metrics-availability", 99.9, 28 * 86400.0)
    assert spec.sli.ratio is not None
    assert str(spec.sli.ratio.good) == 'prometheus_http_requests_total{handler="/metrics",code=~"2.."}'
    assert str(spec.sli.ratio.total) == 'prometheus_http_requests_total{handler="/metrics"}'
    assert spec.labels == {"service_name": "prom", "feature_name": "metrics", "slo_name": "availability"}
    SLOEvaluator([spec])


def test_good_bad_ratio_on_a_backend_sums_increases_over_each_window_as_slo_generator_does() -> None:
    doc = _doc("prometheus--slo_prom_metrics_availability_ratio.yaml")
    (spec,) = load_slo_generator(doc, "s.yaml", backend="prom").specs
    assert spec.sli.query is not None
    assert spec.sli.query.good == 'sum(increase(prometheus_http_requests_total{handler="/metrics", code=~"2.."}' \
                                  "[{{.window}}]))"
    sli = doc["spec"]["service_level_indicator"]
    sli["filter_bad"] = sli.pop("filter_valid")
    assert _problems(doc) == [
        "s.yaml: spec.service_level_indicator.filter_bad: valid = good + bad is computed by a backend: give this "
        "file's slo_files entry a backend, or give filter_valid"
    ]
    (spec,) = load_slo_generator(doc, "s.yaml", backend="prom").specs
    assert spec.sli.query is not None and spec.sli.query.total is not None
    assert spec.sli.query.total.endswith(' + sum(increase(prometheus_http_requests_total{handler="/metrics"}'
                                         "[{{.window}}]))")


def test_distribution_cut_is_a_latency_objective() -> None:
    (spec,) = load_slo_generator(_doc("prometheus--slo_prom_metrics_latency_distribution_cut.yaml"), "s.yaml").specs
    assert spec.sli.latency is not None and spec.objective == 99.99
    assert (str(spec.sli.latency.histogram), spec.sli.latency.threshold) == (
        'http_request_duration_seconds{handler="/metrics",code=~"2.."}', 0.25,
    )


def test_query_sli_natively_when_its_shape_is_known_else_on_a_backend() -> None:
    (spec,) = load_slo_generator(_doc("prometheus--slo_prom_metrics_availability_query_sli.yaml"), "s.yaml").specs
    assert spec.sli.ratio is not None and str(spec.sli.ratio.good).startswith("prometheus_http_requests_total")
    latency = _doc("prometheus--slo_prom_metrics_latency_query_sli.yaml")
    (problem,) = _problems(latency)
    assert problem.startswith("s.yaml: spec.service_level_indicator: ") and "PromQL query" in problem
    (spec,) = load_slo_generator(latency, "s.yaml", backend="prom").specs
    assert spec.sli.query is not None and spec.sli.query.error_ratio is not None
    assert "[{{.window}}]" in spec.sli.query.error_ratio


def test_another_backend_or_method_is_refused_by_name() -> None:
    assert _problems(_doc("datadog--slo_dd_app_availability_ratio.yaml")) == [
        "s.yaml: spec.backend = datadog: Redline reads slo-generator's prometheus backend only"
    ]
    doc = copy.deepcopy(_doc("prometheus--slo_prom_metrics_availability_ratio.yaml"))
    doc["spec"]["method"] = "threshold"
    doc["spec"]["goal"] = 99.9
    assert _problems(doc) == [
        "s.yaml: spec.method = threshold: expected one of good_bad_ratio, distribution_cut, query_sli",
        "s.yaml: spec.goal = 99.9: expected a fraction above 0 and below 1 (0.999)",
    ]
    v1 = {"service_name": "svc", "feature_name": "f", "slo_name": "s", "backend": {"class": "Prometheus"}}
    assert _problems(v1) == ["s.yaml: (top level): the slo-generator v1 format: convert it with "
                             "`slo-generator migrate` (apiVersion sre.google.com/v2)"]


@pytest.mark.parametrize("path", sorted(PEER.glob("*.yaml")), ids=lambda p: p.name)
def test_every_published_sample_loads_or_is_refused_naming_its_backend(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    if doc["spec"]["backend"] != "prometheus":
        assert _problems(doc)[0] == (f"s.yaml: spec.backend = {doc['spec']['backend']}: Redline reads "
                                     "slo-generator's prometheus backend only")
        return
    (spec,) = load_slo_generator(doc, "s.yaml", backend="prom").specs
    assert spec.name == doc["metadata"]["name"] and spec.sli.query is not None
