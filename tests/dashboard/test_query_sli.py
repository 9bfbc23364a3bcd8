"""A query SLI on the dashboard: its recorded answers (as the promql collector stores them) give
the ranked row, the callout and a burn-down from the store, like any objective."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from redline.config import load_config
from redline.dashboard.data import burn_down
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels
from redline.slo.query_sli import QUERY_SLI_METRIC
from redline.store.embedded import SampleStore

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
START_S = 1_698_796_800
MINUTES = 120


def write_answers(tmp_path: Path) -> Path:
    """Two hours of 1-minute collections: the 30d error ratio climbs from 0 to 0.119% (objective
    99.9%), so the budget left goes from 100% to −19%; the 1h ratio is 0.2% throughout."""
    rows = []
    for k in range(MINUTES + 1):
        t = (START_S + k * 60) * 1000
        for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "slo"):
            errors = k / 1e5 * 100 if window == "slo" else 0.2
            for side, value in (("errors", errors), ("total", 100.0)):
                labels = format_labels({"side": side, "slo": "checkout", "source": "prom", "window": window})
                rows.append((QUERY_SLI_METRIC, labels, t, value))
    SampleStore(tmp_path / "data").append(pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row"))
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        "agent: {data_dir: ./data}\n"
        "sources:\n"
        "  - {name: prom, kind: promql, url: 'http://127.0.0.1:9', interval: 1m}\n"
        "slos:\n"
        "  - name: checkout\n"
        "    objective: 99.9\n"
        "    sli:\n"
        "      query:\n"
        "        source: prom\n"
        "        errors: sum(rate(http_requests_total{code=~'5..'}[{{.window}}]))\n"
        "        total: sum(rate(http_requests_total[{{.window}}]))\n"
    )
    return cfg


def test_a_query_sli_is_ranked_and_burns_down_from_its_recorded_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_answers(tmp_path)
    end_ms = (START_S + MINUTES * 60) * 1000
    curve = burn_down(load_config(cfg), "checkout", end_ms, points=5)
    budgets = curve.get_column("budget_remaining").drop_nulls().to_list()
    assert budgets[0] == pytest.approx(1.0) and budgets[-1] == pytest.approx(1 - 0.0012 / 0.001)
    assert budgets == sorted(budgets, reverse=True)

    monkeypatch.setenv("REDLINE_CONFIG", str(cfg))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update(at=str(end_ms // 1000), objective="checkout")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    ranked = next(df.value for df in app.dataframe if "objective" in df.value.columns)
    assert list(ranked["objective"]) == ["checkout"]
    assert list(ranked["status"]) == ["breached"]
