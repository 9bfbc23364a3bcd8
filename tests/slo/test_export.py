"""Objectives written as OpenSLO, Sloth and Pyrra specs and read back: the meaning is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.slo.export import export_documents, render_export
from redline.slo.openslo import load_openslo
from redline.slo.pyrra import load_pyrra
from redline.slo.sloth import load_sloth
from redline.slo.spec import SLOSpec
from redline.slo.spec_source import documents

ROOT = Path(__file__).resolve().parents[2]


def _native() -> list[SLOSpec]:
    specs = load_sloth(yaml.safe_load((ROOT / "examples/sloth.yaml").read_text()), "s.yaml").specs
    specs += load_openslo(documents(yaml.safe_load_all((ROOT / "examples/openslo.yaml").read_text()), "o")).specs
    weekly = SLOSpec.model_validate({
        "name": "api-weekly", "objective": 99.5, "calendar": {"period": "week", "week_start": "sunday",
                                                             "timezone": "Europe/Paris"},
        "sli": {"ratio": {"errors": 'http_requests_total{code=~"5.."}', "total": "http_requests_total"}},
        "labels": {"team": "api"},
    })
    routes = weekly.model_copy(update={"name": "api-routes", "calendar": None, "window": 28 * 86400.0,
                                       "group_by": ("route",)})
    return [*specs, weekly, routes]


def _read_back(fmt: str, docs: list[dict[str, Any]]) -> list[SLOSpec]:
    text = yaml.safe_dump_all(docs, sort_keys=False)  # through YAML text, as a user's file would be
    loaded = [d for d in yaml.safe_load_all(text) if d is not None]
    if fmt == "openslo":
        return load_openslo(documents(loaded, "x.yaml")).specs
    load = load_sloth if fmt == "sloth" else load_pyrra
    return [s for i, d in enumerate(loaded) for s in load(d, "x.yaml", index=i).specs]


def _meaning(spec: SLOSpec, fmt: str) -> dict[str, Any]:
    """What must survive the trip: everything but what the format has no field for."""
    keep = spec.model_dump(exclude={"alerting", "runbook_url", "description", "dimension"})
    if fmt == "openslo":
        keep["tiers"] = [(t.severity, t.long_window, t.factor, t.for_) for t in spec.alerting.tiers or ()]
    if fmt == "sloth":
        keep["alerting"] = spec.alerting.model_dump()
    if fmt == "pyrra":
        keep["alerts_off"] = spec.alerting.page.disable and spec.alerting.ticket.disable
    return keep


@pytest.mark.parametrize("fmt", ["openslo", "sloth", "pyrra"])
def test_a_round_trip_keeps_the_meaning_of_every_objective_the_format_can_say(fmt: str) -> None:
    specs = _native()
    docs, skipped = export_documents(specs, fmt)  # type: ignore[arg-type]
    back = {s.name: s for s in _read_back(fmt, docs)}
    left_out = {line.split(":")[0] for line in skipped}
    assert set(back) | left_out == {s.name for s in specs} and not set(back) & left_out
    for spec in specs:
        if spec.name in back:
            assert _meaning(back[spec.name], fmt) == _meaning(spec, fmt), spec.name


def test_what_each_format_cannot_say_is_left_out_with_the_reason() -> None:
    specs = _native()
    assert export_documents(specs, "openslo")[1] == ["api-routes: OpenSLO has no grouping or maintenance windows"]
    assert export_documents(specs, "sloth")[1] == [
        "checkout-availability: Sloth's window is its 30-day default; this objective's window is another",
        "checkout-latency-fast: Sloth's window is its 30-day default; this objective's window is another",
        "checkout-latency-very-fast: Sloth's window is its 30-day default; this objective's window is another",
        "orders-table-freshness: Sloth's window is its 30-day default; this objective's window is another",
        "api-weekly: Sloth's window is its 30-day default; this objective's window is another",
        "api-routes: Sloth's window is its 30-day default; this objective's window is another",
    ]
    assert export_documents(specs, "pyrra")[1] == [
        "checkout-availability: Pyrra reads errors over total, or a latency histogram",
        "orders-table-freshness: Pyrra reads errors over total, or a latency histogram",
        "api-weekly: Pyrra's windows are rolling",
    ]


def test_openslo_export_writes_tiers_as_an_alert_policy_and_a_calendar_from_its_weekday() -> None:
    docs, _ = export_documents(_native(), "openslo")
    by_name = {d["metadata"]["name"]: d for d in docs}
    avail = by_name["checkout-availability"]["spec"]
    condition = avail["alertPolicies"][0]["spec"]["conditions"][0]["spec"]["condition"]
    assert condition == {"kind": "burnrate", "op": "gt", "threshold": 14.4, "lookbackWindow": "1h", "alertAfter": "5m"}
    weekly = by_name["api-weekly"]["spec"]["timeWindow"][0]
    assert weekly == {"duration": "1w", "isRolling": False,
                      "calendar": {"startTime": "2024-01-07 00:00:00", "timeZone": "Europe/Paris"}}


def test_a_query_slo_round_trips_through_sloth_as_written() -> None:
    specs = load_sloth(yaml.safe_load((ROOT / "examples/sloth.yaml").read_text()), "s.yaml", backend="prom").specs
    docs, skipped = export_documents(specs, "sloth")
    assert skipped == []
    back = [s for i, d in enumerate(docs) for s in load_sloth(d, "x", backend="prom", index=i).specs]
    assert [s.sli.query for s in back] == [s.sli.query for s in specs]


def test_the_rendered_stream_names_what_it_left_out() -> None:
    text = render_export(_native(), "pyrra")
    assert text.splitlines()[:2] == [
        "# Redline objectives as pyrra specs (`redline export --format pyrra`).",
        "# left out checkout-availability: Pyrra reads errors over total, or a latency histogram",
    ]
    assert len([d for d in yaml.safe_load_all(text) if d is not None]) == 5


@pytest.mark.parametrize("period", ["2w", "1d", "1h30m"])
def test_a_fixed_calendar_period_round_trips_through_openslo_from_its_start(period: str) -> None:
    spec = SLOSpec.model_validate({
        "name": "api-fixed", "objective": 99.5,
        "calendar": {"period": period, "start": "2024-01-03T12:30:00", "timezone": "America/New_York"},
        "sli": {"ratio": {"errors": 'http_requests_total{code=~"5.."}', "total": "http_requests_total"}},
    })
    docs, skipped = export_documents([spec], "openslo")
    assert skipped == []
    window = next(d for d in docs if d["kind"] == "SLO")["spec"]["timeWindow"][0]
    assert window["isRolling"] is False
    assert window["calendar"] == {"startTime": "2024-01-03 12:30:00", "timeZone": "America/New_York"}
    (back,) = _read_back("openslo", docs)
    assert _meaning(back, "openslo") == _meaning(spec.model_copy(update={"name": back.name}), "openslo")
