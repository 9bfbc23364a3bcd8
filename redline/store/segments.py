"""File formats of the embedded store: atomic writes, batch files and Parquet segments.

A batch file is the sample frame as written by ``append`` (Parquet, ``SAMPLE_SCHEMA``) followed
by a 36-byte trailer (``BATCH_TRAILER``): the smallest and largest timestamp, the Parquet
payload's length and CRC32, the CRC32 of those fields, and the magic ``RLB1`` as the last four
bytes. A reader checks length and checksum before it parses anything, so a truncated or
bit-flipped batch is found, with the time range it covered whenever the trailer survived.
A file ending ``PAR1`` instead is a batch written before the trailer existed: it is read as
plain Parquet (Parquet's own footer check is all it has).

Every check that fails on content (not on I/O) raises ``CorruptFileError``: the store moves
such a file to quarantine. An ``OSError`` that carries an errno (EIO, EACCES, EMFILE) is an I/O
failure, not proof of damage: it stays a plain ``StoreError`` and the file stays where it is.

A segment holds samples of one UTC day: the day's base ``<day>.parquet`` or a part
``<day>.<lo>-<hi>.parquet`` holding the compaction runs numbered lo..hi (``redline.covers`` in a
base's metadata: the newest run number merged into it). Its columns are ``metric`` and ``labels`` (dictionary-encoded),
``timestamp`` (``DELTA_BINARY_PACKED``) and the value split in two nullable columns:
``value_int`` (``DELTA_BINARY_PACKED``) holds every value that is an integer of magnitude at
most 2**53 (exactly representable, so the round trip is exact), ``value_float``
(``BYTE_STREAM_SPLIT``) holds the rest bit for bit (NaN payloads such as Prometheus's stale
marker, ±Inf, -0.0). Rows are sorted by time slice (``SLICE_MS``), then series, then timestamp,
one row group per slice, so a read of the last hour decodes one row group of one file, while
each series is still a long run inside a row group for the delta encodings and zstd.
Compaction writes segments from dictionary arrays (``store.coded.write_coded_segment``) without
an ``ARROW:schema`` entry, so ``metric``/``labels`` read back as plain strings, as from segments
written before.

Segments are written with Parquet page checksums (CRC32 per page, ``redline.format`` 2) and read
with their verification on: a flipped byte in a page that a read decodes is an error, not a
wrong value. Segments of format 1 (before the checksums) are read as before, unverified pages.

The key-value metadata ``redline.absorbed`` lists the batch files the compaction that wrote the
segment had as input: their rows for this day are in the segment, so readers ignore those rows
if a crash left the batch behind, and the next compaction does not apply them twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redline.kernel.errors import StoreError
from redline.kernel.fields import SAMPLE_SCHEMA

DAY_MS: Final = 86_400_000
SLICE_MS: Final = 4 * 3_600_000
"""Row-group time slice: 1 h slices cost ~1.4 B/sample (a dictionary and a delta restart per
series per row group), 4 h ~0.8 B/sample, while a last-hour read still decodes 1/6 of a day."""

_ABSORBED_KEY: Final = b"redline.absorbed"
_FORMAT_KEY: Final = b"redline.format"
_COVERS_KEY: Final = b"redline.covers"
_PART_NAME: Final = re.compile(r"(\d{4}-\d{2}-\d{2})\.(\d{20})-(\d{20})\.parquet")
_EPOCH: Final = dt.date(1970, 1, 1)
_INT_LIMIT: Final = float(2**53)
SEGMENT_FORMAT: Final = b"2"
"""2: page checksums written (format 1 had none)."""

BATCH_MAGIC: Final = b"RLB1"
BATCH_TRAILER: Final = struct.Struct("<qqQII4s")
"""min timestamp, max timestamp, payload length, payload CRC32, CRC32 of the 28 bytes before it, magic."""
_PARQUET_MAGIC: Final = b"PAR1"

SEGMENT_SCHEMA: Final = pa.schema(
    [
        ("metric", pa.string()),
        ("labels", pa.string()),
        ("timestamp", pa.int64()),
        ("value_int", pa.int64()),
        ("value_float", pa.float64()),
    ]
)
_KEY: Final = ["metric", "labels", "timestamp"]
_SERIES: Final = ["metric", "labels"]


class VanishedError(Exception):
    """A listed file was removed before it could be opened (a compaction or retention ran)."""


FileKind = Literal["batch", "segment"]


class CorruptFileError(StoreError):
    """A store file whose content failed a check (length, checksum, Parquet structure).

    ``start_ms``/``end_ms`` bound the samples it held when known (trailer, footer statistics or
    the day in its name), ``identity`` is the (device, inode) that was read, so the file is not
    confused with one that replaced it at the same path meanwhile.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path,
        kind: FileKind,
        reason: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        identity: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.kind: FileKind = kind
        self.reason = reason
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.identity = identity


def is_content_error(exc: BaseException) -> bool:
    """True for a parse or checksum failure, False for an I/O failure (an OSError with an errno).

    pyarrow reports a bad page checksum or undecodable thrift as ``OSError`` without an errno."""
    if isinstance(exc, pa.ArrowException | ValueError):
        return True
    return isinstance(exc, OSError) and exc.errno is None


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of ``path``, None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def day_of(timestamp_ms: int) -> int:
    """The UTC day number (days since 1970-01-01) holding a timestamp."""
    return timestamp_ms // DAY_MS


def day_name(day: int) -> str:
    """The segment file stem of a day: ``2024-03-01``."""
    return (_EPOCH + dt.timedelta(days=day)).isoformat()


def part_name(day: int, lo: int, hi: int) -> str:
    """The file name of a part of ``day`` holding the parts with sequence numbers lo..hi."""
    return f"{day_name(day)}.{lo:020d}-{hi:020d}.parquet"


def parse_segment_name(name: str) -> tuple[int, int, int] | None:
    """(day, lo, hi) of a segment file name: a part ``<day>.<lo>-<hi>.parquet`` covers the part
    sequence numbers lo..hi; a day's base ``<day>.parquet`` gives (day, 0, 0) (the range it
    covers is in its metadata, ``SegmentFile.covers``). None when the name is not one of ours."""
    if name.endswith(".parquet") and name.count(".") == 1:
        day = parse_day_name(name.removesuffix(".parquet"))
        return None if day is None else (day, 0, 0)
    match = _PART_NAME.fullmatch(name)
    if match is None:
        return None
    day = parse_day_name(match.group(1))
    lo, hi = int(match.group(2)), int(match.group(3))
    return None if day is None or not 0 < lo <= hi else (day, lo, hi)


def segment_day(name: str) -> int | None:
    """The UTC day of a segment file name (a base or a part), None when it is not one of ours."""
    parsed = parse_segment_name(name)
    return None if parsed is None else parsed[0]


def parse_day_name(stem: str) -> int | None:
    """The day number of a segment file stem, or None when the name is not one of ours."""
    try:
        return (dt.date.fromisoformat(stem) - _EPOCH).days
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Atomic writes


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> int:
    """Write ``path`` through a temp file in the same directory: write, flush, fsync, rename,
    fsync the directory. Returns the size in bytes.

    On any failure the temp file is removed, an existing file at ``path`` is left as it was,
    and ``StoreError`` names the file and the cause.
    """
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    renamed = False
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        size = tmp.stat().st_size
        os.replace(tmp, path)
        renamed = True
        fsync_dir(path.parent)
        return size
    except (OSError, pa.ArrowException) as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        where = f"{path} (renamed, but the directory could not be synced)" if renamed else str(path)
        raise StoreError(f"could not write {where}: {exc}") from exc


def temp_owner_pid(name: str) -> int | None:
    """The pid in a temp file name written by ``write_atomically``, or None."""
    _, sep, pid = name.rpartition(".tmp-")
    return int(pid) if sep and pid.isdigit() else None


# ---------------------------------------------------------------------------------------------
# Batches


def write_batch(fh: IO[bytes], samples: pl.DataFrame) -> None:
    """Write a validated, non-empty sample frame as a batch file: Parquet, then its trailer."""
    sink = pa.BufferOutputStream()
    pq.write_table(samples.to_arrow(), sink, compression="zstd")
    payload = sink.getvalue().to_pybytes()
    ts = samples.get_column("timestamp")
    fields = struct.pack("<qqQI", int(ts.min()), int(ts.max()), len(payload), zlib.crc32(payload))  # type: ignore[arg-type]
    fh.write(payload)
    fh.write(fields + struct.pack("<I4s", zlib.crc32(fields), BATCH_MAGIC))


def _batch_trailer(path: Path, tail: bytes, size: int) -> tuple[int, int, int, int] | None:
    """(min ts, max ts, payload length, payload CRC) from a batch's last bytes; None for a file
    without a trailer that ends like Parquet (written before trailers); ``CorruptFileError``
    when neither fits."""
    if tail.endswith(BATCH_MAGIC) and len(tail) >= BATCH_TRAILER.size:
        lo, hi, length, crc, fields_crc, _ = BATCH_TRAILER.unpack(tail[-BATCH_TRAILER.size :])
        if zlib.crc32(tail[-BATCH_TRAILER.size : -8]) != fields_crc:
            raise _corrupt_batch(path, "its trailer fails its checksum")
        if length != size - BATCH_TRAILER.size:
            raise _corrupt_batch(
                path, f"it holds {size - BATCH_TRAILER.size} bytes where its trailer says {length}", lo, hi
            )
        return lo, hi, length, crc
    if tail.endswith(_PARQUET_MAGIC):
        return None
    what = "it is empty" if size == 0 else "it has no checksum trailer (truncated, or not a batch file)"
    raise _corrupt_batch(path, what)


def _corrupt_batch(path: Path, reason: str, start_ms: int | None = None, end_ms: int | None = None) -> CorruptFileError:
    return CorruptFileError(
        f"corrupt batch file {path}: {reason}", path=path, kind="batch", reason=reason,
        start_ms=start_ms, end_ms=end_ms, identity=file_identity(path),
    )


def read_batch(path: Path) -> pl.DataFrame:
    """A batch file as a sample frame, its length and checksum verified; ``VanishedError`` if gone,
    ``CorruptFileError`` if damaged, ``StoreError`` if it cannot be read (I/O)."""
    table, bounds = _batch_table(path, dictionary=False)
    try:
        frame = pl.from_arrow(table)
    except (pa.ArrowException, ValueError, pl.exceptions.PolarsError) as exc:
        raise _corrupt_batch(path, f"not readable as Parquet: {exc}", *bounds) from exc
    if not isinstance(frame, pl.DataFrame) or dict(frame.schema) != dict(SAMPLE_SCHEMA):
        raise _corrupt_batch(path, f"it does not hold the sample schema: {table.schema}", *bounds)
    return frame.select(SAMPLE_SCHEMA.names())


_BATCH_DICTIONARY_SCHEMA: Final = pa.schema(
    [
        ("metric", pa.dictionary(pa.int32(), pa.string())),
        ("labels", pa.dictionary(pa.int32(), pa.string())),
        ("timestamp", pa.int64()),
        ("value", pa.float64()),
    ]
)


def read_batch_dictionary(path: Path) -> pa.Table:
    """A batch file as an Arrow table whose ``metric`` and ``labels`` are dictionary columns (no
    string per row: compaction codes them by series, ``store.coded``); verified and failing as
    ``read_batch``."""
    table, bounds = _batch_table(path, dictionary=True)
    try:
        table = table.select(_BATCH_DICTIONARY_SCHEMA.names).cast(_BATCH_DICTIONARY_SCHEMA)
    except (KeyError, pa.ArrowException, ValueError) as exc:
        raise _corrupt_batch(path, f"it does not hold the sample schema: {table.schema}", *bounds) from exc
    return table


def _batch_table(path: Path, *, dictionary: bool) -> tuple[pa.Table, tuple[int | None, int | None]]:
    """A batch's Parquet payload read as Arrow after its length and checksum are verified, and
    the time range its trailer gives (``None``s without one)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise VanishedError(str(path)) from exc
    except OSError as exc:
        raise StoreError(f"unreadable batch file {path}: {exc}", path=path) from exc
    trailer = _batch_trailer(path, data[-BATCH_TRAILER.size :], len(data))
    bounds: tuple[int | None, int | None] = (None, None)
    payload: bytes | memoryview = data
    if trailer is not None:
        lo, hi, length, crc = trailer
        bounds = (lo, hi)
        payload = memoryview(data)[:length]
        if zlib.crc32(payload) != crc:
            raise _corrupt_batch(path, "its content fails its checksum (bytes changed on disk)", lo, hi)
    try:
        return pq.read_table(pa.BufferReader(payload), read_dictionary=_SERIES if dictionary else None), bounds
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _corrupt_batch(path, f"not readable as Parquet: {exc}", *bounds) from exc


def batch_time_bounds(path: Path) -> tuple[int, int] | None:
    """(min, max) timestamp of a batch file from its trailer (a batch written before trailers:
    from its Parquet footer statistics); None when empty."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - BATCH_TRAILER.size))
            tail = fh.read()
    except FileNotFoundError as exc:
        raise VanishedError(str(path)) from exc
    except OSError as exc:
        raise StoreError(f"unreadable batch file {path}: {exc}", path=path) from exc
    trailer = _batch_trailer(path, tail, size)
    if trailer is not None:
        return trailer[0], trailer[1]
    try:
        return file_time_bounds(path, "batch file", lambda p: read_batch(p).get_column("timestamp"))
    except StoreError as exc:
        if exc.__cause__ is not None and is_content_error(exc.__cause__):
            raise _corrupt_batch(path, f"not readable as Parquet: {exc.__cause__}") from exc
        raise


# ---------------------------------------------------------------------------------------------
# Segments


def encode_values(values: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Split float64 values into (integers exactly representable, everything else bit for bit)."""
    with np.errstate(invalid="ignore"):
        is_int = (
            np.isfinite(values)
            & (np.abs(values) <= _INT_LIMIT)
            & (np.trunc(values) == values)
            & ~((values == 0) & np.signbit(values))
        )
    ints = np.where(is_int, values, 0.0).astype(np.int64)
    return pa.array(ints, mask=~is_int), pa.array(values, type=pa.float64(), mask=is_int)


def with_series_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``_sid``, the rank of (metric, labels) among the frame's distinct series, so that
    sorting and deduplicating work on integers rather than on millions of strings."""
    keys = frame.select(_SERIES).unique().sort(_SERIES).with_row_index("_sid")
    return frame.join(keys, on=_SERIES, how="left", maintain_order="left")


def merge_newest_last(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate sample frames given oldest-written first; keep the newest value of each
    (metric, labels, timestamp); sorted by series then timestamp; with ``_sid``."""
    merged = with_series_order(pl.concat(frames, how="vertical_relaxed"))
    # A stable sort keeps equal keys in write order; the last of each run is the newest.
    ordered = merged.sort(["_sid", "timestamp"], maintain_order=True)
    sid, ts = pl.col("_sid"), pl.col("timestamp")
    last_of_run = (sid != sid.shift(-1)) | (ts != ts.shift(-1))
    return ordered.filter(last_of_run.fill_null(True))


def segment_metadata(absorbed: list[str], covers: int = 0) -> dict[bytes, bytes]:
    """The key-value metadata of a segment: the batches it absorbed, its format, and for a day's
    base the newest part sequence number merged into it (``covers``)."""
    return {
        _ABSORBED_KEY: json.dumps(sorted(absorbed)).encode(),
        _FORMAT_KEY: SEGMENT_FORMAT,
        **({_COVERS_KEY: str(covers).encode()} if covers else {}),
    }


class SegmentFile:
    """One open segment file (a day's base or a part): its footer is read once on open and its
    data later from the same handle, so a file replaced at its path meanwhile is read whole, old
    or new, and what its metadata says (absorbed batches, covered parts) belongs to that data.

    ``VanishedError`` if gone, ``StoreError`` on I/O, ``CorruptFileError`` (with the day of its
    name as range) when the footer is unreadable. Use as a context manager.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        day = segment_day(path.name)
        self._day_range: tuple[int | None, int | None] = (
            (None, None) if day is None else (day * DAY_MS, (day + 1) * DAY_MS - 1)
        )
        self.identity: tuple[int, int] | None = None
        try:
            self._fh = open(path, "rb")  # noqa: SIM115 -- closed by close()
        except FileNotFoundError as exc:
            raise VanishedError(str(path)) from exc
        except OSError as exc:
            raise StoreError(f"unreadable segment {path}: {exc}", path=path) from exc
        try:
            st = os.fstat(self._fh.fileno())
            self.identity = (st.st_dev, st.st_ino)
            self._pf = pq.ParquetFile(self._fh, page_checksum_verification=True)
            meta = self._pf.metadata
            kv = meta.metadata or {}
            self.absorbed: frozenset[str] = frozenset(json.loads(kv.get(_ABSORBED_KEY, b"[]")))
            """Batch files whose rows for this day are in this file."""
            self.covers = int(kv.get(_COVERS_KEY, b"0"))
            """For a day's base: the newest part sequence number merged into it (0: none)."""
            self.rows: int = meta.num_rows
            ts_index = self._pf.schema_arrow.get_field_index("timestamp")
            self._groups: list[tuple[int, int | None, int | None]] = []
            for i in range(meta.num_row_groups):
                stats = meta.row_group(i).column(ts_index).statistics if ts_index >= 0 else None
                if stats is not None and stats.has_min_max:
                    self._groups.append((i, int(stats.min), int(stats.max)))
                else:
                    self._groups.append((i, None, None))
        except (OSError, pa.ArrowException, ValueError, KeyError, TypeError) as exc:
            self._fh.close()
            raise self._failure(exc, self._day_range) from exc

    def __enter__(self) -> SegmentFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._fh.close()

    def _failure(self, exc: BaseException, covered: tuple[int | None, int | None]) -> StoreError:
        if isinstance(exc, OSError) and not is_content_error(exc):
            return StoreError(f"unreadable segment {self.path}: {exc}", path=self.path)
        reason = "it is empty (0 bytes)" if "size is 0 bytes" in str(exc) else f"{type(exc).__name__}: {exc}"
        return CorruptFileError(
            f"corrupt segment {self.path}: {reason}", path=self.path, kind="segment", reason=reason,
            start_ms=covered[0], end_ms=covered[1], identity=self.identity,
        )

    def footer_bounds(self) -> tuple[int, int] | Literal[False] | None:
        """(min, max) timestamp from the footer statistics; None when it holds no rows, False
        when a row group has no statistics (then read the column)."""
        if any(lo is None for _, lo, _ in self._groups):
            return False
        lows = [lo for _, lo, _ in self._groups if lo is not None]
        highs = [hi for _, _, hi in self._groups if hi is not None]
        return (min(lows), max(highs)) if lows else None

    def time_bounds(self) -> tuple[int, int] | None:
        """(min, max) timestamp, from the footer when it has statistics; None when empty."""
        bounds = self.footer_bounds()
        if bounds is not False:
            return bounds
        ts = self.read(columns=["timestamp"]).get_column("timestamp")
        return None if ts.is_empty() else (int(ts.min()), int(ts.max()))  # type: ignore[arg-type]

    def read_dictionary_table(self) -> pa.Table:
        """Every row, ``metric`` and ``labels`` as dictionary columns (no string per row), page
        checksums verified; for compaction (``store.coded.read_coded``)."""
        try:
            self._fh.seek(0)
            pf = pq.ParquetFile(self._fh, read_dictionary=_SERIES, page_checksum_verification=True)
            return pf.read(columns=SEGMENT_SCHEMA.names)
        except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
            bounds = self.footer_bounds()
            raise self._failure(exc, bounds if bounds else self._day_range) from exc

    def read(
        self, start_ms: int | None = None, end_ms: int | None = None, columns: list[str] | None = None
    ) -> pl.DataFrame:
        """The samples within [start_ms, end_ms] (row groups outside are not decoded), page
        checksums verified; see ``read_segment``."""
        groups: list[int] = []
        lows: list[int] = []
        highs: list[int] = []
        for i, lo, hi in self._groups:
            if lo is not None and hi is not None:
                if (end_ms is not None and lo > end_ms) or (start_ms is not None and hi < start_ms):
                    continue
                lows.append(lo)
                highs.append(hi)
            groups.append(i)
        covered = (min(lows), max(highs)) if lows and len(lows) == len(groups) else self._day_range
        wanted = columns or SEGMENT_SCHEMA.names
        try:
            table = self._pf.read_row_groups(groups, columns=wanted) if groups else SEGMENT_SCHEMA.empty_table()
            frame = pl.from_arrow(table.select(wanted))
        except (OSError, pa.ArrowException, ValueError, KeyError, pl.exceptions.PolarsError) as exc:
            raise self._failure(exc, covered) from exc
        assert isinstance(frame, pl.DataFrame)
        if start_ms is not None:
            frame = frame.filter(pl.col("timestamp") >= start_ms)
        if end_ms is not None:
            frame = frame.filter(pl.col("timestamp") <= end_ms)
        if columns is None:
            frame = frame.select(
                "metric",
                "labels",
                "timestamp",
                pl.coalesce(pl.col("value_int").cast(pl.Float64), pl.col("value_float")).alias("value"),
            )
        return frame


def read_segment(
    path: Path, start_ms: int | None = None, end_ms: int | None = None, columns: list[str] | None = None
) -> tuple[pl.DataFrame, frozenset[str]]:
    """The samples of a segment within [start_ms, end_ms] (row groups outside are not decoded),
    and the batch names it absorbed. Metadata and data come from one open file, so a segment
    replaced meanwhile is read whole, old or new. Page checksums of the pages read are verified.

    ``columns`` limited to ``metric``/``labels``/``timestamp`` skips the value decoding.
    ``CorruptFileError`` (with the time range of the row groups it was reading, or of its day
    when even the footer is unreadable) when the content fails a check.
    """
    with SegmentFile(path) as segment:
        return segment.read(start_ms, end_ms, columns), segment.absorbed


def segment_time_bounds(path: Path) -> tuple[int, int] | None:
    """(min, max) timestamp of a segment from its footer statistics, None when empty."""
    try:
        return file_time_bounds(
            path, "segment", lambda p: read_segment(p, columns=["timestamp"])[0].get_column("timestamp")
        )
    except CorruptFileError:
        raise
    except StoreError as exc:
        if exc.__cause__ is None or not is_content_error(exc.__cause__):
            raise
        day = segment_day(path.name)
        reason = f"{type(exc.__cause__).__name__}: {exc.__cause__}"
        raise CorruptFileError(
            f"corrupt segment {path}: {reason}", path=path, kind="segment", reason=reason,
            start_ms=None if day is None else day * DAY_MS,
            end_ms=None if day is None else (day + 1) * DAY_MS - 1, identity=file_identity(path),
        ) from exc


def file_time_bounds(
    path: Path, what: str, read_timestamps: Callable[[Path], pl.Series]
) -> tuple[int, int] | None:
    """(min, max) of a Parquet file's ``timestamp`` column from its footer statistics (no data
    read); a file without statistics has the column read by ``read_timestamps``."""
    try:
        meta = pq.read_metadata(path)
    except FileNotFoundError as exc:
        raise VanishedError(str(path)) from exc
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"unreadable {what} {path}: {exc}", path=path) from exc
    ts_index = meta.schema.to_arrow_schema().get_field_index("timestamp")
    lows: list[int] = []
    highs: list[int] = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(ts_index).statistics if ts_index >= 0 else None
        if stats is None or not stats.has_min_max:
            # Not written by us (or without statistics): read the column rather than guess.
            ts = read_timestamps(path)
            return None if ts.is_empty() else (int(ts.min()), int(ts.max()))  # type: ignore[arg-type]
        lows.append(stats.min)
        highs.append(stats.max)
    return (min(lows), max(highs)) if lows else None
