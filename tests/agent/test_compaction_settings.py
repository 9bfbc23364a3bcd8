"""The store's compaction knobs come from ``agent.compaction`` for every writer, and each cycle
shows on the agent's /metrics (duration, rows read, bytes written)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from redline.agent.runtime import Agent
from redline.agent.wiring import writable_store
from redline.config import load_config
from redline.kernel.errors import ConfigError
from redline.kernel.fields import SAMPLE_SCHEMA

START_MS = 1_700_006_400_000


def write_config(tmp_path: Path, compaction: str) -> Path:
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(f"agent: {{data_dir: ./data, compaction: {compaction}}}\n")
    return cfg


def counters(first_minute: int, minutes: int) -> pl.DataFrame:
    rows = [("requests_total", f'pod="p{p}"', START_MS + m * 60_000, float(m)) for p in range(10)
            for m in range(first_minute, first_minute + minutes)]
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def test_writers_open_the_store_with_the_configured_compaction(tmp_path: Path) -> None:
    loaded = load_config(write_config(tmp_path, "{max_merge_rows: 500, small_run_rows: 0, merge_fanout: 3}"))
    store = writable_store(loaded)
    assert (store.policy.max_merge_rows, store.policy.small_run_rows, store.policy.merge_fanout) == (500, 0, 3)


def test_each_compaction_cycle_is_counted_on_the_agents_metrics(tmp_path: Path) -> None:
    loaded = load_config(write_config(tmp_path, "{small_run_rows: 0}"))
    agent = Agent(loaded, env={}, clock=lambda: START_MS / 1000 + 86_400, serve_metrics=False)
    try:
        agent.store.append(counters(0, 30))  # 300 rows
        agent.compact()
        agent.store.append(counters(30, 20))  # 200 more: the next cycle reads only those
        agent.compact()
        registry = agent.metrics.registry
        assert registry.get_sample_value("redline_compaction_duration_seconds_count") == 2
        assert registry.get_sample_value("redline_compaction_rows_read_total") == 500
        written = registry.get_sample_value("redline_compaction_written_bytes_total")
        assert written is not None and written > 0
    finally:
        agent.shutdown()


def test_a_compaction_knob_out_of_range_is_a_located_config_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "{merge_fanout: 1}")
    with pytest.raises(ConfigError) as bad:
        load_config(cfg)
    assert str(bad.value) == f"{cfg}:1: agent.compaction.merge_fanout: Input should be greater than or equal to 2"
