"""``redline import``: backfill history from an OpenMetrics file with explicit timestamps.

The file is the one ``promtool tsdb create-blocks-from openmetrics`` reads. Samples are
sorted per series; out-of-order lines are accepted (and counted), duplicate timestamps keep
the value written last in the file (and are counted), lines without a timestamp are skipped
and reported. Nothing is written unless the file parsed into at least one sample.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from redline.collectors.exposition import ExpositionParser
from redline.kernel.errors import SourceError
from redline.store.embedded import SampleStore

__all__ = ["ImportStats", "import_history"]

_NO_TIMESTAMP = -(2**62)
"""Stamped on samples that carry no timestamp, so they can be told apart and skipped."""


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
    problems: tuple[str, ...]
    seconds: float

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
        if self.without_timestamp:
            lines.append(f"  {self.without_timestamp} samples without a timestamp were skipped")
        lines += [f"  {p}" for p in self.problems[:10]]
        if len(self.problems) > 10:
            lines.append(f"  ... and {len(self.problems) - 10} more problems")
        return "\n".join(lines)


def import_history(path: Path, store: SampleStore) -> ImportStats:
    """Parse ``path`` and store its samples; raises ``SourceError`` if nothing can be imported."""
    started = time.perf_counter()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read history file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        where = f"{exc.reason} at byte {exc.start}"
        raise SourceError(f"{path}: cannot read history file: not UTF-8 text ({where})") from exc
    parsed = ExpositionParser().parse(text, default_timestamp_ms=_NO_TIMESTAMP, openmetrics=True)
    del text
    frame = parsed.samples.with_row_index("line_order")
    without_ts = int((frame.get_column("timestamp") == _NO_TIMESTAMP).sum())
    frame = frame.filter(pl.col("timestamp") != _NO_TIMESTAMP)
    if frame.is_empty():
        first = "; ".join(parsed.problems[:3]) or "no samples with timestamps"
        raise SourceError(f"{path}: nothing to import: {first}")
    key = ["metric", "labels"]
    out_of_order = int(frame.select((pl.col("timestamp").diff().over(key) < 0).sum()).item())
    ordered = frame.sort([*key, "timestamp", "line_order"])
    kept = ordered.unique(subset=[*key, "timestamp"], keep="last", maintain_order=True).drop("line_order")
    store.append(kept)
    store.compact()
    ts = kept.get_column("timestamp")
    return ImportStats(
        path=path,
        samples_read=parsed.samples.height,
        samples_stored=kept.height,
        series=kept.select(pl.struct(key).n_unique()).item(),
        duplicates=frame.height - kept.height,
        out_of_order=out_of_order,
        without_timestamp=without_ts,
        first_ms=int(ts.min()),  # type: ignore[arg-type]
        last_ms=int(ts.max()),  # type: ignore[arg-type]
        problems=parsed.problems,
        seconds=time.perf_counter() - started,
    )
