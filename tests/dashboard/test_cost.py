"""A budget guardrail on the dashboard: its limit in currency in the table, and its showback."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from store.embedded import SampleStore
from store.types import SAMPLE_SCHEMA

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
