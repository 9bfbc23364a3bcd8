"""The agent writes the checkpoint; its restart and ``redline status`` resume from it, and answer as
a rebuild from every raw sample does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from redline.agent.cli import main
from redline.agent.runtime import Agent
from redline.agent.status import compute_status, render_json
from redline.config import LoadedConfig, parse_config
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.checkpoint_file import checkpoint_path
from redline.store.embedded import SampleStore

MIN_MS = 60_000
START_S = 1_700_006_400


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _loaded(tmp_path: Path) -> LoadedConfig:
    text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
slos:
  - name: api-availability
    objective: 99.5
    sli: {{ratio: {{errors: 'requests_total{{code="500"}}', total: requests_total}}}}
  - name: pipeline-freshness
    objective: 99
    sli: {{freshness: {{last_success: last_success_seconds, max_age: 15m}}}}
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return LoadedConfig(parse_config(text, path), path)


def _minutes(lo: int, hi: int) -> pl.DataFrame:
    """Minutes [lo, hi) since START_S: 100 requests a minute, 1 in 50 failing from minute 1,500,
    a counter reset at minute 1,000, a pipeline succeeding every 10 minutes."""
    minutes = np.arange(lo, hi)
    ts = (START_S * 1000 + minutes * MIN_MS).astype(np.int64)
    since_reset = np.where(minutes >= 1000, minutes - 1000, minutes)
    errors = np.maximum(minutes - 1500, 0) * 2.0
    ok = since_reset * 100.0 - errors
    success = ((ts // 1000 // 600) * 600).astype(np.float64)
    n = len(ts)
    return pl.DataFrame({
        "metric": ["requests_total"] * 2 * n + ["last_success_seconds"] * n,
        "labels": ['code="200"'] * n + ['code="500"'] * n + [""] * n,
        "timestamp": np.concatenate([ts, ts, ts]),
        "value": np.concatenate([ok, errors, success]),
    }, schema=SAMPLE_SCHEMA)


def test_a_restarted_agent_resumes_from_its_checkpoint_and_status_reads_it(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path)
    store = SampleStore(tmp_path / "data")
    store.append(_minutes(0, 1440))
    clock = FakeClock(START_S + 1440 * 60)
    first = Agent(loaded, env={}, clock=clock, serve_metrics=False)
    try:
        first.load_history()
        assert first.resumed_from == "rebuild"
        assert first.checkpoint() == checkpoint_path(tmp_path / "data").stat().st_size
    finally:
        first.shutdown()
    store.append(_minutes(1440, 2000))
    clock.t = START_S + 2000 * 60

    second = Agent(loaded, env={}, clock=clock, serve_metrics=False)
    try:
        assert second.load_history() < 600 * 3  # the tail only (and its 5-minute overlap)
        assert second.resumed_from == "checkpoint"
        resumed = second.evaluate().to_json()
    finally:
        second.shutdown()
    status_resumed = json.loads(render_json(compute_status(loaded, clock.t)))

    checkpoint_path(tmp_path / "data").unlink()
    third = Agent(loaded, env={}, clock=clock, serve_metrics=False)
    try:
        third.load_history()
        assert third.resumed_from == "rebuild"
        rebuilt = third.evaluate().to_json()
    finally:
        third.shutdown()
    assert resumed == rebuilt
    assert status_resumed == json.loads(render_json(compute_status(loaded, clock.t)))
    assert {o["name"]: o["objective"] for o in status_resumed["objectives"]}["api-availability"] == 0.995
    assert rebuilt["objectives"][0]["burn_rates"]["1h"] > 1


def test_an_import_removes_the_checkpoint_so_the_next_reader_sees_the_history(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path)
    SampleStore(tmp_path / "data").append(_minutes(1400, 1440))
    agent = Agent(loaded, env={}, clock=FakeClock(START_S + 1440 * 60), serve_metrics=False)
    try:
        agent.load_history()
        agent.checkpoint()
    finally:
        agent.shutdown()
    history = tmp_path / "history.om"
    history.write_text(
        "# TYPE requests counter\n"
        + "".join(f'requests_total{{code="200"}} {m * 100} {START_S + m * 60}\n' for m in range(0, 1400, 10))
        + "# EOF\n"
    )
    before = json.loads(render_json(compute_status(loaded, START_S + 1440 * 60)))
    assert main(["import", "--config", str(loaded.path), str(history)]) == 0
    assert not checkpoint_path(tmp_path / "data").exists()
    after = json.loads(render_json(compute_status(loaded, START_S + 1440 * 60)))
    events = {o["name"]: o["events"] for o in after["objectives"]}
    assert events["api-availability"] > {o["name"]: o["events"] for o in before["objectives"]}["api-availability"]
