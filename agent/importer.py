"""``redline import``: backfill history from an OpenMetrics file with explicit timestamps, in
bounded memory whatever the file's size.

The file is the one ``promtool tsdb create-blocks-from openmetrics`` reads: families sorted,
the samples of one series in time order. It is read in chunks cut at a line end (about
``chunk_bytes`` each); each chunk is parsed with the current family's ``# TYPE`` line carried
over (so a family cut in two parses the same), sorted and de-duplicated per series, and
appended to the store as one batch; the store is compacted every ``compact_every_bytes`` of
input and at the end, with its largest merge narrowed to ``max_merge_rows`` (1M by default:
compaction costs about 100 bytes a row merged, see ``store.coded``; a day with more rows stays
in several runs, which the agent merges later within its own limit). Memory is therefore bounded
by the chunk size and that merge, not by the file: a 2 GB file peaks under 500 MB.
Out-of-order lines are accepted (and counted), duplicate timestamps keep the
value written last (within a chunk; across chunks the store keeps one), lines without a
timestamp and malformed lines are skipped and counted per reason with their first line numbers.
Nothing is written unless some chunk parsed into at least one sample.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import polars as pl

from redline.collectors.exposition import ExpositionParser
from redline.kernel.errors import SourceError
from redline.store.embedded import SampleStore

__all__ = ["DEFAULT_CHUNK_BYTES", "DEFAULT_MAX_MERGE_ROWS", "ImportStats", "SkippedLines", "import_history"]

_NO_TIMESTAMP = -(2**62)
"""Stamped on samples that carry no timestamp, so they can be told apart and skipped."""
DEFAULT_CHUNK_BYTES = 4 << 20
"""Bytes of the file parsed at once: the parsed frame is ~10x this in memory."""
DEFAULT_COMPACT_EVERY_BYTES = 256 << 20
"""Input bytes between two compactions of the store (batch files do not pile up)."""
DEFAULT_MAX_MERGE_ROWS = 1_000_000
"""The largest merge of an import's compactions (``CompactionPolicy.max_merge_rows``)."""
FIRST_LINES_KEPT = 5
"""Line numbers kept per skip reason, for the summary."""
_KEY = ["metric", "labels"]
_PROBLEM = re.compile(r"^line (\d+): (.*?): (['\"].*)$", re.DOTALL)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
NO_TIMESTAMP_REASON = "sample without a timestamp"


@dataclass
class SkippedLines:
    """Lines skipped for one reason: how many, and the first few line numbers (1-based)."""

    count: int = 0
    first_lines: list[int] = field(default_factory=list)

    def add(self, line: int | None, n: int = 1) -> None:
        self.count += n
        if line is not None and len(self.first_lines) < FIRST_LINES_KEPT:
            self.first_lines.append(line)


@dataclass(frozen=True)
class ImportStats:
    """What an import read, kept and skipped."""

    path: Path
    samples_read: int
    samples_stored: int
    series: int
    duplicates: int
    out_of_order: int
    without_timestamp: int
    first_ms: int | None
    last_ms: int | None
    skipped: dict[str, SkippedLines]
    seconds: float

    @property
    def problems(self) -> tuple[str, ...]:
        """One line per skip reason (what the summary prints under the totals)."""
        out = []
        for reason, s in sorted(self.skipped.items(), key=lambda kv: -kv[1].count):
            where = f" (first at line {', '.join(map(str, s.first_lines))})" if s.first_lines else ""
            out.append(f"{s.count} skipped: {reason}{where}")
        return tuple(out)

    def summary(self) -> str:
        """A few lines for the terminal."""

        def when(ms: int | None) -> str:
            return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")

        lines = [
            f"{self.path}: stored {self.samples_stored} samples of {self.series} series "
            f"({when(self.first_ms)} .. {when(self.last_ms)}) in {self.seconds:.1f}s",
        ]
        if self.out_of_order:
            lines.append(f"  {self.out_of_order} samples were out of order in the file (sorted)")
        if self.duplicates:
            lines.append(f"  {self.duplicates} duplicate timestamps (the value written last kept)")
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class _Totals:
    """Running totals over the chunks."""

    def __init__(self) -> None:
        self.read = self.stored = self.duplicates = self.out_of_order = self.without_ts = 0
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self.series: set[int] = set()
        self.skipped: dict[str, SkippedLines] = {}
        self.held: pl.DataFrame | None = None  # the previous chunk's newest sample per series

    def skip(self, reason: str, line: int | None, n: int = 1) -> None:
        self.skipped.setdefault(reason, SkippedLines()).add(line, n)


def import_history(
    path: Path,
    store: SampleStore,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    compact_every_bytes: int = DEFAULT_COMPACT_EVERY_BYTES,
    max_merge_rows: int = DEFAULT_MAX_MERGE_ROWS,
    progress: IO[str] | None = None,
) -> ImportStats:
    """Stream ``path`` into ``store``; raises ``SourceError`` if nothing can be imported.

    ``progress``, when given (a terminal), gets a ``\\r``-updated percentage of bytes read.
    ``max_merge_rows`` narrows the store's policy for the import (restored after it).
    """
    policy = store.policy
    store.policy = replace(policy, max_merge_rows=min(policy.max_merge_rows, max_merge_rows))
    try:
        return _import(path, store, chunk_bytes, compact_every_bytes, progress)
    finally:
        store.policy = policy


def _import(
    path: Path, store: SampleStore, chunk_bytes: int, compact_every_bytes: int, progress: IO[str] | None
) -> ImportStats:
    started = time.perf_counter()
    totals = _Totals()
    parser = ExpositionParser()
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            since_compact = 0
            for offset, first_line, header, text in _chunks(fh, path, chunk_bytes):
                _import_chunk(parser, store, totals, text, header, first_line, last=offset >= size)
                since_compact += len(text)
                if since_compact >= compact_every_bytes and totals.stored:
                    store.compact()
                    since_compact = 0
                if progress is not None and size:
                    progress.write(f"\rimporting {path.name}: {100 * offset / size:5.1f}%")
                    progress.flush()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read history file: {exc.strerror or exc}") from exc
    if totals.held is not None:  # the file ended inside a chunk that was not the last (a race)
        _store(store, totals, totals.held)
    if progress is not None:
        progress.write("\r" + " " * 60 + "\r")
        progress.flush()
    if not totals.stored:
        problems = ImportStats(path, 0, 0, 0, 0, 0, 0, None, None, totals.skipped, 0.0).problems
        first = "; ".join(problems[:3]) or "no samples with timestamps"
        raise SourceError(f"{path}: nothing to import: {first}")
    store.compact()
    return ImportStats(
        path=path,
        samples_read=totals.read,
        samples_stored=totals.stored,
        series=len(totals.series),
        duplicates=totals.duplicates,
        out_of_order=totals.out_of_order,
        without_timestamp=totals.without_ts,
        first_ms=totals.first_ms,
        last_ms=totals.last_ms,
        skipped=totals.skipped,
        seconds=time.perf_counter() - started,
    )


def _chunks(fh: IO[bytes], path: Path, chunk_bytes: int) -> Iterator[tuple[int, int, str, str]]:
    """``(bytes read so far, first line number, carried header, text)`` per chunk, cut after a
    newline. The header is the last ``# TYPE`` line before the chunk (its family may go on)."""
    carry = b""
    offset = 0
    line = 1
    header = ""
    while True:
        block = fh.read(chunk_bytes)
        offset += len(block)
        data = carry + block
        if not block:
            if data:
                yield offset, line, header, _decode(data, path, offset - len(data))
            return
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # one line longer than a chunk: read on
            carry = data
            continue
        carry = data[cut:]
        text = _decode(data[:cut], path, offset - len(data))
        yield offset - len(carry), line, header, text
        line += text.count("\n")
        last_type = text.rfind("\n# TYPE ")
        if last_type >= 0 or text.startswith("# TYPE "):
            start = last_type + 1
            header = text[start:text.index("\n", start) + 1]


def _decode(data: bytes, path: Path, at: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"{exc.reason} at byte {at + exc.start}"
        raise SourceError(f"{path}: cannot read history file: not UTF-8 text ({where})") from exc


def _import_chunk(
    parser: ExpositionParser, store: SampleStore, totals: _Totals, text: str, header: str, first_line: int,
    *, last: bool,
) -> None:
    """Parse one chunk (with its carried header and, but for the last, a closing ``# EOF``),
    store what it holds. The last chunk is parsed as written: a file that does not end with
    ``# EOF`` (truncated) is reported as such."""
    parsed = parser.parse(header + text + ("" if last else "# EOF\n"), default_timestamp_ms=_NO_TIMESTAMP,
                          openmetrics=True)
    shift = first_line - 1 - header.count("\n")
    for problem in parsed.problems:
        _note_problem(totals.skip, problem, shift)
    frame = parsed.samples
    totals.read += frame.height
    without_ts = int((frame.get_column("timestamp") == _NO_TIMESTAMP).sum())
    if without_ts:
        totals.without_ts += without_ts
        totals.skip(NO_TIMESTAMP_REASON, None, without_ts)
    frame = frame.filter(pl.col("timestamp") != _NO_TIMESTAMP)
    del parsed
    if totals.held is not None:  # the previous chunk's newest sample per series goes first
        frame = pl.concat([totals.held, frame])
        totals.held = None
    if frame.is_empty():
        return
    frame = frame.with_row_index("line_order")
    totals.out_of_order += int(frame.select((pl.col("timestamp").diff().over(_KEY) < 0).sum()).item())
    ordered = frame.sort([*_KEY, "timestamp", "line_order"])
    kept = ordered.unique(subset=[*_KEY, "timestamp"], keep="last", maintain_order=True).drop("line_order")
    totals.duplicates += frame.height - kept.height
    del frame, ordered
    if not last:
        # Each series' newest sample waits for the next chunk: a series cut by the boundary may
        # repeat that timestamp there, and the value written last must win.
        newest = pl.col("timestamp") == pl.col("timestamp").max().over(_KEY)
        totals.held = kept.filter(newest)
        kept = kept.filter(~newest)
    _store(store, totals, kept)


def _store(store: SampleStore, totals: _Totals, kept: pl.DataFrame) -> None:
    """Append one sorted, de-duplicated batch; add it to the totals."""
    if kept.is_empty():
        return
    store.append(kept)
    totals.stored += kept.height
    totals.series.update(kept.select(pl.struct(_KEY).hash(seed=0)).to_series().unique().to_list())
    ts = kept.get_column("timestamp")
    lo, hi = int(ts.min()), int(ts.max())  # type: ignore[arg-type]
    totals.first_ms = lo if totals.first_ms is None else min(totals.first_ms, lo)
    totals.last_ms = hi if totals.last_ms is None else max(totals.last_ms, hi)


def _note_problem(skip: Callable[[str, int | None], None], problem: str, shift: int) -> None:
    """Count a parser problem under its reason, at its line in the file."""
    match = _PROBLEM.match(problem)
    if match is None:
        skip(problem, None)
        return
    # The quoted text in a reason is the line's (a value, a name): a reason counts lines alike.
    skip(_QUOTED.sub("'...'", match.group(2)), int(match.group(1)) + shift)


def progress_stream() -> IO[str] | None:
    """stderr when it is a terminal (a ``\\r``-updated percentage), else None (only the summary)."""
    return sys.stderr if sys.stderr.isatty() else None
