"""A fast parser for Prometheus text exposition 0.0.4 and OpenMetrics 1.0 into the sample frame.

The parser is stateful: it caches each raw series text (everything before the value on a sample
line, e.g. ``http_requests_total{code="200",service="api"}``) to an id whose metric name and
canonical label string were computed once. In steady state (the same series every scrape) a
sample line costs one ``str.partition``, one dict lookup and two list appends; the value
strings are converted to floats in one polars cast. Lines the fast path does not recognise
(comments, new series, explicit timestamps with odd spacing, malformed lines) go through a
strict regex path that also fills the cache.

Malformed lines are skipped and reported in ``ParsedExposition.problems``, each naming the line
number, the (truncated) line text and what is wrong; the rest of the exposition still lands.

Leniencies, on purpose: exemplars are ignored in both formats, unknown ``#`` comments are
ignored, and label values keep an unknown escape (``\\t``) as written. ``_created`` samples of
counters, histograms and summaries are dropped: they are not sample data for SLOs.

Limits (``collectors.limits``): with ``sample_limit`` the parse stops within ``_LIMIT_CHUNK`` lines
of the first sample over it, and the label limits are checked once per new series, when it is
cached; a series over them is never cached, so it is checked again on every scrape. A parse over a
limit returns no samples and says which limit in ``ParsedExposition.over_limit``.

An ``ExpositionParser`` is not thread-safe; give each collector its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import polars as pl

from redline.collectors.limits import SourceLimits, series_limit_error
from redline.kernel.fields import SAMPLE_SCHEMA, empty_samples
from redline.kernel.labels import format_labels, parse_labels

__all__ = ["OPENMETRICS_TYPES", "TEXT_TYPES", "ExpositionParser", "ParsedExposition"]

TEXT_TYPES: Final = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
OPENMETRICS_TYPES: Final = frozenset(
    {"counter", "gauge", "histogram", "gaugehistogram", "stateset", "info", "summary", "unknown"}
)
_CREATED_OWNERS: Final = frozenset({"counter", "histogram", "summary", "gaugehistogram"})

_MAX_PROBLEMS: Final = 50
_SHOWN_CHARS: Final = 120
_DROPPED: Final = -1
_LIMIT_CHUNK: Final = 4096
"""Lines parsed between two looks at ``sample_limit`` when a body may exceed it."""

_NAME: Final = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
# Regexes are written "unrolled" ([^"\\]*(?:\\.[^"\\]*)*) rather than as an alternation repeated
# per character: the re engine is several times faster on them.
_QUOTED: Final = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_LABEL_BLOCK: Final = rf'\{{[^"}}]*(?:{_QUOTED}[^"}}]*)*\}}'
_NAME_RE: Final = re.compile(_NAME)
_LABEL_BLOCK_RE: Final = re.compile(_LABEL_BLOCK)
_SAMPLE_RE: Final = re.compile(
    rf"[ \t]*({_NAME}(?:[ \t]*{_LABEL_BLOCK})?)"  # series text
    r"[ \t]+([^ \t]+)"  # value
    r"(?:[ \t]+([^ \t#][^ \t]*))?"  # timestamp
    r"(?:[ \t]+#(?:[ \t].*)?)?[ \t]*"  # exemplar (ignored)
)
_PAIR_RE: Final = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"([^"\\]*(?:\\.[^"\\]*)*)"[ \t]*')
_PAIR_NC: Final = rf'[ \t]*[a-zA-Z_][a-zA-Z0-9_]*[ \t]*=[ \t]*{_QUOTED}[ \t]*'
_LABELS_RE: Final = re.compile(rf"(?:{_PAIR_NC}(?:,{_PAIR_NC})*,?)?[ \t]*")
# The common shape of a new sample line is ``name{a="x",b="y"} v [ts]`` with no backslash, no
# spaces inside the braces and no exemplar: then every ``"`` delimits a value, so splitting the
# line on it gives the values at odd positions and ``name{a=,b=`` from the even ones, which this
# short regex checks. Anything else goes through _SAMPLE_RE.
_SKELETON_RE: Final = re.compile(rf"({_NAME})\{{((?:[a-zA-Z_][a-zA-Z0-9_]*=,)*[a-zA-Z_][a-zA-Z0-9_]*=)")
_ESCAPE_RE: Final = re.compile(r"\\(.)")
_UNESCAPES: Final = {"\\": "\\", '"': '"', "n": "\n"}
_CANONICAL_ESCAPES: Final = frozenset({"\\", '"', "n"})


@dataclass(frozen=True)
class ParsedExposition:
    """One parsed exposition: samples (``SAMPLE_SCHEMA``), family types, skipped-line problems."""

    samples: pl.DataFrame
    types: dict[str, str]
    problems: tuple[str, ...]
    openmetrics: bool
    """Whether the text was read as OpenMetrics (timestamps in seconds) or text 0.0.4 (ms)."""
    over_limit: str | None = None
    """The limit this exposition broke and by how much (then ``samples`` is empty), or ``None``."""


class _OverLimit(Exception):
    """A series over a label limit: the parse stops and fails whole (not a malformed line)."""


def _unescape(value: str) -> str:
    return _ESCAPE_RE.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(0)), value)


def _canonical_value(raw: str) -> str:
    """The canonical (escaped) form of a label value as written between the quotes.

    The exposition escapes exactly as the canonical label string does, so the raw text is
    already canonical unless it holds an escape other than ``\\\\``, ``\\"`` or ``\\n``.
    """
    if "\\" not in raw or all(m.group(1) in _CANONICAL_ESCAPES for m in _ESCAPE_RE.finditer(raw)):
        return raw
    return format_labels({"v": _unescape(raw)})[3:-1]


def _parse_label_block(block: str) -> dict[str, str]:
    """Canonical (escaped) label values by name from the text between the braces.

    Raises ``ValueError`` saying what is wrong.
    """
    if _LABELS_RE.fullmatch(block) is None:
        try:
            parse_labels(block)
        except ValueError as exc:
            raise ValueError(f"malformed label set: {exc}") from None
        raise ValueError("malformed label set")
    pairs = _PAIR_RE.findall(block)
    labels = dict(pairs)
    if len(labels) != len(pairs):
        seen: set[str] = set()
        dup = next(name for name, _ in pairs if name in seen or seen.add(name))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate label {dup!r}")
    for name, raw in pairs:
        if "\\" in raw:
            labels[name] = _canonical_value(raw)
    return labels


def _is_created_sample(metric: str, types: Mapping[str, str]) -> bool:
    base = metric[: -len("_created")]
    return types.get(base) in _CREATED_OWNERS or types.get(base + "_total") == "counter"


def _detect_openmetrics(text: str) -> bool:
    return text[-64:].rstrip().endswith("# EOF")


class ExpositionParser:
    """Parses expositions into sample frames, caching each series text it has seen.

    ``extra_labels`` (e.g. ``source`` and configured labels) are merged into every series at
    cache-fill time; an exposed label of the same name is kept as ``exported_<name>``, as
    Prometheus does. The cache is cleared before a parse once it holds more than
    ``max_series`` series. ``limits`` (none by default) make an exposition over any of them fail
    whole, counting the extra labels as stored.
    """

    def __init__(
        self,
        extra_labels: Mapping[str, str] | None = None,
        *,
        max_series: int = 200_000,
        limits: SourceLimits | None = None,
    ) -> None:
        # Held escaped, like every label value inside the parser.
        self._extra = {k: format_labels({k: v})[len(k) + 2 : -1] for k, v in (extra_labels or {}).items()}
        self._extra_names = frozenset(self._extra)
        self._extra_text = ",".join(f'{k}="{self._extra[k]}"' for k in sorted(self._extra))
        self._extra_first = min(self._extra, default="")
        self._extra_last = max(self._extra, default="")
        self._max_series = max_series
        self._cache: dict[str, int] = {}
        self._dropped: set[str] = set()
        self._metrics: list[str] = []
        self._labels: list[str] = []
        self._names: dict[str, str] = {}
        self._columns: tuple[pl.Series, pl.Series] | None = None
        self._sample_limit = limits.sample_limit if limits is not None else 0
        self._label_limits = limits if limits is not None and limits.on_labels else None
        # Bounds under which a new series surely keeps to the label limits (_check_series): the
        # extra labels take their share, and may rename an exposed one exported_<name> (9 more bytes).
        # Extra labels over a limit themselves leave no room, so every series is looked at exactly.
        unbounded = 2**62
        lim = self._label_limits or SourceLimits()
        extra_ok = not lim.on_labels or series_limit_error(
            lim, "", list(self._extra), list(self._extra.values()), escaped=True
        ) is None
        count_room = lim.label_limit - len(self._extra) - 1 if lim.label_limit else unbounded
        self._quick_count = count_room if extra_ok else -1
        self._quick_name = lim.label_name_length_limit - 9 if lim.label_name_length_limit else unbounded
        self._quick_value = lim.label_value_length_limit or unbounded

    @property
    def cached_series(self) -> int:
        """How many distinct series texts the cache holds."""
        return len(self._cache)

    def parse(
        self, text: str, *, default_timestamp_ms: int, openmetrics: bool | None = None
    ) -> ParsedExposition:
        """Parse one exposition; samples without a timestamp get ``default_timestamp_ms``.

        ``openmetrics=None`` detects OpenMetrics by a final ``# EOF``. Never raises on bad input.
        """
        if len(self._cache) > self._max_series:
            self._clear()
        om = _detect_openmetrics(text) if openmetrics is None else openmetrics
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        if lines and not lines[-1]:
            lines.pop()
        scan = _Scan(self, om)
        # OpenMetrics text must end at '# EOF'; when it does not (truncated, or text after it),
        # every line goes the careful way so that the problem is reported where it is.
        careful = om and bool(lines) and lines[-1].strip() != "# EOF"
        limit = self._sample_limit
        # Under sample_limit lines, no count can exceed it: one chunk, no look inside the loop.
        chunks = (lines,) if not limit or len(lines) <= limit else _chunked(lines)
        try:
            # The fast path: a line whose text up to the first space is a known series.
            sids = scan.sids
            sids_append = sids.append
            vals_append = scan.vals.append
            get = self._cache.get
            slow = scan.line
            for chunk in () if careful else chunks:
                for line in chunk:
                    key, _, rest = line.partition(" ")
                    sid = get(key)
                    if sid is not None:
                        sids_append(sid)
                        vals_append(rest)
                    else:
                        slow(line)
                if limit and len(sids) > limit:
                    return self._over_sample_limit(lines, om)
            frame = None if careful else scan.frame(default_timestamp_ms)
            if frame is None:
                # A known series had an odd value or timestamp (or see above): redo the text line by
                # line, which reports each bad line with its number.
                scan = _Scan(self, om, careful=True)
                for chunk in chunks:
                    for line in chunk:
                        scan.line(line)
                    if limit and len(scan.sids) > limit:
                        return self._over_sample_limit(lines, om)
                frame = scan.frame(default_timestamp_ms)
                assert frame is not None
        except _OverLimit as exc:
            return ParsedExposition(empty_samples(), {}, (), om, over_limit=str(exc))
        if om and scan.eof_index is None and lines:
            scan.problem(len(lines) - 1, lines[-1], "OpenMetrics text does not end with '# EOF' (truncated?)")
        types = {
            name: kind
            for name, kind in scan.types.items()
            if not (name.endswith("_created") and _is_created_sample(name, scan.types))
        }
        return ParsedExposition(frame, types, scan.finish_problems(), om)

    def _over_sample_limit(self, lines: list[str], openmetrics: bool) -> ParsedExposition:
        """The failed parse of a body over ``sample_limit``, counting its sample lines (every line
        but blanks and comments: a malformed or ``_created`` line counts too) without parsing them."""
        count = sum(1 for line in lines if (text := line.lstrip(" \t")) and text[0] != "#")
        over = f"sample_limit {self._sample_limit} exceeded: {count} sample lines"
        return ParsedExposition(empty_samples(), {}, (), openmetrics, over_limit=over)

    def _check_series(self, metric: str, names: list[str], values: list[str]) -> None:
        """Raise ``_OverLimit`` when a new series, as it will be stored, breaks a label limit.

        A quick look with C-level ``max``/``len`` settles the common case; only a series near a
        limit (or with non-ASCII values, whose bytes differ from their characters) is looked at
        exactly, with the extra labels merged as ``_fill`` merges them.
        """
        joined = "".join(values)
        if (
            len(names) <= self._quick_count
            and len(metric) <= self._quick_value  # metric names are ASCII
            and (len(joined) <= self._quick_value or max(map(len, values), default=0) <= self._quick_value)
            and joined.isascii()
            and (len("".join(names)) <= self._quick_name or max(map(len, names), default=0) <= self._quick_name)
        ):
            return
        limits = self._label_limits
        assert limits is not None
        extra = self._extra
        collide = bool(extra) and not self._extra_names.isdisjoint(names)
        if collide:
            names = [("exported_" + n if n in extra else n) for n in names]
        error = series_limit_error(limits, metric, [*names, *extra], [*values, *extra.values()], escaped=True)
        if error is not None:
            raise _OverLimit(error)

    def _clear(self) -> None:
        self._cache.clear()
        self._dropped.clear()
        self._metrics.clear()
        self._labels.clear()
        self._names.clear()
        self._columns = None

    def _fill(
        self,
        key: str,
        metric: str,
        names: list[str],
        values: list[str],
        types: Mapping[str, str],
        written: str | None = None,
    ) -> int:
        """Remember a new series, return its id (``_DROPPED`` for ``_created`` samples).

        ``values`` are canonical (escaped) label values; ``written`` is the label text exactly as
        exposed when it has no whitespace, escapes or trailing comma. Raises ``ValueError`` on a
        duplicate name.
        """
        if metric.endswith("_created") and _is_created_sample(metric, types):
            self._dropped.add(key)
            return _DROPPED
        if self._label_limits is not None:
            self._check_series(metric, names, values)
        if written is not None and names == sorted(set(names)):
            # Already canonical (Go's client_golang exposes label names sorted): keep the text,
            # and put the extra labels before or after it when they sort wholly there.
            extra_text = self._extra_text
            if not extra_text:
                return self._remember(key, metric, written)
            if names[-1] < self._extra_first:
                return self._remember(key, metric, written + "," + extra_text)
            if self._extra_last < names[0]:
                return self._remember(key, metric, extra_text + "," + written)
        labels = dict(zip(names, values, strict=True))
        if len(labels) != len(names):
            seen: set[str] = set()
            dup = next(n for n in names if n in seen or seen.add(n))  # type: ignore[func-returns-value]
            raise ValueError(f"duplicate label {dup!r}")
        extra = self._extra
        if extra:
            if self._extra_names.isdisjoint(labels):
                labels.update(extra)
            else:
                for name, value in extra.items():
                    if name in labels:
                        labels["exported_" + name] = labels[name]
                    labels[name] = value
        items = sorted(labels.items())
        # ('a', '1'), ('b', '2') -> a="1",b="2" with C-level joins only: this runs once per new series.
        return self._remember(key, metric, '",'.join(map('="'.join, items)) + '"' if items else "")

    def _remember(self, key: str, metric: str, canonical: str) -> int:
        sid = len(self._metrics)
        self._metrics.append(self._names.setdefault(metric, metric))
        self._labels.append(canonical)
        self._cache[key] = sid
        self._columns = None
        return sid

    def _series_columns(self) -> tuple[pl.Series, pl.Series]:
        if self._columns is None:
            self._columns = (
                pl.Series("metric", self._metrics, dtype=pl.String),
                pl.Series("labels", self._labels, dtype=pl.String),
            )
        return self._columns


class _Scan:
    """The state of one parse: rows so far, sparse explicit timestamps, types and problems."""

    def __init__(self, parser: ExpositionParser, openmetrics: bool, *, careful: bool = False) -> None:
        self.parser = parser
        self.openmetrics = openmetrics
        # Values are kept as text for one polars cast; the careful re-scan keeps Python's own
        # spelling of each float, which that cast always reads (e.g. 1_000 is read by float only).
        self.careful = careful
        self.sids: list[int] = []
        self.vals: list[str] = []
        self.ts_rows: list[int] = []
        self.ts_ms: list[int] = []
        self.types: dict[str, str] = {}
        self.problems: list[str] = []
        self.problem_count = 0
        self.slow_lines = 0
        self.slow_samples = 0
        self.eof_index: int | None = None

    def problem(self, index: int, line: str, what: str) -> None:
        self.problem_count += 1
        if len(self.problems) < _MAX_PROBLEMS:
            shown = line if len(line) <= _SHOWN_CHARS else line[:_SHOWN_CHARS] + "..."
            self.problems.append(f"line {index + 1}: {what}: {shown!r}")

    def finish_problems(self) -> tuple[str, ...]:
        extra = self.problem_count - len(self.problems)
        if extra > 0:
            return (*self.problems, f"... and {extra} more malformed lines")
        return tuple(self.problems)

    def here(self) -> int:
        """The index of the line being handled: fast-path rows + lines handled here, before it."""
        return len(self.sids) - self.slow_samples + self.slow_lines - 1

    def line(self, line: str) -> None:
        """Handle one line the fast path did not take (or every line when re-scanning)."""
        self.slow_lines += 1
        first = line[:1]
        if first in ("", " ", "\t", "#") or self.eof_index is not None:
            stripped = line.strip()
            if self.eof_index is not None:
                if stripped:
                    self.problem(self.here(), line, "text after '# EOF'")
                return
            if not stripped:
                return
            if stripped[0] == "#":
                self._comment(self.here(), line, stripped)
                return
        # The common shape, without regexes over label values: see _SKELETON_RE.
        plain = None
        if "\\" not in line and '"' in line:
            parts = line.split('"')
            tail = parts[-1]
            if len(parts) & 1 and tail[:1] == "}" and tail[1:2] in (" ", "\t"):
                skeleton = _SKELETON_RE.fullmatch("".join(parts[0:-1:2]))
                tokens = tail[1:].split()
                if skeleton is not None and (len(tokens) == 1 or (len(tokens) == 2 and tokens[1] != "#")):
                    plain = skeleton
                    key = line[: len(line) - len(tail) + 1]
                    value_text = tokens[0]
                    ts_text = tokens[1] if len(tokens) == 2 else None
        if plain is None:
            m = _SAMPLE_RE.fullmatch(line)
            if m is None:
                self.problem(self.here(), line, _diagnose(line))
                return
            key, value_text, ts_text = m.group(1, 2, 3)
        parser = self.parser
        sid = parser._cache.get(key)
        if sid is None:
            if key in parser._dropped:
                return
            try:
                if plain is not None:
                    metric, names_text = plain.group(1, 2)
                    names = names_text[:-1].split("=,")
                    written = key[len(metric) + 1 : -1]
                    sid = parser._fill(key, metric, names, parts[1::2], self.types, written)
                else:
                    metric, names, values = _split_series(key)
                    sid = parser._fill(key, metric, names, values, self.types)
            except ValueError as exc:
                self.problem(self.here(), line, str(exc))
                return
            if sid == _DROPPED:
                return
        try:
            value = float(value_text)
        except ValueError:
            self.problem(self.here(), line, f"value {value_text!r} is not a number")
            return
        ts_ms: int | None = None
        if ts_text is not None:
            try:
                ts_ms = self._timestamp_ms(ts_text)
            except ValueError as exc:
                self.problem(self.here(), line, str(exc))
                return
        self.sids.append(sid)
        self.vals.append(repr(value) if self.careful else value_text)
        self.slow_samples += 1
        if ts_ms is not None:
            self.ts_rows.append(len(self.sids) - 1)
            self.ts_ms.append(ts_ms)

    def _timestamp_ms(self, text: str) -> int:
        if self.openmetrics:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(f"timestamp {text!r} is not a number of seconds") from None
            if seconds != seconds or seconds in (float("inf"), float("-inf")):
                raise ValueError(f"timestamp {text!r} is not finite")
            return round(seconds * 1000)
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"timestamp {text!r} is not integer milliseconds (text format 0.0.4)") from None

    def _comment(self, index: int, line: str, stripped: str) -> None:
        parts = stripped.split(None, 3)
        if len(parts) == 2 and parts[1] == "EOF":
            if self.openmetrics:
                self.eof_index = index
            return
        if len(parts) < 2 or parts[0] != "#" or parts[1] != "TYPE":
            return  # HELP, UNIT and plain comments carry nothing we store
        if len(parts) != 4:
            self.problem(self.here(), line, "expected '# TYPE <family> <type>'")
            return
        family, kind = parts[2], parts[3]
        allowed = OPENMETRICS_TYPES if self.openmetrics else TEXT_TYPES
        if kind not in allowed:
            expected = ", ".join(sorted(allowed))
            self.problem(self.here(), line, f"unknown type {kind!r}; expected one of {expected}")
            return
        self.types[family] = kind

    def frame(self, default_timestamp_ms: int) -> pl.DataFrame | None:
        """The sample frame, or ``None`` when a fast-path row needs the line-by-line scan."""
        n = len(self.sids)
        raw = pl.Series("raw", self.vals, dtype=pl.String)
        fast_ts: pl.Series | None = None
        if self.slow_samples < n and raw.str.contains(" ", literal=True).any():
            tokens = raw.str.split(" ")
            raw = tokens.list.get(0, null_on_oob=True)
            second = tokens.list.get(1, null_on_oob=True)
            third = tokens.list.get(2, null_on_oob=True)
            has_ts = second.is_not_null() & (second != "#")
            if self.openmetrics:
                seconds = second.cast(pl.Float64, strict=False)
                fast_ts = (seconds * 1000).round().cast(pl.Int64, strict=False)
                # A non-finite timestamp becomes null and sends the scrape to the careful path.
                fast_ts = pl.select(
                    pl.when(seconds.is_finite()).then(fast_ts).otherwise(None)
                ).to_series()
            else:
                fast_ts = second.cast(pl.Int64, strict=False)
            bad = (has_ts & fast_ts.is_null()) | (has_ts & third.is_not_null() & (third != "#"))
            if bad.any():
                return None
            fast_ts = pl.select(pl.when(has_ts).then(fast_ts).otherwise(default_timestamp_ms)).to_series()
        values = raw.cast(pl.Float64, strict=False)
        if values.null_count():
            return None
        if fast_ts is not None:
            timestamps = fast_ts
        elif len(self.ts_rows) == n:
            timestamps = pl.Series(self.ts_ms, dtype=pl.Int64)
        else:
            timestamps = pl.repeat(default_timestamp_ms, n, dtype=pl.Int64, eager=True)
        if self.ts_rows and len(self.ts_rows) != n:
            timestamps = timestamps.scatter(self.ts_rows, self.ts_ms)
        metric_col, labels_col = self.parser._series_columns()
        ids = pl.Series(self.sids, dtype=pl.UInt32)
        return pl.DataFrame(
            {
                "metric": metric_col.gather(ids),
                "labels": labels_col.gather(ids),
                "timestamp": timestamps.rename("timestamp"),
                "value": values.rename("value"),
            },
            schema=SAMPLE_SCHEMA,
        )


def _chunked(lines: list[str]) -> list[list[str]]:
    return [lines[i : i + _LIMIT_CHUNK] for i in range(0, len(lines), _LIMIT_CHUNK)]


def _split_series(key: str) -> tuple[str, list[str], list[str]]:
    """Metric, label names and canonical values of a series text that matched ``_SAMPLE_RE``."""
    brace = key.find("{")
    if brace < 0:
        return key, [], []
    labels = _parse_label_block(key[brace + 1 : -1])
    return key[:brace].rstrip(), list(labels), list(labels.values())


def _diagnose(line: str) -> str:
    """Why a non-comment line is not a sample line."""
    after = line.lstrip(" \t")
    name = _NAME_RE.match(after)
    if name is None:
        return "expected a metric name at the start of the line"
    rest = after[name.end() :]
    if rest.lstrip(" \t").startswith("{"):
        rest = rest.lstrip(" \t")
        block = _LABEL_BLOCK_RE.match(rest)
        if block is None:
            return "unterminated or malformed label set"
        rest = rest[block.end() :]
    tokens = rest.split()
    if not tokens:
        return "missing value after the series"
    if rest[0] not in " \t":
        return f"unexpected {rest[0]!r} after the series"
    try:
        float(tokens[0])
    except ValueError:
        return f"value {tokens[0]!r} is not a number"
    if len(tokens) > 2 and tokens[2] != "#":
        return f"unexpected text {tokens[2]!r} after the timestamp"
    return "malformed sample line"
