"""OpenSLO ``v1alpha`` objects rewritten in the ``v1`` shape, so one reader serves both.

v1alpha differs in three places: ``timeWindows[{unit, count, isRolling, calendar}]`` (v1:
``timeWindow[{duration, ...}]``); ``indicator.thresholdMetric{source, queryType, query}`` (v1:
``indicator.spec.thresholdMetric.metricSource{type, spec.query}``); and a ratio metric per
objective, ``objectives[].ratioMetrics{counter|incremental, good, bad, total}``, kept on the
objective (``__indicator``) since each objective may have its own.
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_v1alpha", "v1alpha_loc"]

_UNITS = {"minute": "m", "hour": "h", "day": "d", "week": "w", "month": "M", "quarter": "Q", "year": "Y"}


def _source(raw: object) -> object:
    if not isinstance(raw, dict) or "metricSource" in raw:
        return raw
    return {"metricSource": {"type": raw.get("source"), "spec": {"query": raw.get("query")}}}


def _window(raw: object) -> object:
    if not isinstance(raw, dict):
        return raw
    unit = _UNITS.get(str(raw.get("unit", "")).lower(), str(raw.get("unit")))
    out = {k: v for k, v in raw.items() if k not in ("unit", "count")}
    return {"duration": f"{raw.get('count')}{unit}", **out}


def _objective(raw: object) -> object:
    if not isinstance(raw, dict) or "ratioMetrics" not in raw:
        return raw
    metrics = raw["ratioMetrics"]
    out = {k: v for k, v in raw.items() if k != "ratioMetrics"}
    if isinstance(metrics, dict):
        ratio = {k: _source(v) for k, v in metrics.items() if k in ("good", "bad", "total")}
        ratio["counter"] = bool(metrics.get("counter", metrics.get("incremental", False)))
        out["__indicator"] = {"ratioMetric": ratio}
    return out


def from_v1alpha(raw: dict[str, Any]) -> dict[str, Any]:
    """A v1alpha object in the v1 shape (other kinds and unknown fields as they are)."""
    spec = raw.get("spec")
    if raw.get("kind") != "SLO" or not isinstance(spec, dict):
        return raw
    spec = dict(spec)
    if "timeWindows" in spec:
        windows = spec.pop("timeWindows")
        spec["timeWindow"] = [_window(w) for w in windows] if isinstance(windows, list) else windows
    indicator = spec.get("indicator")
    if isinstance(indicator, dict) and "spec" not in indicator:
        spec["indicator"] = {"spec": {k: _source(v) for k, v in indicator.items()}}
    elif indicator is None and isinstance(spec.get("objectives"), list):
        spec["indicator"] = {"spec": {}}
    if isinstance(spec.get("objectives"), list):
        spec["objectives"] = [_objective(o) for o in spec["objectives"]]
    return {**raw, "spec": spec}


_RENAMES: tuple[tuple[tuple[str | int, ...], tuple[str | int, ...]], ...] = (
    (("metricSource", "spec", "query"), ("query",)),
    (("metricSource", "type"), ("source",)),
    (("metricSource",), ()),
    (("indicator", "spec"), ("indicator",)),
    (("timeWindow",), ("timeWindows",)),
    (("duration",), ("count",)),
)


def v1alpha_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """A place in the v1 shape (``from_v1alpha``) as the v1alpha file writes it:
    ``spec.objectives[0].ratioMetric.good.metricSource.type`` → ``…ratioMetrics.good.source``."""
    out = list(loc)
    if "objectives" in out and "ratioMetric" in out:
        out[out.index("ratioMetric")] = "ratioMetrics"
    i = 0
    while i < len(out):
        for old, new in _RENAMES:
            if tuple(out[i : i + len(old)]) == old:
                out[i : i + len(old)] = list(new)
                i += len(new) - 1
                break
        i += 1
    return tuple(out)
