"""The overview's filters (service, team, dimension, status): read from the URL, written back to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.fleet import AT_S, EXPECTED_ORDER, write_fleet
from tests.dashboard.page_text import page_text
from tests.dashboard.test_overview import _run


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_fleet(tmp_path)


def _shown(app: AppTest) -> list[str]:
    return list(app.dataframe[0].value["objective"])


def _filter(app: AppTest, name: str) -> object:
    return next(m for m in app.multiselect if m.label == name)


def test_filters_in_the_url_narrow_the_table_and_fill_the_filter_boxes(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S), dimension="users,data", status=["warning", "ok"])
    assert _shown(app) == ["api-availability", "pipeline-success"]
    assert _filter(app, "dimension").value == ["users", "data"]  # type: ignore[attr-defined]
    assert _filter(app, "status").value == ["warning", "ok"]  # type: ignore[attr-defined]
    assert "2 of 4 objectives pass the filters." in [page_text(c.value) for c in app.caption]
    # the callout still answers for the whole fleet
    assert any(str(w.value).startswith("What breaks first?") for w in app.warning)


def test_a_status_is_taken_as_written_on_the_page_and_a_service_from_the_objectives_selectors(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S), status="no data")
    assert _shown(app) == ["gpu-spend"]
    app = _run(config_path, monkeypatch, at=str(AT_S), service="api")
    assert _shown(app) == ["api-availability"]
    assert list(app.dataframe[0].value["service"]) == ["api"]


def test_a_filter_chosen_on_the_page_is_written_to_the_url_and_cleared_from_it(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S))
    assert _shown(app) == EXPECTED_ORDER
    _filter(app, "dimension").set_value(["model", "cost"]).run()  # type: ignore[attr-defined]
    assert app.query_params["dimension"] == ["model", "cost"]
    assert _shown(app) == ["embedding-availability", "gpu-spend"]
    assert app.query_params["at"] == str(AT_S)  # the rest of the view stays in the link
    _filter(app, "dimension").set_value([]).run()  # type: ignore[attr-defined]
    assert "dimension" not in app.query_params
    assert _shown(app) == EXPECTED_ORDER


def test_a_value_that_matches_nothing_is_named_and_dropped_from_the_url(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S), team="ml", dimension="data")
    assert "Ignored (no such team here): ml" in [page_text(c.value) for c in app.caption]
    assert "team" not in app.query_params
    assert app.query_params["dimension"] == "data"
    assert _shown(app) == ["pipeline-success"]


def test_the_inspected_objective_does_not_follow_the_filters(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at=str(AT_S), objective="api-availability")
    _filter(app, "dimension").set_value(["cost"]).run()  # type: ignore[attr-defined]
    assert _shown(app) == ["gpu-spend"]
    assert app.selectbox[0].value == "api-availability"
    assert app.query_params["objective"] == "api-availability"


def test_an_iso_instant_in_the_url_is_read_as_the_cli_reads_it_and_kept_in_every_row_link(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _run(config_path, monkeypatch, at="2026-01-02T00:00:00Z", status="warning")
    assert _shown(app) == ["api-availability"]
    assert list(app.dataframe[0].value["open"]) == [f"./objective?slo=api-availability&at={AT_S}"]
