"""Checkpoint plus tail answers exactly as a rebuild from every raw sample (``redline.checkpoints``).

A seeded store (two services, two days of one-minute samples: counters with resets, a latency
histogram, a freshness gauge, a throughput counter, GPU gauges) is checkpointed, more samples
arrive (a counter reset and a series born after the checkpoint among them), and the report of
checkpoint + tail is compared with a full rebuild's, figure for figure (the ``status --json``
document).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from redline.checkpoints.resume import resume, save
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.evaluation import Evaluator, read_start_ms
from redline.slo.evaluator_parts import EvaluatorParts
from redline.slo.spec import SLOSpec
from redline.store.checkpoint_file import checkpoint_path
from redline.store.embedded import SampleStore

MIN_MS = 60_000
START_MS = 1_700_006_400_000  # a whole hour
CHECKPOINT_MS = START_MS + 36 * 60 * MIN_MS
AT_MS = START_MS + 48 * 60 * MIN_MS


def _specs(objective: float = 99.5) -> list[SLOSpec]:
    out: list[dict[str, object]] = []
    for svc in ("a", "b"):
        sel = f'service="{svc}"'
        out += [
            {"name": f"{svc}-availability", "objective": objective,
             "sli": {"ratio": {"errors": f'requests_total{{{sel},code="500"}}', "total": f"requests_total{{{sel}}}"}}},
            {"name": f"{svc}-latency", "objective": 95.0,
             "sli": {"latency": {"histogram": f"rq_seconds{{{sel}}}", "threshold": "250ms"}}},
            {"name": f"{svc}-freshness", "objective": 99.0,
             "sli": {"freshness": {"last_success": f"last_success_seconds{{{sel}}}", "max_age": "15m"}}},
            {"name": f"{svc}-throughput", "objective": 99.0,
             "sli": {"throughput": {"counter": f"rows_total{{{sel}}}", "min_rate": 500, "per": "1m"}}},
            {"name": f"{svc}-gpu", "objective": 95.0,
             "sli": {"gpu": {"utilization": f"gpu_utilization_ratio{{{sel}}}", "min": 0.3, "max": 0.9,
                             "by": ["host"], "aggregate": "avg"}}},
        ]
    return [SLOSpec.model_validate(s) for s in out]


def _samples() -> pl.DataFrame:
    """Every series, one sample a minute from START_MS to AT_MS; resets before and after the
    checkpoint; the ``code="503"`` series of service b is born after it."""
    rng = np.random.default_rng(3)
    ts = START_MS + np.arange((AT_MS - START_MS) // MIN_MS + 1, dtype=np.int64) * MIN_MS
    n = len(ts)
    rows: list[tuple[str, str, np.ndarray, np.ndarray]] = []
    for svc in ("a", "b"):
        sel = f'service="{svc}"'
        req = rng.poisson(600, n).astype(np.float64)
        err = rng.binomial(req.astype(np.int64), 0.004).astype(np.float64)
        for code, inc in (("200", req - err), ("500", err)):
            cum = np.cumsum(inc)
            for reset in (n // 3, n - 90):  # one before the checkpoint, one after
                cum[reset:] -= cum[reset - 1]
            rows.append(("requests_total", f'code="{code}",{sel}', ts, cum))
        fast = rng.binomial(req.astype(np.int64), 0.97).astype(np.float64)
        rows.append(("rq_seconds_bucket", f'le="0.25",{sel}', ts, np.cumsum(fast)))
        rows.append(("rq_seconds_bucket", f'le="+Inf",{sel}', ts, np.cumsum(req)))
        runs = ((ts // 1000 // 600) * 600).astype(np.float64)
        runs[n - 120 :] = runs[n - 120]  # the pipeline stalls after the checkpoint
        rows.append(("last_success_seconds", sel, ts, runs))
        rows.append(("rows_total", sel, ts, np.cumsum(rng.poisson(700, n).astype(np.float64))))
        for host in ("h0", "h1"):
            busy = np.clip(0.6 + 0.15 * rng.standard_normal(n), 0.0, 1.0)
            rows.append(("gpu_utilization_ratio", f'host="{host}",{sel}', ts, busy))
    born = ts > CHECKPOINT_MS + 30 * MIN_MS  # a new error code, after the checkpoint
    rows.append(("requests_total", 'code="503",service="b"', ts[born], np.cumsum(np.full(born.sum(), 3.0))))
    return pl.DataFrame(
        {
            "metric": [m for m, _, t, _ in rows for _ in range(len(t))],
            "labels": [lab for _, lab, t, _ in rows for _ in range(len(t))],
            "timestamp": np.concatenate([t for _, _, t, _ in rows]),
            "value": np.concatenate([v for _, _, _, v in rows]),
        },
        schema=SAMPLE_SCHEMA,
    )


def _seeded(data_dir: Path, specs: list[SLOSpec]) -> SampleStore:
    """The store with samples up to the checkpoint, the checkpoint written, then the rest stored."""
    samples = _samples()
    store = SampleStore(data_dir)
    store.append(samples.filter(pl.col("timestamp") <= CHECKPOINT_MS))
    store.compact()
    first = resume(store, specs, [], CHECKPOINT_MS)
    assert first.source == "rebuild"
    save(data_dir, first.evaluator, specs, [], CHECKPOINT_MS)
    store.append(samples.filter(pl.col("timestamp") > CHECKPOINT_MS))
    return store


def _rebuilt(store: SampleStore, specs: list[SLOSpec], at_ms: int) -> dict[str, object]:
    """The report as before checkpoints: every raw sample of the longest window, at once."""
    evaluator = Evaluator(specs)
    evaluator.ingest(store.read(evaluator.selectors(), read_start_ms(evaluator.history_seconds, at_ms), at_ms))
    return evaluator.evaluate(at_ms).to_json()


def test_checkpoint_plus_tail_reports_exactly_what_a_full_rebuild_reports(tmp_path: Path) -> None:
    specs = _specs()
    store = _seeded(tmp_path, specs)
    resumed = resume(store, specs, [], AT_MS)
    assert resumed.source == "checkpoint"
    assert resumed.samples_read < store.read(resumed.evaluator.selectors(), 0, AT_MS).height / 3
    report = resumed.evaluator.evaluate(AT_MS).to_json()
    assert report == _rebuilt(store, specs, AT_MS)
    by_name = {o["name"]: o for o in report["objectives"]}  # type: ignore[index, union-attr]
    assert by_name["b-freshness"]["burn_rates"]["1h"] > 0  # the stall after the checkpoint is seen
    assert by_name["b-availability"]["events"] > 0


def test_a_checkpoint_resumes_again_after_more_samples_and_compaction(tmp_path: Path) -> None:
    specs = _specs()
    store = _seeded(tmp_path, specs)
    store.compact()
    at_ms = AT_MS - 7 * MIN_MS  # not on the last sample: the windows' edges fall between samples
    resumed = resume(store, specs, [], at_ms)
    assert resumed.source == "checkpoint"
    assert resumed.evaluator.evaluate(at_ms).to_json() == _rebuilt(store, specs, at_ms)


def test_a_changed_definition_is_rebuilt_from_raw_samples_and_the_others_resumed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _seeded(tmp_path, _specs())
    changed = _specs(objective=99.9)
    with caplog.at_level(logging.INFO, logger="redline.checkpoints"):
        resumed = resume(store, changed, [], AT_MS)
    assert resumed.source == "checkpoint"
    assert isinstance(resumed.evaluator, EvaluatorParts)
    assert [sorted(p.names) for p in resumed.evaluator.parts][1] == ["a-availability", "b-availability"]
    assert [r.getMessage() for r in caplog.records] == [
        "definitions changed since the checkpoint: a-availability, b-availability; those rebuilt from the stored "
        "samples, the others resumed from the checkpoint"
    ]
    assert resumed.evaluator.evaluate(AT_MS).to_json() == _rebuilt(store, changed, AT_MS)


def test_a_checkpoint_of_parts_resumes_again_and_a_removed_objective_is_gone(tmp_path: Path) -> None:
    store = _seeded(tmp_path, _specs())
    changed = _specs(objective=99.9)
    parts = resume(store, changed, [], AT_MS - 60 * MIN_MS)
    save(tmp_path, parts.evaluator, changed, [], AT_MS - 60 * MIN_MS)
    fewer = [s for s in changed if s.name != "a-latency"]
    resumed = resume(store, fewer, [], AT_MS)
    assert resumed.source == "checkpoint"
    report = resumed.evaluator.evaluate(AT_MS).to_json()
    assert "a-latency" not in {o["name"] for o in report["objectives"]}  # type: ignore[union-attr]
    assert report == _rebuilt(store, fewer, AT_MS)


def test_a_checkpoint_mostly_outdated_is_rebuilt_whole_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _seeded(tmp_path, _specs())
    changed = [s.model_copy(update={"objective": 90.0}) for s in _specs()]
    with caplog.at_level(logging.INFO, logger="redline.checkpoints"):
        resumed = resume(store, changed, [], AT_MS)
    assert resumed.source == "rebuild"
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().endswith("and 5 more; rebuilding from the stored samples")
    assert resumed.evaluator.evaluate(AT_MS).to_json() == _rebuilt(store, changed, AT_MS)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_a_damaged_checkpoint_is_rebuilt_from_raw_samples_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    specs = _specs()
    store = _seeded(tmp_path, specs)
    path = checkpoint_path(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data[: len(data) // 2] if damage == "truncate" else b"" if damage == "empty" else data))
    with caplog.at_level(logging.WARNING, logger="redline.checkpoints"):
        resumed = resume(store, specs, [], AT_MS)
    assert resumed.source == "rebuild"
    assert len(caplog.records) == 1
    assert f"checkpoint {path} is damaged" in caplog.records[0].getMessage()
    assert resumed.evaluator.evaluate(AT_MS).to_json() == _rebuilt(store, specs, AT_MS)


def test_a_missing_checkpoint_is_a_rebuild_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    specs = _specs()
    store = _seeded(tmp_path, specs)
    checkpoint_path(tmp_path).unlink()
    with caplog.at_level(logging.WARNING, logger="redline.checkpoints"):
        resumed = resume(store, specs, [], AT_MS)
    assert resumed.source == "rebuild"
    assert caplog.records == []
    assert resumed.evaluator.evaluate(AT_MS).to_json() == _rebuilt(store, specs, AT_MS)


def test_an_instant_before_the_checkpoint_is_rebuilt(tmp_path: Path) -> None:
    specs = _specs()
    store = _seeded(tmp_path, specs)
    at_ms = CHECKPOINT_MS - 60 * MIN_MS
    resumed = resume(store, specs, [], at_ms)
    assert resumed.source == "rebuild"
    assert resumed.evaluator.evaluate(at_ms).to_json() == _rebuilt(store, specs, at_ms)
