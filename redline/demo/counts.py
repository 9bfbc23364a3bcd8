"""The demo fleet's series and counter state: names, labels, buckets, and thread-safe tallies.

Shared by the live fleet (``redline.demo.fleet``) and the history generator (``redline.demo.history``) so that
backfilled history and live data are the same series. Nothing here does I/O.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DURATION_BUCKETS_S",
    "INFERENCE_SERVICE",
    "MODELS",
    "PIPELINE_NAME",
    "RESPONSE_CODES",
    "InferenceCounts",
    "InferenceStep",
    "InferenceTally",
    "PipelineCounts",
    "PipelineTally",
    "le_text",
]

INFERENCE_SERVICE: Final = "inference-api"
PIPELINE_NAME: Final = "features"

RESPONSE_CODES: Final = ("200", "500")
"""Codes the inference API pre-initialises at 0, so both series exist from the first scrape."""

DURATION_BUCKETS_S: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of ``http_request_duration_seconds`` (``+Inf`` is implied)."""

MODELS: Final = (("llama-3-8b", 0.7), ("mistral-7b", 0.3))
"""Models served and their share of successful requests (``inferences_total{model}``)."""


def le_text(bound: float) -> str:
    """The ``le`` label text prometheus-client writes for a positive finite bound (``1`` → ``1.0``)."""
    return repr(float(bound))




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
