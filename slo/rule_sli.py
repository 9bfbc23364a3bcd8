"""PromQL for an objective's error ratio over one window, as ``redline rules`` records it.

Ratio: ``(sum(rate(errors[W])) or vector(0)) / (sum(rate(total[W])) > 0)`` (``1 - (sum(rate(good[W]))
or vector(0)) / ...`` for a good selector): no error series in the window (sparse 5xx codes) is
0 errors, as in the evaluator, not a window left unrecorded, which would leave the period's
average of the 5m ratios to the windows that had errors. Latency:
``1 - sum(rate(x_bucket{le=~"0.25|…"}[W])) / (sum(rate(x_bucket{le="+Inf"}[W])) > 0)``.
The ``> 0`` leaves a window without events unrecorded, as Redline leaves it unknown, rather than
a ``NaN`` that would poison every ``avg_over_time`` of the record over the period after it. A
query SLI records its own queries with the window set, as Sloth does.

**Bucket bounds.** The evaluator matches ``le`` by numeric value, but PromQL matches label
text, and exporters spell a bound differently (Go ``1``, ``0.25``, ``1e-05``; Python and Java
``1.0``; some ``0.250``). The rules match ``le`` with an anchored regex listing the usual
spellings of the threshold (``le=~"1|1\\.0|1\\.00"``), so they need no stored series to be
written. The total is the ``le="+Inf"`` bucket, as in the evaluator.
"""

from __future__ import annotations

import math

from redline.kernel.labels import Matcher, Selector
from redline.slo.query_sli import side_expression
from redline.slo.spec import QuerySLI, SLOSpec

__all__ = ["error_ratio_expr", "le_spellings", "promql_number"]


def promql_number(x: float) -> str:
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


def _query_ratio_expr(sli: QuerySLI, window: str) -> str:
    """A query SLI's error ratio over ``window``: its own queries as the agent runs them
    (``slo.query_sli.side_expression``)."""
    q = {k: side_expression(k, v, window) for k, v in sli.queries().items()}
    if sli.error_ratio is not None:
        return q["error_ratio"]
    if sli.errors is not None:
        return f"({q['errors']}) / ({q['total']})"
    return f"1 - (({q['good']}) / ({q['total']}))"


def error_ratio_expr(spec: SLOSpec, window: str) -> str:
    """The error ratio of a ratio, latency or query objective over ``window``, from raw series."""
    sli = spec.sli
    if sli.query is not None:
        return _query_ratio_expr(sli.query, window)
    if sli.ratio is not None:
        total = f"({_sum_rate(str(sli.ratio.total), window)} > 0)"
        if sli.ratio.errors is not None:
            return f"({_sum_rate(str(sli.ratio.errors), window)} or vector(0)) / {total}"
        assert sli.ratio.good is not None
        return f"1 - (({_sum_rate(str(sli.ratio.good), window)} or vector(0)) / {total})"
    lat = sli.latency
    assert lat is not None
    bucket = lat.histogram.metric + "_bucket"
    good = _sum_rate(_with(lat.histogram, bucket, _le_matcher(lat.threshold)), window)
    total = f"({_sum_rate(_with(lat.histogram, bucket, Matcher('le', '=', '+Inf')), window)} > 0)"
    return f"1 - ({good} / {total})"
