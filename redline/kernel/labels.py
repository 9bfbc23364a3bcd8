"""Label sets and selectors: the canonical label string, PromQL selectors and their matchers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final, Literal

import polars as pl

__all__ = ["Matcher", "Selector", "format_labels", "parse_labels", "parse_selector"]

# ---------------------------------------------------------------------------------------------
# Label strings

_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "\n": "\\n"}
_UNESCAPES: Final = {"\\": "\\", '"': '"', "n": "\n"}
_LABEL_NAME_RE: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_NAME_RE: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _escape(value: str) -> str:
    if "\\" not in value and '"' not in value and "\n" not in value:
        return value
    return "".join(_ESCAPES.get(ch, ch) for ch in value)


def format_labels(labels: Mapping[str, str]) -> str:
    """The canonical label string: keys sorted, values escaped, no braces."""
    return ",".join(f'{k}="{_escape(labels[k])}"' for k in sorted(labels))


def _read_quoted(text: str, pos: int, unterminated: str) -> tuple[str, int]:
    """Read the escaped string whose opening quote is at ``text[pos]``; return it and the position
    after its closing quote. Raises ``ValueError(unterminated)`` when there is none."""
    chars: list[str] = []
    pos += 1
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "\\" and pos + 1 < n:
            chars.append(_UNESCAPES.get(text[pos + 1], "\\" + text[pos + 1]))
            pos += 2
        elif ch == '"':
            return "".join(chars), pos + 1
        else:
            chars.append(ch)
            pos += 1
    raise ValueError(unterminated)


def _read_label_pairs(text: str, pos: int, end_char: str | None) -> tuple[dict[str, str], int]:
    """Read ``k="v",...`` from ``text[pos:]`` up to ``end_char`` (or the end); return labels, pos."""
    labels: dict[str, str] = {}
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t,":
            pos += 1
        if pos >= n or (end_char is not None and text[pos] == end_char):
            return labels, pos
        m = _LABEL_NAME_RE.match(text, pos)
        if m is None:
            raise ValueError(f"expected a label name at column {pos + 1}: {text!r}")
        name = m.group(0)
        pos = m.end()
        if not text.startswith('="', pos):
            raise ValueError(f'expected =" after label {name!r} at column {pos + 1}: {text!r}')
        labels[name], pos = _read_quoted(text, pos + 1, f"unterminated value of label {name!r}: {text!r}")


def parse_labels(text: str) -> dict[str, str]:
    """Parse a canonical label string (as written by ``format_labels``) into a dict."""
    labels, _ = _read_label_pairs(text, 0, None)
    return labels


# ---------------------------------------------------------------------------------------------
# Selectors

MatchOp = Literal["=", "!=", "=~", "!~"]


@dataclass(frozen=True)
class Matcher:
    """One label matcher; regexes are anchored at both ends, as in PromQL."""

    name: str
    op: MatchOp
    value: str

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile(f"(?:{self.value})\\Z", re.DOTALL)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the label set passes this matcher (a missing label counts as empty)."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = self._regex.match(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{_escape(self.value)}"'


@dataclass(frozen=True)
class Selector:
    """A PromQL instant-vector selector: ``metric{label="v",code=~"5.."}``."""

    metric: str
    matchers: tuple[Matcher, ...] = field(default=())

    def matches(self, metric: str, labels: Mapping[str, str]) -> bool:
        """Whether the series (metric, labels) is selected."""
        return metric == self.metric and all(m.matches(labels) for m in self.matchers)

    def with_metric(self, metric: str) -> Selector:
        """The same matchers on another metric name (``x`` → ``x_bucket``)."""
        return Selector(metric, self.matchers)

    def matching_series(self, series: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The (metric, canonical labels) pairs this selector selects."""
        return [
            (metric, labels)
            for metric, labels in series
            if metric == self.metric and all(m.matches(parse_labels(labels)) for m in self.matchers)
        ]

    def filter(self, samples: pl.DataFrame) -> pl.DataFrame:
        """The rows of a sample frame whose series this selector selects."""
        same_name = samples.filter(pl.col("metric") == self.metric)
        if not self.matchers or same_name.is_empty():
            return same_name
        distinct = same_name.get_column("labels").unique().to_list()
        keep = [lb for lb in distinct if all(m.matches(parse_labels(lb)) for m in self.matchers)]
        return same_name.filter(pl.col("labels").is_in(keep))

    def __str__(self) -> str:
        if not self.matchers:
            return self.metric
        return self.metric + "{" + ",".join(str(m) for m in self.matchers) + "}"


_OP_RE: Final = re.compile(r"\s*(=~|!~|!=|=)\s*")


def parse_selector(text: str) -> Selector:
    """Parse ``metric{label="v",...}``; raises ``ValueError`` saying what is wrong and where."""
    src = text.strip()
    m = _METRIC_NAME_RE.match(src)
    if m is None:
        raise ValueError(f"expected a metric name at the start of selector {text!r}")
    metric = m.group(0)
    pos = m.end()
    matchers: list[Matcher] = []
    if pos < len(src):
        if src[pos] != "{":
            raise ValueError(f"expected '{{' after {metric!r} in selector {text!r}")
        pos += 1
        while True:
            while pos < len(src) and src[pos] in " \t,":
                pos += 1
            if pos >= len(src):
                raise ValueError(f"unterminated selector {text!r}: expected '}}'")
            if src[pos] == "}":
                pos += 1
                break
            nm = _LABEL_NAME_RE.match(src, pos)
            if nm is None:
                raise ValueError(f"expected a label name at column {pos + 1} of selector {text!r}")
            om = _OP_RE.match(src, nm.end())
            if om is None:
                raise ValueError(
                    f"expected one of = != =~ !~ after {nm.group(0)!r} in selector {text!r}"
                )
            pos = om.end()
            if pos >= len(src) or src[pos] != '"':
                raise ValueError(f"expected a quoted value at column {pos + 1} of selector {text!r}")
            value, pos = _read_quoted(src, pos, f"unterminated value in selector {text!r}")
            op = om.group(1)
            if op in ("=~", "!~"):
                try:
                    re.compile(value)
                except re.error as exc:
                    raise ValueError(f"bad regex {value!r} in selector {text!r}: {exc}") from exc
            matchers.append(Matcher(nm.group(0), op, value))  # type: ignore[arg-type]
        if src[pos:].strip():
            raise ValueError(f"unexpected text {src[pos:]!r} after selector {text!r}")
    return Selector(metric, tuple(matchers))
