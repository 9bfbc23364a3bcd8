"""An evaluator at an instant from what is stored: the checkpoint plus the samples since, when it
fits, else every raw sample of the longest window (a *rebuild*, as before checkpoints existed).

A checkpoint fits when it verifies, was written by this engine's format and is not newer than
the instant asked for (``status --at`` in the past rebuilds); anything else rebuilds, with one
log line saying why (none for a missing file): a damaged file is never an answer. Objectives
are resumed per definition (``slo.checkpoint.fingerprints``): one that changed, or that the
checkpoint lacks, is rebuilt from raw samples in a part of its own (``slo.evaluator_parts``).

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
from redline.kernel.labels import Selector
from redline.slo.checkpoint import Restored, changed, fingerprints, restore, snapshot
from redline.slo.evaluation import Evaluator, read_start_ms
from redline.slo.evaluator_parts import EvaluatorParts, Part
from redline.slo.spec import GuardrailSpec, SLOSpec
from redline.store.checkpoint_file import read_checkpoint, write_checkpoint
from redline.store.embedded import SampleStore

__all__ = ["TAIL_OVERLAP_MS", "Resumed", "resume", "save"]

log = logging.getLogger("redline.checkpoints")

TAIL_OVERLAP_MS = 5 * 60_000
"""The tail is read from this long before the checkpoint's instant."""
NO_CHECKPOINT = "no checkpoint"
"""The reason for a rebuild that is not worth a warning."""


@dataclass(frozen=True)
class Resumed:
    """The evaluator, how it was built and what that read."""

    evaluator: Evaluator | EvaluatorParts
    source: Literal["checkpoint", "rebuild"]
    samples_read: int
    reason: str
    """Why a rebuild, or which objectives were rebuilt beside the checkpoint (empty: none)."""


def _restored(data_dir: Path, at_ms: int) -> tuple[Restored | None, str]:
    """The checkpoint if it can be used at ``at_ms``, or None and why not."""
    try:
        found = read_checkpoint(data_dir)
    except StoreError as exc:
        return None, str(exc)
    if found is None:
        return None, NO_CHECKPOINT
    try:
        restored = restore(found.head, found.buffers)
    except ValueError as exc:
        return None, f"the checkpoint cannot be used: {exc}"
    if restored.through_ms > at_ms:
        return None, "the checkpoint is newer than the instant asked for"
    return restored, ""


def _kept(restored: Restored, wanted: dict[str, str]) -> tuple[list[Part], int]:
    """The checkpoint's parts, each answering only for names still defined as they were, and how
    many objectives they hold that no longer count."""
    kept, dead = [], 0
    for part in restored.parts:
        live = frozenset(n for n in part.names if n in wanted and restored.fingerprints.get(n) == wanted[n])
        dead += len(part.evaluator.names) - len(live)
        if live:
            kept.append(Part(part.evaluator, live))
    return kept, dead


def _by_metric(selectors: Sequence[Selector]) -> list[Selector]:
    """One selector per metric name: the tail's few minutes of every series of those metrics cost
    less to read than matching a thousand objectives' selectors against every series (the
    evaluator ignores the series none of its objectives selects)."""
    return [Selector(metric) for metric in sorted({s.metric for s in selectors})]


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def resume(
    store: SampleStore, slos: Sequence[SLOSpec], guardrails: Sequence[GuardrailSpec], at_ms: int,
    *, pending: Iterable[pl.DataFrame] = (),
) -> Resumed:
    """The evaluator of ``slos`` and ``guardrails`` holding every stored sample up to ``at_ms``
    (and ``pending`` batches, collected but not stored yet), from the checkpoint when it fits.

    Objectives whose definition changed since the checkpoint (or that it lacks) are rebuilt from
    raw samples in a part of their own, the others resumed; when most of what the checkpoint
    holds is outdated, everything is rebuilt (so parts do not pile up)."""
    wanted = fingerprints(slos, guardrails)
    restored, reason = _restored(store.data_dir, at_ms)
    kept: list[Part] = []
    if restored is not None:
        kept, dead = _kept(restored, wanted)
        differ = changed(restored.fingerprints, wanted)
        if not kept or dead > sum(len(p.names) for p in kept):
            reason = f"definitions changed since the checkpoint: {_listed(differ)}"
            kept = []
        elif differ:
            reason = f"definitions changed since the checkpoint: {_listed(differ)}"
    if not kept:
        if reason != NO_CHECKPOINT:
            log.warning("%s; rebuilding from the stored samples", reason)
        evaluator = Evaluator(slos, guardrails)
        frame = store.read(evaluator.selectors(), read_start_ms(evaluator.history_seconds, at_ms), at_ms)
        evaluator.ingest(frame)
        for batch in pending:
            evaluator.ingest(batch)
        return Resumed(evaluator, "rebuild", frame.height, reason)
    assert restored is not None
    whole = EvaluatorParts(kept)
    frame = store.read(_by_metric(whole.selectors()), restored.through_ms - TAIL_OVERLAP_MS, at_ms)
    whole.ingest(frame)
    read = frame.height
    covered = set(whole.names)
    missing_slos = [s for s in slos if s.name not in covered]
    missing_guardrails = [g for g in guardrails if g.name not in covered]
    if missing_slos or missing_guardrails:
        log.warning("%s; those rebuilt from the stored samples, the others resumed from the checkpoint", reason)
        fresh = Evaluator(missing_slos, missing_guardrails)
        frame = store.read(fresh.selectors(), read_start_ms(fresh.history_seconds, at_ms), at_ms)
        fresh.ingest(frame)
        read += frame.height
        kept.append(Part(fresh, frozenset(fresh.names)))
        whole = EvaluatorParts(kept)
    elif reason:
        log.info("%s; the rest resumed from the checkpoint", reason)
    for batch in pending:
        whole.ingest(batch)
    simple = len(kept) == 1 and len(kept[0].names) == len(kept[0].evaluator.names)
    return Resumed(kept[0].evaluator if simple else whole, "checkpoint", read, reason)


def save(
    data_dir: Path, evaluator: Evaluator | EvaluatorParts, slos: Sequence[SLOSpec], guardrails: Sequence[GuardrailSpec],
    through_ms: int, *, copy: bool = False,
) -> int:
    """Write ``evaluator``'s state, current at ``through_ms``, as the data directory's checkpoint;
    its size in bytes. ``StoreError`` when it cannot be written (the old one stays)."""
    head, buffers = snapshot(evaluator, fingerprints(slos, guardrails), through_ms, copy=copy)
    return write_checkpoint(data_dir, head, buffers)
