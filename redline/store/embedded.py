"""The embedded sample store: atomic batch files compacted into daily Parquet segments.

Layout of ``data_dir``::

    batches/<ns>-<pid>.parquet               one file per ``append``, immutable, in write order
    segments/<YYYY-MM-DD>.parquet            a UTC day's base: its oldest run, sorted, compressed
    segments/<YYYY-MM-DD>.<lo>-<hi>.parquet  a newer run (part) of that day (see ``store.segments``)
    quarantine/                              damaged files moved aside (see ``store.quarantine``)

Compaction is incremental: each cycle writes the pending batches as a new run of their day
(with the newest runs ``plan_merge`` picks), and merges similar runs in levels, so its cost
follows the rows that arrived, bounded by ``CompactionPolicy``; a day that is over is merged
into its base. Runs are ordered by the part sequence numbers they hold; a merged output covers
its inputs' numbers, so readers skip inputs a crash left behind (and the next cycle deletes them).
Rows are merged coded by series (``store.coded``): about 100 bytes a row at the peak of a merge,
whatever the length of the labels.

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
from redline.store.coded import CodedRows, SeriesCoder, merge_coded, read_coded, write_coded_segment
from redline.store.memory import release_free_memory
from redline.store.quarantine import QUARANTINE_DIR, CorruptFile, move_to_quarantine
from redline.store.segments import (
    DAY_MS,
    CorruptFileError,
    SegmentFile,
    VanishedError,
    batch_time_bounds,
    day_name,
    day_of,
    fsync_dir,
    merge_newest_last,
    parse_segment_name,
    part_name,
    read_batch,
    read_batch_dictionary,
    read_segment,
    segment_day,
    temp_owner_pid,
    with_series_order,
    write_atomically,
    write_batch,
)

__all__ = ["CompactionPolicy", "CompactionStats", "SampleStore", "plan_merge"]

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
    rows_read: int = 0
    """Rows read to write them: the pending batches' plus the older runs merged with them."""
    runs_merged: int = 0
    """Existing segment files (base or parts) read and replaced by a merge."""
    seconds: float = 0.0
    """How long the cycle took (for the compaction-duration self-metric; never asserted)."""


@dataclass(frozen=True)
class CompactionPolicy:
    """The knobs of compaction (see ``plan_merge``); memory per cycle is bounded by them.

    ``max_merge_rows`` is the largest merge: no cycle reads more than about this many rows at
    once (pending batches are taken in chunks of it too), and a closed day larger than it stays
    in several runs. ``small_run_rows``: runs that together hold fewer rows are merged at once
    (few, well-compressed files for small fleets). ``merge_fanout``: how many similar runs make
    a merge (more: fewer rewrites, more files per day).
    """

    merge_fanout: int = 4
    small_run_rows: int = 100_000
    max_merge_rows: int = 10_000_000

    def __post_init__(self) -> None:
        if self.merge_fanout < 2 or self.small_run_rows < 0 or self.max_merge_rows < 1:
            raise ValueError(f"invalid compaction policy {self}")


class SampleStore:
    """Samples in a data directory; see the module docstring for the layout and guarantees."""

    def __init__(
        self, data_dir: Path, *, retention_seconds: float = 35 * 86400, quarantine: bool = False,
        policy: CompactionPolicy | None = None,
    ) -> None:
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
        self._last_seq = 0
        self._dirs_ready = False
        self.policy = policy or CompactionPolicy()

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
        """Turn the pending batches into sorted runs of their days, merge runs in levels, then
        delete what was merged; apply retention.

        Cost: the rows of the pending batches, plus the runs a merge picks (``CompactionPolicy``),
        never the whole of an open day. Every output is written atomically before any of its
        inputs is deleted and names the parts it covers, so a crash leaves inputs that readers
        skip and the next cycle deletes (no sample twice, none lost). Damaged batches and
        segments (every footer is read each cycle) are quarantined; the rest of their day stays.
        A batch unreadable for another reason (I/O) is skipped, reported in ``problems`` and left
        in place. Raises ``StoreError`` when a segment cannot be read (I/O) or written; the
        batches then stay.
        """
        began = time.perf_counter()
        if not self.data_dir.exists():
            return CompactionStats(0, 0, 0, 0)
        self._ensure_dirs()
        try:
            return self._compact(began)
        finally:
            release_free_memory()  # the merge's memory back to the OS: RSS follows what is in use

    def _compact(self, began: float) -> CompactionStats:
        with self._compact_lock, self._process_lock():
            self._remove_dead_temps()
            cycle = _Cycle()
            runs = self._load_runs()
            self._remove_covered(runs)
            batches: list[tuple[Path, tuple[int, int] | None]] = []
            for path in self._batch_files():
                try:
                    batches.append((path, batch_time_bounds(path)))
                except VanishedError:
                    continue
                except StoreError as exc:
                    self._problem(exc, locked=True)
            newest = max(
                [*(b[1] for _, b in batches if b is not None), *(r.bounds[1] for rs in runs.values() for r in rs)],
                default=None,
            )
            if newest is None:
                return CompactionStats(0, 0, 0, 0, seconds=time.perf_counter() - began)
            # A day is dropped only when it ends at or before newest - retention.
            cutoff_ms = newest - int(self.retention_seconds * 1000)
            keep_from_day = -(-cutoff_ms // DAY_MS)
            open_day = day_of(newest)
            dropped = 0
            for day in [d for d in runs if d < keep_from_day]:
                for run in runs.pop(day):
                    with contextlib.suppress(FileNotFoundError):
                        run.path.unlink()
                dropped += 1

            # Pending batches, oldest first, in chunks of about max_merge_rows rows, each batch
            # coded by series as it is read (one series table per chunk; see store.coded).
            chunk: list[tuple[str, pl.DataFrame]] = []
            chunk_rows = 0
            coder = SeriesCoder()
            for path, _ in batches:
                try:
                    table = read_batch_dictionary(path)
                except VanishedError:
                    continue
                except StoreError as exc:
                    self._problem(exc, locked=True)
                    continue
                chunk.append((path.name, coder.code(table)))
                chunk_rows += table.num_rows
                del table
                if chunk_rows >= self.policy.max_merge_rows:
                    self._flush(chunk, coder.series, runs, keep_from_day, open_day, cycle)
                    chunk, chunk_rows, coder = [], 0, SeriesCoder()
            if chunk:
                self._flush(chunk, coder.series, runs, keep_from_day, open_day, cycle)
            for day in sorted(runs):
                closed = day < open_day
                while (start := plan_merge([r.rows for r in runs[day]], self.policy, closed=closed)) is not None:
                    self._merge(day, runs, list(range(start, len(runs[day]))), [], cycle)
            try:
                fsync_dir(self._batches)
                fsync_dir(self._segments)
            except OSError as exc:
                raise StoreError(f"cannot sync the store directories under {self.data_dir}: {exc}") from exc
            return CompactionStats(
                cycle.batches, cycle.written, cycle.samples, cycle.bytes, dropped,
                rows_read=cycle.rows_read, runs_merged=cycle.runs_merged, seconds=time.perf_counter() - began,
            )

    def _flush(
        self, chunk: list[tuple[str, pl.DataFrame]], series: pl.DataFrame, runs: dict[int, list[_Run]],
        keep_from_day: int, open_day: int, cycle: _Cycle,
    ) -> None:
        """Write one chunk of batches (coded rows against ``series``) into their days (each with
        the newest runs ``plan_merge`` picks to go with it), then delete the chunk's batches."""
        names = [name for name, _ in chunk]
        by_day: dict[int, list[tuple[str, pl.DataFrame]]] = {}
        for name, rows in chunk:
            cycle.rows_read += rows.height
            tagged = rows.with_columns((pl.col("timestamp") // DAY_MS).alias("_day")).filter(
                pl.col("_day") >= keep_from_day
            )
            for (day,), part in tagged.partition_by("_day", as_dict=True).items():
                by_day.setdefault(int(day), []).append((name, part.drop("_day")))
        chunk.clear()
        for day in sorted(by_day):
            day_runs = runs.setdefault(day, [])
            absorbed = frozenset().union(*(r.absorbed for r in day_runs))
            fresh = [CodedRows(series, part) for name, part in by_day.pop(day) if name not in absorbed]
            if not fresh:
                continue
            sizes = [r.rows for r in day_runs] + [sum(f.height for f in fresh)]
            start = plan_merge(sizes, self.policy, closed=day < open_day)
            group = list(range(len(day_runs) if start is None else start, len(day_runs)))
            self._merge(day, runs, group, fresh, cycle, absorbed=names)
        cycle.batches += len(names)
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                (self._batches / name).unlink()

    def _merge(
        self, day: int, runs: dict[int, list[_Run]], group: list[int], fresh: list[CodedRows],
        cycle: _Cycle, absorbed: Sequence[str] = (),
    ) -> None:
        """Merge the runs ``runs[day][i] for i in group`` (consecutive, oldest first) and the
        ``fresh`` rows (newer than any run) into one file, then delete the inputs it replaced.

        The output is the day's base when the group starts with the base or the day has no run;
        otherwise a part named by the sequence numbers it covers. A damaged input is quarantined
        and left out. Rows are merged coded by series (``store.coded``): memory follows the rows
        merged at about 100 bytes each, whatever the length of their labels."""
        day_runs = runs[day]
        inputs = [day_runs[i] for i in group]
        frames: list[CodedRows] = []
        for run in inputs:
            try:
                with SegmentFile(run.path) as segment:
                    frames.append(read_coded(segment))
            except VanishedError:
                continue
            except CorruptFileError as exc:
                self._damaged(exc, locked=True)
                continue
            cycle.rows_read += run.rows
        has_fresh = bool(fresh)
        frames += fresh
        fresh.clear()
        is_base = not day_runs or (bool(inputs) and inputs[0].is_base)
        seq = [self._next_seq(runs)] if has_fresh else []
        hi = max([r.hi for r in inputs] + seq)
        lo = 0 if is_base else min([r.lo for r in inputs] + seq)
        out = self._segments / (f"{day_name(day)}.parquet" if is_base else part_name(day, lo, hi))
        replaced = [r for i, r in enumerate(day_runs) if i in set(group)]
        kept = [r for i, r in enumerate(day_runs) if i not in set(group)]
        if frames:
            merged = merge_coded(frames, day)  # empties frames as it goes
            # Batches named by an input and still on disk (a crash left them) stay skipped.
            carried = {n for r in inputs for n in r.absorbed if (self._batches / n).exists()}
            names = frozenset({*absorbed, *carried})
            size = write_atomically(out, _segment_writer(merged, day, sorted(names), hi if is_base else 0))
            cycle.written += 1
            cycle.samples += merged.height
            cycle.bytes += size
            ts = merged.rows.get_column("timestamp")
            kept.append(_Run(out, lo, hi, merged.height, names, is_base, (_ts_min(ts), _ts_max(ts))))
            del merged
        cycle.runs_merged += len(inputs)
        for run in replaced:
            if run.path != out:
                with contextlib.suppress(FileNotFoundError):
                    run.path.unlink()
        runs[day] = sorted(kept, key=_run_order)

    def _next_seq(self, runs: dict[int, list[_Run]]) -> int:
        """A part sequence number above every one in use (and every base's ``covers``)."""
        used = max((r.hi for rs in runs.values() for r in rs), default=0)
        self._last_seq = max(time.time_ns(), used + 1, self._last_seq + 1)
        return self._last_seq

    def _load_runs(self) -> dict[int, list[_Run]]:
        """Every segment file's footer, by day, oldest run first; damaged ones quarantined."""
        runs: dict[int, list[_Run]] = {}
        for day, paths in self._segment_runs().items():
            for path in paths:
                try:
                    with SegmentFile(path) as segment:
                        run = _Run.of(segment)
                except VanishedError:
                    continue
                except CorruptFileError as exc:
                    self._damaged(exc, locked=True)
                    continue
                runs.setdefault(day, []).append(run)
        return {day: sorted(rs, key=_run_order) for day, rs in runs.items()}

    def _remove_covered(self, runs: dict[int, list[_Run]]) -> None:
        """Delete parts that a merged file covers: inputs a crash left behind its output."""
        for day, day_runs in runs.items():
            live = _uncovered(day_runs)
            for run in day_runs:
                if run not in live:
                    with contextlib.suppress(FileNotFoundError):
                        run.path.unlink()
            runs[day] = live

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
        order = 0
        overlapping = False  # more than one run of a day read: rows may repeat across them
        for day, paths in sorted(self._segment_runs().items()):
            if not first_day <= day <= last_day:
                continue
            day_frames = 0
            absorbed: set[str] = set()
            with contextlib.ExitStack() as files:
                opened: list[tuple[_Run, SegmentFile]] = []
                for path in paths:
                    try:
                        segment = files.enter_context(SegmentFile(path))
                    except VanishedError:
                        raise
                    except StoreError as exc:
                        self._problem(exc)
                        continue
                    opened.append((_Run.of(segment, bounds=(0, 0)), segment))
                live = _uncovered([run for run, _ in opened])
                for run, segment in sorted(opened, key=lambda pair: _run_order(pair[0])):
                    if run not in live:
                        continue
                    try:
                        frame = segment.read(start_ms, end_ms)
                    except StoreError as exc:
                        self._problem(exc)
                        continue
                    absorbed |= run.absorbed
                    frame = _select(frame, metrics)
                    if not frame.is_empty():
                        frames.append(frame.with_columns(pl.lit(order).alias("_order")))
                        order += 1
                        day_frames += 1
            absorbed_by_day[day] = frozenset(absorbed)
            overlapping |= day_frames > 1
        batch_frames = 0
        for path in self._batch_files():
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
                order += 1
                batch_frames += 1
        if not frames:
            return empty_samples()
        out = pl.concat(frames, how="vertical_relaxed")
        if selectors:
            # Matchers run once per distinct series; rows follow by a semi-join.
            distinct = out.select(_SERIES).unique()
            chosen = pl.concat([s.filter(distinct) for s in selectors]).unique()
            out = out.join(chosen, on=_SERIES, how="semi", maintain_order="left")
        if batch_frames or overlapping:
            # Oldest-written first, so keeping the last occurrence keeps the newest value.
            out = merge_newest_last([out.sort("_order", maintain_order=True).drop("_order")])
        else:
            out = with_series_order(out.drop("_order")).sort(["_sid", "timestamp"])
        return out.select(SAMPLE_SCHEMA.names()).cast(SAMPLE_SCHEMA)

    def series(self) -> pl.DataFrame:
        """Every stored series: distinct (metric, labels), sorted."""

        def once() -> pl.DataFrame:
            frames = []
            for paths in self._segment_runs().values():
                for path in paths:  # a covered part only repeats series: no need to skip it
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
        for _, paths in sorted(self._segment_runs().items(), reverse=newest):
            found: list[int] = []
            for path in paths:  # footer statistics of every run of the day: no sample is read
                try:
                    with SegmentFile(path) as segment:
                        bounds = segment.time_bounds()
                    if bounds is None:
                        raise _empty_segment(path)
                except VanishedError:
                    raise
                except StoreError as exc:
                    self._problem(exc)
                    continue
                found.append(bounds[1] if newest else bounds[0])
            if found:
                candidates.append(max(found) if newest else min(found))
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
        """Every segment file (by day, the base then parts in sequence order) and batch file (in
        write order) the store would read."""
        return [*(p for _, ps in sorted(self._segment_runs().items()) for p in ps), *self._batch_files()]

    def disk_bytes(self) -> dict[str, int]:
        """Bytes of the files under ``segments/``, ``batches/`` and ``quarantine/`` (temp files
        included: they hold disk too), by folder; a folder not there counts 0. One ``stat`` per
        file, no read: cheap enough for every scrape of ``/metrics``."""
        out: dict[str, int] = {}
        for folder in ("segments", "batches", QUARANTINE_DIR):
            total = 0
            with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(self.data_dir / folder) as it:
                for entry in it:
                    with contextlib.suppress(FileNotFoundError):
                        if entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
            out[folder] = total
        return out

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

    def _segment_runs(self) -> dict[int, list[Path]]:
        """Segment files by day: the base (``<day>.parquet``) first, then parts by sequence."""
        if not self._segments.is_dir():
            return {}
        days: dict[int, list[tuple[int, Path]]] = {}
        for path in self._segments.glob("*.parquet"):
            parsed = parse_segment_name(path.name)
            if parsed is not None:
                days.setdefault(parsed[0], []).append((parsed[2], path))
            else:
                self._foreign_file(path)
        return {day: [p for _, p in sorted(found)] for day, found in days.items()}

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
    return parse_segment_name(name) is not None


def _ts_max(ts: pl.Series) -> int:
    return int(ts.max())  # type: ignore[arg-type]


def _ts_min(ts: pl.Series) -> int:
    return int(ts.min())  # type: ignore[arg-type]


def _segment_writer(merged: CodedRows, day: int, absorbed: list[str], covers: int) -> Callable[[IO[bytes]], None]:
    return lambda fh: write_coded_segment(fh, merged, day, absorbed, covers)


def _empty_segment(path: Path) -> CorruptFileError:
    day = segment_day(path.name)
    return CorruptFileError(
        f"corrupt segment {path}: it holds no samples", path=path, kind="segment",
        reason="it holds no samples", start_ms=None if day is None else day * DAY_MS,
        end_ms=None if day is None else (day + 1) * DAY_MS - 1,
    )


@dataclass(frozen=True)
class _Run:
    """One segment file of a day as compaction and reads see it: the part sequence numbers it
    covers (a base: 0 .. its ``covers``), its rows, the batches it absorbed, its time bounds."""

    path: Path
    lo: int
    hi: int
    rows: int
    absorbed: frozenset[str]
    is_base: bool
    bounds: tuple[int, int]

    @classmethod
    def of(cls, segment: SegmentFile, bounds: tuple[int, int] | None = None) -> _Run:
        """The run of an open segment; its time bounds from the footer unless given (an empty
        file is damage: ``CorruptFileError``)."""
        parsed = parse_segment_name(segment.path.name)
        assert parsed is not None, segment.path
        _, lo, hi = parsed
        is_base = hi == 0
        if bounds is None:
            bounds = segment.time_bounds()
            if bounds is None:
                raise _empty_segment(segment.path)
        return cls(segment.path, lo, segment.covers if is_base else hi, segment.rows, segment.absorbed,
                   is_base, bounds)


def _run_order(run: _Run) -> tuple[bool, int]:
    """Oldest first: the base, then parts by the newest sequence number they hold."""
    return (not run.is_base, run.hi)


def _uncovered(runs: list[_Run]) -> list[_Run]:
    """The runs no other run covers (a merge's output covers its inputs' sequence numbers)."""
    return [
        r for r in runs
        if not any(o is not r and o.lo <= r.lo and r.hi <= o.hi and (o.lo, o.hi) != (r.lo, r.hi) for o in runs)
    ]


@dataclass
class _Cycle:
    """Counters of one ``compact`` (see ``CompactionStats``)."""

    batches: int = 0
    written: int = 0
    samples: int = 0
    bytes: int = 0
    rows_read: int = 0
    runs_merged: int = 0


def plan_merge(sizes: Sequence[int], policy: CompactionPolicy, *, closed: bool) -> int | None:
    """Which newest runs of a day to merge: the index of the oldest one (all from it on), or None.

    ``sizes`` are the day's runs' rows, oldest first (the newest may be rows about to be
    written). A closed day (not the newest sample's day) is merged whole into one base when it
    holds at most ``max_merge_rows``. An open day merges a tail of similar runs: walking back
    from the newest, a run joins while it is at most twice the largest newer one (or the whole
    tail stays under ``small_run_rows``) and the tail stays under ``max_merge_rows``; the tail is
    merged when it has ``merge_fanout`` runs, or at least two that together are small. So each
    row is rewritten about log_fanout(largest run / rows per cycle) times, a cycle reads at most
    ``max_merge_rows`` of older runs, and a day holds a few runs per level.
    """
    n = len(sizes)
    if n < 2:
        return None
    if closed and sum(sizes) <= policy.max_merge_rows:
        return 0
    total = largest = sizes[-1]
    start = n - 1
    while start > 0:
        size = sizes[start - 1]
        if total + size > policy.max_merge_rows:
            break
        if size > 2 * largest and total + size > policy.small_run_rows:
            break
        total += size
        largest = max(largest, size)
        start -= 1
    count = n - start
    if count >= policy.merge_fanout or (count >= 2 and total <= policy.small_run_rows):
        return start
    return None


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
