"""The demo fleet's traffic model: scripted scenarios and deterministic per-step counts.

Shared by the live fleet (``redline.demo.fleet``) and the history generator (``redline.demo.history``) so that
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
from dataclasses import dataclass, field, replace
from typing import Final

from redline.demo.counts import DURATION_BUCKETS_S, MODELS, InferenceStep

__all__ = [
    "BUCKET_MEANS_S",
    "DEMO_SCENARIO",
    "FAST_SHARES",
    "PIPELINE_PERIOD_S",
    "SLOW_SHARES",
    "Phase",
    "Scenario",
    "TrafficModel",
    "TrafficProfile",
]

PIPELINE_PERIOD_S: Final = 300.0
"""The batch pipeline runs at every multiple of this many seconds since the epoch (``*/5`` cron)."""

FAST_SHARES: Final = (0.02, 0.08, 0.30, 0.40, 0.20, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
"""Share of fast requests in each duration bucket (the last entry is the +Inf bucket): they all
finish within 250 ms, and slow ones (``SLOW_SHARES``) all take longer, so the share over 250 ms is
exactly ``slow_share``."""
SLOW_SHARES: Final = (0.0, 0.0, 0.0, 0.0, 0.0, 0.55, 0.30, 0.12, 0.03, 0.0, 0.0)
"""Share of slow requests in each duration bucket (see ``FAST_SHARES``)."""
BUCKET_MEANS_S: Final = (0.007, 0.018, 0.04, 0.07, 0.15, 0.35, 0.7, 1.6, 3.5, 7.0, 12.0)
"""A representative duration per bucket, for the histogram's ``_sum``."""


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
    note: str = ""
    """What happens, as the demo logs it when the phase starts (empty: the name alone)."""

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
    pipeline_run_at_s: float | None = None
    """Offset of one of the pipeline's runs; it runs every ``PIPELINE_PERIOD_S`` before and after.
    ``None``: at every multiple of the period in Unix time (a ``*/5`` cron)."""

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
              slow_share=0.25, note="bad deploy: 40% of requests fail, clients retry at 3x traffic, GPUs saturate"),
        Phase(at_s=120, name="restart", restart=("inference-api",),
              note="the inference API restarts (its counters start again from 0)"),
        Phase(at_s=150, name="pipeline stall", pipeline_running=False, note="features pipeline stalled"),
    ),
    # The pipeline's last run before the stall succeeds at +60 s, whatever the clock says, so its
    # data passes the freshness objective's 10-minute max_age at +660 s on every run of the demo.
    pipeline_run_at_s=60,
)
"""The scripted demo: incident at +40 s for 60 s, API restart at +120 s, pipeline stall from +150 s
(last run at +60 s: features-freshness burns from +660 s)."""


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
        shares = tuple((1.0 - slow) * f + slow * s for f, s in zip(FAST_SHARES, SLOW_SHARES, strict=True))
        buckets = _allocate(n, shares, self._bucket_carry)
        duration_sum = sum(c * m for c, m in zip(buckets, BUCKET_MEANS_S, strict=True))
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
