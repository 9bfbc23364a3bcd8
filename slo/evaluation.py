"""One evaluator for everything a config asks about: SLOs and cost guardrails, ranked together.

``SLOEvaluator`` computes the objectives and ``GuardrailEvaluator`` the guardrails, each on its
own cumulative state; this puts them behind the one interface the agent, ``redline status`` and
the dashboard use, and ranks their results together so the four dimensions — cost included —
answer "what breaks first".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from redline.kernel.labels import Selector
from redline.slo.engine import SLOEvaluator
from redline.slo.guardrails import GuardrailEvaluator
from redline.slo.ranking import rank_dimensions, rank_objectives
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.spec import GuardrailSpec, SLOSpec
from redline.slo.whatif import decreasing_bucket, interpolated_bucket

__all__ = ["READ_MARGIN_S", "Evaluator", "history_seconds", "read_start_ms"]

_LONGEST_BURN_WINDOW_S = 3 * 86400.0


READ_MARGIN_S = 3600.0
"""Read this much before the longest window, so each window's start has the sample before it."""


def read_start_ms(history_s: float, at_ms: int) -> int:
    """From when to read stored samples to evaluate windows of up to ``history_s`` at ``at_ms``."""
    return at_ms - int((history_s + READ_MARGIN_S) * 1000)


def history_seconds(slos: Sequence[SLOSpec], guardrails: Sequence[GuardrailSpec] = ()) -> float:
    """How far back an evaluation reads: the longest window, budget period or burn window.

    A query SLI's window is the backend's to read: only its newest answers are needed (within
    its staleness, far shorter than the longest burn window)."""
    return max(
        [_LONGEST_BURN_WINDOW_S]
        + [s.window for s in slos if s.sli.query is None]
        + [g.history_seconds for g in guardrails]
    )


def _non_monotonic(result: ObjectiveResult, where: str) -> ObjectiveResult:
    """A latency objective whose histogram buckets are not cumulative: no share can be computed."""
    return result.unusable(f"histogram buckets are not monotonic: {where} — check the exporter's buckets")


class Evaluator:
    """Objectives and guardrails: ``selectors()``, ``ingest(frame)``, ``evaluate(at_ms)``."""

    def __init__(self, slos: Sequence[SLOSpec], guardrails: Sequence[GuardrailSpec] = ()) -> None:
        self.slos = SLOEvaluator(slos)
        self.guardrails = GuardrailEvaluator(guardrails) if guardrails else None
        self.history_seconds = history_seconds(slos, guardrails)
        self.names: tuple[str, ...] = tuple(s.name for s in slos) + tuple(g.name for g in guardrails)
        """Every objective's and guardrail's name (grouped objectives' members included)."""
        self._interpolated = [
            (s.name, s.sli.latency.histogram, s.sli.latency.threshold)
            for s in slos
            if s.sli.latency is not None and s.sli.latency.interpolate
        ]
        self._approximate: set[str] = set()
        self._histograms = [(s.name, s.sli.latency.histogram) for s in slos if s.sli.latency is not None]
        self._non_monotonic: dict[str, str] = {}
        self._checked: set[str] = set()
        """Histograms whose buckets have been seen once (and checked)."""
        """Latency objectives whose buckets were seen decreasing with ``le``, and where."""

    def selectors(self) -> list[Selector]:
        """Every selector either evaluator reads, once each."""
        both = self.slos.selectors() + (self.guardrails.selectors() if self.guardrails else [])
        return list({str(s): s for s in both}.values())

    def ingest(self, samples: pl.DataFrame) -> None:
        """Feed new samples (``SAMPLE_SCHEMA``) to both evaluators.

        For a latency objective with ``interpolate`` whose threshold lies between bucket bounds,
        a synthetic bucket at the threshold is added, interpolated inside its bucket at every
        timestamp (``slo.whatif.interpolated_bucket``); the objective is then reported
        ``approximate``. A threshold past the largest bound is left to ``check_series``.
        """
        unchecked = {str(h): h for _, h in self._histograms if str(h) not in self._checked}
        if unchecked and samples.height:
            # An exporter's buckets are cumulative or not in every scrape: the first scrape that
            # holds a histogram's buckets tells (its newest timestamp), once per histogram.
            newest = samples.filter(pl.col("timestamp") == pl.col("timestamp").max())
            for key, histogram in unchecked.items():
                seen, where = decreasing_bucket(histogram, newest)
                if seen:
                    self._checked.add(key)
                if where is not None:
                    self._non_monotonic.update({n: where for n, h in self._histograms if str(h) == key})
        extra = []
        for name, histogram, threshold in self._interpolated:
            try:
                rows = interpolated_bucket(histogram, threshold, samples)
            except ValueError:
                continue
            if rows.height:
                extra.append(rows)
                self._approximate.add(name)
        if extra:
            samples = pl.concat([samples, *extra])
        self.slos.ingest(samples)
        if self.guardrails is not None:
            self.guardrails.ingest(samples)

    def evaluate(self, at_ms: int) -> StatusReport:
        """Objectives and guardrails at ``at_ms``, nearest to breaking first, with the dimensions."""
        results = [
            _non_monotonic(o, self._non_monotonic[o.name]) if o.name in self._non_monotonic
            else replace(o, approximate=True) if o.name in self._approximate
            else o
            for o in self.slos.results(at_ms)
        ]
        if self.guardrails is not None:
            results += self.guardrails.evaluate(at_ms)
        return StatusReport(
            at=at_ms / 1000.0, dimensions=tuple(rank_dimensions(results)), objectives=tuple(rank_objectives(results))
        )

    def check_series(self, series: pl.DataFrame) -> list[str]:
        """Problems found against the stored series (see ``SLOEvaluator.check_series``)."""
        return self.slos.check_series(series)

    def memory_bytes(self) -> int:
        """The evaluators' state in bytes."""
        return self.slos.memory_bytes() + (self.guardrails.memory_bytes() if self.guardrails else 0)
