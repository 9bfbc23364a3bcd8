"""Backfill history for the demo: the fleet's series over the past, made at once with numpy.

``make_history`` returns the samples as a frame (``SAMPLE_SCHEMA``) that the demo appends to its
store in one batch (``redline.demo.backfill``); ``write_history`` writes the same samples as the
OpenMetrics text ``promtool tsdb create-blocks-from openmetrics`` and ``redline import`` read:
``# HELP``/``# TYPE`` per family, counters typed on the family name with ``_total`` samples,
timestamps in seconds, all samples of one family together, each series (for a histogram, each
label set minus ``le``) in one run with increasing timestamps, and ``# EOF`` at the end.

The series are the live fleet's, with the labels the agent adds on scrape (``source`` = the
source's name, plus any configured ``labels``), along a mostly healthy scenario with a few small
past incidents (``history_scenario``). Counts follow the live traffic model's rules
(``redline.demo.traffic``) as whole arrays rather than step by step, which is what makes 30 days
of one-minute samples take a fraction of a second instead of tens of seconds:

- each step serves ``rate × step × jitter`` requests (jitter uniform, seeded), and a share of a
  count is the floor of its running total (``floor(cumsum(n × share))``): the live model's carried
  remainders, so over any run of steps every share holds to within one request;
- a step runs under the profile in force at its start (phases start and end on whole steps in
  the demo's histories);
- the pipeline succeeds at every multiple of ``PIPELINE_PERIOD_S`` (Unix time) whose step runs
  under a profile with the pipeline on, processing a seeded 96k-144k rows;
- the GPUs' utilisation is ``readings_at`` of each step's request rate.

The returned stats carry the final counter values: start the live fleet from them
(``InferenceAPI(initial=stats.inference)``) and history and live data join without a reset.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final, TextIO

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.demo.counts import (
    DURATION_BUCKETS_S,
    INFERENCE_SERVICE,
    MODELS,
    PIPELINE_NAME,
    RESPONSE_CODES,
    InferenceCounts,
    PipelineCounts,
    le_text,
)
from redline.demo.gpus import GPUS, REQUESTS_PER_GPU_S, redline_gpu_labels
from redline.demo.traffic import (
    BUCKET_MEANS_S,
    FAST_SHARES,
    PIPELINE_PERIOD_S,
    SLOW_SHARES,
    Phase,
    Scenario,
    TrafficProfile,
)
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels

__all__ = [
    "DEFAULT_SOURCE_LABELS",
    "History",
    "HistoryStats",
    "history_scenario",
    "make_history",
    "write_history",
]

DEFAULT_SOURCE_LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "inference-api": {"source": "inference-api"},
    "batch-pipeline": {"source": "batch-pipeline"},
    "gpu-dcgm": {"source": "gpu-dcgm"},
}
"""Labels the agent adds to each source's series, as ``examples/demo.yaml`` configures it."""

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Series:
    metric: str
    labels: Mapping[str, str]
    values: Floats


@dataclass(frozen=True)
class _Family:
    name: str
    kind: str
    help: str
    series: tuple[_Series, ...]


@dataclass(frozen=True)
class History:
    """The history's samples, family by family, and the final values the live fleet starts from."""

    start_s: float
    end_s: float
    """Timestamp of the last sample (the final values below are at this time)."""
    times_s: Floats
    families: tuple[_Family, ...]
    inference: InferenceCounts
    pipeline: PipelineCounts
    phases: tuple[Phase, ...]

    @property
    def series(self) -> int:
        """How many series the history holds."""
        return sum(len(f.series) for f in self.families)

    @property
    def samples(self) -> int:
        """How many samples the history holds (one per series per step)."""
        return self.series * len(self.times_s)

    def frame(self) -> pl.DataFrame:
        """Every sample as one frame with ``SAMPLE_SCHEMA``, series after series in time order."""
        stamps = pl.Series("timestamp", np.round(self.times_s * 1000).astype(np.int64))
        parts = [
            pl.DataFrame({"timestamp": stamps, "value": s.values}).select(
                pl.lit(s.metric).alias("metric"), pl.lit(format_labels(s.labels)).alias("labels"),
                "timestamp", "value",
            )
            for f in self.families
            for s in f.series
        ]
        return pl.concat(parts).cast(SAMPLE_SCHEMA)


@dataclass(frozen=True)
class HistoryStats(History):
    """What ``write_history`` wrote (``path``): the history itself, with its final values."""

    path: Path


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


@dataclass(frozen=True)
class _Profiles:
    """The profile in force over each step, field by field."""

    rate: Floats
    error_share: Floats
    slow_share: Floats
    pipeline_running: npt.NDArray[np.bool_]


def _profiles(scenario: Scenario, offsets_s: Floats) -> _Profiles:
    """``scenario.profile_at`` of every offset at once: the baseline, then each phase where active."""
    base = scenario.baseline
    n = len(offsets_s)
    rate = np.full(n, base.request_rate_per_s)
    errors = np.full(n, base.error_share)
    slow = np.full(n, base.slow_share)
    running = np.full(n, base.pipeline_running)
    for ph in scenario.phases:  # later phases win, as in Scenario.profile_at
        active = (offsets_s >= ph.at_s) & (offsets_s < ph.end_s)
        for field, value in ((rate, ph.request_rate_per_s), (errors, ph.error_share), (slow, ph.slow_share),
                             (running, ph.pipeline_running)):
            if value is not None:
                field[active] = value
    return _Profiles(rate, errors, slow, running)


def _running_floor(per_step: Floats) -> npt.NDArray[np.int64]:
    """Whole counts at every step (0 first) whose increments carry their remainders forward."""
    total = np.concatenate(([0.0], np.cumsum(per_step)))
    # a hair of tolerance: shares summing to 1 (0.3 + 0.7) must give back the whole count
    return np.floor(total + 1e-9).astype(np.int64)


def make_history(
    *,
    end_s: float,
    duration_s: float,
    step_s: float = 60,
    seed: int,
    scenario: Scenario | None = None,
    source_labels: Mapping[str, Mapping[str, str]] = DEFAULT_SOURCE_LABELS,
) -> History:
    """``duration_s`` of history ending at ``end_s``, one sample per series every ``step_s``.

    Counters start at zero at ``end_s - duration_s``. ``scenario`` defaults to
    ``history_scenario(duration_s)``. Deterministic given the arguments. Raises ``ValueError``
    for a non-positive duration or step, or a source missing from ``source_labels``.
    """
    if not (duration_s > 0 and step_s > 0 and math.isfinite(duration_s) and math.isfinite(end_s)):
        raise ValueError(f"need duration_s > 0 and step_s > 0, got duration_s={duration_s}, step_s={step_s}")
    for source in ("inference-api", "batch-pipeline", "gpu-dcgm"):
        if source not in source_labels:
            raise ValueError(f"source_labels has no entry for source {source!r}")
    steps = math.floor(duration_s / step_s + 1e-9)
    start_s = end_s - steps * step_s
    chosen = scenario if scenario is not None else history_scenario(duration_s)
    times = start_s + step_s * np.arange(steps + 1, dtype=np.float64)
    profiles = _profiles(chosen, times[:-1] - start_s)  # step k runs from times[k] to times[k + 1]
    rng = np.random.default_rng(seed)

    spread = chosen.baseline.rate_jitter
    jitter = 1.0 + rng.uniform(-spread, spread, steps) if spread else np.ones(steps)
    requests = _running_floor(profiles.rate * step_s * jitter)
    served = np.diff(requests).astype(np.float64)
    errors = _running_floor(served * profiles.error_share)
    ok = requests - errors
    # cumulative buckets: the running share of requests at or under each bound; +Inf is all of them
    slow = profiles.slow_share[:, None]
    shares = (1.0 - slow) * np.asarray(FAST_SHARES) + slow * np.asarray(SLOW_SHARES)  # (steps, buckets)
    under = np.cumsum(shares, axis=1)
    buckets = [np.minimum(_running_floor(served * under[:, i]), requests) for i in range(len(DURATION_BUCKETS_S))]
    buckets.append(requests)
    per_bucket = np.diff(np.stack(buckets), axis=0, prepend=0)  # (buckets, steps + 1), not cumulative
    duration_sum = np.round(np.asarray(BUCKET_MEANS_S) @ per_bucket.astype(np.float64), 6)
    ok_served = np.diff(ok).astype(np.float64)
    first_model = _running_floor(ok_served * MODELS[0][1])
    by_model = {MODELS[0][0]: first_model, MODELS[1][0]: ok - first_model}

    last_success, rows = _pipeline(times, profiles.pipeline_running, rng, start_s=start_s, step_s=step_s)
    rate_per_s = np.concatenate(([chosen.baseline.request_rate_per_s], served / step_s))

    api = {"service": INFERENCE_SERVICE, **source_labels["inference-api"]}
    pipe = {"pipeline": PIPELINE_NAME, **source_labels["batch-pipeline"]}
    bounds = [le_text(b) for b in DURATION_BUCKETS_S] + ["+Inf"]
    codes = dict(zip(RESPONSE_CODES, (ok, errors), strict=True))

    def f(values: npt.NDArray[np.int64] | Floats) -> Floats:
        return np.asarray(values, dtype=np.float64)

    families = (
        _Family("http_requests", "counter", "HTTP requests served, by status code.", tuple(
            _Series("http_requests_total", {**api, "code": code}, f(v)) for code, v in codes.items())),
        _Family("http_request_duration_seconds", "histogram", "Time to serve a request.", (
            *(_Series("http_request_duration_seconds_bucket", {**api, "le": le}, f(v))
              for le, v in zip(bounds, buckets, strict=True)),
            _Series("http_request_duration_seconds_count", api, f(requests)),
            _Series("http_request_duration_seconds_sum", api, duration_sum),
        )),
        _Family("inferences", "counter", "Inferences run, by model.", tuple(
            _Series("inferences_total", {**api, "model": m}, f(v)) for m, v in by_model.items())),
        _Family("pipeline_last_success_timestamp_seconds", "gauge",
                "Unix time of the pipeline's last successful run.",
                (_Series("pipeline_last_success_timestamp_seconds", pipe, last_success),)),
        _Family("pipeline_rows_processed", "counter", "Rows processed by successful runs.",
                (_Series("pipeline_rows_processed_total", pipe, f(rows)),)),
        # as the dcgm collector maps the exporter's DCGM_FI_DEV_GPU_UTIL (percent) to a ratio
        _Family("redline_gpu_utilization_ratio", "gauge", "GPU busy share, 0-1.", tuple(
            _Series("redline_gpu_utilization_ratio", {**redline_gpu_labels(d), **source_labels["gpu-dcgm"]},
                    _utilization(rate_per_s, d.share))
            for d in GPUS)),
    )
    return History(
        start_s=start_s,
        end_s=float(times[-1]),
        times_s=times,
        families=families,
        inference=InferenceCounts(
            {code: int(v[-1]) for code, v in codes.items()},
            tuple(int(b[-1]) for b in buckets),
            float(duration_sum[-1]),
            {m: int(v[-1]) for m, v in by_model.items()},
        ),
        pipeline=PipelineCounts(float(last_success[-1]), int(rows[-1])),
        phases=chosen.phases,
    )


def _utilization(rate_per_s: Floats, share: float) -> Floats:
    """``readings_at``'s utilisation of one GPU as a ratio, at every step (rounded to whole percent)."""
    busy = np.clip(rate_per_s * share / REQUESTS_PER_GPU_S, 0.0, 1.0)
    return np.round(busy * 100) / 100


def _pipeline(
    times: Floats, running: npt.NDArray[np.bool_], rng: np.random.Generator, *, start_s: float, step_s: float
) -> tuple[Floats, npt.NDArray[np.int64]]:
    """The pipeline's last success time and rows processed at every step.

    A run is due at every multiple of the period in ``(start_s, end]`` and succeeds when the step
    it falls in (``(times[k], times[k + 1]]``) runs with the pipeline on. Before the first success
    the last one is the period's multiple at or before ``start_s`` (as if it had run on schedule).
    """
    first = math.floor(start_s / PIPELINE_PERIOD_S) * PIPELINE_PERIOD_S
    due = first + PIPELINE_PERIOD_S * np.arange(1, math.floor((times[-1] - first) / PIPELINE_PERIOD_S) + 1)
    step_of = np.ceil((due - start_s) / step_s).astype(np.int64) - 1
    done = due[running[np.clip(step_of, 0, len(running) - 1)]]
    made = rng.integers(96_000, 144_000, size=len(done), endpoint=True)
    cumulative = np.concatenate(([0], np.cumsum(made)))
    last = np.searchsorted(done, times, side="right")  # runs done by each step, 0: none yet
    last_success = np.concatenate(([first], done))[last]
    return last_success.astype(np.float64), cumulative[last]


# ---------------------------------------------------------------------------------------------
# OpenMetrics text


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
    """``make_history`` written to ``path`` as OpenMetrics text (see the module docstring).

    The file is written to a temporary name and renamed, so a reader never sees half of it.
    Raises ``ValueError`` as ``make_history`` does, before anything is written.
    """
    history = make_history(end_s=end_s, duration_s=duration_s, step_s=step_s, seed=seed, scenario=scenario,
                           source_labels=source_labels)
    stamps = [_fmt_ts(t) for t in history.times_s.tolist()]
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as out:
        for family in history.families:
            out.write(f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.kind}\n")
            if family.kind == "histogram":
                _write_points(out, family.series, stamps)
            else:
                for s in family.series:
                    key = _series_key(s)
                    out.writelines(f"{key} {_fmt_value(v)} {ts}\n" for v, ts in zip(s.values.tolist(), stamps,
                                                                                    strict=True))
        out.write("# EOF\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return HistoryStats(path=path, **{f.name: getattr(history, f.name) for f in fields(History)})


def _write_points(out: TextIO, series: Sequence[_Series], stamps: list[str]) -> None:
    """A histogram one metric point per timestamp: its series (buckets, count, sum) in order."""
    keys = [_series_key(s) for s in series]
    columns = [s.values.tolist() for s in series]
    for i, ts in enumerate(stamps):
        out.writelines(f"{key} {_fmt_value(col[i])} {ts}\n" for key, col in zip(keys, columns, strict=True))


def _series_key(s: _Series) -> str:
    return f"{s.metric}{{{format_labels(s.labels)}}}"


def _fmt_ts(t_s: float) -> str:
    ms = round(t_s * 1000)
    return str(ms // 1000) if ms % 1000 == 0 else f"{ms // 1000}.{ms % 1000:03d}"


def _fmt_value(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))
