"""Grouped objectives: one definition expanded into one objective per label value.

``group_by: [model]`` on an objective gives each model (tenant, region…) its own budget and burn
rates. The members are found in the series the objective selects; each member's selectors gain
the matchers ``label="value"`` and its name reads ``name{model="llama"}``. A series without the
label falls in the member whose value is empty. The overview's ranking then shows the worst
member first, like any objective.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from redline.kernel.labels import Matcher, Selector, format_labels, parse_labels
from redline.slo.query_sli import recorded_selector
from redline.slo.spec import SLISpec, SLOSpec

__all__ = ["expand_groups", "group_members", "member_name", "sli_selectors"]

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
    (distinct ``metric``, ``labels``). A grouped objective with no member yet stays as it is,
    so it reports ``no_data`` rather than vanishing."""
    pairs: list[tuple[str, str]] | None = None
    out: list[SLOSpec] = []
    for spec in specs:
        if not spec.group_by:
            out.append(spec)
            continue
        if pairs is None:
            pairs = list(series.select("metric", "labels").unique().iter_rows())
        members = group_members(spec, pairs)
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
