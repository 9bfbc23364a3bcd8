"""Objective specs: what each objective measures, its target and its window.

Specs are pydantic models validated once at config load. Selectors and durations are parsed
here, so the engine only ever sees typed values.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from store.fields import DurationSeconds, SelectorField

__all__ = [
    "BURN_WINDOWS",
    "DIMENSIONS",
    "Dimension",
    "FreshnessSLI",
    "LatencySLI",
    "RatioSLI",
    "SLISpec",
    "SLOSpec",
]

Dimension = Literal["data", "users", "model", "cost"]
DIMENSIONS: tuple[Dimension, ...] = ("data", "users", "model", "cost")

BURN_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
"""The windows every objective reports a burn rate over (status --json ``burn_rates`` keys)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatioSLI(_Strict):
    """Events SLI from counters: ``errors`` (or ``good``) over ``total``."""

    errors: SelectorField | None = None
    good: SelectorField | None = None
    total: SelectorField

    @model_validator(mode="after")
    def _one_of_errors_or_good(self) -> RatioSLI:
        if (self.errors is None) == (self.good is None):
            raise ValueError("give exactly one of 'errors' or 'good' beside 'total'")
        return self


class LatencySLI(_Strict):
    """Share of requests at or under ``threshold``, from a histogram's cumulative buckets.

    ``histogram`` names the family (``http_request_duration_seconds``); the engine reads its
    ``_bucket`` series. The threshold must be one of the histogram's bucket bounds.
    """

    histogram: SelectorField
    threshold: DurationSeconds


class FreshnessSLI(_Strict):
    """Share of time slices in which the data age (now − last success) stayed within ``max_age``.

    ``last_success`` selects a gauge holding a Unix timestamp in seconds (a pipeline's
    last-success time); with several series the oldest one counts.
    """

    last_success: SelectorField
    max_age: DurationSeconds
    slice: DurationSeconds = 60.0


class SLISpec(_Strict):
    """Exactly one of the SLI kinds."""

    ratio: RatioSLI | None = None
    latency: LatencySLI | None = None
    freshness: FreshnessSLI | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLISpec:
        given = [k for k in ("ratio", "latency", "freshness") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of ratio, latency, freshness (got {', '.join(given) or 'none'})"
            )
        return self


_KIND_OF_SLI: dict[str, str] = {"ratio": "availability", "latency": "latency", "freshness": "freshness"}
_DIMENSION_OF_KIND: dict[str, Dimension] = {
    "availability": "users",
    "latency": "users",
    "throughput": "users",
    "freshness": "data",
    "gpu": "model",
    "budget": "cost",
    "cost_per_1k": "cost",
}


class SLOSpec(_Strict):
    """One objective: ``objective`` is a percentage strictly between 0 and 100."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")]
    description: str = ""
    dimension: Dimension | None = None
    objective: Annotated[float, Field(gt=0, lt=100)]
    window: DurationSeconds = 30 * 86400.0
    sli: SLISpec
    labels: dict[str, str] = Field(default_factory=dict)
    runbook_url: str | None = None

    @property
    def kind(self) -> str:
        """What the objective measures: ``availability``, ``latency`` or ``freshness``."""
        for key, kind in _KIND_OF_SLI.items():
            if getattr(self.sli, key) is not None:
                return kind
        raise AssertionError("validated SLISpec has one SLI")

    @property
    def target(self) -> float:
        """The objective as a fraction (99.9 → 0.999)."""
        return self.objective / 100.0

    @property
    def effective_dimension(self) -> Dimension:
        """The configured dimension, or the default for the kind (see the design)."""
        return self.dimension or _DIMENSION_OF_KIND[self.kind]
