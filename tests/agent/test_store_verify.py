"""`redline store verify` and `redline status` over a real data directory with damaged files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from redline.agent.cli import main
from redline.agent.store_verify import StoreIntegrityCollector
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import SampleStore

END_S = 1_700_006_400 + 3 * 3600  # 2023-11-15T03:00:00Z
DAY_START_MS = 1_700_006_400_000


def write_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        """
agent: {data_dir: ./data}
slos:
  - name: api-availability
    objective: 99
    window: 1d
    sli: {ratio: {errors: 'http_requests_total{code=~"5.."}', total: http_requests_total}}
"""
    )
    return cfg


def requests(start_min: int, count: int) -> pl.DataFrame:
    """Per-minute counters: 99 good and 1 failed request a minute since the day began."""
    rows = [
        ("http_requests_total", f'code="{code}",service="api"', DAY_START_MS + m * 60_000, float(m * per_min))
        for code, per_min in (("200", 99), ("500", 1))
        for m in range(start_min, start_min + count)
    ]
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


@pytest.fixture
def damaged(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A store whose day segment (00:00-02:00) is truncated and one of its later batches too;
    the last 30 minutes sit in an intact batch. Returns (config, segment, damaged batch)."""
    cfg = write_config(tmp_path)
    store = SampleStore(tmp_path / "data")
    store.append(requests(0, 120))
    store.compact()
    bad = store.append(requests(120, 30))
    store.append(requests(150, 31))
    assert bad is not None
    segment = tmp_path / "data" / "segments" / "2023-11-15.parquet"
    segment.write_bytes(segment.read_bytes()[:100])
    bad.write_bytes(bad.read_bytes()[:-1])
    (tmp_path / "data" / "segments" / "README.txt").write_text("an operator's note")
    return cfg, segment, bad


def test_verify_reports_then_repair_quarantines_then_verify_is_clean(
    damaged: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, segment, bad = damaged
    assert main(["store", "verify", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert f"DAMAGED segment {segment}" in out and f"DAMAGED batch {bad}" in out
    assert "covered: 2023-11-15T00:00:00.000Z .. 2023-11-15T23:59:59.999Z" in out
    assert "foreign (ignored, not a store file):" in out and "README.txt" in out
    assert out.rstrip().endswith("3 file(s) checked: 2 damaged or unreadable")
    assert segment.exists() and bad.exists()  # without --repair nothing moves

    assert main(["store", "verify", "--config", str(cfg), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert {d["path"] for d in doc["damaged"]} == {str(segment), str(bad)}
    seg = next(d for d in doc["damaged"] if d["kind"] == "segment")
    assert (seg["start"], seg["end"]) == (DAY_START_MS / 1000, DAY_START_MS / 1000 + 86_399.999)
    assert doc["clean"] is False and doc["quarantined"] == []

    assert main(["store", "verify", "--config", str(cfg), "--repair"]) == 1
    out = capsys.readouterr().out
    assert out.count("moved to ") == 2 and not segment.exists() and not bad.exists()

    assert main(["store", "verify", "--config", str(cfg), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["clean"] is True and doc["damaged"] == [] and len(doc["quarantined"]) == 2
    assert (segment.parent / "README.txt").exists()


def test_status_keeps_the_rest_of_the_day_and_lists_the_damaged_files(
    damaged: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, segment, bad = damaged
    assert main(["status", "--config", str(cfg), "--at", str(END_S), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [avail] = doc["objectives"]
    assert avail["status"] != "no_data"  # the intact batch's half hour is still read
    assert avail["burn_rates"]["5m"] == pytest.approx(1.0, rel=1e-9)
    listed = {c["path"]: c for c in doc["store"]["corrupt_files"]}
    assert set(listed) == {str(segment), str(bad)}
    assert all(c["quarantined_to"] is None for c in listed.values())
    assert segment.exists() and bad.exists()  # status only reads

    assert main(["store", "verify", "--config", str(cfg), "--repair"]) == 1
    capsys.readouterr()
    assert main(["status", "--config", str(cfg), "--at", str(END_S)]) == 0
    out = capsys.readouterr().out
    assert "Store: 2 damaged file(s)" in out and "in quarantine at" in out and str(segment) in out


def test_a_store_config_error_is_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "verify", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert main(["store", "verify"]) == 2
    capsys.readouterr()


def test_the_collector_counts_damaged_files_for_metrics(damaged: tuple[Path, Path, Path]) -> None:
    cfg, _, _ = damaged
    store = SampleStore(cfg.parent / "data", quarantine=True)
    store.check()
    metrics = {m.name: m.samples[0].value for m in StoreIntegrityCollector(store).collect()}
    assert metrics == {"redline_store_corrupt_files": 2.0, "redline_store_quarantined_files": 2.0}


def test_the_agent_quarantines_what_its_cold_start_meets_and_shows_it_on_healthz_and_metrics(
    damaged: tuple[Path, Path, Path],
) -> None:
    from redline.agent.runtime import Agent
    from redline.config import load_config

    cfg, segment, bad = damaged
    agent = Agent(load_config(cfg), env={}, clock=lambda: float(END_S), serve_metrics=False)
    try:
        agent.load_history()
        listed = agent.healthz()["store"]["corrupt_files"]
        assert sorted(Path(c["path"]).name for c in listed) == sorted([segment.name, bad.name])
        assert all(c["quarantined_to"] for c in listed)
        assert not segment.exists() and not bad.exists()
        assert agent.metrics.registry.get_sample_value("redline_store_corrupt_files_total") == 2
        assert agent.metrics.registry.get_sample_value("redline_store_quarantined_files") == 2
    finally:
        agent.shutdown()
