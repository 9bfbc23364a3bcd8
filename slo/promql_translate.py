"""Translate the common PromQL shapes of OpenSLO and Sloth specs into native objectives.

The embedded store has no PromQL engine, so a spec's queries are parsed by ``promql-parser``
(bindings to the Rust ``promql-parser`` crate: all of PromQL) and recognised as one of these
shapes; any other valid query is a ``ConfigError`` that quotes it (a backend can run it as
written), and invalid PromQL is one naming the parser's complaint and, where it can be told,
the column.

================================================================  ==============================
shape                                                             becomes
================================================================  ==============================
``sum(rate(SEL[W]))``, ``sum(increase(SEL[W]))``, ``sum by (x)``  counter ``Selector`` (events)
``sum(SEL)`` / ``SEL`` (only with ``counter=True``, OpenSLO)       counter ``Selector``
``x_bucket{le="T"}`` good over ``x_count`` (or ``le="+Inf"``)      ``LatencySLI(x, T)``
``1 - sum(rate(x_bucket{le="T"}[W])) / sum(rate(x_count[W]))``    ``LatencySLI(x, T)`` (raw form)
``sum(rate(x_count[W])) - sum(rate(x_bucket{le="T"}[W]))``         latency errors (events form)
``time() - SEL``, ``time() - max(SEL)``, ``time() - min(SEL)``      ``FreshnessSLI`` last success
================================================================  ==============================

``W`` may be anything (``5m``, Sloth's ``{{.window}}``): the engine computes increases over its
own windows, so the window written in the query is not used. A grouping (``by (code)``) is
dropped: the objective counts every selected series together. A ``le`` matcher must be an
equality with a number (``le="0.25"``); the latency total may be the ``_count`` series or the
``+Inf`` bucket of the same family with the same other matchers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final, Literal

import promql_parser

from redline.kernel.errors import ConfigError
from redline.kernel.labels import Matcher, Selector
from redline.slo.spec import WINDOW_PLACEHOLDER_RE, FreshnessSLI, LatencySLI, QuerySLI, RatioSLI

__all__ = [
    "WINDOW_PLACEHOLDER_RE",
    "PromQLShapeError",
    "query_sli_not_promql",
    "ratio_measures",
    "shown",
    "syntax_problem",
    "translate_counter",
    "translate_error_ratio",
    "translate_freshness",
    "translate_ratio",
    "with_window_placeholder",
]

class PromQLShapeError(ConfigError):
    """A query is not one of the shapes the embedded store can evaluate."""


# ---------------------------------------------------------------------------------------------
# Syntax tree of the subset


@dataclass(frozen=True)
class _Num:
    value: float


@dataclass(frozen=True)
class _Sel:
    selector: Selector
    range: str | None  # the text inside [...], when a range vector


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[_Node, ...]


@dataclass(frozen=True)
class _Agg:
    op: str
    arg: _Node


@dataclass(frozen=True)
class _Bin:
    op: str
    lhs: _Node
    rhs: _Node


@dataclass(frozen=True)
class _Opaque:
    """A construct no shape uses (a subquery, a string): it makes the query no known shape."""

    kind: str


_Node = _Num | _Sel | _Call | _Agg | _Bin | _Opaque

_TOKEN_RE: Final = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
    | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<range>\[[^\]]*\])
    | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^@(){},=<>])
    """,
    re.VERBOSE | re.DOTALL,
)
"""The tokens of PromQL, for setting each range of a query as written (``with_window_placeholder``)."""

_MATCH_OPS: Final = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def shown(query: str) -> str:
    """A query on one line, as written (whitespace runs collapsed), for a message."""
    return " ".join(query.split())


def _column(query: str, why: str) -> int | None:
    """Where in ``query`` the parser's complaint ``why`` points (1-based), when it can be told:
    the text it quotes, or the parenthesis left open."""
    quoted = re.search(r"'([^']+)'|: (\S+)$", why)
    if quoted is not None:
        text = quoted.group(1) or quoted.group(2)
        at = query.find(text)
        if at >= 0:
            return at + 1
    if "parenthesis" in why:
        opened: list[int] = []
        for m in _TOKEN_RE.finditer(query):
            if m.group(0) == "(":
                opened.append(m.start())
            elif m.group(0) == ")" and opened:
                opened.pop()
        if opened:
            return opened[-1] + 1
    return None


def _parseable(query: str) -> str:
    """``query`` as promql-parser reads it: ``{{.window}}`` as a range, and backtick (raw)
    strings as double-quoted ones (promql-parser 0.11 reads escapes inside backticks)."""
    text = WINDOW_PLACEHOLDER_RE.sub("5m", query)
    return re.sub(r"`([^`]*)`", lambda m: '"' + m.group(1).replace("\\", "\\\\").replace('"', '\\"') + '"', text)


def syntax_problem(query: str) -> str | None:
    """Why ``query`` is not valid PromQL (``{{.window}}`` standing for a range), with the column
    where that can be told; ``None`` when it parses. For a query run as written on a backend,
    which may speak another dialect (MetricsQL), and whose rules Prometheus could not load."""
    text = _parseable(query)
    try:
        promql_parser.parse(text)
    except ValueError as exc:
        column = _column(text, str(exc))
        return f"{exc}{f' at column {column}' if column else ''}"
    return None


def query_sli_not_promql(sli: QuerySLI) -> str | None:
    """Why a query SLI's rules could not be loaded by Prometheus: the first of its queries that is
    not PromQL, named with the parser's complaint; ``None`` when all are."""
    for side, query in sli.queries().items():
        problem = syntax_problem(query)
        if problem is not None:
            return f"its {side} query is not PromQL ({problem}), so Prometheus could not load its rules"
    return None


def _selector(vs: promql_parser.VectorSelector) -> Selector:
    matchers = [Matcher(m.name, _MATCH_OPS[str(m.op)], m.value) for m in vs.matchers.matchers]  # type: ignore[arg-type]
    if vs.matchers.or_matchers:
        raise PromQLShapeError("a selector with `or` between matchers is not supported")
    if vs.offset is not None or vs.at is not None:
        raise PromQLShapeError("offset and @ are not supported: the objective is evaluated at the current time")
    name = vs.name
    if not name:
        names = [m for m in matchers if m.name == "__name__" and m.op == "="]
        if not names:
            raise PromQLShapeError('a selector needs a metric name (or __name__="...")')
        name = names[0].value
    return Selector(name, tuple(m for m in matchers if m.name != "__name__"))


def _node(expr: object) -> _Node:
    """The shape-matching tree of a parsed expression: what the shapes below look at."""
    if isinstance(expr, promql_parser.ParenExpr):
        return _node(expr.expr)
    if isinstance(expr, promql_parser.NumberLiteral):
        return _Num(float(expr.val))
    if isinstance(expr, promql_parser.VectorSelector):
        return _Sel(_selector(expr), None)
    if isinstance(expr, promql_parser.MatrixSelector):
        return _Sel(_selector(expr.vector_selector), str(expr.range))
    if isinstance(expr, promql_parser.Call):
        return _Call(expr.func.name, tuple(_node(a) for a in expr.args))
    if isinstance(expr, promql_parser.AggregateExpr):
        return _Agg(str(expr.op).split()[0], _node(expr.expr))
    if isinstance(expr, promql_parser.BinaryExpr):
        return _Bin(str(expr.op), _node(expr.lhs), _node(expr.rhs))
    if isinstance(expr, promql_parser.UnaryExpr):
        return _Bin("-", _Num(0.0), _node(expr.expr))
    return _Opaque(type(expr).__name__)


def ratio_measures(side: str, total: str | None = None, *, good: bool = False) -> Literal["availability", "latency"]:
    """What a ratio of queries is about, for a query SLI's ``measures``: latency when the queries
    (``side`` over ``total``, or ``side`` alone as an error ratio) have one of the latency shapes
    above, availability otherwise (any PromQL)."""
    try:
        sli = translate_error_ratio(side) if total is None else translate_ratio(side, total, good=good)
    except ConfigError:
        return "availability"
    return "latency" if isinstance(sli, LatencySLI) else "availability"


def with_window_placeholder(query: str) -> str | None:
    """``query`` with the range of every range selector (``[5m]``, not a subquery's ``[1h:1m]``)
    replaced by ``{{.window}}``, so it can be run over each window; as it is when it already
    holds ``{{.window}}``; ``None`` when it has no range to replace (a raw counter or gauge).
    ``PromQLShapeError`` when it cannot be read up to its last range (a range left as written
    would mix windows)."""
    if WINDOW_PLACEHOLDER_RE.search(query):
        return query
    out: list[str] = []
    pos = replaced = 0
    while pos < len(query):
        m = _TOKEN_RE.match(query, pos)
        if m is None:
            rest = query[pos:]
            if re.search(r"\[[^\]:]*\]", rest):  # a range further on would keep its length: mixed windows
                raise PromQLShapeError(
                    f"cannot set the window in PromQL query {shown(query)}: unexpected {query[pos]} at column "
                    f"{pos + 1}, before a range (write {{{{.window}}}} where each range goes)"
                )
            out.append(rest)
            break
        text = m.group(0)
        if m.lastgroup == "range" and ":" not in text:
            text = "[{{.window}}]"
            replaced += 1
        out.append(text)
        pos = m.end()
    return "".join(out) if replaced else None


def _parse(query: str) -> _Node:
    """The shape tree of ``query`` (``{{.window}}`` standing for a range); ``PromQLShapeError``
    naming the query, and the column when it can be told, if it is not valid PromQL."""
    text = _parseable(query)
    try:
        parsed = promql_parser.parse(text)
    except ValueError as exc:
        column = _column(text, str(exc))
        where = f" at column {column}" if column else ""
        raise PromQLShapeError(f"cannot read PromQL query {shown(query)}: {exc}{where}") from exc
    try:
        return _node(parsed)
    except PromQLShapeError as exc:
        raise PromQLShapeError(f"cannot read PromQL query {shown(query)}: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# Shapes


def _counter_of(node: _Node, *, counter: bool) -> Selector | None:
    """The counter a node sums: ``sum(rate|increase(SEL[W]))``, or ``sum(SEL)``/``SEL`` if ``counter``."""
    inner = node.arg if isinstance(node, _Agg) and node.op == "sum" else None
    if inner is not None and isinstance(inner, _Call) and inner.name in ("rate", "increase"):
        if len(inner.args) == 1 and isinstance(inner.args[0], _Sel) and inner.args[0].range is not None:
            return inner.args[0].selector
        return None
    if counter:
        plain = inner if inner is not None else node
        if isinstance(plain, _Sel) and plain.range is None:
            return plain.selector
    return None


def _shape_error(query: str, expected: str) -> PromQLShapeError:
    return PromQLShapeError(
        f"PromQL query {shown(query)} is not a shape Redline can evaluate in its embedded store: expected {expected}"
    )


_COUNTER_SHAPES = "sum(rate(SELECTOR[window])) or sum(increase(SELECTOR[window]))"


def translate_counter(query: str, *, counter: bool = False) -> Selector:
    """The counter selector of ``sum(rate(SEL[W]))`` / ``sum(increase(...))`` (``sum(SEL)`` if ``counter``).

    Raises ``PromQLShapeError`` (a ``ConfigError``) quoting the query for any other shape.
    """
    sel = _counter_of(_parse(query), counter=counter)
    if sel is None:
        raise _shape_error(query, _COUNTER_SHAPES + (", sum(SELECTOR) or SELECTOR" if counter else ""))
    return sel


def _without_le(sel: Selector) -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted((m.name, m.op, m.value) for m in sel.matchers if m.name != "le"))


def _bucket_bound(sel: Selector) -> float | None:
    """The ``le`` bound of an ``x_bucket{le="T"}`` selector (``None`` when it is not one)."""
    les = [m for m in sel.matchers if m.name == "le"]
    if not sel.metric.endswith("_bucket") or len(les) != 1 or les[0].op != "=":
        return None
    try:
        return float(les[0].value)
    except ValueError:
        return None


def _as_latency(good: Selector, total: Selector) -> LatencySLI | None:
    """``x_bucket{le="T"}`` over ``x_count`` (or ``x_bucket{le="+Inf"}``) → latency at ``T``."""
    bound = _bucket_bound(good)
    if bound is None or not math.isfinite(bound):
        return None
    family = good.metric.removesuffix("_bucket")
    if total.metric == family + "_count":
        if any(m.name == "le" for m in total.matchers):
            return None
    elif total.metric != good.metric or _bucket_bound(total) != math.inf:
        return None
    if _without_le(good) != _without_le(total):
        return None
    histogram = Selector(family, tuple(m for m in good.matchers if m.name != "le"))
    return LatencySLI(histogram=histogram, threshold=bound)


def translate_ratio(
    good_or_errors: str, total: str, *, good: bool, counter: bool = False
) -> RatioSLI | LatencySLI:
    """An events SLI from a good (or errors) query and a total query.

    A good query on a histogram bucket over the family's count becomes a ``LatencySLI``, and so
    does an errors query ``count - bucket``; anything else of the counter shapes is a ``RatioSLI``.
    """
    total_sel = translate_counter(total, counter=counter)
    node = _parse(good_or_errors)
    if not good and isinstance(node, _Bin) and node.op == "-":
        minuend = _counter_of(node.lhs, counter=counter)
        bucket = _counter_of(node.rhs, counter=counter)
        if minuend is not None and bucket is not None:
            lat = _as_latency(bucket, total_sel)
            if lat is not None and _as_latency(bucket, minuend) is not None:
                return lat
    sel = _counter_of(node, counter=counter)
    if sel is None:
        raise _shape_error(good_or_errors, _COUNTER_SHAPES)
    if good:
        lat = _as_latency(sel, total_sel)
        if lat is not None:
            return lat
        return RatioSLI(good=sel, total=total_sel)
    return RatioSLI(errors=sel, total=total_sel)


def translate_error_ratio(query: str) -> LatencySLI | RatioSLI:
    """A raw error-ratio query: ``1 - good / total`` (latency or good events) or ``errors / total``."""
    node = _parse(query)
    if isinstance(node, _Bin) and node.op == "-" and node.lhs == _Num(1.0):
        node = node.rhs
        is_good = True
    else:
        is_good = False
    if isinstance(node, _Bin) and node.op == "/":
        num = _counter_of(node.lhs, counter=False)
        den = _counter_of(node.rhs, counter=False)
        if num is not None and den is not None:
            if is_good:
                return _as_latency(num, den) or RatioSLI(good=num, total=den)
            return RatioSLI(errors=num, total=den)
    raise _shape_error(
        query,
        "1 - sum(rate(x_bucket{le=\"T\"}[window])) / sum(rate(x_count[window])), "
        "1 - sum(rate(GOOD[window])) / sum(rate(TOTAL[window])) "
        "or sum(rate(ERRORS[window])) / sum(rate(TOTAL[window]))",
    )


def translate_freshness(query: str, max_age_s: float, slice_s: float = 60.0) -> FreshnessSLI:
    """``time() - SEL`` or ``time() - max|min(SEL)`` (SEL a Unix-seconds gauge) → freshness within ``max_age_s``."""
    node = _parse(query)
    if isinstance(node, _Bin) and node.op == "-" and node.lhs == _Call("time", ()):
        gauge = node.rhs
        if isinstance(gauge, _Agg) and gauge.op in ("max", "min"):
            gauge = gauge.arg
        if isinstance(gauge, _Sel) and gauge.range is None:
            return FreshnessSLI(last_success=gauge.selector, max_age=max_age_s, slice=slice_s)
    raise _shape_error(query, "time() - SELECTOR or time() - max(SELECTOR) (a last-success Unix timestamp)")
