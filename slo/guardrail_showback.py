"""Showback: a guardrail's spend split by its ``showback_by`` labels, for one evaluation.

A budget's showback lists each group's spend over the period (``{<labels>, "spent": spend}``); a
cost guardrail's lists, per group present on either side, its spend, its inferences and

    cost_per_1k = spend / (inferences / 1000)        (None without inferences)

over the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.slo.guardrail_store import SpendTracks, Template

__all__ = ["CostJoin", "ShowbackView"]

F64 = npt.NDArray[np.float64]


@dataclass
class CostJoin:
    """A cost guardrail's showback groups in label order: spend track, inference track (-1:
    none), the labels and the side a group is missing from."""

    sizes: tuple[int, int]
    """How many tracks the spend and inference templates had when joined."""
    groups: list[tuple[int, int, dict[str, Any], str | None]]


class ShowbackView:
    """One evaluation's per-track increases for showback: a window's column is turned into a
    Python list once, each template's groups are sorted once per column.

    ``joins`` outlives the view (the evaluator keeps it): a cost guardrail's groups are joined
    again only when either side gained a track."""

    def __init__(
        self, templates: list[Template], store: SpendTracks, track_increase: F64, joins: dict[tuple[int, int], CostJoin]
    ) -> None:
        self._templates = templates
        self._joins = joins
        self._store = store
        self._increase = track_increase
        self._columns: dict[int, list[float]] = {}
        self._ranked: dict[tuple[int, int], list[tuple[dict[str, Any], float]]] = {}

    def _column(self, column: int) -> list[float]:
        values = self._columns.get(column)
        if values is None:
            values = self._columns[column] = self._increase[:, column].tolist()
        return values

    def showback(self, template: int, column: int, key: str) -> list[dict[str, Any]]:
        """Spend per group of the template's showback labels, largest first (ties: first seen first)."""
        by = self._templates[template].by
        if not by:
            return []
        ranked = self._ranked.get((template, column))
        if ranked is None:
            values = self._column(column)
            tracks = self._store.tracks
            by_spend = sorted(
                ((values[t], tracks[t].group) for t in self._store.template_tracks[template]), key=lambda r: -r[0]
            )
            ranked = self._ranked[(template, column)] = [
                (dict(zip(by, group, strict=True)), spend) for spend, group in by_spend
            ]
        return [{**labels, key: spend} for labels, spend in ranked]

    def cost_showback(self, spend_template: int, inference_template: int, column: int) -> list[dict[str, Any]]:
        """Spend, inferences and cost per 1k per group present on both sides; a group found on one
        side only says which side it is ``missing`` from (an absent label is ``None``). Sorted by
        spend, largest first (groups without spend last), ties in label order."""
        if not self._templates[spend_template].by:
            return []
        values = self._column(column)
        rows: list[dict[str, Any]] = []
        for spend_track, inference_track, labels, missing in self._join(spend_template, inference_template).groups:
            spend = values[spend_track] if spend_track >= 0 else None
            inferences = values[inference_track] if inference_track >= 0 else None
            cost: float | None = None
            if spend is not None and inferences is not None and inferences > 0:
                cost = spend / (inferences / 1000.0)
            rows.append({**labels, "spend": spend, "inferences": inferences, "cost_per_1k": cost, "missing": missing})
        rows.sort(key=lambda r: -(r["spend"] if r["spend"] is not None else -math.inf))
        return rows

    def _join(self, spend_template: int, inference_template: int) -> CostJoin:
        """The groups of both templates in label order (cached until either gains a track)."""
        template_tracks = self._store.template_tracks
        sizes = (len(template_tracks[spend_template]), len(template_tracks[inference_template]))
        join = self._joins.get((spend_template, inference_template))
        if join is not None and join.sizes == sizes:
            return join
        by = self._templates[spend_template].by
        tracks = self._store.tracks
        spend = {tracks[t].group: t for t in template_tracks[spend_template]}
        inferences = {tracks[t].group: t for t in template_tracks[inference_template]}
        keys = sorted(spend.keys() | inferences.keys(), key=lambda k: tuple("" if v is None else v for v in k))
        groups = [
            (
                spend.get(k, -1), inferences.get(k, -1), dict(zip(by, k, strict=True)),
                "inferences" if k not in inferences else "spend" if k not in spend else None,
            )
            for k in keys
        ]
        join = self._joins[(spend_template, inference_template)] = CostJoin(sizes, groups)
        return join
