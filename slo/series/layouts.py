"""The series layout of frames seen before: a steady scrape sends the same series in the same
order every time, so its runs and series ids are looked up once, not once per scrape.

Cutting a frame into series (``slo.series.batches.series_runs``) costs a run-length pass and one
Python lookup per series; at a scrape a second that was most of the agent's ingest CPU, for
series that are the same at every scrape. ``FrameLayouts`` remembers, per distinct pair of
``metric``/``labels`` columns, the runs and each run's series id; a frame whose two columns
equal a remembered pair's (compared in full, value by value: exact, no hashing) reuses them.

It is right to reuse them because a series' id never changes once given (``SeriesIndex``:
−1, "nobody reads it", included): an evaluator whose readers change (a new member of a grouped
objective) is a new evaluator, with new layouts.

Memory is bounded: at most ``max_rows`` rows of key columns are held (least recently used
dropped first), and a frame longer than ``max_frame_rows`` (a cold start, an import) is not
remembered. A checkpoint holds none of it (``__getstate__``): a resumed evaluator finds its
layouts again at the first scrape of each target.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["FrameLayouts", "Layout"]

I64 = npt.NDArray[np.int64]
Layout = tuple[I64, I64, I64]
"""Start and length of each run of one series, and each run's series id (-1: nobody reads it)."""

_Key = tuple[int, object, object, object]


class FrameLayouts:
    """Layouts (``Layout``) of frames seen before, by their ``metric`` and ``labels`` columns."""

    def __init__(self, *, max_rows: int = 200_000, max_frame_rows: int = 50_000) -> None:
        self.max_rows = max_rows
        self.max_frame_rows = max_frame_rows
        self._held: OrderedDict[_Key, list[tuple[pl.Series, pl.Series, Layout]]] = OrderedDict()
        self.rows = 0
        """Rows of key columns held."""

    def __getstate__(self) -> dict[str, int]:
        return {"max_rows": self.max_rows, "max_frame_rows": self.max_frame_rows}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.max_rows, self.max_frame_rows = state["max_rows"], state["max_frame_rows"]
        self._held = OrderedDict()
        self.rows = 0

    @staticmethod
    def _key(metric: pl.Series, labels: pl.Series) -> _Key | None:
        if metric.len() == 0:
            return None
        return (metric.len(), metric[0], labels[0], labels[-1])

    def get(self, metric: pl.Series, labels: pl.Series) -> Layout | None:
        """The layout of a frame with exactly these columns, when one was remembered."""
        key = self._key(metric, labels)
        if key is None or key not in self._held:
            return None
        for held_metric, held_labels, layout in self._held[key]:
            if labels.equals(held_labels) and metric.equals(held_metric):
                self._held.move_to_end(key)
                return layout
        return None

    def put(self, metric: pl.Series, labels: pl.Series, layout: Layout) -> None:
        """Remember a frame's layout (unless the frame is too long to hold)."""
        key = self._key(metric, labels)
        if key is None or metric.len() > self.max_frame_rows:
            return
        self._held.setdefault(key, []).append((metric, labels, layout))
        self._held.move_to_end(key)
        self.rows += metric.len()
        while self.rows > self.max_rows and self._held:
            _, dropped = self._held.popitem(last=False)
            self.rows -= sum(m.len() for m, _, _ in dropped)
