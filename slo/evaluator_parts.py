"""Several evaluators answering as one: after a definition changed, the checkpoint's evaluator keeps
the objectives whose definitions did not, and a new one, rebuilt from raw samples, holds the rest.

Each objective's figures depend only on its own series, so the union of the parts' results,
ranked together, is the report one evaluator of every objective gives. A part answers only for
its ``names`` (its other objectives were redefined or removed, and are answered by a newer
part, or not at all).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from redline.kernel.labels import Selector
from redline.slo.evaluation import Evaluator
from redline.slo.ranking import rank_dimensions, rank_objectives
from redline.slo.results import StatusReport

__all__ = ["EvaluatorParts", "Part"]


class Part:
    """One evaluator and the names it answers for."""

    def __init__(self, evaluator: Evaluator, names: frozenset[str]) -> None:
        self.evaluator = evaluator
        self.names = names


class EvaluatorParts:
    """``Evaluator``'s interface over parts: ``selectors()``, ``ingest``, ``evaluate``. Not
    thread-safe, as ``Evaluator``."""

    def __init__(self, parts: Sequence[Part]) -> None:
        self.parts = list(parts)
        self.names: tuple[str, ...] = tuple(n for p in self.parts for n in p.evaluator.names if n in p.names)
        self.history_seconds = max(p.evaluator.history_seconds for p in self.parts)

    def selectors(self) -> list[Selector]:
        """Every selector some part reads, once each."""
        return list({str(s): s for p in self.parts for s in p.evaluator.selectors()}.values())

    def ingest(self, samples: pl.DataFrame) -> None:
        """Feed new samples to every part."""
        for part in self.parts:
            part.evaluator.ingest(samples)

    def evaluate(self, at_ms: int) -> StatusReport:
        """Every part's objectives at ``at_ms``, ranked together."""
        results = [
            o for p in self.parts for o in p.evaluator.evaluate(at_ms).objectives if o.name in p.names
        ]
        return StatusReport(
            at=at_ms / 1000.0, dimensions=tuple(rank_dimensions(results)), objectives=tuple(rank_objectives(results))
        )

    def check_series(self, series: pl.DataFrame) -> list[str]:
        """Problems found against the stored series, per part (see ``Evaluator.check_series``)."""
        return [problem for p in self.parts for problem in p.evaluator.check_series(series)]

    def memory_bytes(self) -> int:
        """The parts' state in bytes (an objective a part no longer answers for still counts)."""
        return sum(p.evaluator.memory_bytes() for p in self.parts)
