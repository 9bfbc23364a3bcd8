"""Load Google slo-generator SLO files (``apiVersion: sre.google.com/v2``) into ``SLOSpec``s.

Only the ``prometheus`` backend is read; another backend is refused naming it. Methods:

- ``good_bad_ratio``: ``filter_good`` over ``filter_valid`` (or ``filter_bad`` over
  ``filter_valid``), each a selector summed as ``sum(increase(SELECTOR[window]))`` as
  slo-generator does; ``filter_good`` with ``filter_bad`` alone (valid = good + bad) on a backend;
- ``distribution_cut``: ``expression`` (a ``_bucket`` selector) under ``threshold_bucket`` seconds,
  a latency objective;
- ``query_sli``: ``expression`` is the good ratio: natively when it is one of the shapes of
  ``slo.promql_translate``, else on a backend.

``goal`` (0–1) is the objective; the window is 28 days, or the ``slo_files`` entry's ``window``
(slo-generator's windows come from the error-budget policy of its shared config, which is not
part of an SLO file). A query's
``[window]`` becomes ``{{.window}}``. ``metadata.labels`` go on the objective. The v1 format
(top-level ``service_name``/``slo_name``) is refused with the command that migrates it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from redline.kernel.errors import ConfigError
from redline.kernel.units import format_duration
from redline.slo.promql_translate import translate_error_ratio, translate_ratio
from redline.slo.spec import LatencySLI, SLOSpec
from redline.slo.spec_source import NO_VALUE, Imported, ImportResult, Loc, Problems, SpecDocument

__all__ = ["load_slo_generator"]

_METHODS = ("good_bad_ratio", "distribution_cut", "query_sli")
_SLI: Loc = ("spec", "service_level_indicator")


def _windowed(query: str) -> str:
    """slo-generator's ``[window]`` placeholder as ``{{.window}}``; a bare selector gets a range."""
    query = query.strip()
    return query.replace("[window", "[{{.window}}") if "[window" in query else f"{query}[{{{{.window}}}}]"


def _summed(selector: str) -> str:
    return f"sum(increase({_windowed(selector)}))"


def _with_le(selector: str, bound: str) -> str:
    selector = selector.strip()
    return selector[:-1] + f', le="{bound}"}}' if selector.endswith("}") else f'{selector}{{le="{bound}"}}'


def _sli(
    sli: dict[str, Any], method: str, backend: str | None, problems: Problems, doc: SpecDocument
) -> dict[str, Any] | None:
    def text(key: str) -> str | None:
        value = sli.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    try:
        if method == "good_bad_ratio":
            good, bad, valid = text("filter_good"), text("filter_bad"), text("filter_valid")
            if valid is None and (good is None or bad is None):
                problems.add(doc, _SLI, "expected filter_good or filter_bad with filter_valid, or filter_good with "
                             "filter_bad")
                return None
            side, is_good = (good, True) if good is not None else (bad, False)
            assert side is not None
            if valid is None:
                assert good is not None and bad is not None
                if backend is None:
                    problems.add(doc, (*_SLI, "filter_bad"), "valid = good + bad is computed by a backend: give "
                                 "this file's slo_files entry a backend, or give filter_valid")
                    return None
                total = f"{_summed(good)} + {_summed(bad)}"
                return {"query": {"source": backend, "good": _summed(good), "total": total}}
            if backend is not None:
                key = "good" if is_good else "errors"
                return {"query": {"source": backend, key: _summed(side), "total": _summed(valid)}}
            ratio = translate_ratio(_summed(side), _summed(valid), good=is_good)
            return {"latency" if isinstance(ratio, LatencySLI) else "ratio": ratio}
        expression = text("expression")
        if expression is None:
            problems.add(doc, (*_SLI, "expression"), "required query is missing")
            return None
        if method == "distribution_cut":
            bound = sli.get("threshold_bucket")
            if isinstance(bound, bool) or not isinstance(bound, int | float | str):
                problems.add(doc, (*_SLI, "threshold_bucket"), "expected the le bound in seconds",
                             bound if bound is not None else NO_VALUE)
                return None
            good_q = _summed(_with_le(expression, str(bound)))
            total_q = _summed(expression.replace("_bucket", "_count"))
            if backend is not None:
                return {"query": {"source": backend, "good": good_q, "total": total_q, "measures": "latency"}}
            return {"latency": translate_ratio(good_q, total_q, good=True)}
        good_ratio = _windowed(expression) if "[window" in expression else expression
        if backend is not None:
            return {"query": {"source": backend, "error_ratio": f"1 - ({good_ratio})"}}
        found = translate_error_ratio(f"1 - ({good_ratio})")
        return {"latency" if isinstance(found, LatencySLI) else "ratio": found}
    except ConfigError as exc:
        problems.add(doc, _SLI, f"{exc}; or give this file's slo_files entry a backend (a promql source)")
        return None


def load_slo_generator(
    data: object, source: str, backend: str | None = None, *, index: int = 0, window_s: float | None = None
) -> ImportResult:
    """The objective of one slo-generator SLO document; ``SpecProblems`` listing every problem."""
    doc = SpecDocument(source, index, data)
    problems = Problems()
    result = ImportResult()
    if not isinstance(data, dict) or data.get("apiVersion") != "sre.google.com/v2":
        problems.add(doc, (), "the slo-generator v1 format: convert it with `slo-generator migrate` "
                     "(apiVersion sre.google.com/v2)")
        problems.raise_if_any()
    assert isinstance(data, dict)
    raw_meta, raw_spec = data.get("metadata"), data.get("spec")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        problems.add(doc, ("metadata", "name"), "required name is missing")
    source_kind = spec.get("backend")
    if source_kind != "prometheus":
        problems.add(doc, ("spec", "backend"), "Redline reads slo-generator's prometheus backend only",
                     source_kind if source_kind is not None else NO_VALUE)
    method = spec.get("method")
    if source_kind == "prometheus" and method not in _METHODS:
        problems.add(doc, ("spec", "method"), f"expected one of {', '.join(_METHODS)}",
                     method if method is not None else NO_VALUE)
    goal = spec.get("goal")
    if isinstance(goal, bool) or not isinstance(goal, int | float) or not 0 < goal < 1:
        problems.add(doc, ("spec", "goal"), "expected a fraction above 0 and below 1 (0.999)",
                     goal if goal is not None else NO_VALUE)
    sli_raw = spec.get("service_level_indicator")
    if not isinstance(sli_raw, dict):
        problems.add(doc, _SLI, "required mapping is missing")
    if problems.found:
        problems.raise_if_any()
    assert isinstance(sli_raw, dict) and isinstance(goal, int | float)
    sli = _sli(sli_raw, str(method), backend, problems, doc)
    problems.raise_if_any()
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    body = {"name": name, "description": str(spec.get("description") or ""), "objective": round(goal * 100, 10),
            "window": window_s or 28 * 86400.0, "sli": sli, "labels": labels}
    try:
        built = SLOSpec.model_validate(body)
    except ValidationError as exc:
        for err in exc.errors():
            why = str(err["msg"]).removeprefix("Value error, ")
            problems.add(doc, ("spec",), f"{'.'.join(map(str, err['loc']))}: {why}")
        problems.raise_if_any()
    result.objectives.append(Imported(source, index, built, ("metadata", "name")))
    result.note(doc, ("spec", "exporters"), f"{name}: exporters and the error-budget policy are slo-generator's; "
                f"Redline reports and alerts on its own ({format_duration(built.window)} window, burn-rate tiers)")
    return result
