"""Backfill history for the demo: the fleet's series as OpenMetrics text with explicit timestamps.

The file is what ``promtool tsdb create-blocks-from openmetrics`` and ``redline import`` read:
``# HELP``/``# TYPE`` per family, counters typed on the family name with ``_total`` samples,
timestamps in seconds, all samples of one family together, each series (for a histogram, each
label set minus ``le``) in one run with increasing timestamps, and ``# EOF`` at the end.

The series are the live fleet's, with the labels the agent adds on scrape (``source`` = the
source's name, plus any configured ``labels``), made by the same traffic model
(``redline.demo.traffic``) along a mostly healthy scenario with a few small past incidents. The
returned ``HistoryStats`` carries the final counter values: start the live fleet from them
(``InferenceAPI(initial=stats.inference)``) and history and live data join without a reset.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from redline.demo.counts import (
    DURATION_BUCKETS_S,
    INFERENCE_SERVICE,
    MODELS,
    PIPELINE_NAME,
    RESPONSE_CODES,
    InferenceCounts,
    InferenceTally,
    PipelineCounts,
    PipelineTally,
    le_text,
)
from redline.demo.fleet import FleetSimulator
from redline.demo.gpus import GpuReading, GpuTally, redline_gpu_labels
from redline.demo.traffic import PIPELINE_PERIOD_S, Phase, Scenario, TrafficProfile
from redline.kernel.labels import format_labels

__all__ = ["DEFAULT_SOURCE_LABELS", "HistoryStats", "history_scenario", "write_history"]

DEFAULT_SOURCE_LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "inference-api": {"source": "inference-api"},
    "batch-pipeline": {"source": "batch-pipeline"},
    "gpu-dcgm": {"source": "gpu-dcgm"},
}
"""Labels the agent adds to each source's series, as ``examples/demo.yaml`` configures it."""


@dataclass(frozen=True)
class HistoryStats:
    """What ``write_history`` wrote, and the final values the live fleet should start from."""

    path: Path
    start_s: float
    end_s: float
    """Timestamp of the last sample written (the final values below are at this time)."""
    samples: int
    series: int
    inference: InferenceCounts
    pipeline: PipelineCounts
    phases: tuple[Phase, ...]


def history_scenario(duration_s: float) -> Scenario:
    """A mostly healthy past with a few small incidents, placed by share of ``duration_s``.

    Each incident lasts at most 5% of the history, so the last hour (for a history of a day
    or more) is healthy baseline and the demo's own incident stands out. Over three days the
    budgets come out about half spent: the baseline alone (0.05% errors, 0.5% slow requests)
    burns at 0.5×, and the incidents add ~5% (errors: 1% for 20 min), ~4% (6% slow for 30 min)
    and ~15% (the pipeline missing runs for 12 min, so its data ages past 10 min for a few).
    """

    def length(seconds: float) -> float:
        return min(seconds, duration_s * 0.05)

    return Scenario(
        baseline=TrafficProfile(),
        phases=(
            Phase(at_s=duration_s * 0.30, name="past incident: bad config push", duration_s=length(1200),
                  error_share=0.01),
            Phase(at_s=duration_s * 0.55, name="past latency regression", duration_s=length(1800),
                  slow_share=0.06),
            Phase(at_s=duration_s * 0.80, name="past pipeline outage", duration_s=length(720),
                  pipeline_running=False),
        ),
    )


def _fmt_ts(t_s: float) -> str:
    ms = round(t_s * 1000)
    return str(ms // 1000) if ms % 1000 == 0 else f"{ms // 1000}.{ms % 1000:03d}"


def _fmt_value(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _series(metric: str, labels: Mapping[str, str]) -> str:
    return f"{metric}{{{format_labels(labels)}}}"


def write_history(
    path: Path,
    *,
    end_s: float,
    duration_s: float,
    step_s: float = 60,
    seed: int,
    scenario: Scenario | None = None,
    source_labels: Mapping[str, Mapping[str, str]] = DEFAULT_SOURCE_LABELS,
) -> HistoryStats:
    """Write ``duration_s`` of history ending at ``end_s``, one sample per series every ``step_s``.

    Counters start at zero at ``end_s - duration_s``. ``scenario`` defaults to
    ``history_scenario(duration_s)``. The file is written to a temporary name and renamed, so a
    reader never sees half of it. Raises ``ValueError`` for a non-positive duration or step.
    """
    if not (duration_s > 0 and step_s > 0 and math.isfinite(duration_s) and math.isfinite(end_s)):
        raise ValueError(f"need duration_s > 0 and step_s > 0, got duration_s={duration_s}, step_s={step_s}")
    for source in ("inference-api", "batch-pipeline", "gpu-dcgm"):
        if source not in source_labels:
            raise ValueError(f"source_labels has no entry for source {source!r}")
    steps = math.floor(duration_s / step_s + 1e-9)
    start_s = end_s - steps * step_s
    chosen = scenario if scenario is not None else history_scenario(duration_s)

    api = InferenceTally()
    # as if the pipeline had run on schedule just before the history starts
    last_run_s = math.floor(start_s / PIPELINE_PERIOD_S) * PIPELINE_PERIOD_S
    pipeline = PipelineTally(PipelineCounts(last_success_s=last_run_s))
    gpus = GpuTally(chosen.baseline.request_rate_per_s)
    sim = FleetSimulator(api, pipeline, start_s=start_s, seed=seed, scenario=chosen, max_step_s=step_s, gpus=gpus,
                         log_events=False)
    times: list[float] = []
    inference: list[InferenceCounts] = []
    pipe: list[PipelineCounts] = []
    gpu_readings: list[tuple[GpuReading, ...]] = []
    for k in range(steps + 1):
        t = start_s + k * step_s
        sim.advance(t)
        times.append(t)
        inference.append(api.snapshot())
        pipe.append(pipeline.snapshot())
        gpu_readings.append(gpus.snapshot())

    api_labels = {"service": INFERENCE_SERVICE, **source_labels["inference-api"]}
    pipe_labels = {"pipeline": PIPELINE_NAME, **source_labels["batch-pipeline"]}
    stamps = [_fmt_ts(t) for t in times]
    tmp = path.with_name(path.name + ".tmp")
    samples = 0
    series = 0
    with tmp.open("w", encoding="utf-8", newline="\n") as out:

        def write_series(metric: str, labels: Mapping[str, str], values: list[float]) -> None:
            nonlocal samples, series
            key = _series(metric, labels)
            out.writelines(f"{key} {_fmt_value(v)} {ts}\n" for v, ts in zip(values, stamps, strict=True))
            samples += len(values)
            series += 1

        _family(out, "http_requests", "counter", "HTTP requests served, by status code.")
        for code in RESPONSE_CODES:
            write_series("http_requests_total", {**api_labels, "code": code},
                           [c.requests_by_code[code] for c in inference])

        _family(out, "http_request_duration_seconds", "histogram", "Time to serve a request.")
        bounds = [le_text(b) for b in DURATION_BUCKETS_S] + ["+Inf"]
        bucket_keys = [
            _series("http_request_duration_seconds_bucket", {**api_labels, "le": le}) for le in bounds
        ]
        count_key = _series("http_request_duration_seconds_count", api_labels)
        sum_key = _series("http_request_duration_seconds_sum", api_labels)
        for c, ts in zip(inference, stamps, strict=True):
            # one metric point per timestamp: buckets in order, then count and sum
            out.writelines(f"{key} {n} {ts}\n" for key, n in zip(bucket_keys, c.bucket_counts, strict=True))
            out.write(f"{count_key} {c.requests_total} {ts}\n")
            out.write(f"{sum_key} {_fmt_value(round(c.duration_sum_s, 6))} {ts}\n")
        samples += len(stamps) * (len(bucket_keys) + 2)
        series += len(bucket_keys) + 2

        _family(out, "inferences", "counter", "Inferences run, by model.")
        for model, _ in MODELS:
            write_series("inferences_total", {**api_labels, "model": model},
                           [c.inferences_by_model[model] for c in inference])

        _family(out, "pipeline_last_success_timestamp_seconds", "gauge",
                "Unix time of the pipeline's last successful run.")
        write_series("pipeline_last_success_timestamp_seconds", pipe_labels, [p.last_success_s for p in pipe])
        _family(out, "pipeline_rows_processed", "counter", "Rows processed by successful runs.")
        write_series("pipeline_rows_processed_total", pipe_labels, [p.rows_processed for p in pipe])

        # as the dcgm collector maps the exporter's DCGM_FI_DEV_GPU_UTIL (percent) to a ratio
        _family(out, "redline_gpu_utilization_ratio", "gauge", "GPU busy share, 0-1.")
        for i, first in enumerate(gpu_readings[0]):
            labels = {**redline_gpu_labels(first.device), **source_labels["gpu-dcgm"]}
            write_series("redline_gpu_utilization_ratio", labels, [r[i].utilization_pct / 100 for r in gpu_readings])
        out.write("# EOF\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    final = inference[-1]
    return HistoryStats(
        path=path,
        start_s=start_s,
        end_s=times[-1],
        samples=samples,
        series=series,
        inference=InferenceCounts(  # the sum as written in the file
            final.requests_by_code,
            final.bucket_counts,
            round(final.duration_sum_s, 6),
            final.inferences_by_model,
        ),
        pipeline=pipe[-1],
        phases=chosen.phases,
    )


def _family(out: TextIO, name: str, kind: str, help_text: str) -> None:
    out.write(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
