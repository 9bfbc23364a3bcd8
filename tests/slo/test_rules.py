"""Prometheus recording and alerting rules exported for Redline's objectives."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.kernel.errors import ConfigError
from redline.slo.openslo import load_openslo
from redline.slo.rules import le_spellings, prometheus_rules, render_rules_yaml
from redline.slo.sloth import load_sloth
from redline.slo.spec import SLOSpec
from redline.slo.spec_source import documents

ROOT = Path(__file__).resolve().parents[2]


def _spec(**kw: Any) -> SLOSpec:
    return SLOSpec.model_validate(kw)


AVAIL = _spec(
    name="api-availability", objective=99.9, labels={"team": "core"}, runbook_url="https://runbooks/api",
    sli={"ratio": {"errors": 'requests_total{code=~"5.."}', "total": "requests_total"}},
)
SUCCESS = _spec(name="api-success", objective=99.0, window="7d",
                sli={"ratio": {"good": 'requests_total{code!~"5.."}', "total": "requests_total"}})
LATENCY = _spec(name="api-latency", objective=99.0, window="1d",
                sli={"latency": {"histogram": 'lat_seconds{job="api"}', "threshold": "1s"}})
FRESH = _spec(name="orders-fresh", objective=99.0, window="7d",
              sli={"freshness": {"last_success": 'etl_last_success{table="orders"}', "max_age": "2h", "slice": "5m"}})


def _rules(spec: SLOSpec) -> dict[str, dict[str, Any]]:
    """Rules of one objective by record name (alerts by ``alert/severity``)."""
    out: dict[str, dict[str, Any]] = {}
    for group in prometheus_rules([spec])["groups"]:
        for rule in group["rules"]:
            key = rule.get("record") or f"alert/{rule['labels']['severity']}"
            out[key] = {**rule, "group": group["name"]}
    return out


def test_ratio_objective_records_error_ratio_for_every_burn_window_and_its_own() -> None:
    rules = _rules(AVAIL)
    windows = [k.removeprefix("slo:sli_error:ratio_rate") for k in rules if k.startswith("slo:sli_error")]
    assert windows == ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    r = rules["slo:sli_error:ratio_rate1h"]
    assert r["expr"] == 'sum(rate(requests_total{code=~"5.."}[1h])) / sum(rate(requests_total[1h]))'
    assert r["labels"] == {"team": "core", "slo": "api-availability"}
    assert r["group"] == "redline-slo-sli-api-availability"


def test_good_selector_ratio_is_one_minus_good_over_total() -> None:
    assert _rules(SUCCESS)["slo:sli_error:ratio_rate7d"]["expr"] == (
        '1 - (sum(rate(requests_total{code!~"5.."}[7d])) / sum(rate(requests_total[7d])))'
    )


def test_latency_matches_every_usual_spelling_of_the_bucket_bound() -> None:
    rules = _rules(LATENCY)
    assert "slo:sli_error:ratio_rate1d" in rules and len([k for k in rules if "sli_error" in k]) == 7
    assert rules["slo:sli_error:ratio_rate5m"]["expr"] == (
        '1 - (sum(rate(lat_seconds_bucket{job="api",le=~"1|1\\\\.0|1\\\\.00"}[5m]))'
        ' / sum(rate(lat_seconds_bucket{job="api",le="+Inf"}[5m])))'
    )
    pattern = re.compile(r"(?:1|1\.0|1\.00)\Z")
    assert [bool(pattern.match(s)) for s in ("1", "1.0", "1.00", "10", "1e+00")] == [True, True, True, False, False]


def test_le_spellings_cover_go_python_and_padded_forms() -> None:
    assert le_spellings(0.25) == ["0.25", "0.250"]
    assert le_spellings(10.0) == ["10", "10.0", "10.00"]
    assert le_spellings(1e-05) == ["1e-05"]
    assert le_spellings(float("inf")) == ["+Inf"]


def test_budget_remaining_and_objective_are_recorded() -> None:
    rules = _rules(AVAIL)
    assert rules["slo:objective:ratio"]["expr"] == "vector(0.999)"
    assert rules["slo:error_budget:remaining"]["expr"] == (
        '1 - (slo:sli_error:ratio_rate30d{slo="api-availability"} / 0.001)'
    )
    assert rules["slo:error_budget:remaining"]["group"] == "redline-slo-meta-api-availability"


def test_alerts_use_the_workbook_factors_for_the_objective_window() -> None:
    page = _rules(AVAIL)["alert/page"]
    assert page["alert"] == "SLOErrorBudgetBurnPage"
    assert page["expr"] == (
        '(slo:sli_error:ratio_rate1h{slo="api-availability"} > (14.4 * 0.001)'
        ' and slo:sli_error:ratio_rate5m{slo="api-availability"} > (14.4 * 0.001))\n  or\n'
        '(slo:sli_error:ratio_rate6h{slo="api-availability"} > (6 * 0.001)'
        ' and slo:sli_error:ratio_rate30m{slo="api-availability"} > (6 * 0.001))'
    )
    assert page["labels"] == {"team": "core", "slo": "api-availability", "severity": "page"}
    assert page["annotations"]["runbook_url"] == "https://runbooks/api"
    # a 7-day objective: 2% in 1 h is 3.36x, 10% in 3 d is 0.2333x
    ticket = _rules(SUCCESS)["alert/ticket"]["expr"]
    assert "ratio_rate1d{slo=\"api-success\"} > (0.7 * 0.01)" in ticket
    assert "ratio_rate3d{slo=\"api-success\"} > (0.2333333333 * 0.01)" in ticket
    assert "(3.36 * 0.01)" in _rules(SUCCESS)["alert/page"]["expr"]


def test_freshness_records_age_and_stale_indicator_once_per_slice() -> None:
    rules = _rules(FRESH)
    assert rules["slo:freshness_age:seconds"]["expr"] == 'time() - min(etl_last_success{table="orders"})'
    assert rules["slo:freshness_bad:bool"]["expr"] == '(time() - min(etl_last_success{table="orders"})) > bool 7200'
    assert rules["slo:sli_error:ratio_rate6h"]["expr"] == (
        'avg_over_time(slo:freshness_bad:bool{slo="orders-fresh"}[6h])'
    )
    assert rules["slo:sli_error:ratio_rate6h"]["group"] == "redline-slo-meta-orders-fresh"
    sli_group = prometheus_rules([FRESH])["groups"][0]
    assert (sli_group["name"], sli_group["interval"]) == ("redline-slo-sli-orders-fresh", "5m")


def test_a_label_prometheus_cannot_hold_is_an_error_naming_the_objective() -> None:
    bad = _spec(name="x", objective=99.0, labels={"team-name": "a"}, sli=AVAIL.sli.model_dump())
    with pytest.raises(ConfigError, match=r"objective 'x': labels \['team-name'\] are not valid"):
        prometheus_rules([bad])


def test_rendered_rules_pass_promtool_check(tmp_path: Path) -> None:
    specs = [AVAIL, SUCCESS, LATENCY, FRESH]
    specs += load_sloth(yaml.safe_load((ROOT / "examples/sloth.yaml").read_text()), "sloth.yaml").specs
    openslo = yaml.safe_load_all((ROOT / "examples/openslo.yaml").read_text())
    specs += load_openslo(documents(openslo, "openslo.yaml")).specs
    # The same Sloth file run as written on a backend: its queries recorded as they stand.
    queried = load_sloth(yaml.safe_load((ROOT / "examples/sloth.yaml").read_text()), "sloth.yaml", backend="prom")
    specs += [s.model_copy(update={"name": s.name + "-query"}) for s in queried.specs]
    path = tmp_path / "rules.yml"
    path.write_text(render_rules_yaml(specs))
    done = subprocess.run(["/usr/bin/promtool", "check", "rules", str(path)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    expected = sum(len(g["rules"]) for g in prometheus_rules(specs)["groups"])
    assert f"SUCCESS: {expected} rules found" in done.stdout.decode()


def test_objectives_of_kinds_without_a_translation_are_skipped_and_named() -> None:
    through = _spec(name="rows-per-hour", objective=99.0,
                    sli={"throughput": {"counter": "rows_total", "min_rate": 1000, "per": "1h"}})
    assert [g["name"] for g in prometheus_rules([through, AVAIL])["groups"]] == [
        "redline-slo-sli-api-availability", "redline-slo-meta-api-availability", "redline-slo-alerts-api-availability",
    ]
    assert render_rules_yaml([through]).splitlines()[1] == (
        "# skipped rows-per-hour: its kind (throughput) has no Prometheus rule translation yet "
        "(ratio, latency, freshness only)"
    )
