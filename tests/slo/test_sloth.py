"""Sloth prometheus/v1 specs loaded into Redline objectives."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.kernel.errors import ConfigError
from redline.slo.engine import SLOEvaluator
from redline.slo.sloth import load_sloth
from redline.slo.spec import LatencySLI

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sloth.yaml"


def _example() -> dict[str, Any]:
    doc = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(doc, dict)
    return doc


def test_the_example_loads_into_two_objectives_named_service_dash_slo() -> None:
    result = load_sloth(_example(), "examples/sloth.yaml")
    avail, latency = result.specs
    assert (avail.name, avail.objective, avail.window) == ("myservice-requests-availability", 99.9, 30 * 86400.0)
    assert avail.sli.ratio is not None
    assert str(avail.sli.ratio.errors) == 'http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}'
    assert str(avail.sli.ratio.total) == 'http_request_duration_seconds_count{job="myservice"}'
    assert avail.labels == {"owner": "myteam", "repo": "myorg/myservice", "tier": "2", "category": "availability"}
    assert avail.runbook_url == "https://runbooks.example.com/myservice/availability"
    assert latency.name == "myservice-requests-latency"
    assert latency.sli.latency is not None
    assert (str(latency.sli.latency.histogram), latency.sli.latency.threshold) == (
        'http_request_duration_seconds{job="myservice"}', 0.25,
    )
    SLOEvaluator(result.specs)  # the engine accepts them


def test_alert_settings_an_objective_cannot_hold_are_returned_as_notes() -> None:
    notes = load_sloth(_example(), "examples/sloth.yaml").notes
    assert len(notes) == 2
    assert notes[0].startswith("examples/sloth.yaml: myservice-requests-availability: slos[0] (requests-availability)")
    assert "name 'MyServiceHighErrorRate'" in notes[0]
    assert "'routing_key': 'myteam'" in notes[0]
    assert "'slack_channel': '#alerts-myteam'" in notes[0]
    assert "page_alert {'disable': True}" in notes[1]


def test_a_query_without_the_window_placeholder_names_the_slo_and_field() -> None:
    doc = yaml.safe_load((ROOT / "tests/fixtures/specs/sloth-no-window.yaml").read_text())
    with pytest.raises(ConfigError) as err:
        load_sloth(doc, "sloth-no-window.yaml")
    assert str(err.value).startswith(
        "sloth-no-window.yaml: slos[0] (requests-availability).sli.events.error_query: query "
    )
    assert "has no {{.window}} placeholder" in str(err.value)


def test_spaces_inside_the_placeholder_are_accepted() -> None:
    doc = _example()
    events = doc["slos"][0]["sli"]["events"]
    events["error_query"] = events["error_query"].replace("{{.window}}", "{{ .window }}")
    assert load_sloth(doc, "s.yaml").specs[0].sli.ratio is not None


def test_an_untranslatable_raw_query_is_an_error_naming_it() -> None:
    doc = _example()
    query = "histogram_quantile(0.99, sum(rate(x_bucket[{{.window}}])) by (le)) > bool 0.25"
    doc["slos"][1]["sli"]["raw"]["error_ratio_query"] = query
    with pytest.raises(ConfigError) as err:
        load_sloth(doc, "s.yaml")
    assert str(err.value).startswith("s.yaml: slos[1] (requests-latency).sli.raw: ")
    assert "histogram_quantile(0.99" in str(err.value)


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


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(version="prometheus/v2"), "s.yaml: version: expected 'prometheus/v1', got 'prometheus/v2'"),
        (lambda d: d["slos"][0]["sli"].update(plugin={"id": "x"}),
         "s.yaml: slos[0] (requests-availability).sli: expected exactly one of events, raw, plugin"),
        (lambda d: d["slos"][0].update(sli={"plugin": {"id": "sloth-common/availability"}}),
         "s.yaml: slos[0] (requests-availability).sli.plugin: SLI plugins are Go code"),
        (lambda d: d["slos"][0].update(objective=100),
         "s.yaml: slos[0] (requests-availability).objective: Input should be less than 100"),
        (lambda d: d["slos"][0].update(time_window="7d"),
         "s.yaml: slos[0] (requests-availability).time_window: not a Sloth prometheus/v1 field Redline reads"),
        (lambda d: d.pop("service"), "s.yaml: service: required service name is missing"),
    ],
)
def test_what_redline_cannot_honour_is_an_error_naming_the_field(edit: Any, message: str) -> None:
    doc = copy.deepcopy(_example())
    edit(doc)
    with pytest.raises(ConfigError) as err:
        load_sloth(doc, "s.yaml")
    assert str(err.value).startswith(message)
