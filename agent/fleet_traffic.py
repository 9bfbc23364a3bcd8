"""The demo fleet's traffic model: scripted scenarios and deterministic per-step counts.

Shared by the live fleet (``agent.fleet``) and the history generator (``agent.history``) so that
backfilled history and live data are the same series, made the same way. Nothing here does I/O.

A ``Scenario`` is data: a baseline ``TrafficProfile`` and a tuple of ``Phase`` overrides with
start offsets in seconds from the scenario's start. ``TrafficModel.step`` turns a profile and a
time step into whole request counts; shares (errors, slow requests, models, buckets) are
allocated with carried remainders, so over any run of steps they match the profile to within
one request, while a seeded ``random.Random`` adds jitter to the request rate and batch sizes.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field, replace
from typing import Final

__all__ = [
    "DEMO_SCENARIO",
    "DURATION_BUCKETS_S",
    "INFERENCE_SERVICE",
    "MODELS",
    "PIPELINE_NAME",
    "PIPELINE_PERIOD_S",
    "RESPONSE_CODES",
    "InferenceCounts",
    "InferenceStep",
    "InferenceTally",
    "Phase",
    "PipelineCounts",
    "PipelineTally",
    "Scenario",
    "TrafficModel",
    "TrafficProfile",
    "le_text",
]

INFERENCE_SERVICE: Final = "inference-api"
PIPELINE_NAME: Final = "features"
PIPELINE_PERIOD_S: Final = 300.0
"""The batch pipeline runs at every multiple of this many seconds since the epoch (``*/5`` cron)."""

RESPONSE_CODES: Final = ("200", "500")
"""Codes the inference API pre-initialises at 0, so both series exist from the first scrape."""

DURATION_BUCKETS_S: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of ``http_request_duration_seconds`` (``+Inf`` is implied)."""

MODELS: Final = (("llama-3-8b", 0.7), ("mistral-7b", 0.3))
"""Models served and their share of successful requests (``inferences_total{model}``)."""

# Shares of each bucket (the last entry is the +Inf bucket). Fast requests all finish within
# 250 ms and slow ones all take longer, so the share over 250 ms is exactly ``slow_share``.
_FAST_SHARES: Final = (0.02, 0.08, 0.30, 0.40, 0.20, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_SLOW_SHARES: Final = (0.0, 0.0, 0.0, 0.0, 0.0, 0.55, 0.30, 0.12, 0.03, 0.0, 0.0)
# A representative duration per bucket, for the histogram's _sum.
_BUCKET_MEANS_S: Final = (0.007, 0.018, 0.04, 0.07, 0.15, 0.35, 0.7, 1.6, 3.5, 7.0, 12.0)


def le_text(bound: float) -> str:
    """The ``le`` label text prometheus-client writes for a positive finite bound (``1`` → ``1.0``)."""
    return repr(float(bound))


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True)
class TrafficProfile:
    """How the fleet behaves: request rate, error and slow-request shares, pipeline on or off."""

    request_rate_per_s: float = 50.0
    error_share: float = 0.0005
    slow_share: float = 0.005
    """Share of requests slower than 250 ms."""
    rate_jitter: float = 0.1
    """The request rate of each step varies uniformly by up to this fraction."""
    pipeline_running: bool = True

    def __post_init__(self) -> None:
        _check_fields(self, "traffic profile")


def _check_fields(p: TrafficProfile | Phase, where: str) -> None:
    """Raise ``ValueError`` naming ``where`` for a rate or share out of range (``None`` is fine)."""
    rate = p.request_rate_per_s
    if rate is not None and not (rate >= 0 and math.isfinite(rate)):
        raise ValueError(f"{where}: request_rate_per_s must be finite and >= 0, got {rate}")
    for name in ("error_share", "slow_share", "rate_jitter"):
        value = getattr(p, name, None)
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"{where}: {name} must be between 0 and 1, got {value}")


@dataclass(frozen=True)
class Phase:
    """From ``at_s`` seconds after the start, for ``duration_s`` (``None``: to the end), override
    the baseline fields that are not ``None``; services named in ``restart`` restart at ``at_s``."""

    at_s: float
    name: str
    duration_s: float | None = None
    request_rate_per_s: float | None = None
    error_share: float | None = None
    slow_share: float | None = None
    pipeline_running: bool | None = None
    restart: tuple[str, ...] = ()

    @property
    def end_s(self) -> float:
        """Offset at which the phase stops applying (``inf`` when it lasts to the end)."""
        return math.inf if self.duration_s is None else self.at_s + self.duration_s

    def active_at(self, offset_s: float) -> bool:
        """Whether the phase's overrides apply at this offset (start inclusive, end exclusive)."""
        return self.at_s <= offset_s < self.end_s


_RESTARTABLE: Final = frozenset({"inference-api", "batch-pipeline"})


@dataclass(frozen=True)
class Scenario:
    """A baseline profile and its scripted phases; later phases win where they overlap."""

    baseline: TrafficProfile = field(default_factory=TrafficProfile)
    phases: tuple[Phase, ...] = ()

    def __post_init__(self) -> None:
        for i, ph in enumerate(self.phases):
            where = f"phases[{i}] ({ph.name!r})"
            if not (ph.at_s >= 0 and math.isfinite(ph.at_s)):
                raise ValueError(f"{where}: at_s must be a finite offset >= 0, got {ph.at_s}")
            if ph.duration_s is not None and not ph.duration_s > 0:
                raise ValueError(f"{where}: duration_s must be > 0 or None, got {ph.duration_s}")
            unknown = set(ph.restart) - _RESTARTABLE
            if unknown:
                raise ValueError(f"{where}: cannot restart {sorted(unknown)}; known: {sorted(_RESTARTABLE)}")
            _check_fields(ph, where)

    @staticmethod
    def _apply(profile: TrafficProfile, ph: Phase) -> TrafficProfile:
        changes = {
            name: getattr(ph, name)
            for name in ("request_rate_per_s", "error_share", "slow_share", "pipeline_running")
            if getattr(ph, name) is not None
        }
        return replace(profile, **changes) if changes else profile

    def profile_at(self, offset_s: float) -> TrafficProfile:
        """The profile in force ``offset_s`` seconds after the start."""
        profile = self.baseline
        for ph in self.phases:
            if ph.active_at(offset_s):
                profile = self._apply(profile, ph)
        return profile

    def boundaries(self) -> list[float]:
        """Sorted offsets where the profile may change (phase starts and ends)."""
        points = {ph.at_s for ph in self.phases} | {ph.end_s for ph in self.phases if ph.duration_s}
        return sorted(points)


DEMO_SCENARIO: Final = Scenario(
    baseline=TrafficProfile(),
    phases=(
        # A bad deploy: 40% of requests fail and clients retry (3× traffic) for 60 s. Against a
        # full hour of healthy history the 1h error ratio crosses 14.4 × 0.1% about 43 s in
        # (reaching ~20× by the end), and the 5m ratio is far above it, so a page fires well
        # within two minutes of the demo's start. 30% errors at normal traffic would need ~3 min.
        Phase(at_s=40, name="incident", duration_s=60, request_rate_per_s=150, error_share=0.4,
              slow_share=0.25),
        Phase(at_s=120, name="restart", restart=("inference-api",)),
        Phase(at_s=150, name="pipeline stall", pipeline_running=False),
    ),
)
"""The scripted demo: incident at +40 s for 60 s, API restart at +120 s, pipeline stall from +150 s."""


# ---------------------------------------------------------------------------------------------
# Counts


@dataclass(frozen=True)
class InferenceStep:
    """What the inference API served in one step; ``bucket_counts`` are per bucket (not cumulative),
    one per bound in ``DURATION_BUCKETS_S`` plus the ``+Inf`` bucket."""

    requests_by_code: dict[str, int]
    bucket_counts: tuple[int, ...]
    duration_sum_s: float
    inferences_by_model: dict[str, int]


@dataclass(frozen=True)
class InferenceCounts:
    """Counter values of the inference API; ``bucket_counts`` are cumulative, the last is ``+Inf``."""

    requests_by_code: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESPONSE_CODES, 0))
    bucket_counts: tuple[int, ...] = (0,) * (len(DURATION_BUCKETS_S) + 1)
    duration_sum_s: float = 0.0
    inferences_by_model: dict[str, int] = field(default_factory=lambda: {m: 0 for m, _ in MODELS})

    def __post_init__(self) -> None:
        if len(self.bucket_counts) != len(DURATION_BUCKETS_S) + 1:
            raise ValueError(
                f"bucket_counts needs {len(DURATION_BUCKETS_S) + 1} values, got {len(self.bucket_counts)}"
            )
        if any(b < a for a, b in zip(self.bucket_counts, self.bucket_counts[1:], strict=False)):
            raise ValueError(f"bucket_counts must be cumulative (non-decreasing), got {self.bucket_counts}")
        if self.bucket_counts[-1] != self.requests_total:
            raise ValueError(
                f"the +Inf bucket ({self.bucket_counts[-1]}) must equal the requests served "
                f"({self.requests_total})"
            )
        values = [*self.requests_by_code.values(), *self.inferences_by_model.values(), *self.bucket_counts]
        if any(v < 0 for v in values) or self.duration_sum_s < 0:
            raise ValueError("counter values must be >= 0")

    @property
    def requests_total(self) -> int:
        """All requests served (equals the histogram's count)."""
        return sum(self.requests_by_code.values())


@dataclass(frozen=True)
class PipelineCounts:
    """The batch pipeline's gauge and counter: last success (Unix seconds) and rows processed."""

    last_success_s: float = 0.0
    rows_processed: int = 0


class InferenceTally:
    """Thread-safe running counters of the inference API, fed by steps, read as snapshots."""

    def __init__(self, initial: InferenceCounts | None = None) -> None:
        start = initial or InferenceCounts()
        self._lock = threading.Lock()
        self._codes = dict.fromkeys(RESPONSE_CODES, 0) | start.requests_by_code
        self._buckets = list(start.bucket_counts)
        self._sum_s = start.duration_sum_s
        self._models = {m: 0 for m, _ in MODELS} | start.inferences_by_model

    def record(self, step: InferenceStep) -> None:
        """Add one step's requests to the counters."""
        with self._lock:
            for code, n in step.requests_by_code.items():
                self._codes[code] = self._codes.get(code, 0) + n
            running = 0
            for i, n in enumerate(step.bucket_counts):
                running += n
                self._buckets[i] += running
            self._sum_s += step.duration_sum_s
            for model, n in step.inferences_by_model.items():
                self._models[model] = self._models.get(model, 0) + n

    def restart(self) -> None:
        """Back to zero, as a restarted process's counters are."""
        with self._lock:
            self._codes = dict.fromkeys(self._codes, 0)
            self._buckets = [0] * len(self._buckets)
            self._sum_s = 0.0
            self._models = dict.fromkeys(self._models, 0)

    def snapshot(self) -> InferenceCounts:
        """The current values."""
        with self._lock:
            return InferenceCounts(dict(self._codes), tuple(self._buckets), self._sum_s, dict(self._models))


class PipelineTally:
    """Thread-safe last-success gauge and rows counter of the batch pipeline."""

    def __init__(self, initial: PipelineCounts | None = None) -> None:
        start = initial or PipelineCounts()
        self._lock = threading.Lock()
        self._last_success_s = start.last_success_s
        self._rows = start.rows_processed

    def record_run(self, at_s: float, rows: int) -> None:
        """A successful run finishing at ``at_s`` that processed ``rows`` rows."""
        with self._lock:
            self._last_success_s = at_s
            self._rows += rows

    def restart(self) -> None:
        """The rows counter restarts at zero; the last-success time survives (it is stored state)."""
        with self._lock:
            self._rows = 0

    def snapshot(self) -> PipelineCounts:
        """The current values."""
        with self._lock:
            return PipelineCounts(self._last_success_s, self._rows)


# ---------------------------------------------------------------------------------------------
# The model


def _allocate(total: int, shares: tuple[float, ...], carry: list[float]) -> list[int]:
    """Split ``total`` into whole parts by ``shares``, carrying each part's remainder forward."""
    wanted = [total * s + c for s, c in zip(shares, carry, strict=True)]
    parts = [max(0, math.floor(w)) for w in wanted]
    short = total - sum(parts)
    if short > 0:
        order = sorted(range(len(parts)), key=lambda i: wanted[i] - parts[i], reverse=True)
        for i in order[:short]:
            parts[i] += 1
    elif short < 0:
        order = sorted(range(len(parts)), key=lambda i: wanted[i] - parts[i])
        for i in order:
            if short == 0:
                break
            take = min(parts[i], -short)
            parts[i] -= take
            short += take
    for i, (w, p) in enumerate(zip(wanted, parts, strict=True)):
        carry[i] = w - p
    return parts


class TrafficModel:
    """Deterministic given its seed and the sequence of steps asked of it; not thread-safe."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._request_carry = 0.0
        self._error_carry = [0.0, 0.0]
        self._bucket_carry = [0.0] * (len(DURATION_BUCKETS_S) + 1)
        self._model_carry = [0.0] * len(MODELS)

    def step(self, profile: TrafficProfile, dt_s: float) -> InferenceStep:
        """The requests served over ``dt_s`` seconds under ``profile``."""
        spread = profile.rate_jitter
        jitter = 1.0 + self._rng.uniform(-spread, spread) if spread else 1.0
        wanted = profile.request_rate_per_s * dt_s * jitter + self._request_carry
        n = math.floor(wanted)
        self._request_carry = wanted - n
        ok, errors = _allocate(n, (1.0 - profile.error_share, profile.error_share), self._error_carry)
        slow = profile.slow_share
        shares = tuple((1.0 - slow) * f + slow * s for f, s in zip(_FAST_SHARES, _SLOW_SHARES, strict=True))
        buckets = _allocate(n, shares, self._bucket_carry)
        duration_sum = sum(c * m for c, m in zip(buckets, _BUCKET_MEANS_S, strict=True))
        models = _allocate(ok, tuple(s for _, s in MODELS), self._model_carry)
        return InferenceStep(
            requests_by_code={"200": ok, "500": errors},
            bucket_counts=tuple(buckets),
            duration_sum_s=duration_sum,
            inferences_by_model={m: c for (m, _), c in zip(MODELS, models, strict=True)},
        )

    def batch_rows(self) -> int:
        """Rows one pipeline run processes (about 120k, ±20%)."""
        return self._rng.randint(96_000, 144_000)
