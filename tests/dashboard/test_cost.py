"""A budget guardrail on the dashboard: its limit in currency in the table, and its showback."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from redline.config import load_config
from redline.dashboard.data import spend_curve
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import SampleStore
from tests.dashboard.page_text import page_text

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
START_S = 1_698_796_800  # 2023-11-01T00:00:00Z
HOURS = 240


def write_spend(tmp_path: Path) -> Path:
    """Two teams spending $60 and $40 an hour for ten days against a $30,000 monthly budget."""
    rows = [
        ("redline_spend_usd_total", f'team="{team}"', (START_S + h * 3600) * 1000, float(h * rate))
        for team, rate in (("ml", 60), ("search", 40))
        for h in range(HOURS + 1)
    ]
    SampleStore(tmp_path / "data").append(pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row"))
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        "agent: {data_dir: ./data}\n"
        "guardrails:\n"
        "  - name: monthly-budget\n"
        "    budget: {spend: redline_spend_usd_total, limit: 30000, showback_by: [team]}\n"
    )
    return cfg


def test_a_budget_shows_its_limit_and_who_spends_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDLINE_CONFIG", str(write_spend(tmp_path)))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update(at=str(START_S + HOURS * 3600), objective="monthly-budget")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    tables = {df.proto.id: df.value for df in app.dataframe}
    ranked = next(t for t in tables.values() if "objective" in t.columns)
    assert list(ranked["target"]) == ["$30,000"]
    showback = next(t for t in tables.values() if "team" in t.columns)
    assert list(zip(showback["team"], showback["spent"], strict=True)) == [("ml", 14_400.0), ("search", 9_600.0)]


def cost_page(cfg: Path) -> AppTest:
    def script() -> None:
        import os
        from pathlib import Path

        from redline.dashboard.views import cost

        cost.render(Path(os.environ["REDLINE_CONFIG"]))

    app = AppTest.from_function(script, default_timeout=120)
    app.query_params.update(at=str(START_S + HOURS * 3600))
    return app


def test_the_cost_page_says_when_the_run_rate_crosses_the_budget_and_who_spends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$100/h for ten days of a 30-day November: $24,000 spent; at $2,400 a day the remaining 20
    days bring the forecast to $72,000 ($42,000 over), crossing $30,000 2.5 days from now."""
    monkeypatch.setenv("REDLINE_CONFIG", str(write_spend(tmp_path)))
    app = cost_page(tmp_path / "redline.yaml")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    shown = {page_text(m.label): (m.value, page_text(m.delta)) for m in app.metric}
    assert shown["spent this period"] == ("$24,000", "of $30,000")
    assert shown["forecast at period end"] == ("$72,000", "$42,000 over")
    assert shown["crosses the limit (UTC)"] == ("Nov 13 12:00", "2d 12h")
    assert shown["run-rate"][0] == "$2,400/day"
    showback = app.dataframe[0].value
    assert list(zip(showback["team"], showback["spent"], strict=True)) == [("ml", 14_400.0), ("search", 9_600.0)]
    assert "budget $30,000 over month" in page_text(app.subheader[0].value)


def test_the_spend_curve_climbs_through_the_period_and_a_config_without_guardrails_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_spend(tmp_path)
    curve = spend_curve(load_config(cfg), "monthly-budget", (START_S + HOURS * 3600) * 1000, points=11)
    assert curve.get_column("spend").to_list() == pytest.approx([2400.0 * day for day in range(11)])
    cfg.write_text("agent: {data_dir: ./data}\nguardrails: []\n")
    monkeypatch.setenv("REDLINE_CONFIG", str(cfg))
    app = cost_page(cfg)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert "No cost guardrails are configured" in app.info[0].value


def test_a_budget_already_spent_says_so_rather_than_when_it_crosses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_spend(tmp_path)
    cfg.write_text(cfg.read_text().replace("limit: 30000", "limit: 20000"))  # $24,000 spent
    monkeypatch.setenv("REDLINE_CONFIG", str(cfg))
    app = cost_page(cfg)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    shown = {page_text(m.label): (m.value, page_text(m.delta)) for m in app.metric}
    assert shown["crosses the limit (UTC)"] == ("already over", "now")
    assert shown["spent this period"] == ("$24,000", "of $20,000")
    assert page_text(app.error[0].value).startswith("spent $24,000 of $20,000")
