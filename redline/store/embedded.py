"""The embedded sample store: atomic batch files compacted into daily Parquet segments.

Layout of ``data_dir``::

    batches/<ns>-<pid>.parquet     one file per ``append``, immutable, named in write order
    segments/<YYYY-MM-DD>.parquet  one UTC day, sorted, compressed (see ``store._segments``)
    quarantine/                    damaged files moved aside (see ``store.quarantine``)

Every file appears by rename, whole; temp files end ``.tmp-<pid>`` and never match the read
glob. Readers (this process or another) combine segments and not-yet-compacted batches; a
sample present in both is returned once, the newest-written value winning. Days are
partitions because per-series delta runs need length (an hourly file costs ~1.4 B/sample,
a day ~0.8); inside a day, 4-hour row groups let a read of the last hour skip the rest.

Integrity: batch files carry a length and checksum trailer, segments Parquet page checksums
(see ``store.segments``). A file whose content fails a check is skipped by the read (everything
else of its day is still returned), recorded in ``corrupt`` (``corrupt_files_total`` counts it)
and moved to ``quarantine/`` with one log line naming it and the time range it covered — by
``compact`` (which also checks every segment's footer each cycle), and by reads and ``check``
when the store was opened with ``quarantine=True`` (the agent, ``store verify --repair``). An I/O error is not
damage: that file stays and is reported in ``problems``. A file in ``batches/`` or ``segments/``
whose name is not one the store writes is foreign: never read, never moved, one warning.

Thread safety: ``append`` and ``read`` may run from several threads; ``compact`` is serialised
by a lock and by ``flock`` on ``data_dir/.compact.lock`` against other processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Final, TypeVar

import polars as pl

from redline.kernel.errors import StoreError
from redline.kernel.fields import SAMPLE_SCHEMA, empty_samples
from redline.kernel.labels import Selector
from redline.store.quarantine import CorruptFile, move_to_quarantine
from redline.store.segments import (
    DAY_MS,
    CorruptFileError,
    VanishedError,
    batch_time_bounds,
    day_name,
    day_of,
    fsync_dir,
    merge_newest_last,
    parse_day_name,
    read_batch,
    read_segment,
    segment_time_bounds,
    temp_owner_pid,
    with_series_order,
    write_atomically,
    write_batch,
    write_segment,
)

__all__ = ["CompactionStats", "SampleStore"]

_SERIES: Final = ["metric", "labels"]
_T = TypeVar("_T")
_BATCH_NAME: Final = re.compile(r"\d{20}-\d+\.parquet")
_log = logging.getLogger("redline.store")


@dataclass(frozen=True)
class CompactionStats:
    """What one ``compact`` did."""

    batches_merged: int
    segments_written: int
    samples: int
    """Samples in the segments written (old and new)."""
    bytes: int
    """Size of the segments written."""
    segments_dropped: int = 0
    """Days deleted by retention."""


class SampleStore:
    """Samples in a data directory; see the module docstring for the layout and guarantees."""

    def __init__(self, data_dir: Path, *, retention_seconds: float = 35 * 86400, quarantine: bool = False) -> None:
        if retention_seconds <= 0:
            raise ValueError(f"retention_seconds must be positive, got {retention_seconds}")
        self.data_dir = Path(data_dir)
        self.retention_seconds = retention_seconds
        self.problems: list[str] = []
        """Files that could not be read (kept in place, never deleted); one entry per file."""
        self._problem_keys: set[object] = set()
        self.quarantine = quarantine
        """Move damaged files to ``quarantine/`` when a read finds them (False, the default: a
        read reports them only, so readers such as ``status`` and the dashboard change nothing).
        ``compact`` quarantines what it meets either way: it is the store's writer."""
        self.corrupt: list[CorruptFile] = []
        """Damaged files this store found, once each, with where they went when quarantined."""
        self._corrupt_keys: set[tuple[str, tuple[int, int] | None]] = set()
        self._foreign: set[Path] = set()
        self._batches = self.data_dir / "batches"
        self._segments = self.data_dir / "segments"
        self._lock = threading.Lock()
        self._compact_lock = threading.Lock()
        self._last_ns = 0
        self._dirs_ready = False

    # -----------------------------------------------------------------------------------------
    # Writing

    def append(self, samples: pl.DataFrame) -> Path | None:
        """Store one batch as a new file, atomically; returns its path, None for an empty frame.

        Raises ``StoreError`` when the frame does not have ``SAMPLE_SCHEMA`` (or holds nulls), or
        when the file cannot be written (the message names the file and the OS error); then no
        temp file is left and every existing file is as it was.
        """
        frame = _validated(samples)
        if frame.is_empty():
            return None
        self._ensure_dirs()
        with self._lock:
            # Names order batches by write; never go backwards, even if the clock does.
            ns = max(time.time_ns(), self._last_ns + 1)
            self._last_ns = ns
        path = self._batches / f"{ns:020d}-{os.getpid()}.parquet"
        write_atomically(path, lambda fh: write_batch(fh, frame))
        return path

    def _ensure_dirs(self) -> None:
        if self._dirs_ready:
            return
        try:
            for d in (self.data_dir, self._batches, self._segments):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store directory {self.data_dir}: {exc}") from exc
        with self._lock:
            # After a restart with the clock set back, keep naming after the newest batch.
            for path in self._batch_files():
                head = path.stem.split("-", 1)[0]
                if head.isdigit():
                    self._last_ns = max(self._last_ns, int(head))
            self._dirs_ready = True

    def compact(self) -> CompactionStats:
        """Merge every batch file into its day segments, then delete the batches; apply retention.

        Each segment is rewritten atomically before any batch is deleted, so a crash leaves the
        batches, the segment, or both (readers dedupe). Damaged batches and segments (every
        segment's footer is read) are quarantined; the day of a damaged segment starts anew from
        its batches. A batch unreadable for another reason (I/O) is skipped, reported in
        ``problems`` and left in place. Raises ``StoreError`` when a segment cannot be read (I/O)
        or written; the batches then stay.
        """
        if not self.data_dir.exists():
            return CompactionStats(0, 0, 0, 0)
        self._ensure_dirs()
        with self._compact_lock, self._process_lock():
            self._remove_dead_temps()
            inputs: list[tuple[str, pl.DataFrame]] = []
            for path in self._batch_files():
                try:
                    inputs.append((path.name, read_batch(path)))
                except VanishedError:
                    continue
                except StoreError as exc:
                    self._problem(exc, locked=True)
            names = [name for name, _ in inputs]
            segments = self._segment_days()
            newest_batch = [_ts_max(f) for _, f in inputs if not f.is_empty()]
            newest_segment: list[int] = []
            for day in sorted(segments):  # every footer, each cycle: a damaged day is found here
                try:
                    newest_segment = [self._segment_bounds(segments[day])[1]]
                except VanishedError:
                    del segments[day]
                except CorruptFileError as exc:
                    self._damaged(exc, locked=True)
                    del segments[day]
            newest = max([*newest_batch, *newest_segment], default=None)
            if newest is None:
                return CompactionStats(0, 0, 0, 0)
            # A day is dropped only when it ends at or before newest - retention.
            cutoff_ms = newest - int(self.retention_seconds * 1000)
            keep_from_day = -(-cutoff_ms // DAY_MS)

            by_day: dict[int, list[pl.DataFrame]] = {}
            for order, (_, frame) in enumerate(inputs):
                tagged = frame.with_columns(
                    (pl.col("timestamp") // DAY_MS).alias("_day"), pl.lit(order + 1).alias("_order")
                ).filter(pl.col("_day") >= keep_from_day)
                for (day,), part in tagged.partition_by("_day", as_dict=True).items():
                    by_day.setdefault(int(day), []).append(part)

            written = samples = size = 0
            for day in sorted(by_day):
                path = self._segments / f"{day_name(day)}.parquet"
                parts = by_day[day]
                old, absorbed = self._read_segment_for_merge(path) if day in segments else (None, frozenset())
                fresh = [p for p in parts if names[p.get_column("_order")[0] - 1] not in absorbed]
                if not fresh:
                    continue
                frames = [old] if old is not None else []
                merged = merge_newest_last([*frames, *(p.drop("_day", "_order") for p in fresh)])
                size += write_atomically(path, _segment_writer(merged, names))
                written += 1
                samples += merged.height
            dropped = 0
            for day, path in segments.items():
                if day < keep_from_day:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    dropped += 1
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    (self._batches / name).unlink()
            try:
                fsync_dir(self._batches)
                fsync_dir(self._segments)
            except OSError as exc:
                raise StoreError(f"cannot sync the store directories under {self.data_dir}: {exc}") from exc
            return CompactionStats(len(names), written, samples, size, dropped)

    def _read_segment_for_merge(self, path: Path) -> tuple[pl.DataFrame | None, frozenset[str]]:
        """The day's segment to merge into; a damaged one is quarantined and the day starts anew
        from the batches (a store that may not quarantine refuses to overwrite it)."""
        try:
            frame, absorbed = read_segment(path)
        except VanishedError:
            return None, frozenset()
        except CorruptFileError as exc:
            self._damaged(exc, locked=True)
            return None, frozenset()
        return frame, absorbed

    @contextlib.contextmanager
    def _process_lock(self) -> Iterator[None]:
        try:
            fd = os.open(self.data_dir / ".compact.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open the compaction lock in {self.data_dir}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _remove_dead_temps(self) -> None:
        """Temp files of writers that died mid-write (their pid no longer runs)."""
        for directory in (self._batches, self._segments):
            for path in directory.glob("*.tmp-*"):
                pid = temp_owner_pid(path.name)
                if pid is None or pid == os.getpid():
                    continue
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    with contextlib.suppress(OSError):
                        path.unlink()
                except PermissionError:
                    pass

    # -----------------------------------------------------------------------------------------
    # Reading

    def read(self, selectors: Sequence[Selector], start_ms: int, end_ms: int) -> pl.DataFrame:
        """Samples of the selected series (all series for an empty list) with
        ``start_ms <= timestamp <= end_ms``: ``SAMPLE_SCHEMA``, sorted by metric, labels,
        timestamp, each (metric, labels, timestamp) once with its newest-written value.

        Unreadable files are skipped and reported in ``problems``. Raises ``StoreError`` only
        if files keep vanishing under it (a listing is retried once).
        """
        return self._retrying(lambda: self._read_once(list(selectors), start_ms, end_ms))

    def _read_once(self, selectors: list[Selector], start_ms: int, end_ms: int) -> pl.DataFrame:
        metrics = sorted({s.metric for s in selectors})
        first_day, last_day = day_of(start_ms), day_of(end_ms)
        frames: list[pl.DataFrame] = []
        absorbed_by_day: dict[int, frozenset[str]] = {}
        for day, path in sorted(self._segment_days().items()):
            if not first_day <= day <= last_day:
                continue
            try:
                frame, absorbed = read_segment(path, start_ms, end_ms)
            except StoreError as exc:
                self._problem(exc)
                continue
            absorbed_by_day[day] = absorbed
            frames.append(_select(frame, metrics).with_columns(pl.lit(0).alias("_order")))
        batch_frames = 0
        for order, path in enumerate(self._batch_files(), start=1):
            try:
                frame = read_batch(path)
            except StoreError as exc:
                self._problem(exc)
                continue
            frame = _select(frame, metrics).filter(pl.col("timestamp").is_between(start_ms, end_ms))
            skip_days = [d for d, names in absorbed_by_day.items() if path.name in names]
            if skip_days:
                frame = frame.filter(~(pl.col("timestamp") // DAY_MS).is_in(skip_days))
            if not frame.is_empty():
                frames.append(frame.with_columns(pl.lit(order).alias("_order")))
                batch_frames += 1
        if not frames:
            return empty_samples()
        out = pl.concat(frames, how="vertical_relaxed")
        if selectors:
            # Matchers run once per distinct series; rows follow by a semi-join.
            distinct = out.select(_SERIES).unique()
            chosen = pl.concat([s.filter(distinct) for s in selectors]).unique()
            out = out.join(chosen, on=_SERIES, how="semi", maintain_order="left")
        if batch_frames:
            # Oldest-written first, so keeping the last occurrence keeps the newest value.
            out = merge_newest_last([out.sort("_order", maintain_order=True).drop("_order")])
        else:
            out = with_series_order(out.drop("_order")).sort(["_sid", "timestamp"])
        return out.select(SAMPLE_SCHEMA.names()).cast(SAMPLE_SCHEMA)

    def series(self) -> pl.DataFrame:
        """Every stored series: distinct (metric, labels), sorted."""

        def once() -> pl.DataFrame:
            frames = []
            for path in self._segment_days().values():
                try:
                    frames.append(read_segment(path, columns=_SERIES)[0].unique())
                except StoreError as exc:
                    self._problem(exc)
            for path in self._batch_files():
                try:
                    frames.append(read_batch(path).select(_SERIES).unique())
                except StoreError as exc:
                    self._problem(exc)
            if not frames:
                return pl.DataFrame(schema={"metric": pl.String, "labels": pl.String})
            return pl.concat(frames).unique().sort(_SERIES)

        return self._retrying(once)

    def newest_timestamp_ms(self) -> int | None:
        """The timestamp of the newest stored sample, None for an empty store."""
        return self._retrying(lambda: self._bound(newest=True))

    def oldest_timestamp_ms(self) -> int | None:
        """The timestamp of the oldest stored sample, None for an empty store."""
        return self._retrying(lambda: self._bound(newest=False))

    def _bound(self, *, newest: bool) -> int | None:
        candidates: list[int] = []
        days = sorted(self._segment_days().items(), reverse=newest)
        for _, path in days:
            try:
                bounds = self._segment_bounds(path)
            except StoreError as exc:
                self._problem(exc)
                continue
            candidates.append(bounds[1] if newest else bounds[0])
            break
        for path in self._batch_files():
            try:
                batch = batch_time_bounds(path)  # footer statistics: no sample is read
            except StoreError as exc:
                self._problem(exc)
                continue
            if batch is not None:
                candidates.append(batch[1] if newest else batch[0])
        if not candidates:
            return None
        return max(candidates) if newest else min(candidates)

    def _segment_bounds(self, path: Path) -> tuple[int, int]:
        bounds = segment_time_bounds(path)
        if bounds is None:
            day = parse_day_name(path.stem)
            raise CorruptFileError(
                f"corrupt segment {path}: it holds no samples", path=path, kind="segment",
                reason="it holds no samples", start_ms=None if day is None else day * DAY_MS,
                end_ms=None if day is None else (day + 1) * DAY_MS - 1,
            )
        return bounds

    def check(self) -> list[str]:
        """Read every file in full (every page checksum); return (and record in ``problems``, and
        ``corrupt``, quarantining when allowed) what could not be read."""
        found: list[str] = []
        for path in self.files():
            try:
                if path.parent == self._segments:
                    read_segment(path)
                else:
                    read_batch(path)
            except VanishedError:
                continue
            except StoreError as exc:
                found.append(str(exc))
                self._problem(exc)
        return found

    def files(self) -> list[Path]:
        """Every segment (by day) and batch file (in write order) the store would read."""
        return [*(p for _, p in sorted(self._segment_days().items())), *self._batch_files()]

    @property
    def corrupt_files_total(self) -> int:
        """Damaged files found by this store (``redline_store_corrupt_files_total``)."""
        return len(self.corrupt)

    def foreign_files(self) -> list[Path]:
        """Files in ``batches/`` and ``segments/`` whose names the store never writes (ignored)."""
        found: list[Path] = []
        for directory, ours in ((self._batches, _is_batch_name), (self._segments, _is_segment_name)):
            if directory.is_dir():
                found += [p for p in directory.iterdir() if ".tmp-" not in p.name and not ours(p.name)]
        return sorted(found)

    # -----------------------------------------------------------------------------------------
    # Listing

    def _batch_files(self) -> list[Path]:
        if not self._batches.is_dir():
            return []
        paths = self._batches.glob("*.parquet")
        return sorted((p for p in paths if _is_batch_name(p.name) or self._foreign_file(p)), key=lambda p: p.name)

    def _segment_days(self) -> dict[int, Path]:
        if not self._segments.is_dir():
            return {}
        days: dict[int, Path] = {}
        for path in self._segments.glob("*.parquet"):
            day = parse_day_name(path.stem)
            if day is not None and path.suffix == ".parquet":
                days[day] = path
            else:
                self._foreign_file(path)
        return days

    def _foreign_file(self, path: Path) -> bool:
        """Warn once about a file the store did not write; always False (it is not read)."""
        with self._lock:
            first = path not in self._foreign
            self._foreign.add(path)
        if first:
            _log.warning("store: ignoring %s: not a file the store writes (left as it is)", path)
        return False

    def _retrying(self, action: Callable[[], _T]) -> _T:
        """Run a read; if a listed file vanished (compaction, retention), list again once."""
        try:
            return action()
        except VanishedError:
            pass
        try:
            return action()
        except VanishedError as exc:
            raise StoreError(f"store files under {self.data_dir} keep vanishing while read: {exc}") from exc

    def _problem(self, exc: StoreError, *, locked: bool = False) -> None:
        """Record a file that could not be read, once per file (or per message without a file);
        a damaged one also goes through ``_damaged``. ``locked``: the caller is the compaction."""
        if isinstance(exc, CorruptFileError):
            self._damaged(exc, locked=locked)
        key = exc.path if exc.path is not None else str(exc)
        with self._lock:
            if key not in self._problem_keys:
                self._problem_keys.add(key)
                self.problems.append(str(exc))

    def _damaged(self, exc: CorruptFileError, *, locked: bool) -> bool:
        """Record a damaged file once and quarantine it when allowed; True when it no longer sits
        at its path (moved, or gone meanwhile). ``locked``: the caller is the compaction, which
        holds the compaction locks (the move must not race a rewrite of the same day) and always
        quarantines."""
        key = (str(exc.path), exc.identity)
        with self._lock:
            first = key not in self._corrupt_keys
            self._corrupt_keys.add(key)
        found = CorruptFile.from_error(exc)
        if self.quarantine or locked:
            try:
                if locked:
                    moved = move_to_quarantine(self.data_dir, exc)
                else:
                    with self._compact_lock, self._process_lock():
                        moved = move_to_quarantine(self.data_dir, exc)
            except StoreError as move_failed:
                moved = None
                found = replace(found, reason=f"{found.reason} (not moved: {move_failed})")
            else:
                if moved is None:
                    return True  # gone or replaced since it was read
                with self._lock:
                    self.corrupt[:] = [c for c in self.corrupt if c.path != moved.path or c.quarantined_to]
                    self.corrupt.append(moved)
                return True
        if first:
            _log.error(
                "store: damaged %s file %s (covering %s) skipped, left in place: %s",
                found.kind, found.path, found.range_text(), found.reason,
            )
            with self._lock:
                self.corrupt.append(found)
        return False


def _is_batch_name(name: str) -> bool:
    return _BATCH_NAME.fullmatch(name) is not None


def _is_segment_name(name: str) -> bool:
    return name.endswith(".parquet") and parse_day_name(name.removesuffix(".parquet")) is not None


def _ts_max(data: pl.DataFrame | pl.Series) -> int:
    ts = data.get_column("timestamp") if isinstance(data, pl.DataFrame) else data
    return int(ts.max())  # type: ignore[arg-type]


def _segment_writer(frame: pl.DataFrame, absorbed: list[str]) -> Callable[[IO[bytes]], None]:
    return lambda fh: write_segment(fh, frame, absorbed)


def _select(frame: pl.DataFrame, metrics: list[str]) -> pl.DataFrame:
    return frame.filter(pl.col("metric").is_in(metrics)) if metrics else frame


def _validated(samples: pl.DataFrame) -> pl.DataFrame:
    """The frame in ``SAMPLE_SCHEMA`` column order; ``StoreError`` naming what is wrong."""
    if not isinstance(samples, pl.DataFrame):
        raise StoreError(f"samples must be a polars DataFrame, got {type(samples).__name__}")
    got = dict(samples.schema)
    want = dict(SAMPLE_SCHEMA)
    if got != want:
        missing = [c for c in want if c not in got]
        extra = [c for c in got if c not in want]
        wrong = [f"{c}: {got[c]} (expected {want[c]})" for c in want if c in got and got[c] != want[c]]
        detail = "; ".join(
            part
            for part in (
                f"missing columns {missing}" if missing else "",
                f"unexpected columns {extra}" if extra else "",
                f"wrong types {', '.join(wrong)}" if wrong else "",
            )
            if part
        )
        raise StoreError(f"samples do not match SAMPLE_SCHEMA: {detail}")
    for column in SAMPLE_SCHEMA.names():
        nulls = samples.get_column(column).null_count()
        if nulls:
            row = samples.get_column(column).is_null().arg_true()[0]
            raise StoreError(f"samples hold {nulls} null(s) in column {column!r}, first at row {row}")
    return samples.select(SAMPLE_SCHEMA.names())
