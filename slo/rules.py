"""Prometheus recording and alerting rules for Redline's objectives, in Sloth's naming.

For every objective, three rule groups (so the SLI group can be backfilled on its own with
``promtool tsdb create-blocks-from rules``: it reads only raw series):

- ``redline-slo-sli-<name>``: ``slo:sli_error:ratio_rate<W>`` for every window of
  ``BURN_WINDOWS`` and the objective's window. Ratio:
  ``sum(rate(errors[W])) / sum(rate(total[W]))`` (``1 - sum(rate(good[W])) / ...`` for a good
  selector). Latency: ``1 - sum(rate(x_bucket{le=~"0.25|…"}[W])) / sum(rate(x_bucket{le="+Inf"}[W]))``.
- ``redline-slo-meta-<name>``: ``slo:objective:ratio`` and ``slo:error_budget:remaining``
  (``1 - ratio over the objective window / (1 - objective)``).
- ``redline-slo-alerts-<name>``: one alert per severity of ``MULTIWINDOW_CONDITIONS``
  (``page``, ``ticket``), firing when both windows of any of its conditions burn above
  ``alert_factor`` for the objective's window: ``ratio_long > f·(1 − objective) and ratio_short > …``.

A query SLI (OpenSLO/Sloth with a backend, or ``sli.query``) records its own queries with the
window set, as Sloth does: ``(errors) / (total)``, ``1 - (good) / (total)`` or ``error_ratio``.

Every recorded series carries ``slo="<name>"`` and the objective's labels. Objectives of other
kinds (throughput, GPU band) are left out, each named in a comment at the top of the file.

**Bucket bounds.** The evaluator matches ``le`` by numeric value, but PromQL matches label
text, and exporters spell a bound differently (Go ``1``, ``0.25``, ``1e-05``; Python and Java
``1.0``; some ``0.250``). The rules match ``le`` with an anchored regex listing the usual
spellings of the threshold (``le=~"1|1\\.0|1\\.00|1e\\+00"``), so they need no stored series to
be written. The total is the ``le="+Inf"`` bucket, as in the evaluator.

**Freshness.** Expressible as a time-slice SLI: the SLI group (evaluated every ``slice``)
records ``slo:freshness_age:seconds`` (``time() - min(last_success)``, the oldest series
counts, as in the evaluator) and ``slo:freshness_bad:bool`` (``age > bool max_age``); the
error ratio over ``W`` is ``avg_over_time(slo:freshness_bad:bool[W])``, the share of stale
evaluations. Those ratios read a recorded series, so they live in the meta group and are not
backfilled with the SLI group.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import yaml

from redline.kernel.errors import ConfigError
from redline.kernel.labels import Matcher, Selector
from redline.kernel.units import format_duration
from redline.slo.promql_translate import query_sli_not_promql
from redline.slo.query_sli import side_expression
from redline.slo.ranking import MULTIWINDOW_CONDITIONS
from redline.slo.spec import BURN_WINDOWS, QuerySLI, SLOSpec

__all__ = ["le_spellings", "prometheus_rules", "render_rules_yaml", "skipped_objectives", "sli_windows"]

_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _num(x: float) -> str:
    """A float literal for PromQL, rounded to 10 significant digits (14.399999… → 14.4)."""
    return f"{x:.10g}"


def le_spellings(bound: float) -> list[str]:
    """The usual exposition spellings of a bucket bound, sorted (Go, Python/Java, padded, exponent)."""
    if math.isinf(bound):
        return ["+Inf"]
    shortest = repr(bound)  # Python and Java clients: 0.25, 1.0, 1e-05
    forms = {shortest, f"{bound:g}"}
    if shortest.endswith(".0"):
        forms.add(shortest[:-2])  # Go's client_golang: 1, 10
    if "." in shortest and "e" not in shortest:
        forms.add(shortest + "0")  # padded: 0.250
    return sorted(f for f in forms if float(f) == bound)


def _le_matcher(bound: float) -> Matcher:
    spellings = le_spellings(bound)
    if len(spellings) == 1:
        return Matcher("le", "=", spellings[0])
    return Matcher("le", "=~", "|".join(_regex_escape(s) for s in spellings))


def _regex_escape(text: str) -> str:
    return "".join("\\" + ch if ch in ".+-*?()[]{}|^$\\" else ch for ch in text)


def _with(sel: Selector, metric: str, extra: Matcher) -> str:
    return str(Selector(metric, (*sel.matchers, extra)))


def _sum_rate(selector: str, window: str) -> str:
    return f"sum(rate({selector}[{window}]))"


def sli_windows(spec: SLOSpec) -> list[str]:
    """The windows recorded for an objective: ``BURN_WINDOWS`` then its own window (once)."""
    own = format_duration(spec.window)
    return [*BURN_WINDOWS, own] if own not in BURN_WINDOWS else list(BURN_WINDOWS)


def _query_ratio_expr(sli: QuerySLI, window: str) -> str:
    """A query SLI's error ratio over ``window``: its own queries as the agent runs them
    (``slo.query_sli.side_expression``)."""
    q = {k: side_expression(k, v, window) for k, v in sli.queries().items()}
    if sli.error_ratio is not None:
        return q["error_ratio"]
    if sli.errors is not None:
        return f"({q['errors']}) / ({q['total']})"
    return f"1 - (({q['good']}) / ({q['total']}))"


def _error_ratio_expr(spec: SLOSpec, window: str) -> str:
    sli = spec.sli
    if sli.query is not None:
        return _query_ratio_expr(sli.query, window)
    if sli.ratio is not None:
        total = _sum_rate(str(sli.ratio.total), window)
        if sli.ratio.errors is not None:
            return f"{_sum_rate(str(sli.ratio.errors), window)} / {total}"
        assert sli.ratio.good is not None
        return f"1 - ({_sum_rate(str(sli.ratio.good), window)} / {total})"
    lat = sli.latency
    assert lat is not None
    bucket = lat.histogram.metric + "_bucket"
    good = _sum_rate(_with(lat.histogram, bucket, _le_matcher(lat.threshold)), window)
    total = _sum_rate(_with(lat.histogram, bucket, Matcher("le", "=", "+Inf")), window)
    return f"1 - ({good} / {total})"


def _slo_selector(spec: SLOSpec, metric: str) -> str:
    return str(Selector(metric, (Matcher("slo", "=", spec.name),)))


def _labels(spec: SLOSpec) -> dict[str, str]:
    return {**spec.labels, "slo": spec.name}


def _record(name: str, expr: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": dict(labels)}


def _groups(spec: SLOSpec) -> list[dict[str, Any]]:
    labels = _labels(spec)
    windows = sli_windows(spec)
    own = format_duration(spec.window)
    budget = 1.0 - spec.target
    sli_rules: list[dict[str, Any]] = []
    meta_rules: list[dict[str, Any]] = []
    sli_group: dict[str, Any] = {"name": f"redline-slo-sli-{spec.name}"}
    if spec.sli.freshness is not None:
        fr = spec.sli.freshness
        age = f"time() - min({fr.last_success})"
        sli_group["interval"] = format_duration(fr.slice)  # one evaluation per time slice
        sli_rules.append(_record("slo:freshness_age:seconds", age, labels))
        sli_rules.append(_record("slo:freshness_bad:bool", f"({age}) > bool {_num(fr.max_age)}", labels))
        bad = _slo_selector(spec, "slo:freshness_bad:bool")
        for w in windows:
            meta_rules.append(_record(f"slo:sli_error:ratio_rate{w}", f"avg_over_time({bad}[{w}])", labels))
    else:
        for w in windows:
            sli_rules.append(_record(f"slo:sli_error:ratio_rate{w}", _error_ratio_expr(spec, w), labels))
    meta_rules.append(_record("slo:objective:ratio", f"vector({_num(spec.target)})", labels))
    meta_rules.append(
        _record(
            "slo:error_budget:remaining",
            f"1 - ({_slo_selector(spec, f'slo:sli_error:ratio_rate{own}')} / {_num(budget)})",
            labels,
        )
    )
    alerts: list[dict[str, Any]] = []
    for severity in ("page", "ticket"):
        parts = []
        descr = []
        for c in (c for c in MULTIWINDOW_CONDITIONS if c.severity == severity):
            factor = c.factor(spec.window)
            threshold = f"({_num(factor)} * {_num(budget)})"
            long_sel = _slo_selector(spec, f"slo:sli_error:ratio_rate{c.long_window}")
            short_sel = _slo_selector(spec, f"slo:sli_error:ratio_rate{c.short_window}")
            parts.append(f"({long_sel} > {threshold} and {short_sel} > {threshold})")
            descr.append(f"{_num(factor)}x over {c.long_window} and {c.short_window}")
        annotations = {
            "summary": f"{spec.name}: error budget burning too fast ({severity})",
            "description": f"Objective {_num(spec.objective)}% over {own}; fires at " + "; or ".join(descr) + ".",
        }
        if spec.runbook_url:
            annotations["runbook_url"] = spec.runbook_url
        alerts.append(
            {
                "alert": f"SLOErrorBudgetBurn{severity.capitalize()}",
                "expr": "\n  or\n".join(parts),
                "labels": {**labels, "severity": severity},
                "annotations": annotations,
            }
        )
    sli_group["rules"] = sli_rules
    return [
        sli_group,
        {"name": f"redline-slo-meta-{spec.name}", "rules": meta_rules},
        {"name": f"redline-slo-alerts-{spec.name}", "rules": alerts},
    ]


_EXPORTED_KINDS = frozenset({"availability", "latency", "freshness"})
_ONLY = "(ratio, latency, freshness only)"


def _why_skipped(spec: SLOSpec) -> str | None:
    if spec.sli.query is not None and (problem := query_sli_not_promql(spec.sli.query)) is not None:
        return problem
    if spec.kind not in _EXPORTED_KINDS and spec.sli.query is None:
        return f"its kind ({spec.kind}) has no Prometheus rule translation yet"
    if spec.calendar is not None:
        return "a calendar window has no Prometheus rule translation yet (rules use rolling windows)"
    if spec.maintenance:
        return "maintenance windows cannot be expressed in Prometheus rules"
    if spec.group_by:
        return "grouped: record it per member with `by (...)` in a rule of your own"
    return None


def skipped_objectives(specs: Sequence[SLOSpec]) -> list[str]:
    """Names of the objectives the rules cannot express (throughput, GPU band, calendar windows,
    maintenance, grouped objectives); ``render_rules_yaml`` names each with the reason."""
    return [s.name for s in specs if _why_skipped(s) is not None]


def prometheus_rules(specs: Sequence[SLOSpec]) -> dict[str, Any]:
    """The rule-file document (``{"groups": [...]}``) for ``specs``; see the module docstring.

    Raises ``ConfigError`` naming the objective when one of its labels cannot be a Prometheus label.
    """
    for spec in specs:
        bad = sorted(k for k in spec.labels if not _LABEL_NAME_RE.fullmatch(k) or k.startswith("__"))
        if bad:
            raise ConfigError(f"objective {spec.name!r}: labels {bad} are not valid Prometheus label names")
    return {"groups": [g for spec in specs if _why_skipped(spec) is None for g in _groups(spec)]}


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def render_rules_yaml(specs: Sequence[SLOSpec]) -> str:
    """``prometheus_rules(specs)`` as a YAML rule file, with a header naming what produced it."""
    header = "# Prometheus rules generated by `redline rules` — SLI error ratios, budgets, burn-rate alerts.\n"
    for spec in specs:
        why = _why_skipped(spec)
        if why is not None:
            header += f"# skipped {spec.name}: {why} {_ONLY}\n"
    body = yaml.dump(prometheus_rules(specs), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
    return header + body
