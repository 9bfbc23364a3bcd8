"""Translate the common PromQL shapes of OpenSLO and Sloth specs into native objectives.

The embedded store has no PromQL engine, so a spec's queries are parsed (a small parser for
the subset below, not regular expressions) and recognised as one of these shapes; any other
query is a ``ConfigError`` that quotes it.

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

from redline.kernel.errors import ConfigError
from redline.kernel.labels import Matcher, Selector
from redline.slo.spec import WINDOW_PLACEHOLDER_RE, FreshnessSLI, LatencySLI, RatioSLI

__all__ = [
    "WINDOW_PLACEHOLDER_RE",
    "PromQLShapeError",
    "ratio_measures",
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


_Node = _Num | _Sel | _Call | _Agg | _Bin

_AGGREGATIONS: Final = frozenset({"sum", "min", "max", "avg", "count"})
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
_ESCAPES: Final = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r"}


def _unquote(token: str) -> str:
    if token[0] == "`":
        return token[1:-1]
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


class _Parser:
    """Recursive descent over tokens: ``+ -`` below ``* /``; aggregations with ``by``/``without``."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(query):
            m = _TOKEN_RE.match(query, pos)
            if m is None:
                raise self.error(f"unexpected character {query[pos]!r} at column {pos + 1}")
            kind = m.lastgroup
            assert kind is not None
            if kind != "ws":
                self.tokens.append((kind, m.group(0)))
            pos = m.end()
        self.i = 0

    def error(self, why: str) -> PromQLShapeError:
        return PromQLShapeError(f"cannot read PromQL query {self.query!r}: {why}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (text is not None and tok[1] != text):
            raise self.error(f"expected {text or 'more'} but found {tok[1] if tok else 'the end'}")
        self.i += 1
        return tok

    def parse(self) -> _Node:
        node = self.expr()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def expr(self) -> _Node:
        node = self.term()
        while (tok := self.peek()) is not None and tok[1] in ("+", "-"):
            self.i += 1
            node = _Bin(tok[1], node, self.term())
        return node

    def term(self) -> _Node:
        node = self.atom()
        while (tok := self.peek()) is not None and tok[1] in ("*", "/"):
            self.i += 1
            node = _Bin(tok[1], node, self.atom())
        return node

    def grouping(self) -> None:
        """Skip ``by (a, b)`` / ``without (a)``: the embedded objective sums every series."""
        tok = self.peek()
        if tok is not None and tok[1] in ("by", "without"):
            self.i += 1
            self.take("(")
            while self.take()[1] != ")":
                pass

    def atom(self) -> _Node:
        kind, text = self.take()
        if kind == "num":
            return _Num(float(text))
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        if text == "{":
            self.i -= 1
            return self.selector("")
        if kind != "ident":
            raise self.error(f"unexpected {text!r}")
        if text in _AGGREGATIONS and self.peek() is not None and self.peek()[1] in ("(", "by", "without"):  # type: ignore[index]
            self.grouping()
            self.take("(")
            arg = self.expr()
            self.take(")")
            self.grouping()
            return _Agg(text, arg)
        if self.peek() is not None and self.peek()[1] == "(":  # type: ignore[index]
            self.take("(")
            args: list[_Node] = []
            while self.peek() is not None and self.peek()[1] != ")":  # type: ignore[index]
                args.append(self.expr())
                if self.peek() is not None and self.peek()[1] == ",":  # type: ignore[index]
                    self.i += 1
            self.take(")")
            return _Call(text, tuple(args))
        return self.selector(text)

    def selector(self, metric: str) -> _Sel:
        matchers: list[Matcher] = []
        if self.peek() is not None and self.peek()[1] == "{":  # type: ignore[index]
            self.take("{")
            while self.peek() is not None and self.peek()[1] != "}":  # type: ignore[index]
                kind, name = self.take()
                if kind != "ident":
                    raise self.error(f"expected a label name, found {name!r}")
                op = self.take()[1]
                if op not in ("=", "!=", "=~", "!~"):
                    raise self.error(f"expected = != =~ !~ after {name!r}, found {op!r}")
                kind, value = self.take()
                if kind != "str":
                    raise self.error(f"expected a quoted value after {name}{op}, found {value!r}")
                text = _unquote(value)
                if op in ("=~", "!~"):
                    try:
                        re.compile(text)
                    except re.error as exc:
                        raise self.error(f"bad regex {text!r}: {exc}") from exc
                matchers.append(Matcher(name, op, text))  # type: ignore[arg-type]
                if self.peek() is not None and self.peek()[1] == ",":  # type: ignore[index]
                    self.i += 1
            self.take("}")
        if not metric:
            names = [m for m in matchers if m.name == "__name__" and m.op == "="]
            if not names:
                raise self.error('a selector needs a metric name (or __name__="...")')
            metric = names[0].value
            matchers = [m for m in matchers if m is not names[0]]
        rng: str | None = None
        if self.peek() is not None and self.peek()[0] == "range":  # type: ignore[index]
            rng = self.take()[1][1:-1].strip()
        tok = self.peek()
        if tok is not None and tok[1] == "offset":
            raise self.error("offset is not supported: the objective is evaluated at the current time")
        return _Sel(Selector(metric, tuple(matchers)), rng)


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
                    f"cannot set the window in PromQL query {query!r}: unexpected {query[pos]!r} at column "
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
    return _Parser(WINDOW_PLACEHOLDER_RE.sub("5m", query)).parse()


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
        f"PromQL query {query!r} is not a shape Redline can evaluate in its embedded store: expected {expected}"
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
