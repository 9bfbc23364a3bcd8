"""`redline rules`: calendar objectives, an objective's alerting spec (name, labels, annotations,
disabled roles, custom tiers with for/keep_firing_for) and the Sloth format's metadata."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from redline.slo.rules import prometheus_rules, render_rules_yaml, sloth_identity
from redline.slo.spec import SLOSpec

RATIO = {"ratio": {"errors": 'req_total{code="500"}', "total": "req_total"}}
CUSTOM_TIERS = [
    {"severity": "page", "long_window": "1h", "short_window": "5m", "factor": 14.4, "for": "2m"},
    {"severity": "page", "long_window": "4h", "short_window": "20m", "budget_share": 0.05, "for": "10m",
     "keep_firing_for": "15m"},
]


def spec(**extra: Any) -> SLOSpec:
    return SLOSpec.model_validate({"name": "api", "objective": 99.9, "sli": RATIO, **extra})


def rules_of(s: SLOSpec, fmt: str = "redline") -> list[dict[str, Any]]:
    return [r for g in prometheus_rules([s], fmt)["groups"] for r in g["rules"]]  # type: ignore[arg-type]


def records(s: SLOSpec, fmt: str = "redline") -> dict[str, dict[str, Any]]:
    return {r["record"]: r for r in rules_of(s, fmt) if "record" in r}


def alerts(s: SLOSpec, fmt: str = "redline") -> list[dict[str, Any]]:
    return [r for r in rules_of(s, fmt) if "alert" in r]


def promtool_check(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rules.yml"
    path.write_text(text)
    done = subprocess.run(["/usr/bin/promtool", "check", "rules", str(path)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    return done.stdout.decode()


def test_a_calendar_month_gets_rolling_burn_rate_rules_whose_factor_follows_the_months_days() -> None:
    month = spec(calendar={"period": "month"})
    recs = records(month)
    assert [k for k in recs if k.startswith("slo:sli_error")][-1] == "slo:sli_error:ratio_rate30d"
    assert recs["slo:time_period:days"]["expr"] == "days_in_month()"
    (page, _ticket) = alerts(month)
    # 2% of a month's budget in 1 h: 0.02 × 24 h per day × days_in_month() — 14.4× in a 30-day month
    assert "> (0.00048 * scalar(days_in_month()))" in page["expr"]
    assert "each calendar month" in page["annotations"]["description"]
    text = render_rules_yaml([month])
    assert "# api: calendar month: the burn-rate records and alerts are rolling" in text
    assert "over a rolling 30d (PromQL has no window starting at the period start)" in text


def test_a_calendar_week_uses_sloths_7d_tiers() -> None:
    (page, _ticket) = alerts(spec(calendar={"period": "week"}))
    assert "> (13.44 * 0.001)" in page["expr"] and "> (3.5 * 0.001)" in page["expr"]


def test_alerting_name_labels_and_annotations_reach_the_alerts_and_a_disabled_role_has_no_rule() -> None:
    s = spec(
        runbook_url="https://runbooks/api",
        alerting={
            "name": "ApiHighErrorRate",
            "labels": {"category": "availability"},
            "annotations": {"summary": "High error rate on api"},
            "page": {"labels": {"severity": "pageteam", "routing_key": "core"}, "annotations": {"title": "page"}},
            "ticket": {"disable": True},
        },
    )
    (page,) = alerts(s)
    assert page["alert"] == "ApiHighErrorRate"
    assert page["labels"] == {"slo": "api", "category": "availability", "severity": "pageteam", "routing_key": "core"}
    assert page["annotations"]["summary"] == "High error rate on api"
    assert page["annotations"]["title"] == "page"
    assert page["annotations"]["runbook_url"] == "https://runbooks/api"


def test_custom_tiers_bring_their_for_keep_firing_for_and_windows() -> None:
    s = spec(
        alerting={
            "tiers": [
                *CUSTOM_TIERS,
                {"severity": "ticket", "long_window": "1d", "short_window": "2h", "factor": 3, "disable": True},
            ]
        }
    )
    fast, slow = alerts(s)
    # a tier that sets no keep_firing_for keeps firing one short window (slo.alert_tiers), as the agent does
    assert (fast["for"], fast["keep_firing_for"], fast["labels"]["burn_windows"]) == ("2m", "5m", "1h")
    assert (slow["for"], slow["keep_firing_for"], slow["labels"]["burn_windows"]) == ("10m", "15m", "4h")
    assert fast["expr"] == (
        '(slo:sli_error:ratio_rate1h{slo="api"} > (14.4 * 0.001)'
        ' and slo:sli_error:ratio_rate5m{slo="api"} > (14.4 * 0.001))'
    )
    # 5% of 30 days in 4 h is 9×; its windows are recorded although they are no burn window of Redline's
    assert "> (9 * 0.001)" in slow["expr"]
    assert {"slo:sli_error:ratio_rate4h", "slo:sli_error:ratio_rate20m"} <= set(records(s))


def test_sloth_format_carries_sloths_labels_windows_severity_and_info() -> None:
    s = SLOSpec.model_validate(
        {
            "name": "myservice-requests-availability",
            "objective": 99.9,
            "sli": RATIO,
            "labels": {"owner": "myteam", "service": "myservice"},
        }
    )
    assert sloth_identity(s) == {
        "sloth_id": "myservice-requests-availability",
        "sloth_service": "myservice",
        "sloth_slo": "requests-availability",
    }
    recs = records(s, "sloth")
    assert recs["slo:sli_error:ratio_rate5m"]["labels"] == {
        "owner": "myteam",
        "service": "myservice",
        "slo": "myservice-requests-availability",
        "sloth_id": "myservice-requests-availability",
        "sloth_service": "myservice",
        "sloth_slo": "requests-availability",
        "sloth_window": "5m",
    }
    assert recs["slo:sli_error:ratio_rate30d"]["labels"]["sloth_window"] == "30d"
    assert "sloth_window" not in recs["slo:objective:ratio"]["labels"]
    assert recs["sloth_slo_info"]["labels"]["sloth_objective"] == "99.9"
    page = alerts(s, "sloth")[0]
    assert page["labels"]["sloth_severity"] == "page"
    assert (
        'max(slo:sli_error:ratio_rate1h{slo="myservice-requests-availability"} > (14.4 * 0.001)) without (sloth_window)'
        in page["expr"]
    )
    assert "sloth_slo_info" not in records(s)  # not in the default format


@pytest.mark.parametrize("fmt", ["redline", "sloth"])
def test_every_shape_passes_promtool_check_rules(tmp_path: Path, fmt: str) -> None:
    specs = [
        spec(name="rolling"),
        spec(name="month", calendar={"period": "month"}),
        spec(name="week", calendar={"period": "week"}, objective=99.0),
        spec(name="quarter", calendar={"period": "quarter"}),
        spec(
            name="custom",
            alerting={
                "name": "Custom",
                "ticket": {"disable": True},
                "tiers": CUSTOM_TIERS,
            },
        ),
        SLOSpec.model_validate(
            {
                "name": "fresh",
                "objective": 99.0,
                "window": "7d",
                "sli": {
                    "freshness": {"last_success": 'etl_last_success{table="orders"}', "max_age": "2h", "slice": "5m"}
                },
            }
        ),
    ]
    out = promtool_check(tmp_path, render_rules_yaml(specs, fmt))  # type: ignore[arg-type]
    expected = sum(len(g["rules"]) for g in prometheus_rules(specs, fmt)["groups"])  # type: ignore[arg-type]
    assert f"SUCCESS: {expected} rules found" in out


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="rules format must be one of redline, sloth, got 'pyrra'"):
        prometheus_rules([spec()], "pyrra")  # type: ignore[arg-type]


def test_a_fixed_calendar_period_records_its_length_as_prometheus_spells_it_and_promtool_accepts_it(
    tmp_path: Path,
) -> None:
    fortnight = spec(calendar={"period": "2w", "start": "2024-01-01T12:00:00", "timezone": "Europe/Paris"})
    recs = records(fortnight)
    assert recs["slo:sli_error:ratio_rate2w"]["expr"] == 'avg_over_time(slo:sli_error:ratio_rate5m{slo="api"}[2w])'
    assert recs["slo:time_period:days"]["expr"] == "vector(14)"
    (page, _ticket) = alerts(fortnight)
    assert "each 2w from 2024-01-01T12:00:00" in page["annotations"]["description"]
    text = render_rules_yaml([fortnight])
    assert "# api: calendar 2w: the burn-rate records and alerts are rolling" in text
    promtool_check(tmp_path, text)
