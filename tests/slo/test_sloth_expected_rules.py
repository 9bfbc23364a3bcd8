"""The rules Redline writes for Sloth's own integration-test specs, against the rules Sloth's tests
expect for them (tests/fixtures/peer-specs/sloth/expected/, see the README there): the same SLI
windows and error-ratio queries, the same burn-rate pairs and thresholds, the same labels.

Alert names, alert labels and disabled severities follow ``SLOSpec.alerting`` in ``redline rules``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.slo.rules import prometheus_rules, sli_windows
from redline.slo.sloth import load_sloth
from redline.slo.spec import SLOSpec

EXPECTED = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "peer-specs" / "sloth" / "expected"
CASES = [
    ("in-base.yaml", "out-base.yaml.tpl"),
    ("in-base-k8s.yaml", "out-base-k8s.yaml.tpl"),
    ("in-multifile.yaml", "out-multifile.yaml.tpl"),
    ("in-multifile-k8s.yaml", "out-multifile-k8s.yaml.tpl"),
    ("in-base.yaml", "out-base-28d.yaml.tpl"),
]  # sloth generate --default-slo-period 28d


def _specs(name: str, window_s: float | None = None) -> list[SLOSpec]:
    docs = [d for d in yaml.safe_load_all((EXPECTED / name).read_text()) if d is not None]
    return [s for i, d in enumerate(docs) for s in load_sloth(d, name, index=i, window_s=window_s).specs]


def _sloth_groups(name: str) -> dict[str, list[dict[str, Any]]]:
    """Sloth's expected rule groups by name (``sloth-slo-alerts-svc01-slo1``), the template's
    version placeholder filled in."""
    text = (EXPECTED / name).read_text().replace("{{ .version }}", "v0")
    groups: dict[str, list[dict[str, Any]]] = {}
    for doc in yaml.safe_load_all(text):
        if doc is None:
            continue
        for group in doc.get("spec", doc)["groups"]:
            groups[group["name"]] = group["rules"]
    return groups


def _redline_groups(spec: SLOSpec) -> dict[str, list[dict[str, Any]]]:
    return {g["name"]: g["rules"] for g in prometheus_rules([spec])["groups"]}


def _flat(expr: str) -> str:
    """An expression without spaces and parentheses: the same query however it is bracketed."""
    return re.sub(r"[\s()]", "", expr)


def _sloths_form(expr: str) -> str:
    """Redline's error-ratio record as Sloth writes it: Redline adds ``or vector(0)`` to the errors
    (no error series in a window is 0 errors, not a missing record) and ``> 0`` to the total (a
    window without events is not recorded, rather than recorded as NaN)."""
    flat = _flat(expr)
    assert "orvector0/" in flat and flat.endswith(">0"), expr
    return flat.replace("orvector0/", "/", 1).removesuffix(">0")


_PAIR = re.compile(r"ratio_rate(\w+)\{[^}]*\}\s*>\s*\(([\d.]+)\s*\*\s*([\d.e-]+)\)")


def _burn_pairs(expr: str) -> set[tuple[frozenset[str], float]]:
    """{({short, long}, factor × budget)}: each two-window condition of an alert expression."""
    found = _PAIR.findall(expr)
    assert found and len(found) % 2 == 0, expr
    pairs = set()
    for a, b in zip(found[::2], found[1::2], strict=True):
        assert a[1:] == b[1:], expr  # both windows of a pair against the same threshold
        pairs.add((frozenset({a[0], b[0]}), round(float(a[1]) * float(a[2]), 12)))
    return pairs


def _cases() -> list[tuple[str, str, SLOSpec]]:
    return [(i, o, s) for i, o in CASES for s in _specs(i, 28 * 86400.0 if "28d" in o else None)]


def _sloth_id(spec: SLOSpec) -> str:
    return spec.name


@pytest.mark.parametrize(("spec_file", "out_file", "spec"), _cases(), ids=lambda v: getattr(v, "name", None))
def test_sli_windows_and_queries_match_sloths(spec_file: str, out_file: str, spec: SLOSpec) -> None:
    sloth = _sloth_groups(out_file)[f"sloth-slo-sli-recordings-{_sloth_id(spec)}"]
    ours = _redline_groups(spec)[f"redline-slo-sli-{spec.name}"]
    # The burn windows by name. Sloth's group ends with the period's record, built from the 5m one
    # (sum_over_time / count_over_time); Redline records it in its own group, from the same 5m
    # record (see test_the_period_record_is_named_as_sloth_names_it). Every burn window is the
    # spec's query with the window set, as Sloth writes it.
    assert [r["record"] for r in ours] == [r["record"] for r in sloth][:-1]
    assert [f"slo:sli_error:ratio_rate{w}" for w in sli_windows(spec)][:-1] == [r["record"] for r in sloth][:-1]
    for mine, theirs in zip(ours, sloth[:-1], strict=True):
        assert _sloths_form(mine["expr"]) == _flat(theirs["expr"])


@pytest.mark.parametrize(("spec_file", "out_file", "spec"), _cases(), ids=lambda v: getattr(v, "name", None))
def test_record_labels_match_sloths_besides_the_id_labels(spec_file: str, out_file: str, spec: SLOSpec) -> None:
    sloth = _sloth_groups(out_file)[f"sloth-slo-sli-recordings-{_sloth_id(spec)}"]
    ours = _redline_groups(spec)[f"redline-slo-sli-{spec.name}"]
    for mine, theirs in zip(ours, sloth[:-1], strict=True):
        assert {k: v for k, v in mine["labels"].items() if k != "slo"} == {
            k: v for k, v in theirs["labels"].items() if not k.startswith("sloth_")
        }


def _alerts(groups: dict[str, list[dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return groups.get(name, [])


@pytest.mark.parametrize(("spec_file", "out_file", "spec"), _cases(), ids=lambda v: getattr(v, "name", None))
def test_burn_rate_windows_and_thresholds_match_sloths(spec_file: str, out_file: str, spec: SLOSpec) -> None:
    sloth = _alerts(_sloth_groups(out_file), f"sloth-slo-alerts-{_sloth_id(spec)}")
    if not sloth:  # both severities disabled: nothing to compare thresholds with
        assert spec.alerting.page.disable and spec.alerting.ticket.disable
        return
    ours = _alerts(_redline_groups(spec), f"redline-slo-alerts-{spec.name}")
    by_severity = {a["labels"]["sloth_severity"]: _burn_pairs(a["expr"]) for a in sloth}
    assert {a["labels"]["severity"]: _burn_pairs(a["expr"]) for a in ours} == by_severity
    if spec.objective == 99.9:  # 14.4× and 6× for 30 days; 13.44× and 5.6× for 28 (the same budget shares)
        factors = (14.4, 6.0) if spec.window == 30 * 86400.0 else (13.44, 5.6)
        assert by_severity["page"] == {
            (frozenset({"5m", "1h"}), round(factors[0] * 0.001, 12)),
            (frozenset({"30m", "6h"}), round(factors[1] * 0.001, 12)),
        }


@pytest.mark.parametrize(("spec_file", "out_file", "spec"), _cases(), ids=lambda v: getattr(v, "name", None))
def test_alert_names_and_labels_match_sloths(spec_file: str, out_file: str, spec: SLOSpec) -> None:
    sloth = _alerts(_sloth_groups(out_file), f"sloth-slo-alerts-{_sloth_id(spec)}")
    ours = _alerts(_redline_groups(spec), f"redline-slo-alerts-{spec.name}")
    assert [a["alert"] for a in ours] == [a["alert"] for a in sloth]  # none when both are disabled
    for mine, theirs in zip(ours, sloth, strict=True):
        wanted = {k: v for k, v in theirs["labels"].items() if k != "sloth_severity"}
        assert wanted.items() <= mine["labels"].items()
        assert {k: v for k, v in theirs["annotations"].items() if k not in ("summary", "title")}.items() <= (
            mine["annotations"].items()
        )


def test_the_specs_carry_sloths_alert_identity() -> None:
    """What the rules need is loaded: names, labels per role, annotations, disabled roles."""
    slo1, slo02 = _specs("in-base.yaml")
    sloth = _sloth_groups("out-base.yaml.tpl")["sloth-slo-alerts-svc01-slo1"]
    page, ticket = sloth
    assert slo1.alerting.name == page["alert"] == ticket["alert"] == "myServiceAlert"
    assert {**slo1.alerting.labels, **slo1.alerting.page.labels, "sloth_severity": "page"} == page["labels"]
    assert {**slo1.alerting.labels, **slo1.alerting.ticket.labels, "sloth_severity": "ticket"} == ticket["labels"]
    assert slo1.alerting.annotations.items() <= page["annotations"].items()
    assert slo02.alerting.page.disable and slo02.alerting.ticket.disable
    assert "sloth-slo-alerts-svc01-slo02" not in _sloth_groups("out-base.yaml.tpl")


def test_the_period_record_is_named_as_sloth_names_it() -> None:
    spec = _specs("in-base.yaml", 28 * 86400.0)[0]
    sloth = _sloth_groups("out-base-28d.yaml.tpl")[f"sloth-slo-sli-recordings-{spec.name}"]
    # Redline records the period ratio in its meta group (it reads the 5m record, so it is
    # backfilled after the SLI group), named as Sloth names it: 28 days in Prometheus's spelling.
    groups = {g["name"]: g["rules"] for g in prometheus_rules([spec], fmt="sloth")["groups"]}
    meta = groups[f"redline-slo-meta-{spec.name}"]
    ours = [r for r in meta if r["record"].startswith("slo:sli_error:ratio_rate")]
    assert [r["record"] for r in ours] == [sloth[-1]["record"]] == ["slo:sli_error:ratio_rate4w"]
    assert ours[0]["expr"] == f'avg_over_time(slo:sli_error:ratio_rate5m{{slo="{spec.name}"}}[4w])'
    assert ours[0]["labels"]["sloth_window"] == sloth[-1]["labels"]["sloth_window"] == "4w"
    budget = {r["record"]: r["expr"] for r in groups[f"redline-slo-budget-{spec.name}"]}
    assert "slo:sli_error:ratio_rate4w" in budget["slo:period_burn_rate:ratio"]
