"""Sloth specs (prometheus/v1 and the PrometheusServiceLevel CRD) loaded into Redline objectives."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.slo.engine import SLOEvaluator
from redline.slo.sloth import load_sloth
from redline.slo.spec import AlertingSpec, AlertRoleSpec, LatencySLI
from redline.slo.spec_source import SpecProblems

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sloth.yaml"
PEER = ROOT / "tests" / "fixtures" / "peer-specs" / "sloth"


def _example() -> dict[str, Any]:
    doc = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(doc, dict)
    return doc


def _problems(doc: Any, source: str = "s.yaml", **kwargs: Any) -> list[str]:
    with pytest.raises(SpecProblems) as err:
        load_sloth(doc, source, **kwargs)
    return [str(p) for p in err.value.problems]


def test_the_example_loads_into_two_objectives_named_service_dash_slo() -> None:
    result = load_sloth(_example(), "examples/sloth.yaml")
    avail, latency = result.specs
    assert (avail.name, avail.objective, avail.window) == ("myservice-requests-availability", 99.9, 30 * 86400.0)
    assert avail.sli.ratio is not None
    assert str(avail.sli.ratio.errors) == 'http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}'
    assert str(avail.sli.ratio.total) == 'http_request_duration_seconds_count{job="myservice"}'
    # The SLO's labels go on the objective (every record and alert); alerting.labels on alerts only.
    assert avail.labels == {"owner": "myteam", "repo": "myorg/myservice", "tier": "2", "category": "availability"}
    assert avail.runbook_url == "https://runbooks.example.com/myservice/availability"
    assert latency.name == "myservice-requests-latency"
    assert latency.sli.latency is not None
    assert (str(latency.sli.latency.histogram), latency.sli.latency.threshold) == (
        'http_request_duration_seconds{job="myservice"}', 0.25,
    )
    SLOEvaluator(result.specs)  # the engine accepts them


def test_alerting_is_held_whole_by_the_objective() -> None:
    avail, latency = load_sloth(_example(), "examples/sloth.yaml").specs
    assert avail.alerting == AlertingSpec(
        name="MyServiceHighErrorRate",
        labels={"category": "availability"},
        annotations={
            "runbook": "https://runbooks.example.com/myservice/availability",
            "summary": "High error rate on 'myservice' requests responses",
        },
        page=AlertRoleSpec(labels={"severity": "pageteam", "routing_key": "myteam"}),
        ticket=AlertRoleSpec(labels={"severity": "slack", "slack_channel": "#alerts-myteam"}),
    )
    assert latency.alerting.page.disable is True and latency.alerting.ticket.disable is False
    assert latency.alerting.name is None  # Redline names the alerts after the objective


def test_the_crd_form_reads_as_the_prometheus_v1_form() -> None:
    (plain,) = load_sloth(yaml.safe_load((PEER / "examples/getting-started.yml").read_text()), "a").specs
    (crd,) = load_sloth(yaml.safe_load((PEER / "examples/k8s-getting-started.yml").read_text()), "b").specs
    assert crd == plain
    assert crd.alerting.page.labels == {"severity": "pageteam", "routing_key": "myteam"}


def test_a_multi_document_crd_file_gives_every_slo() -> None:
    docs = list(yaml.safe_load_all((PEER / "examples/k8s-multifile.yml").read_text()))
    names = [s.name for i, d in enumerate(docs) for s in load_sloth(d, "m.yml", backend="prom", index=i).specs]
    assert len(docs) == 2
    assert names == ["myservice-requests-availability", "myservice2-requests-availability"]


def test_a_query_without_the_window_placeholder_names_the_slo_and_field() -> None:
    doc = yaml.safe_load((ROOT / "tests/fixtures/specs/sloth-no-window.yaml").read_text())
    (problem,) = _problems(doc, "sloth-no-window.yaml")
    assert problem.startswith(
        "sloth-no-window.yaml: slos[0].sli.events.error_query = "
        'sum(rate(http_requests_total{job="myservice",code=~"5.."}[5m]))'
    )
    assert problem.endswith(": the query has no {{.window}} placeholder: Sloth puts each alert window there, "
                            "as in rate(x[{{.window}}])")


def test_spaces_inside_the_placeholder_are_accepted() -> None:
    doc = _example()
    events = doc["slos"][0]["sli"]["events"]
    events["error_query"] = events["error_query"].replace("{{.window}}", "{{ .window }}")
    assert load_sloth(doc, "s.yaml").specs[0].sli.ratio is not None


def test_an_untranslatable_raw_query_is_an_error_naming_it_and_the_way_out() -> None:
    doc = _example()
    query = "histogram_quantile(0.99, sum(rate(x_bucket[{{.window}}])) by (le)) > bool 0.25"
    doc["slos"][1]["sli"]["raw"]["error_ratio_query"] = query
    (problem,) = _problems(doc)
    assert problem.startswith("s.yaml: slos[1].sli.raw.error_ratio_query: ")
    assert "histogram_quantile(0.99" in problem
    assert problem.endswith("or give this file a `backend:` (a promql source) to run the queries there as written")
    assert load_sloth(doc, "s.yaml", backend="prom").specs[1].sli.query is not None


def test_a_latency_slo_in_events_form_is_a_latency_objective() -> None:
    doc = _example()
    doc["slos"][1]["sli"] = {
        "events": {
            "error_query": 'sum(rate(h_count{job="x"}[{{.window}}]))'
            ' - sum(rate(h_bucket{job="x",le="0.5"}[{{.window}}]))',
            "total_query": 'sum(rate(h_count{job="x"}[{{.window}}]))',
        }
    }
    spec = load_sloth(doc, "s.yaml").specs[1]
    assert isinstance(spec.sli.latency, LatencySLI)
    assert spec.sli.latency.threshold == 0.5


def test_an_sli_plugin_is_refused_naming_it_and_showing_the_events_form() -> None:
    doc = yaml.safe_load((PEER / "examples/plugin-getting-started.yml").read_text())
    assert _problems(doc, "p.yml") == [
        "p.yml: slos[0].sli.plugin.id = getting_started_availability: SLI plugin getting_started_availability "
        "(options job=myservice, filter=f1=\"v1\",f2=\"v2\") is Go code only Sloth runs; write the queries it "
        "generates as an events SLI instead: sli: {events: {error_query: 'sum(rate(ERRORS[{{.window}}]))', "
        "total_query: 'sum(rate(TOTAL[{{.window}}]))'}}"
    ]
    crd = yaml.safe_load((PEER / "examples/plugin-k8s-getting-started.yml").read_text())
    (problem,) = _problems(crd, "k.yml")
    assert problem.startswith("k.yml: spec.slos[0].sli.plugin.id = ")
    assert "sli: {events: {errorQuery: 'sum(rate(ERRORS[{{.window}}]))', totalQuery:" in problem


def test_slo_plugins_load_and_each_is_named_applied_or_not_with_the_reason() -> None:
    doc = yaml.safe_load((PEER / "examples/contrib-slo-plugins.yml").read_text())
    result = load_sloth(doc, "c.yml")
    assert len(result.specs) == 2
    assert [str(n) for n in result.notes] == [
        "c.yml: slos[0].plugins.chain[0].id: "
        "myservice-requests-availability-contrib-plugin-info-labels-v1: SLO plugin sloth.dev/contrib/info_labels/v1 "
        "not applied: Redline writes no sloth_slo_info series to add labels to",
        "c.yml: slos[1].plugins.chain[0].id: "
        "myservice-requests-availability-contrib-plugin-rule-intervals-v1: SLO plugin "
        "sloth.dev/contrib/rule_intervals/v1 not applied: Redline's rule groups use the ruler's evaluation interval",
    ]


def test_group_plugins_apply_to_every_slo_unless_overridden() -> None:
    doc = yaml.safe_load((PEER / "expected/in-slo-plugin.yaml").read_text())
    notes = [n.text for n in load_sloth(doc, "p.yaml").notes]
    assert len(notes) == 4  # two of the group, two of the SLO
    assert all("integration-tests/plugin1 not applied: a plugin of your own is Go code only Sloth runs" in n
               for n in notes)
    doc["slos"][0]["plugins"]["overridePrevious"] = True
    assert len(load_sloth(doc, "p.yaml").notes) == 2


def test_every_problem_of_a_document_is_listed_with_the_value_as_written() -> None:
    doc = copy.deepcopy(_example())
    doc["version"] = "prometheus/v2"
    doc["slos"][0]["objective"] = 100
    doc["slos"][0]["time_window"] = "7d"
    doc["slos"][1]["alerting"]["page_alert"]["disable"] = "yes please"
    doc.pop("service")
    assert _problems(doc) == [
        "s.yaml: version = prometheus/v2: expected prometheus/v1 (or apiVersion sloth.slok.dev/v1)",
        "s.yaml: service: required service name is missing",
        "s.yaml: slos[0].time_window: not a field of Sloth prometheus/v1 (expected one of alerting, description, "
        "labels, name, objective, plugins, sli)",
        "s.yaml: slos[0].objective = 100: expected a percentage above 0 and below 100 (99.9 for 99.9%)",
        "s.yaml: slos[1].alerting.page_alert.disable = yes please: expected true or false",
    ]


def test_a_crd_with_snake_case_alert_keys_is_read_as_written() -> None:
    """Sloth's own k8s plugin example writes page_alert in a CRD: both spellings are read in both forms."""
    doc = yaml.safe_load((PEER / "examples/k8s-getting-started.yml").read_text())
    alerting = doc["spec"]["slos"][0]["alerting"]
    alerting["page_alert"] = {**alerting.pop("pageAlert"), "disable": True}
    (spec,) = load_sloth(doc, "k.yml").specs
    assert spec.alerting.page == AlertRoleSpec(disable=True, labels={"severity": "pageteam", "routing_key": "myteam"})
    alerting["pageAlert"] = {"disabled": True}
    (problem,) = _problems(doc, "k.yml")
    assert problem == (
        "k.yml: spec.slos[0].alerting.pageAlert.disabled: not a field of Sloth PrometheusServiceLevel "
        "(sloth.slok.dev/v1) (expected one of annotations, disable, labels)"
    )


SLOTH_FILES = sorted(p for p in (PEER / "examples").iterdir() if not p.name.startswith("openslo-"))


@pytest.mark.parametrize("path", SLOTH_FILES, ids=lambda p: p.name)
def test_every_published_sloth_example_loads(path: Path) -> None:
    """With a backend every example without an SLI plugin loads (any PromQL, MetricsQL too, runs as
    written); the plugin examples are refused naming the plugin (see above)."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    if "plugin-" in path.name and "slo-plugin" not in path.name:
        assert "is Go code only Sloth runs" in _problems(docs[0], path.name, backend="prom")[0]
        return
    specs = [s for i, d in enumerate(docs) for s in load_sloth(d, path.name, backend="prom", index=i).specs]
    assert specs and all(s.sli.query is not None and s.sli.query.source == "prom" for s in specs)
