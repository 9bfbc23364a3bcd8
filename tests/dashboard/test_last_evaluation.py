"""The dashboard paints from the agent's last evaluation when it is fresh and made for its config;
otherwise (stale, another config, a damaged or foreign file) it evaluates by itself and says why."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from redline.agent.last_evaluation import LastEvaluationWriter
from redline.config import load_config
from redline.dashboard.data import evaluate_report
from redline.dashboard.last_evaluation import FILE_NAME, FORMAT, config_fingerprint, decode, encode, load
from redline.store.embedded import SampleStore
from tests.dashboard.fleet import AT_S, write_fleet
from tests.dashboard.page_text import page_text

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TIMEOUT_S = 120


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_fleet(tmp_path)


def _agent_writes(config_path: Path, age_s: float) -> Path:
    """What the agent writes after evaluating: the fleet's report at AT_S, stamped ``age_s`` ago
    (the fleet's history ends at AT_S; evaluated here, now, it has no data)."""
    loaded = load_config(config_path)
    report = evaluate_report(loaded, AT_S * 1000).report
    writer = LastEvaluationWriter(loaded, SampleStore(loaded.data_dir))
    assert writer.write(replace(report, at=time.time() - age_s))
    return writer.path


def _run(config: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("REDLINE_CONFIG", str(config))
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _texts(elements: object) -> list[str]:
    return [page_text(e.value) for e in elements]  # type: ignore[attr-defined]


def test_a_fresh_evaluation_of_the_agent_is_painted_and_named_as_the_agents(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _agent_writes(config_path, age_s=5)
    evaluated_at = json.loads(path.read_bytes())["evaluated_at"]
    app = _run(config_path, monkeypatch)
    callout = next(page_text(w.value) for w in app.warning if str(w.value).startswith("What breaks first?"))
    assert callout.startswith("What breaks first? **users** is nearest to breaking: **api-availability**")
    when = time.strftime("%H:%M:%S", time.gmtime(evaluated_at))
    assert f"Figures as evaluated by the agent at {when} UTC." in _texts(app.caption)
    assert list(app.dataframe[0].value["objective"])[:2] == ["api-availability", "pipeline-success"]
    assert not [t for t in _texts(app.info) if t.startswith("The agent's last evaluation was not used")]


def test_a_stale_evaluation_is_not_painted_and_the_page_says_why(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _agent_writes(config_path, age_s=600)
    app = _run(config_path, monkeypatch)
    assert "Figures evaluated here." in _texts(app.caption)
    why = _texts(app.info)
    assert why[0].startswith("The agent's last evaluation was not used: the agent's last evaluation is 6")
    assert why[0].endswith("s old, more than 2 evaluate intervals (30 s).")
    assert why[1].startswith("**No data yet**")  # evaluated here, now: the fleet's history is older


def test_an_evaluation_for_another_config_is_not_painted(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _agent_writes(config_path, age_s=5)
    config_path.write_text(config_path.read_text().replace("objective: 99.5", "objective: 99.7"))
    app = _run(config_path, monkeypatch)
    assert "Figures evaluated here." in _texts(app.caption)
    assert _texts(app.info)[0] == (
        f"The agent's last evaluation was not used: {path} was written for another config (its objectives differ)."
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b'{"format": "redline.last-evaluation/1", "evaluated_', "is not JSON"),
        (b'{"format": "someone-else/2", "rows": []}', f"is not a {FORMAT} file: format: "),
        (b"\xff\xfe\x00", "is not JSON"),
    ],
)
def test_a_damaged_or_foreign_file_is_ignored_with_a_message_not_an_exception(
    config_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, why: str
) -> None:
    path = config_path.parent / "data" / FILE_NAME
    path.write_bytes(content)
    app = _run(config_path, monkeypatch)
    assert "Figures evaluated here." in _texts(app.caption)
    message = _texts(app.info)[0]
    assert message.startswith(f"The agent's last evaluation was not used: {path} {why}"), message
    assert path.read_bytes() == content  # left as it is


def test_the_file_round_trips_every_figure_the_pages_show(config_path: Path) -> None:
    loaded = load_config(config_path)
    report = evaluate_report(loaded, AT_S * 1000).report
    path = _agent_writes(config_path, age_s=0)
    found = load(path)
    assert not hasattr(found, "verdict"), found
    assert found.config_fingerprint == config_fingerprint(loaded)  # type: ignore[union-attr]
    back = found.report  # type: ignore[union-attr]
    assert [o.to_json() for o in back.objectives] == [o.to_json() for o in report.objectives]
    assert [o.window_seconds for o in back.objectives] == [o.window_seconds for o in report.objectives]
    assert [d.to_json() for d in back.dimensions] == [d.to_json() for d in report.dimensions]
    assert found.newest_sample_ms == AT_S * 1000  # type: ignore[union-attr]
    assert encode(decode(path.read_bytes())) == path.read_bytes()
