"""Load OpenSLO v1 documents into ``SLOSpec`` objectives for the embedded store.

Kinds read: ``SLO``, ``SLI`` (for ``indicatorRef``), ``Service``, ``DataSource`` (for
``metricSourceRef``), ``AlertPolicy``, ``AlertCondition``, ``AlertNotificationTarget``.
What Redline cannot honour is a ``ConfigError`` naming the source, the document (index, kind,
name) and the field path — never dropped:

================================  ===========================================================
field                             Redline
================================  ===========================================================
``ratioMetric`` good|bad / total   Prometheus queries of ``slo.promql_translate`` shapes;
                                  ``counter: true`` also allows ``sum(SELECTOR)``
``thresholdMetric``                only ``time() - SELECTOR`` (freshness), with ``op: lt|lte``
                                  and ``value`` = max age in seconds, Timeslices budgeting
``budgetingMethod``                ``Occurrences`` (ratio, latency); ``Timeslices`` (freshness:
                                  ``timeSliceWindow`` is the slice; one age point per slice, so
                                  any ``timeSliceTarget`` in (0, 1] means the same);
                                  ``RatioTimeslices``: error
``timeWindow``                     one rolling ``{duration, isRolling: true}``, or a calendar
                                  ``1w``/``1M``/``1Q`` starting at local midnight
``objectives[]``                   ``target`` (0–1) or ``targetPercent``; several → one objective
                                  each, named ``<slo>-<displayName or index>``; an objective
                                  with its own indicator (composite SLO): error
``alertPolicies``                  references checked; not applied (Redline's alert policy is
                                  global): listed in ``notes``
metric source ``type``             ``Prometheus`` only
================================  ===========================================================

Loaded with a ``backend`` (a ``promql`` source, ``slo_files[].backend``), nothing is translated:
the queries run on that source as query SLIs (``slo.query_sli``). A ratioMetric query's range
(``rate(x[5m])``) becomes each window, as Sloth's ``{{.window}}`` does (a query holding
``{{.window}}`` is used as written); a raw counter with no range is refused. A thresholdMetric
age runs as time slices: ``sum_over_time((max(AGE) > bool MAX)[W:SLICE])`` bad slices (``>=``
for ``op: lt``) over ``count_over_time(max(AGE)[W:SLICE])``; slices where the age has no value
do not count.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any

from pydantic import ValidationError

from redline.kernel.errors import ConfigError
from redline.kernel.units import format_duration, parse_duration
from redline.slo.calendar import WEEKDAYS
from redline.slo.promql_translate import ratio_measures, translate_freshness, translate_ratio, with_window_placeholder
from redline.slo.spec import LatencySLI, QuerySLI, SLOSpec

__all__ = ["KINDS", "load_openslo"]

KINDS = frozenset(
    {"SLO", "SLI", "Service", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}
)
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.:-]+")


class _Doc:
    """One document with the prefix every error about it carries."""

    def __init__(self, raw: object, index: int, source: str) -> None:
        self.source = source
        self.where = f"{source}: document {index}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{self.where}: expected a mapping, got {type(raw).__name__}")
        self.raw: dict[str, Any] = raw
        self.kind = raw.get("kind")
        meta = raw.get("metadata")
        self.name = meta.get("name") if isinstance(meta, dict) else None
        self.display = meta.get("displayName") if isinstance(meta, dict) else None
        self.where += f" ({self.kind} {self.name})"

    def error(self, path: str, why: str) -> ConfigError:
        return ConfigError(f"{self.where}: {path}: {why}")

    def spec(self) -> dict[str, Any]:
        spec = self.raw.get("spec")
        if not isinstance(spec, dict):
            raise self.error("spec", "required mapping is missing")
        return spec


def _get(doc: _Doc, raw: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise doc.error(f"{path}.{key}" if path else key, "required mapping is missing")
    return value


def _query(doc: _Doc, side: dict[str, Any], path: str, sources: dict[str, _Doc]) -> str:
    src = _get(doc, side, "metricSource", path)
    kind = src.get("type")
    ref = src.get("metricSourceRef")
    if ref is not None:
        if ref not in sources:
            raise doc.error(f"{path}.metricSource.metricSourceRef", f"no DataSource named {ref!r} in {doc.source}")
        kind = kind or sources[ref].spec().get("type")
    if kind != "Prometheus":
        raise doc.error(f"{path}.metricSource.type", f"{kind!r}: Redline reads Prometheus queries only")
    query = _get(doc, src, "spec", f"{path}.metricSource").get("query")
    if not isinstance(query, str) or not query.strip():
        raise doc.error(f"{path}.metricSource.spec.query", "required query is missing")
    return query


def _windowed(doc: _Doc, query: str, path: str, backend: str) -> str:
    found = with_window_placeholder(query)
    if found is None:
        raise doc.error(f"{path}.metricSource.spec.query", f"{query!r} has no range selector ([5m]) nor "
                        f"{{{{.window}}}} to run over each window on backend {backend!r}; a raw counter "
                        "(counter: true) is read without a backend, from a source that records it")
    return found


def _query_ratio(
    doc: _Doc, ratio: dict[str, Any], rpath: str, side: str, sources: dict[str, _Doc], backend: str
) -> QuerySLI:
    """A ratioMetric run on ``backend``: each query's range becomes the window."""
    side_q = _windowed(doc, _query(doc, _get(doc, ratio, side, rpath), f"{rpath}.{side}", sources),
                       f"{rpath}.{side}", backend)
    total_q = _windowed(doc, _query(doc, _get(doc, ratio, "total", rpath), f"{rpath}.total", sources),
                        f"{rpath}.total", backend)
    measures = ratio_measures(side_q, total_q, good=side == "good")
    if side == "good":
        return QuerySLI(source=backend, good=side_q, total=total_q, measures=measures)
    return QuerySLI(source=backend, errors=side_q, total=total_q, measures=measures)


def _query_age(query: str, op: str, max_age: float, slice_s: float, backend: str) -> QuerySLI:
    """A data age (``time() - SELECTOR``) run on ``backend`` as time slices: a subquery takes the
    age once per slice over each window; a slice is bad when the oldest age is not below
    ``max_age`` (``op`` ``lt``) or above it (``lte``). A slice in which the age has no value (its
    gauge absent) is not counted, as Prometheus has no point there: alert on ``absent()`` of the
    gauge for a dead exporter."""
    age = f"max({query})"
    step = format_duration(slice_s)
    bad = ">=" if op == "lt" else ">"
    return QuerySLI(
        source=backend,
        errors=f"sum_over_time(({age} {bad} bool {max_age!r})[{{{{.window}}}}:{step}])",
        total=f"count_over_time({age}[{{{{.window}}}}:{step}])",
        measures="freshness",
    )


def _sli_body(
    doc: _Doc, indicator: dict[str, Any], path: str, budgeting: str, objective: dict[str, Any], opath: str,
    sources: dict[str, _Doc], backend: str | None,
) -> dict[str, Any]:
    """The ``sli`` of an ``SLOSpec`` from an OpenSLO indicator spec and one objective; a query
    SLI run on ``backend`` when given."""
    try:
        if "ratioMetric" in indicator:
            ratio = _get(doc, indicator, "ratioMetric", path)
            rpath = f"{path}.ratioMetric"
            if budgeting != "Occurrences":
                raise doc.error("spec.budgetingMethod", f"{budgeting!r} with a ratioMetric: Redline counts "
                                "events (Occurrences) for ratio objectives")
            given = [k for k in ("good", "bad") if k in ratio]
            if len(given) != 1:
                raise doc.error(rpath, "expected exactly one of good, bad beside total")
            counter = bool(ratio.get("counter", False))
            if backend is not None:
                return {"query": _query_ratio(doc, ratio, rpath, given[0], sources, backend)}
            sli = translate_ratio(
                _query(doc, _get(doc, ratio, given[0], rpath), f"{rpath}.{given[0]}", sources),
                _query(doc, _get(doc, ratio, "total", rpath), f"{rpath}.total", sources),
                good=given[0] == "good", counter=counter,
            )
            return {"latency" if isinstance(sli, LatencySLI) else "ratio": sli}
        if "thresholdMetric" in indicator:
            query = _query(doc, _get(doc, indicator, "thresholdMetric", path), f"{path}.thresholdMetric", sources)
            if budgeting != "Timeslices":
                raise doc.error("spec.budgetingMethod", f"{budgeting!r} with a thresholdMetric: Redline evaluates "
                                "a threshold on a gauge (freshness) as Timeslices only")
            op, value = objective.get("op"), objective.get("value")
            if op not in ("lt", "lte"):
                raise doc.error(f"{opath}.op", f"{op!r}: a data age must stay below a maximum (lt or lte)")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise doc.error(f"{opath}.value", f"{value!r}: expected the maximum age in seconds")
            slice_text = objective.get("timeSliceWindow", "1m")
            try:
                slice_s = parse_duration(str(slice_text))
            except ValueError as exc:
                raise doc.error(f"{opath}.timeSliceWindow", str(exc)) from exc
            share = objective.get("timeSliceTarget", 1.0)
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
                raise doc.error(f"{opath}.timeSliceTarget", f"{share!r}: expected a number in (0, 1]")
            if backend is not None:
                return {"query": _query_age(query, str(op), float(value), slice_s, backend)}
            # The engine counts an age at most max_age as fresh (lte), to the millisecond: lt is 1 ms less.
            limit = float(value) - (0.001 if op == "lt" else 0.0)
            return {"freshness": translate_freshness(query, limit, slice_s)}
    except ConfigError as exc:
        if str(exc).startswith(doc.where):
            raise
        raise doc.error(path, str(exc)) from exc
    raise doc.error(path, "expected ratioMetric or thresholdMetric")


_CALENDAR_PERIODS = {"1w": "week", "1M": "month", "1Q": "quarter"}


def _window(doc: _Doc, spec: dict[str, Any]) -> dict[str, Any]:
    """``{"window": seconds}`` for a rolling window, ``{"calendar": {...}}`` for a calendar one.

    A calendar window must be one week, month or quarter (``1w``, ``1M``, ``1Q``) starting at
    local midnight: a month or quarter on the 1st, a week on any weekday (it becomes the week's
    start); anything else is refused naming the field.
    """
    windows = spec.get("timeWindow")
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise doc.error("spec.timeWindow", "expected a list with one window")
    w = windows[0]
    if "calendar" not in w and w.get("isRolling") is False:
        raise doc.error("spec.timeWindow[0].calendar", "a window with isRolling: false needs a calendar")
    duration = str(w.get("duration"))
    if "calendar" not in w:
        try:
            return {"window": parse_duration(duration)}
        except ValueError as exc:
            raise doc.error("spec.timeWindow[0].duration", str(exc)) from exc
    if duration not in _CALENDAR_PERIODS:
        raise doc.error("spec.timeWindow[0].duration",
                        f"{duration!r}: a calendar window must be 1w, 1M or 1Q")
    calendar = w["calendar"] if isinstance(w["calendar"], dict) else {}
    tz = str(calendar.get("timeZone") or "UTC")
    try:
        start = datetime.fromisoformat(str(calendar.get("startTime")))
    except ValueError as exc:
        raise doc.error("spec.timeWindow[0].calendar.startTime", f"not a date and time: {exc}") from exc
    period = _CALENDAR_PERIODS[duration]
    if start.time() != time(0, 0) or (period != "week" and start.day != 1) or (
        period == "quarter" and start.month not in (1, 4, 7, 10)
    ):
        starts = {"week": "a weekday", "month": "the 1st", "quarter": "the 1st of a quarter"}[period]
        raise doc.error("spec.timeWindow[0].calendar.startTime",
                        f"{calendar.get('startTime')!r}: Redline's {period}s start at 00:00 on {starts}")
    return {"calendar": {"period": period, "timezone": tz, "week_start": WEEKDAYS[start.weekday()]}}


def _objective_percent(doc: _Doc, objective: dict[str, Any], opath: str) -> float:
    if "targetPercent" in objective:
        value = objective["targetPercent"]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise doc.error(f"{opath}.targetPercent", f"{value!r}: expected a number")
    value = objective.get("target")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise doc.error(f"{opath}.target", f"{value!r}: expected a fraction between 0 and 1 (or targetPercent)")
    return round(value * 100.0, 10)


def _slo_specs(doc: _Doc, slis: dict[str, _Doc], sources: dict[str, _Doc], names: dict[str, set[str]],
               notes: list[str], backend: str | None) -> list[SLOSpec]:
    spec = doc.spec()
    if not isinstance(doc.name, str) or not doc.name:
        raise doc.error("metadata.name", "required name is missing")
    if "indicator" in spec:
        indicator_doc = _get(doc, spec, "indicator", "spec")
        ipath = "spec.indicator.spec"
        indicator = _get(doc, indicator_doc, "spec", "spec.indicator")
    elif "indicatorRef" in spec:
        ref = spec["indicatorRef"]
        if ref not in slis:
            raise doc.error("spec.indicatorRef", f"no SLI named {ref!r} in {doc.source}")
        ipath = f"spec.indicatorRef ({ref}) spec"
        indicator = slis[ref].spec()
    else:
        raise doc.error("spec.indicator", "an SLO without its own indicator is a composite SLO, "
                        "which Redline does not support yet")
    budgeting = spec.get("budgetingMethod")
    if budgeting not in ("Occurrences", "Timeslices"):
        raise doc.error("spec.budgetingMethod", f"{budgeting!r}: Redline supports Occurrences and Timeslices")
    window = _window(doc, spec)
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise doc.error("spec.objectives", "expected a non-empty list")
    service = spec.get("service")
    if names["Service"] and service not in names["Service"]:
        raise doc.error("spec.service", f"no Service named {service!r} in {doc.source}")
    for j, ref in enumerate(spec.get("alertPolicies") or []):
        apath = f"spec.alertPolicies[{j}]"
        if not isinstance(ref, dict):
            raise doc.error(apath, "expected an inline AlertPolicy or {kind: AlertPolicy, alertPolicyRef: NAME}")
        if "alertPolicyRef" in ref:
            policy = ref["alertPolicyRef"]
            if policy not in names["AlertPolicy"]:
                raise doc.error(f"{apath}.alertPolicyRef", f"no AlertPolicy named {policy!r} in {doc.source}")
        else:
            meta = ref.get("metadata")
            policy = meta.get("name") if isinstance(meta, dict) else None
        notes.append(f"{doc.where}: {apath} ({policy}) not applied: "
                     "Redline pages and tickets by its own multiwindow policy")
    out: list[SLOSpec] = []
    for k, objective in enumerate(objectives):
        opath = f"spec.objectives[{k}]"
        if not isinstance(objective, dict):
            raise doc.error(opath, "expected a mapping")
        if "indicator" in objective or "indicatorRef" in objective or "compositeWeight" in objective:
            raise doc.error(f"{opath}.indicator", "a composite SLO (an indicator per objective) is not supported yet")
        suffix = str(objective.get("displayName") or k)
        name = doc.name if len(objectives) == 1 else f"{doc.name}-{suffix}"
        labels = {"service": str(service)} if service else {}
        body = {
            "name": _NAME_BAD.sub("-", name).strip("-"),
            "description": str(spec.get("description") or doc.display or ""),
            "objective": _objective_percent(doc, objective, opath),
            **window,
            "sli": _sli_body(doc, indicator, ipath, budgeting, objective, opath, sources, backend),
            "labels": labels,
        }
        try:
            out.append(SLOSpec.model_validate(body))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise doc.error(opath, f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
    return out


def load_openslo(
    documents: list[dict[str, Any]], source: str, notes: list[str] | None = None, backend: str | None = None
) -> list[SLOSpec]:
    """Objectives from the OpenSLO v1 ``documents`` of ``source`` (a file, for messages).

    With ``backend`` (a ``promql`` source) the queries run there as query SLIs (see the module
    docstring); without, they are translated into native objectives over the embedded store.

    ``notes``, when given, receives what was read but not applied (alert policies). Raises
    ``ConfigError`` naming the document, its kind and name, and the field path for anything
    Redline cannot honour (see the module docstring).
    """
    docs = [_Doc(raw, i, source) for i, raw in enumerate(documents)]
    names: dict[str, set[str]] = {k: set() for k in KINDS}
    for doc in docs:
        if doc.raw.get("apiVersion") != "openslo/v1":
            raise doc.error("apiVersion", f"expected 'openslo/v1', got {doc.raw.get('apiVersion')!r}")
        if doc.kind not in KINDS:
            raise doc.error("kind", f"unknown kind {doc.kind!r}: expected one of {', '.join(sorted(KINDS))}")
        if not isinstance(doc.name, str) or not doc.name:
            raise doc.error("metadata.name", "required name is missing")
        names[str(doc.kind)].add(doc.name)
    slis = {d.name: d for d in docs if d.kind == "SLI" and isinstance(d.name, str)}
    sources = {d.name: d for d in docs if d.kind == "DataSource" and isinstance(d.name, str)}
    collected: list[str] = []
    specs = [s for d in docs if d.kind == "SLO" for s in _slo_specs(d, slis, sources, names, collected, backend)]
    if notes is not None:
        notes.extend(collected)
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise ConfigError(f"{source}: two objectives are named {s.name!r}")
        seen.add(s.name)
    return specs
