"""An evaluator at an instant from what is stored: the checkpoint plus the samples since, when it
fits, else every raw sample of the longest window (a *rebuild*, as before checkpoints existed).

A checkpoint fits when it verifies, was written by this engine's format, was built for exactly
the definitions asked for (``slo.checkpoint.fingerprints``), and is not newer than the instant
asked for (``status --at`` in the past rebuilds). Anything else rebuilds, with one log line
saying why; a damaged file is never an answer.

The tail is read from ``TAIL_OVERLAP_MS`` before the checkpoint's instant: a sample stored after
the checkpoint was taken but stamped a little before it (a scrape in flight) is still ingested,
and a sample the checkpoint already holds is ignored by the evaluator (not newer than its series).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from redline.kernel.errors import StoreError
from redline.slo.checkpoint import changed, fingerprints, restore, snapshot
from redline.slo.evaluation import Evaluator, read_start_ms
from redline.slo.spec import GuardrailSpec, SLOSpec
from redline.store.checkpoint_file import read_checkpoint, write_checkpoint
from redline.store.embedded import SampleStore

__all__ = ["TAIL_OVERLAP_MS", "Resumed", "resume", "save"]

log = logging.getLogger("redline.checkpoints")

TAIL_OVERLAP_MS = 5 * 60_000
"""The tail is read from this long before the checkpoint's instant."""


@dataclass(frozen=True)
class Resumed:
    """The evaluator, how it was built and what that read."""

    evaluator: Evaluator
    source: Literal["checkpoint", "rebuild"]
    samples_read: int
    reason: str
    """Why a rebuild (empty for a checkpoint)."""


def _from_checkpoint(
    data_dir: Path, prints: dict[str, str], at_ms: int
) -> tuple[Evaluator | None, int, str]:
    """The checkpoint's evaluator and instant, or None and why it does not fit."""
    try:
        found = read_checkpoint(data_dir)
    except StoreError as exc:
        return None, 0, str(exc)
    if found is None:
        return None, 0, "no checkpoint"
    try:
        restored = restore(found.head, found.buffers)
    except ValueError as exc:
        return None, 0, f"the checkpoint cannot be used: {exc}"
    differ = changed(restored.fingerprints, prints)
    if differ:
        shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
        return None, 0, f"definitions changed since the checkpoint: {shown}"
    if restored.through_ms > at_ms:
        return None, 0, "the checkpoint is newer than the instant asked for"
    return restored.evaluator, restored.through_ms, ""


def resume(
    store: SampleStore, slos: Sequence[SLOSpec], guardrails: Sequence[GuardrailSpec], at_ms: int,
    *, pending: Iterable[pl.DataFrame] = (),
) -> Resumed:
    """The evaluator of ``slos`` and ``guardrails`` holding every stored sample up to ``at_ms``
    (and ``pending`` batches, collected but not stored yet), from the checkpoint when it fits."""
    evaluator, through_ms, reason = _from_checkpoint(store.data_dir, fingerprints(slos, guardrails), at_ms)
    if evaluator is None:
        if reason != "no checkpoint":
            log.warning("%s; rebuilding from the stored samples", reason)
        evaluator = Evaluator(slos, guardrails)
        start_ms = read_start_ms(evaluator.history_seconds, at_ms)
    else:
        start_ms = through_ms - TAIL_OVERLAP_MS
    frame = store.read(evaluator.selectors(), start_ms, at_ms)
    evaluator.ingest(frame)
    for batch in pending:
        evaluator.ingest(batch)
    return Resumed(evaluator, "rebuild" if reason else "checkpoint", frame.height, reason)


def save(
    data_dir: Path, evaluator: Evaluator, slos: Sequence[SLOSpec], guardrails: Sequence[GuardrailSpec],
    through_ms: int, *, copy: bool = False,
) -> int:
    """Write ``evaluator``'s state, current at ``through_ms``, as the data directory's checkpoint;
    its size in bytes. ``StoreError`` when it cannot be written (the old one stays)."""
    head, buffers = snapshot(evaluator, fingerprints(slos, guardrails), through_ms, copy=copy)
    return write_checkpoint(data_dir, head, buffers)
