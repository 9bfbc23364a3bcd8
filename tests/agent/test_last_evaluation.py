"""The agent writes its last evaluation for the dashboard after each evaluation, whole, and goes on
evaluating when it cannot."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from redline.agent.runtime import Agent
from redline.config import LoadedConfig, parse_config
from redline.dashboard.last_evaluation import FILE_NAME, config_fingerprint, read_last_evaluation
from redline.store.embedded import SampleStore
from tests.dashboard.fleet import AT_S, history

CONFIG = """
agent: {{data_dir: {data}, listen: "127.0.0.1:0", evaluate_interval: 1m}}
slos:
  - name: api-availability
    objective: 99.9
    sli:
      ratio:
        errors: 'http_requests_total{{service="api",code=~"5.."}}'
        total: 'http_requests_total{{service="api"}}'
"""


def _agent(tmp_path: Path) -> tuple[Agent, LoadedConfig]:
    SampleStore(tmp_path / "data").append(history())  # the fleet's last day, up to AT_S
    path = tmp_path / "redline.yaml"
    text = CONFIG.format(data=tmp_path / "data")
    path.write_text(text)
    loaded = LoadedConfig(parse_config(text, path), path)
    agent = Agent(loaded, env={}, clock=lambda: float(AT_S), serve_metrics=False)
    agent.load_history()
    return agent, loaded


def test_each_evaluation_is_written_for_the_dashboard_with_its_time_and_config(tmp_path: Path) -> None:
    agent, loaded = _agent(tmp_path)
    try:
        report = agent.evaluate()
    finally:
        agent.shutdown()
    found = read_last_evaluation(loaded.data_dir / FILE_NAME, config_fingerprint(loaded), AT_S + 60.0, 60.0)
    assert found.verdict == "fresh", found.why
    assert found.last is not None
    assert found.last.evaluated_at == AT_S
    assert found.last.newest_sample_ms == AT_S * 1000
    assert [o.to_json() for o in found.last.report.objectives] == [o.to_json() for o in report.objectives]
    assert found.last.report.objectives[0].status == "warning"  # the fleet's incident, as evaluated
    late = read_last_evaluation(loaded.data_dir / FILE_NAME, config_fingerprint(loaded), AT_S + 121.0, 60.0)
    assert late.verdict == "stale"
    assert [p.name for p in loaded.data_dir.iterdir() if ".tmp-" in p.name] == []


def test_an_evaluation_that_cannot_be_written_is_logged_once_and_the_agent_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agent, loaded = _agent(tmp_path)
    (loaded.data_dir / FILE_NAME).mkdir()  # something in the way: the rename fails
    caplog.set_level(logging.WARNING, logger="redline.agent")
    try:
        first = agent.evaluate()
        second = agent.evaluate()
    finally:
        agent.shutdown()
    assert first.objectives[0].status == second.objectives[0].status == "warning"
    written = [r.getMessage() for r in caplog.records if "last evaluation for the dashboard" in r.getMessage()]
    assert len(written) == 1
    assert written[0].startswith(
        f"the last evaluation for the dashboard was not written: could not write {loaded.data_dir / FILE_NAME}"
    )
    assert (loaded.data_dir / FILE_NAME).is_dir()
