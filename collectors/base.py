"""What every collector is: given its config, fetch one batch of samples and report its health.

A collector never raises into the scheduler. A down target, a timeout or a malformed payload
becomes ``SourceHealth(ok=False, error=...)`` on the result, with whatever samples could still
be read (a malformed line is skipped, the rest of the scrape lands). No samples is reported
as no samples, never as zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from store.types import empty_samples

__all__ = ["CollectResult", "Collector", "SourceHealth"]


@dataclass(frozen=True)
class SourceHealth:
    """How one collection went: ``error`` names the source and the input that failed."""

    source: str
    ok: bool
    error: str | None
    duration_seconds: float
    samples: int
    timestamp_ms: int
    problems: tuple[str, ...] = ()
    """Non-fatal problems (skipped lines) when ``ok`` is still true."""


@dataclass(frozen=True)
class CollectResult:
    """One batch (``store.types.SAMPLE_SCHEMA``) and the health of the collection."""

    health: SourceHealth
    samples: pl.DataFrame = field(default_factory=empty_samples)


class Collector(Protocol):
    """Anything that can be asked for one batch. Implementations must not raise."""

    name: str

    def collect(self) -> CollectResult:
        """Fetch once and return samples plus health."""
        ...
