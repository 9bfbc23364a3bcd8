"""Which series each reader reads: selector → series ids, kept up to date as new series arrive.

Every evaluator (objectives, slices, freshness, spend tracks, query SLIs) meets a series first as
a ``(metric, labels)`` pair in a sample frame. A label with an empty value is no label (as in
Prometheus), so ``x{a="1",b=""}`` and ``x{a="1"}`` are one series. ``SeriesIndex`` gives it a
dense id on first sight — asking the evaluator's ``register`` callback which of its readers (sides, groups,
tracks…) take it — or -1 when none does, and remembers the answer, so a series' labels are
parsed and matched once. It also holds what cutting the next batch needs per series: the last
ingested timestamp and value (``slo.series.batches``).

``SelectorIndex`` makes ``register`` cheap with many selectors: it files each selector under its
metric and one ``label="value"`` matcher, so a new series is checked against a few candidates
instead of every selector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import numpy.typing as npt

from redline.kernel.labels import Selector, format_labels, parse_labels
from redline.slo.series.cumulative import NO_TS

__all__ = ["SelectorIndex", "SeriesIndex"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

Register = Callable[[int, str, dict[str, str]], bool]
"""``register(series_id, metric, labels)``: file the series with every reader that reads it;
whether any does (else the id is not used and the series reads as -1)."""


class SelectorIndex:
    """Which of many selectors may select a series: by metric and one ``label="value"`` matcher,
    so registering a series checks only a few candidates instead of every selector."""

    def __init__(self, selectors: Sequence[Selector]) -> None:
        self.selectors = list(selectors)
        self._by_label: dict[tuple[str, str, str], list[int]] = {}
        self._rest: dict[str, list[int]] = {}
        for i, sel in enumerate(self.selectors):
            eq = next((m for m in sel.matchers if m.op == "=" and m.value), None)
            if eq is None:
                self._rest.setdefault(sel.metric, []).append(i)
            else:
                self._by_label.setdefault((sel.metric, eq.name, eq.value), []).append(i)

    def candidates(self, metric: str, labels: dict[str, str]) -> list[int]:
        """Indices (ascending) of the selectors that may select the series; check each."""
        found = list(self._rest.get(metric, ()))
        for name, value in labels.items():
            found += self._by_label.get((metric, name, value), ())
        return sorted(found)

    def matching(self, metric: str, labels: dict[str, str]) -> list[int]:
        """Indices (ascending) of the selectors that select the series."""
        return [i for i in self.candidates(metric, labels) if self.selectors[i].matches(metric, labels)]


class SeriesIndex:
    """``(metric, labels)`` → dense series id (−1: no reader reads it), and each series' last
    ingested timestamp (``NO_TS`` before any) and value (NaN before any)."""

    def __init__(self, metrics: Iterable[str], register: Register) -> None:
        self._metrics = frozenset(metrics)
        self._register = register
        self._ids: dict[tuple[str, str], int] = {}
        self.n = 0
        """Series registered so far (ids ``0 … n-1``)."""
        self.last_ts = np.zeros(0, dtype=np.int64)
        self.last_val = np.zeros(0, dtype=np.float64)

    def id_of(self, metric: str | None, labels: str | None) -> int:
        """The id of a series, registering it on first sight; -1 when no reader reads it."""
        if metric is None or labels is None:
            return -1
        key = (metric, labels)
        sid = self._ids.get(key)
        if sid is not None:
            return sid
        if metric not in self._metrics:
            self._ids[key] = -1
            return -1
        parsed = parse_labels(labels)
        present = {name: value for name, value in parsed.items() if value}
        canonical = (metric, format_labels(present))
        found = self._ids.get(canonical)
        if found is not None:  # the same series, written with an empty label or in another order
            self._ids[key] = found
            return found
        sid = -1
        if self._register(self.n, metric, present):
            sid = self.n
            self.n += 1
            if sid >= len(self.last_ts):
                grow = max(64, 2 * len(self.last_ts))
                self.last_ts = np.concatenate([self.last_ts, np.full(grow, NO_TS, dtype=np.int64)])
                self.last_val = np.concatenate([self.last_val, np.full(grow, np.nan)])
        self._ids[key] = sid
        self._ids[canonical] = sid
        return sid

    def remember_last(self, sids: I64, ts: I64 | Sequence[int], values: F64 | Sequence[float]) -> None:
        """Record each series' newest ingested timestamp and value."""
        self.last_ts[sids] = ts
        self.last_val[sids] = values

    def nbytes(self) -> int:
        """Bytes of the per-series arrays."""
        return int(self.last_ts.nbytes + self.last_val.nbytes)
