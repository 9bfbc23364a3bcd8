"""The backtest's time-slice objectives (freshness, throughput, GPU band): every step's error ratios
from a few chunks of ingest instead of one ``ingest`` and ``evaluate`` per step.

The live replay (``SLOEvaluator.ingest`` up to each step, ``evaluate`` there) costs ~3 ms a step:
two minutes for 30 days of minutes. Here the evaluator ingests the history in chunks of at most
``CHUNK_MS``, and after each chunk reads every window of every step in it at once
(``SLOEvaluator.slice_counts``). That reads what the live replay reads at each step because a
window at ``at`` only counts slices that *end* by ``at``, and those are built from samples at or
before ``at`` alone:

- a slice that is final at ``at`` is not changed by later samples (final slices are written once);
- a slice still open at ``at`` (throughput, band) already holds all of its samples once its end is
  at or before ``at``; one ending after ``at`` is outside the window either way;
- a freshness slice after the newest sample at ``at`` is judged from that sample's value, which is
  also the latest value at or before its end: the value it is finalised with later;
- slices without data at ``at`` (a gap) count as nothing in both;
- the rings keep the objective window plus a day of final slices, so a chunk no longer than a few
  hours leaves every window of its steps retained, as long as no window is longer than the
  objective's (``fits``; longer ones go through the live replay, which clamps them as live).

An objective's ratios do not depend on its target, so they are computed once for both sides of
a comparison (``SliceRatios`` keyed by the objective less its target).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.engine import SLOEvaluator
from redline.slo.spec import SLOSpec

__all__ = ["CHUNK_MS", "SliceRatios", "fits", "slice_ratios", "target_free_key"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

CHUNK_MS = 12 * 3_600_000
"""History ingested between two reads: inside the day of slices the rings keep past the window (for
slices up to half a day). Few chunks, as each ``ingest`` has a fixed cost (polars, ~10 ms)."""
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class SliceRatios:
    """One objective's error ratio at every step per window (columns: the windows given, then the
    objective's own), and where each is known (a slice was counted)."""

    ratios: F64
    known: Bools


def fits(spec: SLOSpec, windows_ms: Sequence[int]) -> bool:
    """Whether ``spec`` replays here: a time-slice kind with a rolling window, no maintenance and no
    low-traffic floor, no burn window longer than its own and slices short enough that a chunk
    stays inside what the rings keep."""
    sliced = spec.sli.freshness or spec.sli.throughput or spec.sli.gpu
    return (
        sliced is not None
        and round(sliced.slice * 1000) <= _DAY_MS - CHUNK_MS
        and spec.calendar is None
        and not spec.maintenance
        and not spec.min_events
        and max(windows_ms, default=0) <= round(spec.window * 1000)
    )


def target_free_key(spec: SLOSpec) -> str:
    """What the ratios depend on: the objective less its target."""
    return spec.model_dump_json(exclude={"objective"})


def slice_ratios(
    specs: Sequence[SLOSpec], samples: pl.DataFrame, steps: I64, windows_ms: Sequence[int]
) -> list[SliceRatios]:
    """Each of ``specs``' (all ``fits``) error ratios at every step, ``1 − good / counted`` slices as
    ``slo.ratio_table.RatioTable`` computes them, as the live replay reads them at each step."""
    evaluator = SLOEvaluator(specs)
    metrics = sorted({s.metric for s in evaluator.selectors()})
    frame = (
        samples.select(SAMPLE_SCHEMA.names())
        .filter(pl.col("timestamp").is_not_null() & pl.col("metric").is_in(metrics))
        .sort("timestamp", maintain_order=True)
    )
    ts = frame.get_column("timestamp").to_numpy()
    widths = np.asarray([*windows_ms, 0], dtype=np.int64)
    out = [
        SliceRatios(np.zeros((len(steps), len(widths))), np.zeros((len(steps), len(widths)), dtype=np.bool_))
        for _ in specs
    ]
    cut = first = 0
    while first < len(steps):
        last = int(np.searchsorted(steps, steps[first] + CHUNK_MS, side="right")) - 1
        last = max(last, first)
        upto = int(np.searchsorted(ts, steps[last], side="right"))
        if upto > cut:
            evaluator.ingest(frame.slice(cut, upto - cut))
            cut = upto
        hi = np.broadcast_to(steps[first : last + 1, None], (last + 1 - first, len(widths)))
        for spec, answer in zip(specs, out, strict=True):
            w = widths.copy()
            w[-1] = round(spec.window * 1000)
            good, counted = evaluator.slice_counts(spec.name, hi - w[None, :], hi)
            any_counted = counted > 0
            share = np.divide(good, counted, out=np.zeros(good.shape, dtype=np.float64), where=any_counted)
            answer.ratios[first : last + 1] = np.where(any_counted, 1.0 - share, 0.0)
            answer.known[first : last + 1] = any_counted
        first = last + 1
    return out
