"""Load Pyrra ``ServiceLevelObjective`` CRDs (``apiVersion: pyrra.dev/v1alpha1``) into ``SLOSpec``s.

================================  ===========================================================
field                             Redline
================================  ===========================================================
``metadata.name``                  the objective's name (Pyrra's ``slo`` label)
``metadata.labels`` ``pyrra.dev/…`` labels on the objective, prefix removed (Pyrra propagates
                                  only those to its rules); the others select the rule file
``target``                         a percentage, as a string (``"99.5"``) or a number
``window``                         the rolling window (``28d``, ``4w``)
``indicator.ratio``                errors over total counters (``RatioSLI``)
``indicator.latency``              ``x_bucket{le="T"}`` over ``x_count`` (``LatencySLI`` at T)
``indicator.latencyNative``        a native histogram: on a backend only,
                                  ``histogram_fraction(0, T, sum(rate(x[W])))``
``indicator.bool_gauge``           a 0/1 gauge: on a backend only, the share of samples at 1
``grouping``                       ``group_by`` (one objective per value; native only)
``alerting.disabled``/``burnrates: false``  page and ticket off; ``name`` names the alerts
================================  ===========================================================

The burn-rate tiers are Pyrra's for the window (``pyrra_tiers``): for 28 days, page at 14× over
1h/5m and 7× over 6h/30m, ticket at 2× over 1d/2h and 1× over 4d/6h, each with Pyrra's ``for``.
With a ``backend`` (a ``promql`` source) the indicators run there as query SLIs.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from redline.kernel.errors import ConfigError
from redline.kernel.units import format_duration, parse_duration
from redline.slo.promql_translate import translate_ratio
from redline.slo.spec import AlertingSpec, AlertRoleSpec, AlertTierSpec, LatencySLI, SLOSpec
from redline.slo.spec_source import NO_VALUE, Imported, ImportResult, Loc, Problems, SpecDocument

__all__ = ["PYRRA_API_VERSION", "load_pyrra", "pyrra_tiers"]

PYRRA_API_VERSION = "pyrra.dev/v1alpha1"
_PROPAGATE = "pyrra.dev/"
_INDICATORS = ("ratio", "latency", "latencyNative", "bool_gauge")


def _round_minute(seconds: float) -> float:
    """Go's ``Duration.Round(time.Minute)``: to the nearest minute, halves away from zero."""
    return float(int(seconds / 60 + 0.5) * 60)


def pyrra_tiers(window_s: float) -> tuple[AlertTierSpec, ...]:
    """Pyrra's four burn-rate tiers for a window (``slo.Windows`` in Pyrra's ``slo/rules.go``):
    long, short and ``for`` are fixed shares of the window, rounded to the minute."""
    day28 = 28 * 24
    shares = (  # severity, long, short, for (as divisors of the window), factor
        ("page", day28, day28 * 12, day28 * 30, 14.0),
        ("page", 28 * 4, day28 * 2, day28 * 4, 7.0),
        ("ticket", 28, 28 * 12, day28, 2.0),
        ("ticket", 7, 28 * 4, 28 * 8, 1.0),
    )
    return tuple(
        AlertTierSpec(
            severity=sev, long_window=format_duration(_round_minute(window_s / long)),
            short_window=format_duration(_round_minute(window_s / short)), factor=factor,
            **{"for": _round_minute(window_s / for_)},
        )
        for sev, long, short, for_, factor in shares
    )


class _Reader:
    def __init__(self, doc: SpecDocument) -> None:
        self.doc = doc
        self.problems = Problems()

    def fail(self, loc: Loc, text: str, value: object = NO_VALUE) -> None:
        self.problems.add(self.doc, loc, text, value)


def _metric(r: _Reader, body: dict[str, Any], key: str, loc: Loc) -> str | None:
    side = body.get(key)
    metric = side.get("metric") if isinstance(side, dict) else None
    if not isinstance(metric, str) or not metric.strip():
        r.fail((*loc, key, "metric"), "required metric selector is missing")
        return None
    return metric.strip()


def _sli(r: _Reader, spec: dict[str, Any], backend: str | None) -> tuple[dict[str, Any], list[str]] | None:
    indicator = spec.get("indicator")
    if not isinstance(indicator, dict):
        r.fail(("spec", "indicator"), "required mapping is missing")
        return None
    given = [k for k in indicator if k in _INDICATORS or k == "boolGauge"]
    if len(given) != 1:
        r.fail(("spec", "indicator"), f"expected exactly one of {', '.join(_INDICATORS)}")
        return None
    kind = given[0]
    loc: Loc = ("spec", "indicator", kind)
    body = indicator[kind]
    if not isinstance(body, dict):
        r.fail(loc, "expected a mapping", body)
        return None
    grouping = [str(g) for g in body.get("grouping") or []]
    try:
        if kind == "ratio":
            errors, total = _metric(r, body, "errors", loc), _metric(r, body, "total", loc)
            if errors is None or total is None:
                return None
            if backend is not None:
                return {"query": {"source": backend, "errors": f"sum(rate({errors}[{{{{.window}}}}]))",
                                  "total": f"sum(rate({total}[{{{{.window}}}}]))"}}, grouping
            return {"ratio": {"errors": errors, "total": total}}, grouping
        if kind == "latency":
            success, total = _metric(r, body, "success", loc), _metric(r, body, "total", loc)
            if success is None or total is None:
                return None
            good_q, total_q = f"sum(rate({success}[5m]))", f"sum(rate({total}[5m]))"
            sli = translate_ratio(good_q, total_q, good=True)
            if not isinstance(sli, LatencySLI):
                r.fail((*loc, "success", "metric"), "expected a histogram bucket with an le bound "
                       '(x_bucket{le="0.25"}) over its count', success)
                return None
            if backend is not None:
                return {"query": {"source": backend, "good": good_q.replace("[5m]", "[{{.window}}]"),
                                  "total": total_q.replace("[5m]", "[{{.window}}]"), "measures": "latency"}}, grouping
            return {"latency": sli}, grouping
        if backend is None:
            r.fail(loc, "a native histogram or a boolean gauge is evaluated by a backend: give this file's "
                   "slo_files entry a backend (a promql source)")
            return None
        if kind == "latencyNative":
            total = _metric(r, body, "total", loc)
            latency = body.get("latency")
            try:
                bound = parse_duration(str(latency))
            except ValueError as exc:
                r.fail((*loc, "latency"), str(exc), latency)
                return None
            if total is None:
                return None
            ratio = f"1 - histogram_fraction(0, {bound!r}, sum(rate({total}[{{{{.window}}}}])))"
            return {"query": {"source": backend, "error_ratio": ratio, "measures": "latency"}}, grouping
        metric = body.get("metric")
        if not isinstance(metric, str) or not metric.strip():
            r.fail((*loc, "metric"), "required metric selector is missing")
            return None
        ratio = (f"1 - (sum(sum_over_time({metric}[{{{{.window}}}}])) / "
                 f"sum(count_over_time({metric}[{{{{.window}}}}])))")
        return {"query": {"source": backend, "error_ratio": ratio}}, grouping
    except ConfigError as exc:
        r.fail(loc, str(exc))
        return None


def _alerting(r: _Reader, spec: dict[str, Any], window_s: float, result: ImportResult) -> AlertingSpec:
    raw = spec.get("alerting") or {}
    if not isinstance(raw, dict):
        r.fail(("spec", "alerting"), "expected a mapping", raw)
        return AlertingSpec()
    off = raw.get("disabled") is True or raw.get("burnrates") is False
    name = raw.get("name")
    for key in ("absent", "absentName", "severities"):
        if key in raw:
            result.note(r.doc, ("spec", "alerting", key), "not applied: Redline has no absent-metric alert, and "
                        "names its severities page and ticket")
    return AlertingSpec(
        name=str(name) if name else None, page=AlertRoleSpec(disable=off), ticket=AlertRoleSpec(disable=off),
        tiers=pyrra_tiers(window_s),
    )


def load_pyrra(data: object, source: str, backend: str | None = None, *, index: int = 0) -> ImportResult:
    """The objective of one Pyrra ``ServiceLevelObjective`` document; ``SpecProblems`` listing
    every problem of it (each with its path and value)."""
    doc = SpecDocument(source, index, data)
    r = _Reader(doc)
    result = ImportResult()
    if not isinstance(data, dict) or data.get("kind") != "ServiceLevelObjective":
        r.fail(("kind",), "expected ServiceLevelObjective", data.get("kind") if isinstance(data, dict) else data)
        r.problems.raise_if_any()
    assert isinstance(data, dict)
    raw_meta = data.get("metadata")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    spec = data.get("spec")
    if not isinstance(spec, dict):
        r.fail(("spec",), "required mapping is missing")
        r.problems.raise_if_any()
    assert isinstance(spec, dict)
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        r.fail(("metadata", "name"), "required name is missing")
    target = spec.get("target")
    try:
        objective = float(str(target))
        if not 0 < objective < 100:
            raise ValueError
    except ValueError:
        r.fail(("spec", "target"), 'expected a percentage above 0 and below 100 ("99.5")', target)
        objective = 99.0
    window = spec.get("window")
    try:
        window_s = parse_duration(str(window))
    except ValueError:
        r.fail(("spec", "window"), "expected a duration such as 28d or 4w", window if window is not None else NO_VALUE)
        window_s = 28 * 86400.0
    found = _sli(r, spec, backend)
    alerting = _alerting(r, spec, window_s, result)
    labels = {str(k).removeprefix(_PROPAGATE): str(v) for k, v in (meta.get("labels") or {}).items()
              if str(k).startswith(_PROPAGATE)}
    if r.problems.found or found is None:
        r.problems.raise_if_any()
        return result
    sli, grouping = found
    if grouping and backend is not None:
        r.fail(("spec", "indicator"), "grouping is done by Redline's own evaluation; a backend answers one ratio per "
               "window: leave out the backend to group", grouping)
        r.problems.raise_if_any()
    body = {"name": name, "description": str(spec.get("description") or ""), "objective": objective,
            "window": window_s, "sli": sli, "labels": labels, "alerting": alerting, "group_by": grouping}
    try:
        built = SLOSpec.model_validate(body)
    except ValidationError as exc:
        for err in exc.errors():
            r.fail(("spec",), f"{'.'.join(map(str, err['loc']))}: {str(err['msg']).removeprefix('Value error, ')}")
        r.problems.raise_if_any()
    result.objectives.append(Imported(source, index, built, ("metadata", "name")))
    return result
