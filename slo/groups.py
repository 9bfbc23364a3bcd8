"""Grouped objectives: one definition expanded into one objective per label value.

``group_by: [model]`` on an objective gives each model (tenant, region…) its own budget and burn
rates. The members are found in the series the objective selects; each member's selectors gain
the matchers ``label="value"`` and its name reads ``name{model="llama"}``. A series without the
label falls in the member whose value is empty. The overview's ranking then shows the worst
member first, like any objective.

An objective creates at most ``max_groups`` members (default 1,000): a label with more values (a
request id, a user id grouped by mistake) would otherwise make one objective per value, each with
its own state, and memory would grow with the label's cardinality. Past the limit only the first
``max_groups`` members, sorted by value, are created; ``redline check`` refuses the config
(``group_overflows``) and the agent logs a warning naming the labels and the count at every
expansion. Once an objective holds ``max_groups`` members, new values do not rebuild the evaluator.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from redline.kernel.labels import Matcher, Selector, format_labels, parse_labels
from redline.slo.query_sli import recorded_selector
from redline.slo.spec import SLISpec, SLOSpec

__all__ = [
    "GroupOverflow",
    "expand_groups",
    "group_members",
    "group_overflows",
    "has_new_members",
    "member_name",
    "sli_selectors",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupOverflow:
    """A ``group_by`` whose labels take more value combinations than its ``max_groups``."""

    objective: str
    found: int
    max_groups: int
    values_per_label: tuple[tuple[str, int], ...]
    """Each ``group_by`` label and how many distinct values it takes: the one to look at."""

    def __str__(self) -> str:
        labels = ", ".join(f"{label} ({count} values)" for label, count in self.values_per_label)
        return (
            f"objective {self.objective!r}: group_by {labels} would create {self.found} objectives, "
            f"over max_groups {self.max_groups}; only the first {self.max_groups} (by value) are created"
        )

_SELECTOR_FIELDS = {
    "ratio": ("errors", "good", "total"),
    "latency": ("histogram",),
    "freshness": ("last_success",),
    "throughput": ("counter",),
    "gpu": ("utilization",),
}


def sli_selectors(spec: SLOSpec) -> list[Selector]:
    """The selectors an objective reads (a latency SLI's histogram as its ``_bucket`` series, a
    query SLI's recorded answers)."""
    sli = spec.sli
    if sli.query is not None:
        return [recorded_selector(spec)]
    out: list[Selector] = []
    for kind, fields in _SELECTOR_FIELDS.items():
        body = getattr(sli, kind)
        if body is None:
            continue
        for field in fields:
            sel = getattr(body, field)
            if isinstance(sel, Selector):
                out.append(sel.with_metric(sel.metric + "_bucket") if kind == "latency" else sel)
    return out


def group_members(spec: SLOSpec, series: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """The distinct ``group_by`` label values among the series ``spec`` selects, sorted."""
    found: set[tuple[str, ...]] = set()
    selectors = sli_selectors(spec)
    for metric, labels in series:
        parsed = parse_labels(labels)
        if any(sel.matches(metric, parsed) for sel in selectors):
            found.add(tuple(parsed.get(label, "") for label in spec.group_by))
    return [dict(zip(spec.group_by, values, strict=True)) for values in sorted(found)]


def _capped(spec: SLOSpec, members: list[dict[str, str]]) -> tuple[list[dict[str, str]], GroupOverflow | None]:
    """The members an objective may create, and what was left out (``None``: nothing)."""
    if len(members) <= spec.max_groups:
        return members, None
    per_label = tuple((label, len({m[label] for m in members})) for label in spec.group_by)
    return members[: spec.max_groups], GroupOverflow(spec.name, len(members), spec.max_groups, per_label)


def group_overflows(specs: Sequence[SLOSpec], series: pl.DataFrame) -> list[GroupOverflow]:
    """The grouped objectives that would create more than ``max_groups`` members over ``series``
    (distinct ``metric``, ``labels``): for ``redline check``, which refuses them."""
    grouped = [spec for spec in specs if spec.group_by]
    if not grouped:
        return []
    pairs = list(series.select("metric", "labels").unique().iter_rows())
    out = []
    for spec in grouped:
        _, overflow = _capped(spec, group_members(spec, pairs))
        if overflow is not None:
            out.append(overflow)
    return out


def has_new_members(specs: Sequence[SLOSpec], known: Collection[str], series: Iterable[tuple[str, str]]) -> bool:
    """Whether ``series`` (``metric``, ``labels`` pairs) hold a member of a grouped objective that is
    not among the ``known`` objective names, and that objective has room for it (fewer than
    ``max_groups`` members known): a full objective never asks for a rebuild."""
    pairs = list(series)
    for spec in specs:
        if not spec.group_by:
            continue
        prefix = spec.name + "{"
        if sum(1 for name in known if name.startswith(prefix)) >= spec.max_groups:
            continue
        if any(member_name(spec, m) not in known for m in group_members(spec, pairs)):
            return True
    return False


def member_name(spec: SLOSpec, member: dict[str, str]) -> str:
    """A member's objective name: ``name{model="llama"}``."""
    return f"{spec.name}{{{format_labels(member)}}}"


def _narrowed(sli: SLISpec, member: dict[str, str]) -> SLISpec:
    extra = tuple(Matcher(label, "=", value) for label, value in member.items())
    updates = {}
    for kind, fields in _SELECTOR_FIELDS.items():
        body = getattr(sli, kind)
        if body is None:
            continue
        narrowed = {
            f: Selector(getattr(body, f).metric, getattr(body, f).matchers + extra)
            for f in fields
            if isinstance(getattr(body, f), Selector)
        }
        updates[kind] = body.model_copy(update=narrowed)
    return sli.model_copy(update=updates)


def expand_groups(specs: Sequence[SLOSpec], series: pl.DataFrame) -> list[SLOSpec]:
    """Every objective, with each grouped one replaced by its members found in ``series``
    (distinct ``metric``, ``labels``), at most ``max_groups`` of them (a warning names the rest). A
    grouped objective with no member yet stays as it is, so it reports ``no_data`` rather than
    vanishing."""
    pairs: list[tuple[str, str]] | None = None
    out: list[SLOSpec] = []
    for spec in specs:
        if not spec.group_by:
            out.append(spec)
            continue
        if pairs is None:
            pairs = list(series.select("metric", "labels").unique().iter_rows())
        members, overflow = _capped(spec, group_members(spec, pairs))
        if overflow is not None:
            logger.warning("%s", overflow)
        if not members:
            out.append(spec)
            continue
        for member in members:
            out.append(
                spec.model_copy(
                    update={
                        "name": member_name(spec, member),
                        "sli": _narrowed(spec.sli, member),
                        "labels": {**spec.labels, **member},
                        "group_by": (),
                    }
                )
            )
    return out
