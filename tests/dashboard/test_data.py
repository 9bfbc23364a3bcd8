"""dashboard.data on a real store: a grouped objective's member burns down over its own window,
and a budget's spend curve is empty, not a row of nulls, before anything is spent."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from redline.config import load_config
from redline.dashboard.data import burn_down, spend_curve
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import SampleStore

START_S = 1_698_796_800  # 2023-11-01T00:00:00Z
HOURS = 48


def test_a_grouped_members_burn_down_spans_its_window(tmp_path: Path) -> None:
    """Two models, 100 requests an hour each; model b fails 1 in 100 throughout: its budget
    (99.9%) is spent at 10× the even pace, so it falls the whole way down."""
    rows = []
    for h in range(HOURS + 1):
        for model, fail in (("a", 0), ("b", 1)):
            t = (START_S + h * 3600) * 1000
            rows.append(("requests_total", f'code="200",model="{model}"', t, float(h * (100 - fail))))
            rows.append(("requests_total", f'code="500",model="{model}"', t, float(h * fail)))
    SampleStore(tmp_path / "data").append(pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row"))
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        "agent: {data_dir: ./data}\n"
        "slos:\n"
        "  - name: inference\n"
        "    objective: 99.9\n"
        "    group_by: [model]\n"
        "    sli: {ratio: {errors: 'requests_total{code=\"500\"}', total: requests_total}}\n"
    )
    curve = burn_down(load_config(cfg), 'inference{model="b"}', (START_S + HOURS * 3600) * 1000, points=10)
    assert curve.height == 10
    budgets = curve.get_column("budget_remaining").drop_nulls().to_list()
    assert budgets[-1] == pytest.approx(1 - 0.01 / 0.001)


def test_a_budget_with_nothing_spent_this_period_has_no_spend_curve(tmp_path: Path) -> None:
    """Spend stopped in October: November (the period at the instant asked) has none yet."""
    rows = [("redline_spend_usd_total", 'team="ml"', (START_S - 86400 * d) * 1000, float(100 - d)) for d in range(1, 5)]
    SampleStore(tmp_path / "data").append(pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row"))
    cfg = tmp_path / "redline.yaml"
    cfg.write_text("agent: {data_dir: ./data}\nguardrails:\n  - name: b\n"
                   "    budget: {spend: redline_spend_usd_total, limit: 1000}\n")
    curve = spend_curve(load_config(cfg), "b", (START_S + 3600) * 1000)
    assert curve.is_empty()
    with pytest.raises(KeyError):
        spend_curve(load_config(cfg), "nope", (START_S + 3600) * 1000)
