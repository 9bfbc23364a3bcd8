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
from typing import Any

import numpy as np
import polars as pl
import pytest

from redline.checkpoints.resume import resume, save
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.evaluation import Evaluator, read_start_ms
from redline.slo.evaluator_parts import EvaluatorParts
from redline.slo.spec import GuardrailSpec, SLOSpec
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


GUARDRAILS = [
    GuardrailSpec.model_validate({"name": "monthly", "budget": {"spend": "spend_usd_total", "limit": 500,
                                                                "showback_by": ["team"]}}),
    GuardrailSpec.model_validate({"name": "per1k", "window": "1d", "cost_per_1k": {
        "spend": "spend_usd_total", "inferences": 'requests_total{code="200"}', "max": 0.5}}),
]


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
    for team in ("x", "y"):
        rows.append(("spend_usd_total", f'team="{team}"', ts, np.cumsum(rng.uniform(0.0, 0.2, n))))
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
    first = resume(store, specs, GUARDRAILS, CHECKPOINT_MS)
    assert first.source == "rebuild"
    save(data_dir, first.evaluator, specs, GUARDRAILS, CHECKPOINT_MS)
    store.append(samples.filter(pl.col("timestamp") > CHECKPOINT_MS))
    return store


def _close(got: object, want: object) -> bool:
    """Equal, floats to 1e-12 relative (nested dicts and lists walked)."""
    if isinstance(got, float) and isinstance(want, float):
        return got == pytest.approx(want, rel=1e-12)
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(_close(got[k], want[k]) for k in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(_close(g, w) for g, w in zip(got, want, strict=True))
    return got == want


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    """The ``status --json`` documents are equal: every objective's figures exactly; the
    guardrails' (and the cost dimension's) to 1e-12, the rounding of summing fractional spend a
    day at once or minute by minute (a running agent's answers differ from a rebuild's as much)."""
    spend = {g.name for g in GUARDRAILS}
    assert [o["name"] for o in got["objectives"]] == [o["name"] for o in want["objectives"]]
    assert [o for o in got["objectives"] if o["name"] not in spend] == [
        o for o in want["objectives"] if o["name"] not in spend
    ]
    assert [d for d in got["dimensions"] if d["name"] != "cost"] == [
        d for d in want["dimensions"] if d["name"] != "cost"
    ]
    for g, w in zip(got["objectives"] + got["dimensions"], want["objectives"] + want["dimensions"], strict=True):
        assert _close(g, w), (g, w)
    assert got["at"] == want["at"]


def _rebuilt(store: SampleStore, specs: list[SLOSpec], at_ms: int) -> dict[str, Any]:
    """The report as before checkpoints: every raw sample of the longest window, at once."""
    evaluator = Evaluator(specs, GUARDRAILS)
    evaluator.ingest(store.read(evaluator.selectors(), read_start_ms(evaluator.history_seconds, at_ms), at_ms))
    return evaluator.evaluate(at_ms).to_json()


def test_checkpoint_plus_tail_reports_exactly_what_a_full_rebuild_reports(tmp_path: Path) -> None:
    specs = _specs()
    store = _seeded(tmp_path, specs)
    resumed = resume(store, specs, GUARDRAILS, AT_MS)
    assert resumed.source == "checkpoint"
    assert resumed.samples_read < store.read(resumed.evaluator.selectors(), 0, AT_MS).height / 3
    report = resumed.evaluator.evaluate(AT_MS).to_json()
    assert_same(report, _rebuilt(store, specs, AT_MS))
    by_name = {o["name"]: o for o in report["objectives"]}
    assert by_name["b-freshness"]["burn_rates"]["1h"] > 0  # the stall after the checkpoint is seen
    assert by_name["b-availability"]["events"] > 0


def test_a_checkpoint_resumes_again_after_more_samples_and_compaction(tmp_path: Path) -> None:
    specs = _specs()
    store = _seeded(tmp_path, specs)
    store.compact()
    at_ms = AT_MS - 7 * MIN_MS  # not on the last sample: the windows' edges fall between samples
    resumed = resume(store, specs, GUARDRAILS, at_ms)
    assert resumed.source == "checkpoint"
    assert_same(resumed.evaluator.evaluate(at_ms).to_json(), _rebuilt(store, specs, at_ms))


def test_a_changed_definition_is_rebuilt_from_raw_samples_and_the_others_resumed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _seeded(tmp_path, _specs())
    changed = _specs(objective=99.9)
    with caplog.at_level(logging.INFO, logger="redline.checkpoints"):
        resumed = resume(store, changed, GUARDRAILS, AT_MS)
    assert resumed.source == "checkpoint"
    assert isinstance(resumed.evaluator, EvaluatorParts)
    assert [sorted(p.names) for p in resumed.evaluator.parts][1] == ["a-availability", "b-availability"]
    assert [r.getMessage() for r in caplog.records] == [
        "definitions changed since the checkpoint: a-availability, b-availability; those rebuilt from the stored "
        "samples, the others resumed from the checkpoint"
    ]
    assert_same(resumed.evaluator.evaluate(AT_MS).to_json(), _rebuilt(store, changed, AT_MS))


def test_a_checkpoint_of_parts_resumes_again_and_a_removed_objective_is_gone(tmp_path: Path) -> None:
    store = _seeded(tmp_path, _specs())
    changed = _specs(objective=99.9)
    parts = resume(store, changed, GUARDRAILS, AT_MS - 60 * MIN_MS)
    save(tmp_path, parts.evaluator, changed, GUARDRAILS, AT_MS - 60 * MIN_MS)
    fewer = [s for s in changed if s.name != "a-latency"]
    resumed = resume(store, fewer, GUARDRAILS, AT_MS)
    assert resumed.source == "checkpoint"
    report = resumed.evaluator.evaluate(AT_MS).to_json()
    assert "a-latency" not in {o["name"] for o in report["objectives"]}
    assert_same(report, _rebuilt(store, fewer, AT_MS))


def test_a_checkpoint_mostly_outdated_is_rebuilt_whole_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _seeded(tmp_path, _specs())
    changed = [s.model_copy(update={"objective": 90.0}) for s in _specs()]
    with caplog.at_level(logging.INFO, logger="redline.checkpoints"):
        resumed = resume(store, changed, GUARDRAILS, AT_MS)
    assert resumed.source == "rebuild"
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().endswith("and 5 more; rebuilding from the stored samples")
    assert_same(resumed.evaluator.evaluate(AT_MS).to_json(), _rebuilt(store, changed, AT_MS))


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
        resumed = resume(store, specs, GUARDRAILS, AT_MS)
    assert resumed.source == "rebuild"
    assert len(caplog.records) == 1
    assert f"checkpoint {path} is damaged" in caplog.records[0].getMessage()
    assert_same(resumed.evaluator.evaluate(AT_MS).to_json(), _rebuilt(store, specs, AT_MS))


def test_a_missing_checkpoint_is_a_rebuild_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    specs = _specs()
    store = _seeded(tmp_path, specs)
    checkpoint_path(tmp_path).unlink()
    with caplog.at_level(logging.WARNING, logger="redline.checkpoints"):
        resumed = resume(store, specs, GUARDRAILS, AT_MS)
    assert resumed.source == "rebuild"
    assert caplog.records == []
    assert_same(resumed.evaluator.evaluate(AT_MS).to_json(), _rebuilt(store, specs, AT_MS))


def test_an_instant_before_the_checkpoint_is_rebuilt(tmp_path: Path) -> None:
    specs = _specs()
    store = _seeded(tmp_path, specs)
    at_ms = CHECKPOINT_MS - 60 * MIN_MS
    resumed = resume(store, specs, GUARDRAILS, at_ms)
    assert resumed.source == "rebuild"
    assert_same(resumed.evaluator.evaluate(at_ms).to_json(), _rebuilt(store, specs, at_ms))
