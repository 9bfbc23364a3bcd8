"""The what-if page: an objective as configured beside an alternative target and threshold, the
compliance curve's tightest bucket bound, and whether the stored history would have paged.

History (a real SampleStore): two days of a latency histogram, 100 requests a minute, all under
250 ms — but in the last hour 10 a minute take 250–500 ms. Over the data, 600 of 288,000
requests miss 250 ms: compliance 99.7916%; none miss 500 ms.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from redline.dashboard.views.whatif import one_step_looser
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import SampleStore
from tests.dashboard.page_text import page_text

START_S = 1_767_225_600
MINUTES = 2 * 1440
END_S = START_S + MINUTES * 60
SLI_250 = 1 - 600 / 288_000


def write_history(tmp_path: Path) -> Path:
    cumulative = {"0.1": 0.0, "0.25": 0.0, "0.5": 0.0, "+Inf": 0.0}
    rows = []
    for k in range(MINUTES + 1):
        if k:
            slow = 10 if k > MINUTES - 60 else 0
            for le, add in (("0.1", 80 - slow), ("0.25", 100 - slow), ("0.5", 100), ("+Inf", 100)):
                cumulative[le] += add
        for le, value in cumulative.items():
            rows.append(("latency_seconds_bucket", f'le="{le}"', (START_S + k * 60) * 1000, value))
    SampleStore(tmp_path / "data").append(pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row"))
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        "agent: {data_dir: ./data}\n"
        "slos:\n"
        "  - name: api-latency\n"
        "    objective: 99.9\n"
        "    sli: {latency: {histogram: latency_seconds, threshold: 250ms}}\n"
    )
    return cfg


def page(cfg: Path) -> AppTest:
    def script() -> None:
        import os
        from pathlib import Path

        from redline.dashboard.views import whatif

        whatif.render(Path(os.environ["REDLINE_CONFIG"]))

    app = AppTest.from_function(script, default_timeout=120)
    app.query_params.update(at=str(END_S), objective="api-latency")
    return app


def run_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    """The page on the two days' history, with ``params`` in the URL, run once without an exception."""
    monkeypatch.setenv("REDLINE_CONFIG", str(write_history(tmp_path)))
    app = page(tmp_path / "redline.yaml")
    app.query_params.update(params)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def metrics(app: AppTest) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in app.metric]


def test_relaxing_the_objective_shows_the_budget_it_leaves_and_the_tightest_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run_page(tmp_path, monkeypatch, target="99.5", threshold="250ms")
    shown = metrics(app)
    current, alternative = shown[:3], shown[3:]
    budget_now = 1 - (1 - SLI_250) / 0.001
    budget_alt = 1 - (1 - SLI_250) / 0.005
    assert current[0] == ("budget remaining", f"{budget_now:.1%}")
    assert alternative[0] == ("budget remaining", f"{budget_alt:.1%}")
    assert alternative[1] == ("compliance (SLI)", f"{SLI_250:.3%}")
    assert app.metric[3].delta == f"{(budget_alt - budget_now) * 100:+.1f} pts"
    text = " ".join(page_text(m.value) for m in app.markdown)
    tightest = f"tightest bucket bound that meets **99.5%** over the window is **250 ms** (compliance {SLI_250:.3%})"
    assert tightest in text
    assert app.query_params["target"] == "99.5" and app.query_params["threshold"] == "250ms"
    assert "**Alternative (looser)**" in text


def test_a_wider_threshold_would_not_have_paged_over_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run_page(tmp_path, monkeypatch, target="99.9", threshold="500ms")
    assert metrics(app)[3] == ("budget remaining", "100.0%")  # nobody misses 500 ms
    history = app.dataframe[0].value
    by_setting = {row["settings"]: row for row in history.to_dict("records")}
    assert (by_setting["current"]["pages"], by_setting["current"]["status"]) == (1, "paged")
    assert (by_setting["alternative"]["pages"], by_setting["alternative"]["tickets"]) == (0, 0)
    assert by_setting["alternative"]["status"] == "quiet"


def test_a_threshold_between_bounds_is_approximate_and_the_replay_says_why_it_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run_page(tmp_path, monkeypatch, threshold="375")  # ms, halfway between 250 and 500 ms
    # Interpolated halfway: 300 of the 600 slow requests count as under 375 ms.
    assert metrics(app)[4] == ("compliance (SLI)", f"{1 - 300 / 288_000:.3%}")
    assert any("Approximate" in c.value for c in app.caption)
    assert any("pick a bucket bound (100, 250, 500 ms)" in i.value for i in app.info)
    assert app.query_params["threshold"] == "375ms"


def test_a_threshold_on_an_availability_objective_is_not_offered_and_a_bad_target_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_history(tmp_path)
    cfg.write_text(cfg.read_text() + "  - name: api-ok\n    objective: 99\n"
                   "    sli: {ratio: {errors: 'latency_seconds_bucket{le=\"0.1\"}', total: latency_seconds_bucket}}\n")
    monkeypatch.setenv("REDLINE_CONFIG", str(cfg))
    app = page(cfg)
    app.query_params.update(objective="api-ok", target="lots")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert [n.label for n in app.number_input] == ["Objective (%)"]
    assert any("?target='lots' is not a percentage between 0 and 100" in page_text(w.value) for w in app.warning)
    assert app.number_input[0].value == 98.0  # one step looser than the configured 99
    app.query_params.update(target="150")  # a number, but no objective
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("?target='150' is not a percentage between 0 and 100" in page_text(w.value) for w in app.warning)


def test_without_an_objective_in_the_url_the_page_opens_on_the_one_nearest_to_breaking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_history(tmp_path)
    text = cfg.read_text().replace("slos:\n", "slos:\n  - name: api-slow-ok\n    objective: 90\n"
                                    "    sli: {latency: {histogram: latency_seconds, threshold: 500ms}}\n")
    cfg.write_text(text)
    monkeypatch.setenv("REDLINE_CONFIG", str(cfg))
    app = page(cfg)
    del app.query_params["objective"]
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox[0].value == "api-latency"  # breached; api-slow-ok (first in the file) is ok
    assert app.query_params["objective"] == "api-latency"


def test_it_opens_on_one_step_looser_and_says_looser_or_stricter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run_page(tmp_path, monkeypatch)  # no target or threshold in the URL
    assert [n.value for n in app.number_input] == [99.5, 500.0]  # 99.9 → 99.5, 250 ms → 500 ms
    assert app.query_params["target"] == "99.5" and app.query_params["threshold"] == "500ms"
    titles = [page_text(m.value) for m in app.markdown if m.value.startswith("**")]
    assert titles[:2] == [
        "**As configured** — objective 99.9% over 30d", "**Alternative (looser)** — objective 99.5% over 30d",
    ]

    app = run_page(tmp_path, monkeypatch, target="99.95%", threshold="0.25s")  # as written, in the CLI's units
    assert [n.value for n in app.number_input] == [99.95, 250.0]
    assert any(page_text(m.value).startswith("**Alternative (stricter)**") for m in app.markdown)

    app = run_page(tmp_path, monkeypatch, target="99.5", threshold="100ms")
    mixed = "**Alternative (looser target, stricter threshold)**"
    assert any(page_text(m.value).startswith(mixed) for m in app.markdown)


def test_one_step_looser_walks_the_usual_targets() -> None:
    assert [one_step_looser(t) for t in (99.99, 99.9, 99.7, 99.0, 95.0, 50.0, 30.0)] == [
        99.95, 99.5, 99.5, 98.0, 90.0, 25.0, 15.0
    ]
