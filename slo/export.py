"""Redline's objectives written in a peer format, so a team is never locked in (``redline export``).

``export_documents(specs, fmt)`` returns the YAML documents (plain data) and, for every objective
the format cannot say, the reason it was left out. Reading the documents back with the matching
importer gives the same objectives (name, target, window, SLI, labels, alerting), which
``tests/slo/test_export.py`` checks.

- ``openslo``: one ``openslo/v1`` ``SLO`` per objective with its indicator inline. A counter is
  written as the raw counter (``counter: true``, ``sum(SELECTOR)``), a latency as its bucket over
  its count, a freshness as a ``thresholdMetric`` age in ``Timeslices``; a query SLI keeps its
  queries as written. Custom tiers become an inline ``AlertPolicy`` of ``burnrate`` conditions.
- ``sloth``: one ``prometheus/v1`` spec per objective (``service`` and ``name`` split at the first
  ``-`` of the objective's name, which Sloth joins back). Sloth's window is its default 30 days,
  so other windows, calendars and time-slice SLIs are left out.
- ``pyrra``: one ``ServiceLevelObjective`` per ratio (errors over total) or latency objective.

``render_export`` writes them as one YAML stream, headed by a comment naming what was left out.
What a format has no field for is not written: OpenSLO has no alert names, labels or roles (its
tiers keep factor, long window and ``for``; the short window reads back as 1/12 of the long one),
and Pyrra's tiers are its own for the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Literal

import yaml

from redline.kernel.units import parse_duration
from redline.slo.calendar import EPOCH_START, WEEKDAYS, local_start
from redline.slo.spec import AlertingSpec, AlertRoleSpec, QuerySLI, SLOSpec

__all__ = ["EXPORT_FORMATS", "ExportFormat", "export_documents", "render_export"]

ExportFormat = Literal["openslo", "sloth", "pyrra"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("openslo", "sloth", "pyrra")

_THIRTY_DAYS = 30 * 86400.0


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _le(bound: float) -> str:
    return f"{bound:g}"


def _shorthand(seconds: float) -> str:
    """An OpenSLO duration shorthand: one whole number of the largest unit that divides it."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{max(1, round(seconds / 60))}m"


def _counter(selector: object) -> str:
    return f"sum({selector})"


def _ratio_sides(spec: SLOSpec) -> tuple[str, str, str] | None:
    """(good|bad, side query, total query) of a ratio or latency objective, as raw counters."""
    sli = spec.sli
    if sli.ratio is not None:
        side = "good" if sli.ratio.good is not None else "bad"
        return side, _counter(sli.ratio.good or sli.ratio.errors), _counter(sli.ratio.total)
    if sli.latency is not None:
        h = sli.latency.histogram
        matchers = ",".join([*(str(m) for m in h.matchers), f'le="{_le(sli.latency.threshold)}"'])
        good = f"sum({h.metric}_bucket{{{matchers}}})"
        return "good", good, _counter(h.with_metric(h.metric + "_count"))
    return None


def _prom(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _openslo_indicator(spec: SLOSpec) -> tuple[dict[str, Any], str, dict[str, Any]] | str:
    """(indicator spec, budgeting method, extra objective fields), or why it cannot be written."""
    sides = _ratio_sides(spec)
    if sides is not None:
        side, query, total = sides
        return {"ratioMetric": {"counter": True, side: _prom(query), "total": _prom(total)}}, "Occurrences", {}
    sli = spec.sli
    if sli.freshness is not None:
        f = sli.freshness
        metric = {"thresholdMetric": _prom(f"time() - max({f.last_success})")}
        return metric, "Timeslices", {"op": "lte", "value": _num(f.max_age), "timeSliceTarget": 1,
                                      "timeSliceWindow": _shorthand(f.slice)}
    if sli.query is not None:
        q = sli.query
        if q.error_ratio is not None:
            return {"ratioMetric": {"rawType": "failure", "raw": _prom(q.error_ratio)}}, "Occurrences", {}
        side = "good" if q.good is not None else "bad"
        asked = q.good if q.good is not None else q.errors
        assert asked is not None and q.total is not None
        return {"ratioMetric": {"counter": True, side: _prom(asked), "total": _prom(q.total)}}, "Occurrences", {}
    return f"its kind ({spec.kind}) has no OpenSLO form Redline reads back"


def _week_start_date(weekday: str) -> str:
    monday = date(2024, 1, 1)
    return (monday + timedelta(days=WEEKDAYS.index(weekday))).isoformat() + " 00:00:00"


def _openslo_window(spec: SLOSpec) -> dict[str, Any]:
    if spec.calendar is None:
        return {"duration": _shorthand(spec.window), "isRolling": True}
    c = spec.calendar
    length = c.length_seconds
    if length is not None:  # a fixed length from its start
        start = local_start(c.start or EPOCH_START, c.timezone).strftime("%Y-%m-%d %H:%M:%S")
        duration = _shorthand(length)
    else:
        start = _week_start_date(c.week_start) if c.period == "week" else "2024-01-01 00:00:00"
        duration = {"week": "1w", "month": "1M", "quarter": "1Q"}[c.period]
    return {"duration": duration, "isRolling": False, "calendar": {"startTime": start, "timeZone": c.timezone}}


def _openslo_policies(spec: SLOSpec) -> list[dict[str, Any]]:
    tiers = spec.alerting.tiers
    if not tiers:
        return []
    conditions = [{
        "kind": "AlertCondition",
        "metadata": {"name": f"{spec.name}-{t.severity}-{i}"},
        "spec": {"severity": t.severity, "condition": {
            "kind": "burnrate", "op": "gt", "threshold": t.factor,
            "lookbackWindow": _shorthand(parse_duration(t.long_window)),
            "alertAfter": _shorthand(t.for_) if t.for_ else "0m"}},
    } for i, t in enumerate(tiers) if t.factor is not None and not t.disable]
    return [{"kind": "AlertPolicy", "metadata": {"name": f"{spec.name}-burn"},
             "spec": {"alertWhenBreaching": True, "conditions": conditions}}]


def _openslo(spec: SLOSpec) -> dict[str, Any] | str:
    if spec.group_by or spec.maintenance:
        return "OpenSLO has no grouping or maintenance windows"
    found = _openslo_indicator(spec)
    if isinstance(found, str):
        return found
    indicator, budgeting, extra = found
    labels = {k: v for k, v in spec.labels.items() if k != "service"}
    body: dict[str, Any] = {
        "description": spec.description,
        "indicator": {"metadata": {"name": f"{spec.name}-sli"}, "spec": indicator},
        "timeWindow": [_openslo_window(spec)],
        "budgetingMethod": budgeting,
        "objectives": [{"target": round(spec.target, 12), **extra}],
    }
    if "service" in spec.labels:
        body["service"] = spec.labels["service"]
    policies = _openslo_policies(spec)
    if policies:
        body["alertPolicies"] = policies
    meta: dict[str, Any] = {"name": spec.name, **({"labels": labels} if labels else {})}
    return {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": meta, "spec": body}


def _role(role: AlertRoleSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if role.disable:
        out["disable"] = True
    if role.labels:
        out["labels"] = dict(role.labels)
    if role.annotations:
        out["annotations"] = dict(role.annotations)
    return out


def _sloth_alerting(a: AlertingSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if a.name:
        out["name"] = a.name
    if a.labels:
        out["labels"] = dict(a.labels)
    if a.annotations:
        out["annotations"] = dict(a.annotations)
    for key, role in (("page_alert", a.page), ("ticket_alert", a.ticket)):
        if _role(role):
            out[key] = _role(role)
    return out


def _window_query(query: str) -> str:
    return f"sum(rate({query.removeprefix('sum(').removesuffix(')')}[{{{{.window}}}}]))"


def _sloth_sli(spec: SLOSpec) -> dict[str, Any] | str:
    sli = spec.sli
    q: QuerySLI | None = sli.query
    if q is not None:
        if q.error_ratio is not None:
            return {"raw": {"error_ratio_query": q.error_ratio}}
        if q.errors is not None and q.total is not None:
            return {"events": {"error_query": q.errors, "total_query": q.total}}
        return {"raw": {"error_ratio_query": f"1 - (({q.good}) / ({q.total}))"}}
    sides = _ratio_sides(spec)
    if sides is None:
        return f"its kind ({spec.kind}) has no Sloth form (Sloth reads ratios of events)"
    side, query, total = sides
    total_w = _window_query(total)
    if side == "bad":
        return {"events": {"error_query": _window_query(query), "total_query": total_w}}
    return {"raw": {"error_ratio_query": f"1 - ({_window_query(query)} / {total_w})"}}


def _sloth(spec: SLOSpec) -> dict[str, Any] | str:
    if spec.calendar is not None or spec.window != _THIRTY_DAYS:
        return "Sloth's window is its 30-day default; this objective's window is another"
    if spec.group_by or spec.maintenance:
        return "Sloth has no grouping or maintenance windows"
    sli = _sloth_sli(spec)
    if isinstance(sli, str):
        return sli
    service, _, name = spec.name.partition("-")
    slo: dict[str, Any] = {"name": name or "objective", "objective": _num(spec.objective)}
    if spec.description:
        slo["description"] = spec.description
    if spec.labels:
        slo["labels"] = dict(spec.labels)
    slo["sli"] = sli
    alerting = _sloth_alerting(spec.alerting)
    if alerting:
        slo["alerting"] = alerting
    return {"version": "prometheus/v1", "service": service, "slos": [slo]}


def _pyrra(spec: SLOSpec) -> dict[str, Any] | str:
    sli = spec.sli
    if spec.calendar is not None:
        return "Pyrra's windows are rolling"
    if sli.ratio is not None and sli.ratio.errors is not None:
        indicator: dict[str, Any] = {"ratio": {"errors": {"metric": str(sli.ratio.errors)},
                                               "total": {"metric": str(sli.ratio.total)}}}
    elif sli.latency is not None:
        h = sli.latency.histogram
        matchers = ",".join([*(str(m) for m in h.matchers), f'le="{_le(sli.latency.threshold)}"'])
        indicator = {"latency": {"success": {"metric": f"{h.metric}_bucket{{{matchers}}}"},
                                 "total": {"metric": str(h.with_metric(h.metric + "_count"))}}}
    else:
        return "Pyrra reads errors over total, or a latency histogram"
    if spec.group_by:
        next(iter(indicator.values()))["grouping"] = list(spec.group_by)
    body: dict[str, Any] = {"description": spec.description, "target": f"{spec.objective:g}",
                            "window": _shorthand(spec.window), "indicator": indicator}
    a = spec.alerting
    alerting: dict[str, Any] = {}
    if a.page.disable and a.ticket.disable:
        alerting["disabled"] = True
    if a.name:
        alerting["name"] = a.name
    if alerting:
        body["alerting"] = alerting
    labels = {f"pyrra.dev/{k}": v for k, v in spec.labels.items()}
    meta: dict[str, Any] = {"name": spec.name, **({"labels": labels} if labels else {})}
    return {"apiVersion": "pyrra.dev/v1alpha1", "kind": "ServiceLevelObjective", "metadata": meta, "spec": body}


_WRITERS = {"openslo": _openslo, "sloth": _sloth, "pyrra": _pyrra}


def export_documents(specs: Sequence[SLOSpec], fmt: ExportFormat) -> tuple[list[dict[str, Any]], list[str]]:
    """The documents of ``specs`` in ``fmt``, and one line per objective left out, with the reason."""
    documents: list[dict[str, Any]] = []
    skipped: list[str] = []
    for spec in specs:
        found = _WRITERS[fmt](spec)
        if isinstance(found, str):
            skipped.append(f"{spec.name}: {found}")
        else:
            documents.append(found)
    return documents, skipped


def render_export(specs: Sequence[SLOSpec], fmt: ExportFormat) -> str:
    """``export_documents`` as one YAML stream, with a header naming what was left out and why."""
    documents, skipped = export_documents(specs, fmt)
    header = f"# Redline objectives as {fmt} specs (`redline export --format {fmt}`).\n"
    header += "".join(f"# left out {line}\n" for line in skipped)
    body = yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, width=1000) if documents else ""
    return header + body
