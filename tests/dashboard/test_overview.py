from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from redline.config import load_config
from redline.dashboard.data import burn_down, evaluate_report, format_time_to_breach
from tests.dashboard.fleet import AT_S, EXPECTED_ORDER, write_fleet
from tests.dashboard.page_text import page_text

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TIMEOUT_S = 120


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_fleet(tmp_path)


def _run(config: Path, monkeypatch: pytest.MonkeyPatch, **query: str | list[str]) -> AppTest:
    monkeypatch.setenv("REDLINE_CONFIG", str(config))
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.query_params.update(query)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _callout(app: AppTest) -> tuple[str, str]:
    for kind in ("error", "warning", "success", "info"):
        for element in getattr(app, kind):
            if str(element.value).startswith("What breaks first?"):
                return kind, page_text(element.value)  # what the reader sees: escapes resolved
    raise AssertionError("no callout on the page")


def _charts(app: AppTest) -> dict[str, Any]:
    """Vega-Lite charts by title, each as (spec, datasets as lists of row dicts)."""
    out: dict[str, Any] = {}
    for element in app.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        data = {
            d.name: dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data).to_dict("records")
            for d in element.proto.datasets
        }
        out[spec["title"]] = (spec, data)
    return out


def test_the_callout_names_the_objective_and_dimension_nearest_to_breaking(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S))
    kind, text = _callout(app)
    report = evaluate_report(load_config(config_path), AT_S * 1000).report
    top = next(o for o in report.objectives if o.name == "api-availability")
    assert kind == "warning"
    assert top.status == "warning"
    assert text.startswith(
        "What breaks first? **users** is nearest to breaking: **api-availability** (99.9% over 30d) "
        f"breaches in **{format_time_to_breach(top.time_to_breach_seconds)}** at the current burn."
    )
    assert text.endswith(top.reason)


def test_objectives_are_ranked_by_time_to_breach_with_no_data_last(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S))
    table = app.dataframe[0].value
    assert list(table["dimension"]) == ["users", "data", "model", "cost"]
    assert list(table["objective"]) == EXPECTED_ORDER
    assert table["time to breach"][2] == "not burning"
    assert table["burn 1d"][1] == pytest.approx(0.1, rel=0.02)
    assert table["budget remaining"][2] == pytest.approx(1.0)


def test_an_objective_without_data_shows_no_data_not_a_full_budget(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S))
    row = app.dataframe[0].value.set_index("objective").loc["gpu-spend"]
    assert row["status"] == "no data"
    assert row["time to breach"] == "no data"
    assert row.isna()[["budget remaining", "SLI", "burn 5m", "burn 3d"]].all()
    cards = {m.label: (m.value, page_text(m.proto.delta)) for m in app.metric}
    assert cards["cost"] == ("no data", "no data · gpu-spend")


def test_the_four_dimension_cards_show_their_worst_objective(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S))
    assert [m.label for m in app.metric] == ["data", "users", "model", "cost"]
    deltas = [page_text(m.proto.delta) for m in app.metric]
    assert deltas == ["ok · pipeline-success", "warning · api-availability", "ok · embedding-availability",
                      "no data · gpu-spend"]
    assert app.metric[2].value == "not burning"


def test_the_burn_rate_chart_draws_page_and_ticket_threshold_rules(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S))
    spec, data = _charts(app)["Burn rate per window"]
    rules = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "rule")
    assert [(v["threshold"], v["severity"]) for v in rules["data"]["values"]] == [
        (14.4, "page"), (6.0, "page"), (3.0, "ticket"), (1.0, "ticket")
    ]
    assert rules["encoding"]["y"] == {"field": "threshold", "type": "quantitative"}
    bars = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "bar")
    rows = data[bars["data"]["name"]]
    report = evaluate_report(load_config(config_path), AT_S * 1000).report
    api = next(o for o in report.objectives if o.name == "api-availability")
    assert {r["window"]: r["burn_rate"] for r in rows} == pytest.approx(dict(api.burn_rates))
    assert [r["window"] for r in rows] == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]


def test_the_budget_burn_down_spans_the_data_and_ends_at_the_current_budget(config_path: Path) -> None:
    config = load_config(config_path)
    frame = burn_down(config, "api-availability", AT_S * 1000, points=60)
    report = evaluate_report(config, AT_S * 1000).report
    api = next(o for o in report.objectives if o.name == "api-availability")
    assert frame.height == 60
    stamps = frame.get_column("timestamp").dt.epoch("ms").to_list()
    assert stamps[0] == (AT_S - 24 * 3600) * 1000
    assert stamps[-1] == AT_S * 1000
    budgets = frame.get_column("budget_remaining").to_list()
    assert budgets[-1] == pytest.approx(api.budget_remaining)
    assert budgets[-3] == pytest.approx(1.0)  # before the incident, nothing was spent


def test_the_selected_objective_comes_from_the_query_and_a_new_choice_is_written_back(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S), objective="pipeline-success")
    assert app.selectbox[0].value == "pipeline-success"
    assert page_text(app.subheader[1].value) == "pipeline-success · :green[ok]"
    assert "Error budget burn-down: pipeline-success" in _charts(app)
    app.selectbox[0].select("embedding-availability").run()
    assert app.query_params["objective"] == "embedding-availability"
    assert page_text(app.subheader[1].value) == "embedding-availability · :green[ok]"


def test_an_unknown_objective_in_the_query_falls_back_to_the_nearest(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S), objective="gone")
    assert app.selectbox[0].value == "api-availability"
    assert app.query_params["objective"] == "api-availability"


def test_a_bad_config_shows_an_error_naming_the_path_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "redline.yaml"
    config.write_text(
        "slos:\n"
        "  - {name: a, objective: 99, sli: {ratio: {good: g, total: t}}}\n"
        "  - {name: b, objective: 100, sli: {ratio: {good: g, total: t}}}\n"
    )
    app = _run(config, monkeypatch, at=str(AT_S))
    assert len(app.error) == 1
    message = page_text(app.error[0].value)
    assert message.startswith(f"The config cannot be used: {config}:3: slos[1].objective: ")
    assert not app.dataframe


def test_without_a_config_the_page_says_how_to_pass_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDLINE_CONFIG", raising=False)
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    assert not app.exception
    assert "-- --config FILE" in app.error[0].value


def test_a_missing_data_folder_reads_as_no_data_and_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_fleet(tmp_path)
    text = config.read_text().replace("data_dir: data", "data_dir: nowhere")
    config.write_text(text)
    app = _run(config, monkeypatch, at=str(AT_S))
    assert app.info[0].value.endswith(
        f"The data directory `{tmp_path / 'nowhere'}` does not exist: start the agent with this config "
        "(`redline run --config …`), or point `agent.data_dir` at the agent's."
    )
    assert set(app.dataframe[0].value["status"]) == {"no data"}
    assert not (tmp_path / "nowhere").exists()


def test_the_dashboard_leaves_the_store_untouched(config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = config_path.parent / "data"

    def listing() -> dict[str, tuple[int, int]]:
        return {str(p.relative_to(data)): (p.stat().st_size, p.stat().st_mtime_ns) for p in data.rglob("*")}

    before = listing()
    _run(config_path, monkeypatch, at=str(AT_S), objective="api-availability")
    assert listing() == before


def test_a_malformed_at_parameter_is_named_and_the_page_shows_now(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at="yesterday")
    assert page_text(app.warning[0].value) == (
        "?at='yesterday' is not a time: expected now, Unix seconds (1700000000), ISO 8601 "
        "(2026-11-25T12:00:00Z; UTC when no zone is given) or a time relative to now (-2h, 2h ago, now-30m); "
        "showing now instead."
    )
    assert page_text(app.caption[0].value).endswith(f"(live, refreshes every 15 s) · config {config_path}")


def test_an_unreadable_store_file_is_named_and_the_rest_still_shows(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = config_path.parent / "data" / "batches" / "00000000000000000001-1.parquet"
    broken.write_bytes(b"not parquet at all")
    app = _run(config_path, monkeypatch, at=str(AT_S))
    warnings = [page_text(w.value) for w in app.warning if str(w.value).startswith("Skipped while reading the store")]
    assert len(warnings) == 1 and broken.name in warnings[0]
    assert list(app.dataframe[0].value["objective"]) == EXPECTED_ORDER
    assert broken.read_bytes() == b"not parquet at all"


def test_choosing_a_past_time_writes_it_to_the_query_and_live_removes_it(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S))
    assert app.toggle[0].value is False
    app.datetime_input[0].set_value(datetime(2026, 1, 1, 23, 0)).run()
    assert app.query_params["at"] == str(AT_S - 3600)
    assert page_text(app.caption[0].value).startswith("As of **2026-01-01 23:00:00 UTC** (a past instant)")
    app.toggle[0].set_value(True).run()
    assert "at" not in app.query_params
    assert "(live, refreshes every 15 s)" in page_text(app.caption[0].value)


def test_selecting_a_table_row_selects_its_objective_once(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S))
    app.session_state["objectives_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    app.run()
    assert app.query_params["objective"] == "pipeline-success"
    assert app.selectbox[0].value == "pipeline-success"
    app.selectbox[0].select("gpu-spend").run()  # the row stays highlighted; the new choice wins
    assert app.query_params["objective"] == "gpu-spend"
    assert page_text(app.subheader[1].value) == "gpu-spend · :gray[no data]"
    assert app.info[0].value == "No stored samples for this objective yet: no burn-down to draw."


def test_live_view_of_old_history_points_to_the_newest_sample(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch)
    assert page_text(app.info[0].value) == (
        "**No data yet** for any objective, so nothing can be ranked. The newest stored sample is from "
        f"2026-01-02 00:00:00 UTC: for older history, pick that time under *As of* (?at={AT_S})."
    )
