"""The objective page (``/objective?slo=NAME``): SLI against the target, burn-down against the ideal
line with the projection, burn rates against the thresholds, spec and PromQL, members worst-first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from redline.config import load_config
from redline.dashboard.data import evaluate_report, objective_history
from redline.dashboard.views.objective import objective_url
from redline.slo.ranking import rank_objectives
from tests.dashboard.fleet import AT_S, write_fleet
from tests.dashboard.hostile import TENANT_OBJECTIVE, write_hostile_fleet
from tests.dashboard.page_text import page_text


def objective_page(config: Path, monkeypatch: pytest.MonkeyPatch, slo: str) -> AppTest:
    monkeypatch.setenv("REDLINE_CONFIG", str(config))

    def script() -> None:
        import os
        from pathlib import Path

        from redline.dashboard.views import objective

        objective.render(Path(os.environ["REDLINE_CONFIG"]))

    app = AppTest.from_function(script, default_timeout=120)
    app.query_params.update(at=str(AT_S), slo=slo)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def charts(app: AppTest) -> dict[str, tuple[dict[str, Any], list[list[dict[str, Any]]]]]:
    out = {}
    for element in app.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        data = [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data).to_dict("records")
                for d in element.proto.datasets]
        out[spec["title"]] = (spec, data)
    return out


def test_the_page_shows_the_sli_against_the_target_the_burn_down_and_the_promql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_fleet(tmp_path)
    app = objective_page(config, monkeypatch, "api-availability")

    loaded = load_config(config)
    result = next(o for o in evaluate_report(loaded, AT_S * 1000).report.objectives if o.name == "api-availability")
    assert page_text(app.subheader[0].value) == "api-availability · :orange[warning]"
    shown = charts(app)
    assert set(shown) == {
        "SLI over 30d against the target", "Error budget: burn-down, ideal and projection", "Burn rate per window",
    }
    sli_spec, sli_data = shown["SLI over 30d against the target"]
    history = objective_history(loaded, "api-availability", AT_S * 1000)
    expected = [float("nan") if v is None else v for v in history.get_column("sli").to_list()]
    assert [row["sli"] for row in sli_data[0]] == pytest.approx(expected, nan_ok=True)
    assert sli_data[0][-1]["sli"] == pytest.approx(result.sli)
    assert sli_spec["layer"][1]["data"]["values"] == [{"y": pytest.approx(0.999), "label": "target 99.9%"}]
    # zoomed to where the data is: not 0-100%
    assert sli_spec["layer"][0]["encoding"]["y"]["scale"]["domain"][0] > 0.99

    _, budget = shown["Error budget: burn-down, ideal and projection"]
    lines = {row["line"] for row in budget[0]}
    assert lines == {"budget remaining", "ideal (even spend)", "projection at the current burn"}
    projection = [row for row in budget[0] if row["line"] == "projection at the current burn"]
    assert projection[0]["budget"] == pytest.approx(result.budget_remaining)
    assert projection[1]["budget"] == pytest.approx(0.0)  # it breaches within the window: the line ends at 0

    assert app.code[0].value == (
        '(sum(rate(http_requests_total{service="api",code=~"5.."}[5m])) or vector(0)) / '
        '(sum(rate(http_requests_total{service="api"}[5m])) > 0)'
    )
    assert "[Runbook](https://runbooks.example/api)" in [m.value for m in app.markdown]
    assert page_text(app.markdown[0].value).endswith(result.reason)


def test_a_grouped_objective_lists_its_members_worst_first_and_shows_the_worst(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_hostile_fleet(tmp_path, 9)
    app = objective_page(config, monkeypatch, TENANT_OBJECTIVE)

    ranked = rank_objectives(evaluate_report(load_config(config), AT_S * 1000).report.objectives)
    members = [o.name for o in ranked if o.name.startswith(TENANT_OBJECTIVE + "{")]
    table = app.dataframe[0].value
    assert list(table["member"]) == members
    assert list(table["open"]) == [objective_url(m, AT_S) for m in members]
    assert page_text(app.subheader[0].value) == f"{members[0]} · :red[breached] (its worst member)"


def test_an_unknown_objective_is_named_and_the_nearest_to_breaking_is_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_fleet(tmp_path)
    app = objective_page(config, monkeypatch, "no-such-slo")
    assert app.error[0].value == f"No objective named `no-such-slo` in `{config}`."
    assert page_text(app.subheader[0].value).startswith("api-availability ·")


def test_the_link_every_row_and_notification_uses() -> None:
    assert objective_url('a{tenant="x y"}', 1767312000) == "./objective?slo=a%7Btenant%3D%22x+y%22%7D&at=1767312000"
