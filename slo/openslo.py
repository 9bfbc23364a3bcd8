"""Load OpenSLO (``openslo/v1``, and ``openslo/v1alpha``) objects into ``SLOSpec`` objectives.

Every kind is read: ``SLO``, ``SLI``, ``Service``, ``DataSource``, ``AlertPolicy``,
``AlertCondition``, ``AlertNotificationTarget``, inline or referenced by name, across every file
given together (a document may also be a YAML list of objects). A reference to nothing is an
error naming it. What Redline cannot honour is refused naming the field; every problem of every
SLO is reported, not just the first.

================================  ===========================================================
field                             Redline
================================  ===========================================================
``ratioMetric`` good|bad / total   Occurrences: native ratio or latency objectives from the
                                  ``slo.promql_translate`` shapes (``counter: true`` also
                                  allows ``sum(SELECTOR)``); with a backend, query SLIs
``ratioMetric`` raw + rawType      an error ratio (``failure``) or a success ratio (``success``)
``thresholdMetric``                natively a data age ``time() - SELECTOR`` in Timeslices
                                  (freshness); on a backend any gauge, sampled each
                                  ``timeSliceWindow`` (1m) by subquery, Occurrences or Timeslices
Timeslices / RatioTimeslices       with a ratioMetric: time slices of ``timeSliceWindow`` run on
                                  a backend (a slice is good when its ratio reaches
                                  ``timeSliceTarget``; RatioTimeslices averages the slices' ratios)
``timeWindow``                     rolling ``{duration, isRolling: true}`` in m h d w M Q Y
                                  (M = 30d, Q = 90d, Y = 365d); calendar ``1M``/``1Q`` (and
                                  ``1w`` from midnight) as Redline's month/quarter/week, any
                                  other length in m h d w as back-to-back periods from
                                  ``startTime`` in ``timeZone`` (``isRolling: true`` wins over
                                  a calendar, as the spec says); none: 30 days rolling
``objectives[]``                   ``target`` or ``targetPercent``; several → one objective each,
                                  named ``<slo>-<displayName or index>``
``alertPolicies``                  ``burnrate`` conditions → ``SLOSpec.alerting.tiers``
                                  (``threshold`` = factor over ``lookbackWindow`` and 1/12 of
                                  it, ``alertAfter`` = ``for``; severity page, else ticket)
metric source ``type``             ``Prometheus`` only
================================  ===========================================================

With a ``backend`` (a ``promql`` source), nothing is translated: queries run there as query SLIs,
a query's range (``rate(x[5m])``) becoming each window as Sloth's ``{{.window}}`` does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from redline.kernel.errors import ConfigError
from redline.kernel.units import format_duration, parse_duration, prometheus_duration
from redline.slo.calendar import WEEKDAYS
from redline.slo.openslo_alpha import from_v1alpha, v1alpha_loc
from redline.slo.promql_translate import (
    ratio_measures,
    translate_counter,
    translate_error_ratio,
    translate_freshness,
    translate_ratio,
    with_window_placeholder,
)
from redline.slo.spec import AlertingSpec, AlertTierSpec, LatencySLI, QuerySLI, SLOSpec
from redline.slo.spec_source import NO_VALUE, Imported, ImportResult, Loc, Problems, SpecDocument, SpecMessage

__all__ = ["KINDS", "load_openslo"]

KINDS = frozenset(
    {"SLO", "SLI", "Service", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}
)
_VERSIONS = ("openslo/v1", "openslo/v1alpha")
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.:-]+")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNIT_S = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "M": 30 * 86400.0, "Q": 90 * 86400.0,
           "Y": 365 * 86400.0}
_CALENDAR_PERIODS = {"1w": "week", "1M": "month", "1Q": "quarter"}


class _Fail(ConfigError):
    """One problem, at its place: stops reading the SLO it is about."""

    def __init__(self, message: SpecMessage) -> None:
        super().__init__(str(message))
        self.message = message


def _loc(path: str) -> Loc:
    """``spec.timeWindow[0].calendar`` → ``("spec", "timeWindow", 0, "calendar")``."""
    out: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


class _Obj:
    """One OpenSLO object: its document, its place in it (a list item), kind and name."""

    def __init__(self, doc: SpecDocument, prefix: Loc, raw: dict[str, Any], *, alpha: bool = False) -> None:
        self.doc = doc
        self.alpha = alpha
        self.prefix = prefix
        self.raw = raw
        self.kind = raw.get("kind")
        meta = raw.get("metadata")
        self.meta: dict[str, Any] = meta if isinstance(meta, dict) else {}
        self.name = self.meta.get("name")
        self.display = self.meta.get("displayName")

    def at(self, path: str) -> Loc:
        """The place of ``path`` in the file (a v1alpha object's own field names)."""
        loc = _loc(path)
        return (*self.prefix, *(v1alpha_loc(loc) if self.alpha else loc))

    def fail(self, path: str, why: str, value: object = NO_VALUE) -> _Fail:
        return _Fail(SpecMessage(self.doc.source, self.doc.index, self.at(path), why, value))

    def note(self, result: ImportResult, path: str, why: str) -> None:
        result.notes.append(SpecMessage(self.doc.source, self.doc.index, self.at(path), why))

    def spec(self) -> dict[str, Any]:
        spec = self.raw.get("spec")
        if not isinstance(spec, dict):
            raise self.fail("spec", "required mapping is missing")
        return spec


def _get(obj: _Obj, raw: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = raw.get(key)
    where = f"{path}.{key}" if path else key
    if value is None:
        raise obj.fail(where, "required mapping is missing")
    if not isinstance(value, dict):
        raise obj.fail(where, "expected a mapping", value)
    return value


class _Catalogue:
    """Every object given, by kind and name, and the backend of each file."""

    def __init__(self, objects: list[_Obj], backends: Mapping[str, str | None]) -> None:
        self.by_kind: dict[str, dict[str, _Obj]] = {k: {} for k in KINDS}
        for obj in objects:
            if isinstance(obj.kind, str) and isinstance(obj.name, str):
                self.by_kind[obj.kind].setdefault(obj.name, obj)
        self.backends = backends

    def ref(self, obj: _Obj, kind: str, name: object, path: str) -> _Obj:
        found = self.by_kind[kind].get(name) if isinstance(name, str) else None
        if found is None:
            raise obj.fail(path, f"no {kind} of that name in the files given", name)
        return found


def _objects(documents: Sequence[SpecDocument], problems: Problems) -> list[_Obj]:
    out: list[_Obj] = []
    for doc in documents:
        items = [((i,), item) for i, item in enumerate(doc.data)] if isinstance(doc.data, list) else [((), doc.data)]
        for prefix, raw in items:
            if not isinstance(raw, dict):
                problems.add(doc, prefix, "expected an OpenSLO object (apiVersion, kind, metadata, spec)",
                             raw)
                continue
            version = raw.get("apiVersion")
            if version not in _VERSIONS:
                problems.add(doc, (*prefix, "apiVersion"), f"expected {' or '.join(_VERSIONS)}", version)
                continue
            if raw.get("kind") not in KINDS:
                problems.add(doc, (*prefix, "kind"), f"unknown kind: expected one of {', '.join(sorted(KINDS))}",
                             raw.get("kind"))
                continue
            meta = raw.get("metadata")
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
                problems.add(doc, (*prefix, "metadata", "name"), "required name is missing")
                continue
            alpha = version == "openslo/v1alpha"
            out.append(_Obj(doc, prefix, from_v1alpha(raw) if alpha else raw, alpha=alpha))
    return out


def _query(obj: _Obj, side: dict[str, Any], path: str, cat: _Catalogue, result: ImportResult) -> str:
    src = _get(obj, side, "metricSource", path)
    kind = src.get("type")
    ref = src.get("metricSourceRef")
    if ref is not None:
        found = cat.by_kind["DataSource"].get(ref) if isinstance(ref, str) else None
        if found is not None:
            kind = kind or found.spec().get("type")
        elif kind is None:
            raise obj.fail(f"{path}.metricSource.metricSourceRef", "no DataSource of that name in the files given",
                           ref)
        else:
            obj.note(result, f"{path}.metricSource.metricSourceRef",
                     f"no DataSource {ref} in the files given: its type {kind} is taken from the metricSource")
    if not isinstance(kind, str) or kind.lower() != "prometheus":
        raise obj.fail(f"{path}.metricSource.type", "Redline reads Prometheus queries only",
                       kind if kind is not None else NO_VALUE)
    query = _get(obj, src, "spec", f"{path}.metricSource").get("query")
    if not isinstance(query, str) or not query.strip():
        raise obj.fail(f"{path}.metricSource.spec.query", "required query is missing")
    return query


def _windowed(obj: _Obj, query: str, path: str, backend: str, *, counter: bool = False) -> str:
    """``query`` with each range set to ``{{.window}}``; a raw counter (``counter: true``,
    ``sum(SELECTOR)``) becomes ``sum(increase(SELECTOR[{{.window}}]))``."""
    found = with_window_placeholder(query)
    if found is None and counter:
        try:
            return f"sum(increase({translate_counter(query, counter=True)}[{{{{.window}}}}]))"
        except ConfigError:
            pass
    if found is None:
        raise obj.fail(f"{path}.metricSource.spec.query", f"the query has no range selector ([5m]) nor {{{{.window}}}} "
                       f"to run over each window on backend {backend}, and is not a counter (counter: true) of the "
                       "shape sum(SELECTOR) or SELECTOR", query)
    return found


def _number(obj: _Obj, raw: dict[str, Any], key: str, path: str, why: str, ok: Any) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not ok(value):
        raise obj.fail(f"{path}.{key}", why, value if key in raw else NO_VALUE)
    return float(value)


class _Objective:
    """What one objective needs to build its SLI: budgeting, its entry and its path."""

    def __init__(self, slo: _Obj, budgeting: str, raw: dict[str, Any], path: str) -> None:
        self.slo = slo
        self.budgeting = budgeting
        self.raw = raw
        self.path = path


def _slices(o: _Objective) -> tuple[str, float]:
    obj = o.slo
    text = o.raw.get("timeSliceWindow")
    if text is None:
        raise obj.fail(f"{o.path}.timeSliceWindow", f"required with budgetingMethod {o.budgeting}")
    try:
        return format_duration(_duration(str(text))), _number(
            obj, o.raw, "timeSliceTarget", o.path, "expected a number in (0, 1]", lambda v: 0 < v <= 1
        ) if o.budgeting == "Timeslices" else 0.0
    except ValueError as exc:
        raise obj.fail(f"{o.path}.timeSliceWindow", str(exc), text) from exc


def _ratio_sli(
    obj: _Obj, ratio: dict[str, Any], rpath: str, o: _Objective, cat: _Catalogue, backend: str | None,
    result: ImportResult,
) -> dict[str, Any]:
    if "raw" in ratio:
        raw_q = _query(obj, _get(obj, ratio, "raw", rpath), f"{rpath}.raw", cat, result)
        raw_type = ratio.get("rawType")
        if raw_type not in ("success", "failure"):
            raise obj.fail(f"{rpath}.rawType", "expected success or failure with raw",
                           raw_type if raw_type is not None else NO_VALUE)
        if o.budgeting != "Occurrences":
            raise o.slo.fail("spec.budgetingMethod", "a raw ratio is read as Occurrences only", o.budgeting)
        if backend is not None:
            q = _windowed(obj, raw_q, f"{rpath}.raw", backend)
            ratio_q = q if raw_type == "failure" else f"1 - ({q})"
            return {"query": QuerySLI(source=backend, error_ratio=ratio_q, measures=ratio_measures(ratio_q))}
        sli = translate_error_ratio(raw_q if raw_type == "failure" else f"1 - ({raw_q})")
        return {"latency" if isinstance(sli, LatencySLI) else "ratio": sli}
    given = [k for k in ("good", "bad") if k in ratio]
    if len(given) != 1:
        raise obj.fail(rpath, "expected exactly one of good, bad beside total (or raw with rawType)")
    side = given[0]
    counter = bool(ratio.get("counter", False))
    side_q = _query(obj, _get(obj, ratio, side, rpath), f"{rpath}.{side}", cat, result)
    total_q = _query(obj, _get(obj, ratio, "total", rpath), f"{rpath}.total", cat, result)
    if o.budgeting == "Occurrences":
        if backend is not None:
            s = _windowed(obj, side_q, f"{rpath}.{side}", backend, counter=counter)
            t = _windowed(obj, total_q, f"{rpath}.total", backend, counter=counter)
            measures = ratio_measures(s, t, good=side == "good")
            sides = {"good": s} if side == "good" else {"errors": s}
            return {"query": QuerySLI(source=backend, total=t, measures=measures, **sides)}
        sli = translate_ratio(side_q, total_q, good=side == "good", counter=counter)
        return {"latency" if isinstance(sli, LatencySLI) else "ratio": sli}
    if backend is None:
        raise o.slo.fail("spec.budgetingMethod", "time slices of a ratio are computed by a backend: give this file's "
                       "slo_files entry a backend (a promql source)", o.budgeting)
    step, floor = _slices(o)
    s = _windowed(obj, side_q, f"{rpath}.{side}", backend, counter=counter).replace("{{.window}}", step)
    t = _windowed(obj, total_q, f"{rpath}.total", backend, counter=counter).replace("{{.window}}", step)
    good_ratio = f"(({s}) / ({t}))" if side == "good" else f"(1 - ({s}) / ({t}))"
    measures = ratio_measures(s, t, good=side == "good")
    if o.budgeting == "RatioTimeslices":
        error_ratio = f"1 - avg_over_time({good_ratio}[{{{{.window}}}}:{step}])"
        return {"query": QuerySLI(source=backend, error_ratio=error_ratio, measures=measures)}
    return {"query": QuerySLI(
        source=backend, errors=f"sum_over_time(({good_ratio} < bool {floor!r})[{{{{.window}}}}:{step}])",
        total=f"count_over_time({good_ratio}[{{{{.window}}}}:{step}])", measures=measures,
    )}


_BAD_WHEN = {"lt": ">=", "lte": ">", "gt": "<=", "gte": "<"}
"""A thresholdMetric objective's ``op`` says when a value is good; the comparison that makes it bad."""


def _is_age(query: str) -> bool:
    try:
        translate_freshness(query, 1.0)
    except ConfigError:
        return False
    return True


def _threshold_sli(
    obj: _Obj, metric: dict[str, Any], tpath: str, o: _Objective, cat: _Catalogue, backend: str | None,
    result: ImportResult,
) -> dict[str, Any]:
    """A threshold on a gauge, sampled once per ``timeSliceWindow`` (1m unset): natively a data age
    (``time() - SELECTOR``) in Timeslices; on a backend any query, counted by subquery as slices
    (Timeslices) or samples (Occurrences) where it is not ``op`` ``value``."""
    query = _query(obj, metric, tpath, cat, result)
    if o.budgeting == "RatioTimeslices":
        raise o.slo.fail("spec.budgetingMethod", "a thresholdMetric is counted as Occurrences or Timeslices",
                         o.budgeting)
    op = o.raw.get("op")
    if op not in _BAD_WHEN:
        raise o.slo.fail(f"{o.path}.op", "expected lt, lte, gt or gte (how a value compares to be good)",
                         op if op is not None else NO_VALUE)
    value = _number(o.slo, o.raw, "value", o.path, "expected the threshold, a number", lambda v: True)
    step, _ = _slices(_Objective(o.slo, "Timeslices", {"timeSliceTarget": 1, "timeSliceWindow": "1m", **o.raw},
                                 o.path))
    age = _is_age(query)
    if backend is not None:
        sample = f"max({query})" if age else f"({query})"
        return {"query": QuerySLI(
            source=backend,
            errors=f"sum_over_time(({sample} {_BAD_WHEN[str(op)]} bool {value!r})[{{{{.window}}}}:{step}])",
            total=f"count_over_time({sample}[{{{{.window}}}}:{step}])",
            measures="freshness" if age else "availability",
        )}
    if not age:
        raise obj.fail(tpath, "a threshold on a gauge other than a data age (time() - SELECTOR) is evaluated by a "
                       "backend: give this file's slo_files entry a backend (a promql source)")
    if o.budgeting != "Timeslices":
        raise o.slo.fail("spec.budgetingMethod", "Redline evaluates a thresholdMetric (a data age) as Timeslices "
                         "only", o.budgeting)
    if op not in ("lt", "lte") or value <= 0:
        raise o.slo.fail(f"{o.path}.op", "a data age must stay below a maximum (lt or lte)", op)
    # The engine counts an age at most max_age as fresh (lte), to the millisecond: lt is 1 ms less.
    return {"freshness": translate_freshness(query, value - (0.001 if op == "lt" else 0.0), parse_duration(step))}


def _duration(text: str) -> float:
    """Seconds in an OpenSLO duration shorthand (``28d``, ``2w``, ``1M``, ``1Q``, ``1Y``)."""
    m = re.fullmatch(r"(\d+)([mhdwMQY])", text.strip())
    if m is None:
        raise ValueError("expected a duration shorthand: a whole number and one of m h d w M Q Y (28d, 1M)")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


def _window(obj: _Obj, spec: dict[str, Any], result: ImportResult) -> dict[str, Any]:
    """``{"window": seconds}`` (rolling) or ``{"calendar": {...}}``; see the module docstring."""
    windows = spec.get("timeWindow")
    if windows is None:
        obj.note(result, "spec", "no timeWindow: Redline uses a rolling 30-day window")
        return {"window": 30 * 86400.0}
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise obj.fail("spec.timeWindow", "expected a list with one window")
    w = windows[0]
    duration = w.get("duration")
    try:
        seconds = _duration(str(duration))
    except ValueError as exc:
        raise obj.fail("spec.timeWindow[0].duration", str(exc), duration) from exc
    rolling = w.get("isRolling")
    if rolling is True or (rolling is None and "calendar" not in w):
        if "calendar" in w:
            obj.note(result, "spec.timeWindow[0].calendar", "isRolling: true: the window is rolling; the calendar "
                     "is not used")
        return {"window": seconds}
    calendar = w.get("calendar")
    if not isinstance(calendar, dict):
        raise obj.fail("spec.timeWindow[0].calendar", "a window with isRolling: false needs a calendar")
    start = calendar.get("startTime")
    try:
        when = start if isinstance(start, datetime) else datetime.fromisoformat(str(start))
    except ValueError as exc:
        raise obj.fail("spec.timeWindow[0].calendar.startTime", "expected a date and time (2022-01-01 00:00:00)",
                       start) from exc
    tz = str(calendar.get("timeZone") or "UTC")
    midnight = not (when.hour or when.minute or when.second)
    if duration in _CALENDAR_PERIODS and (duration != "1w" or midnight):
        return {"calendar": _named_period(obj, result, _CALENDAR_PERIODS[str(duration)], when, tz)}
    if str(duration)[-1:] in ("M", "Q", "Y"):
        raise obj.fail("spec.timeWindow[0].duration", "a calendar window of months, quarters or years in Redline "
                       "is one month or quarter (1M, 1Q); fixed lengths are in m, h, d or w", duration)
    # A fixed length (1m, 12h, 1d, 2w, or a week from a time other than midnight): back-to-back
    # periods from startTime, local to timeZone.
    return {"calendar": {"period": prometheus_duration(seconds), "timezone": tz, "start": when.isoformat()}}


def _named_period(obj: _Obj, result: ImportResult, period: str, when: datetime, tz: str) -> dict[str, Any]:
    """A week (from midnight), month or quarter: Redline's own calendar periods, with a note
    where startTime falls elsewhere than where Redline's period starts."""
    shifted = [f"at {when.time()}"] if when.hour or when.minute or when.second else []
    if period != "week" and when.day != 1:
        shifted.append(f"on day {when.day}")
    if period == "quarter" and when.month not in (1, 4, 7, 10):
        shifted.append("in a month that starts no quarter")
    if shifted:
        starts = {"week": f"at 00:00 on {WEEKDAYS[when.weekday()]}", "month": "at 00:00 on the 1st",
                  "quarter": "at 00:00 on the 1st of January, April, July and October"}[period]
        obj.note(result, "spec.timeWindow[0].calendar.startTime",
                 f"this {period} starts {' '.join(shifted)}; Redline's {period}s start {starts}")
    return {"period": period, "timezone": tz, "week_start": WEEKDAYS[when.weekday()]}


def _target(obj: _Obj, raw: dict[str, Any], path: str) -> float:
    if "targetPercent" in raw:
        return _number(obj, raw, "targetPercent", path, "expected a percentage above 0 and below 100",
                       lambda v: 0 < v < 100)
    value = _number(obj, raw, "target", path, "expected a fraction above 0 and below 1 (or targetPercent)",
                    lambda v: 0 < v < 1)
    return round(value * 100.0, 10)


def _tiers(obj: _Obj, spec: dict[str, Any], cat: _Catalogue, result: ImportResult) -> AlertingSpec:
    """``SLOSpec.alerting`` from the SLO's alert policies (their burnrate conditions as tiers)."""
    tiers: list[AlertTierSpec] = []
    policies = spec.get("alertPolicies") or []
    if not isinstance(policies, list):
        raise obj.fail("spec.alertPolicies", "expected a list of alert policies", policies)
    for j, item in enumerate(policies):
        apath = f"spec.alertPolicies[{j}]"
        if not isinstance(item, dict):
            raise obj.fail(apath, "expected an inline AlertPolicy or {kind: AlertPolicy, alertPolicyRef: NAME}", item)
        owner, base = obj, apath
        policy: dict[str, Any] = item
        if "alertPolicyRef" in item:
            ref = cat.ref(obj, "AlertPolicy", item["alertPolicyRef"], f"{apath}.alertPolicyRef")
            owner, base, policy = ref, "", ref.raw
        pspec = _get(owner, policy, "spec", base)
        ppath = f"{base}.spec" if base else "spec"
        for k, target in enumerate(pspec.get("notificationTargets") or []):
            if isinstance(target, dict) and "targetRef" in target:
                cat.ref(owner, "AlertNotificationTarget", target["targetRef"],
                        f"{ppath}.notificationTargets[{k}].targetRef")
        owner.note(result, f"{ppath}.notificationTargets", f"{obj.name}: notification targets not applied: "
                   "Redline's notifiers (alerting.notifiers) deliver every alert")
        for k, cond in enumerate(pspec.get("conditions") or []):
            cpath = f"{ppath}.conditions[{k}]"
            c_owner, c_base, c_raw = owner, cpath, cond
            if isinstance(cond, dict) and "conditionRef" in cond:
                found = cat.ref(owner, "AlertCondition", cond["conditionRef"], f"{cpath}.conditionRef")
                c_owner, c_base, c_raw = found, "", found.raw
            if not isinstance(c_raw, dict):
                raise owner.fail(cpath, "expected an inline AlertCondition or {conditionRef: NAME}", c_raw)
            tiers.append(_tier(c_owner, _get(c_owner, c_raw, "spec", c_base), f"{c_base}.spec" if c_base else "spec"))
    return AlertingSpec(tiers=tuple(tiers) if tiers else None)


def _tier(owner: _Obj, cspec: dict[str, Any], path: str) -> AlertTierSpec:
    cond = _get(owner, cspec, "condition", path)
    cpath = f"{path}.condition"
    kind = cond.get("kind", "burnrate")
    if kind != "burnrate":
        raise owner.fail(f"{cpath}.kind", "Redline alerts on burn rates only (kind: burnrate)", kind)
    op = cond.get("op")
    if op not in ("gt", "gte"):
        raise owner.fail(f"{cpath}.op", "a burn-rate alert fires above its threshold (gt or gte)",
                         op if op is not None else NO_VALUE)
    factor = _number(owner, cond, "threshold", cpath, "expected a burn rate above 0", lambda v: v > 0)
    lookback = cond.get("lookbackWindow")
    try:
        long_s = _duration(str(lookback))
        after = cond.get("alertAfter")
        for_s = _duration(str(after)) if after not in (None, "0m", 0) else 0.0
    except ValueError as exc:
        raise owner.fail(f"{cpath}.lookbackWindow", str(exc), lookback) from exc
    severity = str(cspec.get("severity", "page")).lower()
    return AlertTierSpec(
        severity="page" if severity in ("page", "critical", "high") else "ticket",
        long_window=format_duration(long_s), short_window=format_duration(long_s / 12),
        factor=factor, **{"for": for_s},
    )


def _labels(obj: _Obj, service: object, result: ImportResult) -> dict[str, str]:
    labels = {"service": str(service)} if service else {}
    for key, value in (obj.meta.get("labels") or {}).items():
        if not _LABEL_NAME.match(str(key)):
            obj.note(result, f"metadata.labels.{key}", "not a Prometheus label name: not one of the objective's labels")
            continue
        labels[str(key)] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return labels


def _slo(obj: _Obj, cat: _Catalogue, result: ImportResult, problems: Problems) -> None:
    spec = obj.spec()
    backend = cat.backends.get(obj.doc.source)
    if "indicator" in spec:
        ind_owner, ipath = obj, "spec.indicator.spec"
        indicator = _get(obj, _get(obj, spec, "indicator", "spec"), "spec", "spec.indicator")
    elif "indicatorRef" in spec:
        ind_owner = cat.ref(obj, "SLI", spec["indicatorRef"], "spec.indicatorRef")
        ipath, indicator = "spec", ind_owner.spec()
    else:
        raise obj.fail("spec.indicator", "an SLO without its own indicator is a composite SLO, which Redline does not "
                       "support yet")
    budgeting = spec.get("budgetingMethod")
    if budgeting not in ("Occurrences", "Timeslices", "RatioTimeslices"):
        raise obj.fail("spec.budgetingMethod", "expected Occurrences, Timeslices or RatioTimeslices",
                       budgeting if budgeting is not None else NO_VALUE)
    window = _window(obj, spec, result)
    service = spec.get("service")
    if service is not None and cat.by_kind["Service"] and service not in cat.by_kind["Service"]:
        obj.note(result, "spec.service", f"no Service {service} in the files given: the objectives carry the "
                 "label service anyway")
    alerting = _tiers(obj, spec, cat, result)
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise obj.fail("spec.objectives", "expected a non-empty list")
    labels = _labels(obj, service, result)
    for k, objective in enumerate(objectives):
        opath = f"spec.objectives[{k}]"
        try:
            if not isinstance(objective, dict):
                raise obj.fail(opath, "expected a mapping", objective)
            if "indicator" in objective or "indicatorRef" in objective or "compositeWeight" in objective:
                raise obj.fail(f"{opath}.indicator", "a composite SLO (an indicator per objective) is not supported")
            own = objective.get("__indicator")  # v1alpha: the ratio metric of this objective
            o = _Objective(obj, str(budgeting), objective, opath)
            sli = _sli(ind_owner, own if isinstance(own, dict) else indicator,
                       opath if own is not None else ipath, o, cat, backend, result)
            name = str(obj.name) if len(objectives) == 1 else f"{obj.name}-{objective.get('displayName') or k}"
            body = {
                "name": _NAME_BAD.sub("-", name).strip("-"),
                "description": str(spec.get("description") or obj.display or ""),
                "objective": _target(obj, objective, opath), **window, "sli": sli, "labels": labels,
                "alerting": alerting,
            }
            try:
                built = SLOSpec.model_validate(body)
            except ValidationError as exc:
                first = exc.errors()[0]
                why = str(first["msg"]).removeprefix("Value error, ")
                if first["loc"][:1] == ("calendar",):  # the time zone: say it where the file has it
                    zone = spec["timeWindow"][0]["calendar"].get("timeZone")
                    raise obj.fail("spec.timeWindow[0].calendar.timeZone", "unknown time zone (expected an IANA "
                                   "name such as Europe/Paris)", zone) from exc
                raise obj.fail(opath, f"{'.'.join(map(str, first['loc']))}: {why}") from exc
            result.objectives.append(Imported(obj.doc.source, obj.doc.index, built, (*obj.prefix, "metadata", "name")))
        except _Fail as exc:
            problems.extend([exc.message])


def _sli(
    owner: _Obj, indicator: dict[str, Any], ipath: str, o: _Objective, cat: _Catalogue,
    backend: str | None, result: ImportResult,
) -> dict[str, Any]:
    try:
        if "ratioMetric" in indicator:
            ratio = _get(owner, indicator, "ratioMetric", ipath)
            return _ratio_sli(owner, ratio, f"{ipath}.ratioMetric", o, cat, backend, result)
        if "thresholdMetric" in indicator:
            metric = _get(owner, indicator, "thresholdMetric", ipath)
            return _threshold_sli(owner, {"metricSource": metric.get("metricSource")} if "metricSource" in metric
                                  else metric, f"{ipath}.thresholdMetric", o, cat, backend, result)
    except _Fail:
        raise
    except ConfigError as exc:  # a query shape the embedded store cannot evaluate
        raise owner.fail(ipath, f"{exc}; or give this file's slo_files entry a backend (a promql source) to run "
                         "the queries there as written") from exc
    raise owner.fail(ipath, "expected ratioMetric or thresholdMetric")


def load_openslo(
    documents: Sequence[SpecDocument], backend: str | None = None, *, backends: Mapping[str, str | None] | None = None
) -> ImportResult:
    """Objectives from OpenSLO documents (of one or several files), references resolved across all.

    ``backends`` gives the backend of each source (file); ``backend`` is the one for the others.
    Raises ``SpecProblems`` listing every problem (one per SLO objective at most).
    """
    problems = Problems()
    result = ImportResult()
    objects = _objects(documents, problems)
    seen: dict[tuple[str, str], _Obj] = {}
    for obj in objects:
        key = (str(obj.kind), str(obj.name))
        if key in seen and obj.kind != "SLO":  # two SLOs of one name clash by their objectives' names
            obj.note(result, "metadata.name", f"a second {obj.kind} named {obj.name}: references use the first, "
                     f"in {seen[key].doc.source}")
        seen.setdefault(key, obj)
    by_source = {d.source: backend for d in documents} | dict(backends or {})
    cat = _Catalogue(objects, by_source)
    for obj in objects:
        if obj.kind != "SLO":
            continue
        try:
            _slo(obj, cat, result, problems)
        except _Fail as exc:
            problems.extend([exc.message])
    problems.raise_if_any()
    return result
