"""Where each objective's data lives, decided once from the specs (query SLIs aside, which
``slo.query_sli`` evaluates from recorded answers).

- A ratio objective reads two *sides* (``slo.sides.Side``): its ``total`` and its ``errors`` or
  ``good`` selector; a latency objective reads its histogram's ``_bucket`` series twice, at
  ``le="+Inf"`` (total) and at its threshold (good). Objectives reading the same selector (and
  bound) share one side, so one cumulative count serves them all.
- A freshness objective reads a *group* (``slo.freshness_groups.FreshGroup``): its
  ``last_success`` selector and slice length, shared in the same way.
- A throughput or GPU-band objective reads its slices (``slo.slice_groups``).

The plan also lists the evaluation windows (the burn windows, then each distinct objective
window) and how many minutes the counters keep (the longest window plus a day).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from redline.kernel.labels import Selector
from redline.slo.freshness_groups import FreshGroup
from redline.slo.ratio_table import BURN_MS
from redline.slo.sides import Side
from redline.slo.spec import FreshnessSLI, GPUBandSLI, SLOSpec, ThroughputSLI
from redline.slo.special_windows import ObjectiveSlots

__all__ = ["FreshnessSlots", "ObjectivePlan"]

_DAY_S = 86400.0


@dataclass
class FreshnessSlots:
    """The freshness objectives' parameters for ``FreshnessStore``, one entry per objective."""

    groups: list[int] = field(default_factory=list)
    """The group each reads."""
    max_age_s: list[float] = field(default_factory=list)
    slice_s: list[float] = field(default_factory=list)
    keep_slices: list[int] = field(default_factory=list)
    """Slices kept: the objective's window plus a day."""


class ObjectivePlan:
    """The objectives (in the order given), their shared sides and freshness groups, the slice
    objectives' SLIs, and the evaluation windows."""

    def __init__(self, specs: Sequence[SLOSpec]) -> None:
        self.objectives: list[ObjectiveSlots] = []
        self.sides: list[Side] = []
        self.groups: list[FreshGroup] = []
        self.freshness = FreshnessSlots()
        self.slice_slis: list[tuple[ThroughputSLI | GPUBandSLI, float]] = []
        """Per throughput or GPU-band objective: its SLI and window (seconds)."""
        self.windows_ms: list[int] = list(BURN_MS)
        self._side_ids: dict[tuple[str, float | None], int] = {}
        self._group_ids: dict[tuple[str, int], int] = {}
        for spec in specs:
            self.objectives.append(self._plan(spec))
        self.keep_minutes = round(max((s.window for s in specs), default=_DAY_S) / 60) + 1440

    def _plan(self, spec: SLOSpec) -> ObjectiveSlots:
        objective = ObjectiveSlots(spec, window_ms=round(spec.window * 1000))
        objective.budget = 1.0 - objective.target
        if objective.window_ms not in self.windows_ms:
            self.windows_ms.append(objective.window_ms)
        sli = spec.sli
        if sli.ratio is not None:
            objective.total = self._side(sli.ratio.total, None)
            if sli.ratio.errors is not None:
                objective.errors = self._side(sli.ratio.errors, None)
            if sli.ratio.good is not None:
                objective.good = self._side(sli.ratio.good, None)
        elif sli.latency is not None:
            buckets = sli.latency.histogram.with_metric(sli.latency.histogram.metric + "_bucket")
            objective.total = self._side(buckets, math.inf)
            objective.good = self._side(buckets, sli.latency.threshold)
        elif sli.throughput is not None or sli.gpu is not None:
            sliced = sli.throughput or sli.gpu
            assert sliced is not None
            objective.slices = len(self.slice_slis)
            objective.slice_ms = round(sliced.slice * 1000)
            objective.event_unit = "time slices"
            self.slice_slis.append((sliced, spec.window))
        else:
            assert sli.freshness is not None
            self._plan_freshness(objective, sli.freshness)
        return objective

    def _plan_freshness(self, objective: ObjectiveSlots, freshness: FreshnessSLI) -> None:
        key = (str(freshness.last_success), round(freshness.slice * 1000))
        if key not in self._group_ids:
            self._group_ids[key] = len(self.groups)
            self.groups.append(FreshGroup(freshness.last_success, key[1]))
        objective.freshness = len(self.freshness.groups)
        objective.slice_ms = key[1]
        objective.event_unit = "time slices"
        self.freshness.groups.append(self._group_ids[key])
        self.freshness.max_age_s.append(freshness.max_age)
        self.freshness.slice_s.append(freshness.slice)
        self.freshness.keep_slices.append(math.ceil((objective.spec.window + _DAY_S) / freshness.slice))

    def _side(self, selector: Selector, le: float | None) -> int:
        """The id of the side (``selector``, bucket bound ``le``), added when new."""
        key = (str(selector), le)
        side = self._side_ids.get(key)
        if side is None:
            side = self._side_ids[key] = len(self.sides)
            self.sides.append(Side(selector, le))
        return side
