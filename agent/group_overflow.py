"""Grouped objectives over ``max_groups`` at run time: which objective, which ``group_by`` label
and how many members were left out, for ``/metrics``, ``/healthz`` and ``redline status``.

``slo.groups.expand_groups`` creates at most ``max_groups`` members and logs a warning; ``redline
check`` refuses such a config. A label's values can still grow after the check (a new tenant
every hour, a request id added by a new release), so the agent keeps the overflow of its latest
expansion and shows it while it lasts: ``redline_slo_group_members_dropped{slo}`` and
``redline_slo_group_label_values{slo,label}``. An objective already holding ``max_groups``
members is not expanded again when its label grows, so ``beyond_max_groups`` tells the agent
that a batch brought a member it will not create, and the agent counts the overflow again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

import polars as pl
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from redline.slo.groups import GroupOverflow, expand_groups, group_members, group_overflows, member_name
from redline.slo.spec import SLOSpec

__all__ = ["GroupOverflowCollector", "beyond_max_groups", "expand_and_report", "overflow_json"]


def expand_and_report(specs: Sequence[SLOSpec], series: pl.DataFrame) -> tuple[list[SLOSpec], list[GroupOverflow]]:
    """``expand_groups`` and the grouped objectives it capped at ``max_groups``.

    The overflow is counted again only for an objective that got exactly ``max_groups`` members
    (one that got fewer cannot have overflowed), so an expansion under its limits costs nothing more."""
    if not any(s.group_by for s in specs):
        return list(specs), []
    expanded = expand_groups(specs, series)
    full = [
        s for s in specs if s.group_by and sum(1 for e in expanded if e.name.startswith(s.name + "{")) >= s.max_groups
    ]
    return expanded, group_overflows(full, series) if full else []


def beyond_max_groups(
    specs: Sequence[SLOSpec], known: Collection[str], series: Iterable[tuple[str, str]]
) -> bool:
    """Whether ``series`` (``metric``, ``labels`` pairs) hold a member of a grouped objective that
    already has ``max_groups`` members among the ``known`` objective names, and is not one of them."""
    pairs = list(series)
    for spec in specs:
        if not spec.group_by:
            continue
        prefix = spec.name + "{"
        if sum(1 for name in known if name.startswith(prefix)) < spec.max_groups:
            continue
        if any(member_name(spec, m) not in known for m in group_members(spec, pairs)):
            return True
    return False


def overflow_json(overflow: GroupOverflow) -> dict[str, Any]:
    """One overflow as ``/healthz`` and ``status --json`` show it."""
    return {
        "objective": overflow.objective,
        "found": overflow.found,
        "max_groups": overflow.max_groups,
        "dropped": overflow.found - overflow.max_groups,
        "values_per_label": dict(overflow.values_per_label),
        "message": str(overflow),
    }


class GroupOverflowCollector(Collector):
    """``redline_slo_group_members_dropped{slo}`` and ``redline_slo_group_label_values{slo,label}``
    for every grouped objective of the latest expansion that went over ``max_groups``."""

    def __init__(self, overflows: Callable[[], Sequence[GroupOverflow]]) -> None:
        self._overflows = overflows

    def collect(self) -> Iterator[Metric]:
        dropped = GaugeMetricFamily(
            "redline_slo_group_members_dropped",
            "Members a grouped objective did not create for being over its max_groups (0 metrics: none over).",
            labels=["slo"],
        )
        values = GaugeMetricFamily(
            "redline_slo_group_label_values",
            "Distinct values of each group_by label of an objective over its max_groups: the label to look at.",
            labels=["slo", "label"],
        )
        for overflow in self._overflows():
            dropped.add_metric([overflow.objective], float(overflow.found - overflow.max_groups))
            for label, count in overflow.values_per_label:
                values.add_metric([overflow.objective, label], float(count))
        yield from (dropped, values)
