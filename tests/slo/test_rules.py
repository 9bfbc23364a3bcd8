"""Prometheus recording and alerting rules exported for Redline's objectives."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.kernel.errors import ConfigError
from redline.kernel.units import parse_duration, prometheus_duration
from redline.slo.openslo import load_openslo
from redline.slo.rules import le_spellings, prometheus_rules, render_rules_yaml
from redline.slo.sloth import load_sloth
from redline.slo.spec import BURN_WINDOWS, SLOSpec
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
    assert r["expr"] == (
        '(sum(rate(requests_total{code=~"5.."}[1h])) or vector(0)) / (sum(rate(requests_total[1h])) > 0)'
    )
    assert r["labels"] == {"team": "core", "slo": "api-availability"}
    assert r["group"] == "redline-slo-sli-api-availability"


def test_good_selector_ratio_is_one_minus_good_over_total() -> None:
    assert _rules(SUCCESS)["slo:sli_error:ratio_rate3d"]["expr"] == (
        '1 - ((sum(rate(requests_total{code!~"5.."}[3d])) or vector(0)) / (sum(rate(requests_total[3d])) > 0))'
    )


def test_the_period_ratio_averages_the_recorded_5m_ratio_as_sloth_does_not_a_raw_rate() -> None:
    period = _rules(SUCCESS)["slo:sli_error:ratio_rate1w"]  # 7d as Prometheus (and Sloth) spell it
    assert period["expr"] == 'avg_over_time(slo:sli_error:ratio_rate5m{slo="api-success"}[1w])'
    assert period["group"] == "redline-slo-meta-api-success"  # reads a record: not in the backfillable SLI group
    # a period that is a burn window (1d) is recorded once, from raw series
    assert _rules(LATENCY)["slo:sli_error:ratio_rate1d"]["group"] == "redline-slo-sli-api-latency"


def test_latency_matches_every_usual_spelling_of_the_bucket_bound() -> None:
    rules = _rules(LATENCY)
    assert "slo:sli_error:ratio_rate1d" in rules and len([k for k in rules if "sli_error" in k]) == 7
    assert rules["slo:sli_error:ratio_rate5m"]["expr"] == (
        '1 - (sum(rate(lat_seconds_bucket{job="api",le=~"1|1\\\\.0|1\\\\.00"}[5m]))'
        ' / (sum(rate(lat_seconds_bucket{job="api",le="+Inf"}[5m])) > 0))'
    )
    pattern = re.compile(r"(?:1|1\.0|1\.00)\Z")
    assert [bool(pattern.match(s)) for s in ("1", "1.0", "1.00", "10", "1e+00")] == [True, True, True, False, False]


def test_le_spellings_cover_go_python_and_padded_forms() -> None:
    assert le_spellings(0.25) == ["0.25", "0.250"]
    assert le_spellings(10.0) == ["10", "10.0", "10.00"]
    assert le_spellings(1e-05) == ["1e-05"]
    assert le_spellings(float("inf")) == ["+Inf"]


def test_budget_records_follow_sloths_names() -> None:
    rules = _rules(AVAIL)
    groups = ("redline-slo-meta-", "redline-slo-budget-")
    exprs = {k: v["expr"] for k, v in rules.items() if v["group"].startswith(groups)}
    assert exprs == {
        "slo:sli_error:ratio_rate30d": 'avg_over_time(slo:sli_error:ratio_rate5m{slo="api-availability"}[30d])',
        "slo:objective:ratio": "vector(0.999)",
        "slo:error_budget:ratio": "vector(0.001)",
        "slo:time_period:days": "vector(30)",
        "slo:current_burn_rate:ratio": 'slo:sli_error:ratio_rate5m{slo="api-availability"} / 0.001',
        "slo:period_burn_rate:ratio": 'slo:sli_error:ratio_rate30d{slo="api-availability"} / 0.001',
        "slo:period_error_budget_remaining:ratio": '1 - slo:sli_error:ratio_rate30d{slo="api-availability"} / 0.001',
    }
    # the budget records read the period ratio, which the meta group records: a group of their own
    assert rules["slo:period_burn_rate:ratio"]["group"] == "redline-slo-budget-api-availability"


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
    assert "for" not in page  # the default tiers fire at once
    # a 7-day objective takes Sloth's 7d tiers: 8% in 1 h is 13.44x, 42% in 3 d is 0.98x
    ticket = _rules(SUCCESS)["alert/ticket"]["expr"]
    assert "ratio_rate1d{slo=\"api-success\"} > (1.4 * 0.01)" in ticket
    assert "ratio_rate3d{slo=\"api-success\"} > (0.98 * 0.01)" in ticket
    assert "(13.44 * 0.01)" in _rules(SUCCESS)["alert/page"]["expr"]


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


@pytest.mark.parametrize("fmt", ["redline", "sloth"])
def test_rendered_rules_pass_promtool_check(tmp_path: Path, fmt: str) -> None:
    specs = [AVAIL, SUCCESS, LATENCY, FRESH]
    specs += load_sloth(yaml.safe_load((ROOT / "examples/sloth.yaml").read_text()), "sloth.yaml").specs
    openslo = yaml.safe_load_all((ROOT / "examples/openslo.yaml").read_text())
    specs += load_openslo(documents(openslo, "openslo.yaml")).specs
    # The same Sloth file run as written on a backend: its queries recorded as they stand.
    queried = load_sloth(yaml.safe_load((ROOT / "examples/sloth.yaml").read_text()), "sloth.yaml", backend="prom")
    specs += [s.model_copy(update={"name": s.name + "-query"}) for s in queried.specs]
    path = tmp_path / "rules.yml"
    path.write_text(render_rules_yaml(specs, fmt))  # type: ignore[arg-type]
    done = subprocess.run(["/usr/bin/promtool", "check", "rules", str(path)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    expected = sum(len(g["rules"]) for g in prometheus_rules(specs, fmt)["groups"])  # type: ignore[arg-type]
    assert f"SUCCESS: {expected} rules found" in done.stdout.decode()


def test_objectives_of_kinds_without_a_translation_are_skipped_and_named() -> None:
    through = _spec(name="rows-per-hour", objective=99.0,
                    sli={"throughput": {"counter": "rows_total", "min_rate": 1000, "per": "1h"}})
    assert [g["name"] for g in prometheus_rules([through, AVAIL])["groups"]] == [
        "redline-slo-sli-api-availability", "redline-slo-meta-api-availability", "redline-slo-budget-api-availability",
        "redline-slo-alerts-api-availability",
    ]
    assert render_rules_yaml([through]).splitlines()[1] == (
        "# skipped rows-per-hour: its kind (throughput) has no Prometheus rule translation yet "
        "(ratio, latency, freshness and query SLIs only)"
    )


def test_burn_windows_are_spelt_alike_by_prometheus_so_remote_write_and_rules_name_the_same_series() -> None:
    # Remote write out names slo:sli_error:ratio_rate<W> after the engine's burn windows; the
    # rules spell windows as Prometheus does. Both name every burn window the same way.
    assert [prometheus_duration(parse_duration(w)) for w in BURN_WINDOWS] == list(BURN_WINDOWS)
