"""Freshness from files: the newest modification time across a glob, or the newest value of a column.

Paths are local (``data/events/*.parquet``, ``**`` crosses directories) or S3 URLs
(``s3://bucket/events/*.parquet``, listed under the prefix before the first wildcard; ``*`` and
``?`` stay within one path segment, ``**`` crosses them). An S3 object's modification time is its
``LastModified``.

The newest value of a column (``newest_in_column``):

- Parquet: each file's footer is read; where every row group of the column has min/max statistics
  (timestamp, date, integer or float columns), the maximum comes from them without reading data.
  Files without usable statistics (strings, INT96 timestamps, statistics not written) are scanned
  with a polars lazy scan of that one column. The row count comes from the footers.
- CSV: a polars lazy scan of the one column and a row count (CSV has no statistics, so the
  files are read through once).

A timestamp column may hold datetimes (naive means UTC), dates (midnight UTC), epoch numbers
(unit told apart by magnitude, as in ``freshness_values``) or strings. Strings are read in
exactly two forms: ISO 8601 (``2024-01-15T10:00:00``, fraction, ``Z`` or offset optional) and
``2024-01-15 10:00:00`` (the same with a space, as SQL databases write it); both are year-first, so
mixing them is unambiguous, and a string without an offset is UTC. Any other string makes the whole
collection fail with the column, a count and an example value: a newest value computed while
ignoring rows it cannot read could be wrong.
"""

from __future__ import annotations

import glob as globlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from redline.collectors.freshness_values import to_epoch_seconds
from redline.collectors.limits import UNLIMITED_BYTES
from redline.collectors.object_storage import S3Access, Storage, local_storage
from redline.kernel.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FileEntry", "MatchedFiles", "Newest", "check_total_size", "list_files", "newest_in_column"]

FileFormat = Literal["parquet", "csv"]
_GLOB_CHARS = re.compile(r"[*?\[]")
_STRING_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f")
_UNIT_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


@dataclass(frozen=True)
class FileEntry:
    """One matched file: its path as the filesystem knows it (``bucket/key`` on S3) and its mtime."""

    path: str
    mtime_s: float
    size: int | None = None
    """Bytes, as the listing gave them (local stat, S3 object size); None when unknown."""

    def uri(self, storage: Storage) -> str:
        """The path as polars reads it."""
        return f"s3://{self.path}" if storage.s3 else self.path


@dataclass(frozen=True)
class Newest:
    """The newest timestamp found (Unix seconds) and the total row count where the source gives one."""

    seconds: float
    rows: int | None = None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _list_s3(pattern: str, storage: Storage) -> list[FileEntry]:
    import pyarrow as pa  # here: importing a collector module (a config load) must not import pyarrow
    import pyarrow.fs as pafs

    key_pattern = pattern.removeprefix("s3://")
    try:
        first = _GLOB_CHARS.search(key_pattern)
        if first is None:
            infos = [storage.filesystem.get_file_info(key_pattern)]
        else:
            base = key_pattern[: first.start()].rpartition("/")[0]
            selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
            regex = _glob_regex(key_pattern)
            infos = [i for i in storage.filesystem.get_file_info(selector) if regex.match(i.path)]
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(f"cannot list {pattern}: {exc}") from exc
    return sorted(
        (FileEntry(i.path, (i.mtime_ns or 0) / 1e9, i.size) for i in infos if i.type == pafs.FileType.File),
        key=lambda e: e.path,
    )


def _list_local(pattern: str) -> list[FileEntry]:
    entries: list[FileEntry] = []
    paths = globlib.glob(pattern, recursive=True) if _GLOB_CHARS.search(pattern) else [pattern]
    for path in sorted(paths):
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            continue  # removed between the listing and the stat, or a plain path that does not exist
        except OSError as exc:
            raise SourceError(f"cannot stat {path}: {exc}") from exc
        if os.path.isfile(path):
            entries.append(FileEntry(os.path.abspath(path), stat.st_mtime_ns / 1e9, stat.st_size))
    return entries


def list_files(pattern: str, storage: Storage) -> list[FileEntry]:
    """The files matching ``pattern`` (a path or glob, local or ``s3://``); ``SourceError`` when none does."""
    entries = _list_s3(pattern, storage) if storage.s3 else _list_local(pattern)
    if not entries:
        what = "no file matches" if _GLOB_CHARS.search(pattern) else "file not found:"
        raise SourceError(f"{what} {pattern}")
    return entries


def check_total_size(entries: Sequence[FileEntry], max_bytes: int) -> None:
    """``SourceError`` when the matched files (local or S3 objects, by the sizes their listing
    gave) hold more than ``max_bytes`` together, before anything is read."""
    if max_bytes >= UNLIMITED_BYTES:
        return
    unknown = [e.path for e in entries if e.size is None]
    if unknown:
        raise SourceError(
            f"the size of {unknown[0]} is not known (the listing gave none): cannot keep to body_size_limit"
        )
    total = sum(e.size or 0 for e in entries)
    if total > max_bytes:
        raise SourceError(f"body_size_limit {max_bytes} exceeded: {len(entries)} file(s) hold {total} bytes")


class MatchedFiles:
    """The files a source's ``path`` names (a path or glob, local or ``s3://`` through ``s3``),
    listed on every call through one ``Storage`` made on first use, kept to ``max_bytes``
    together, and scanned lazily: CSV as strings (each collector parses and names bad values
    itself), Parquet as stored."""

    def __init__(self, path: str, s3: S3Access | None, max_bytes: int) -> None:
        self.path = path
        self._s3 = s3
        self._max_bytes = max_bytes
        self._storage: Storage | None = None

    def listed(self) -> tuple[list[FileEntry], Storage]:
        """The matching files and the storage they are read through; ``SourceError`` when none
        matches, a credential variable is unset, or together they exceed ``max_bytes``."""
        if self._storage is None:
            if self._s3 is not None:
                self._s3.check()  # a variable named in storage_options is not set: fail before reading
                self._storage = self._s3.storage()
            else:
                self._storage = local_storage()
        entries = list_files(self.path, self._storage)
        check_total_size(entries, self._max_bytes)
        return entries, self._storage

    def scan(self, uri: str, file_format: FileFormat) -> pl.LazyFrame:
        """One file, lazily (polars' own reader for any other URI scheme too)."""
        options = (self._s3.polars_options() or None) if self._s3 is not None else None
        if file_format == "parquet":
            return pl.scan_parquet(uri, storage_options=options)
        return pl.scan_csv(uri, infer_schema=False, storage_options=options, raise_if_empty=True)


# ---------------------------------------------------------------------------------------------
# The newest value of a column


def _seconds_from(raw: float, dtype: pa.DataType) -> float:
    """Unix seconds from a raw Parquet statistic of an Arrow timestamp, date or number column."""
    import pyarrow as pa

    if pa.types.is_timestamp(dtype):
        return raw / _UNIT_PER_SECOND[dtype.unit]
    if pa.types.is_date32(dtype):
        return raw * 86_400.0
    if pa.types.is_date64(dtype):
        return raw / 1_000
    return to_epoch_seconds(raw, "")


def _stats_usable(dtype: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_timestamp(dtype)
        or pa.types.is_date32(dtype)
        or pa.types.is_date64(dtype)
        or pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
    )


def _footer_newest(entry: FileEntry, storage: Storage, column: str) -> tuple[int, float | None, bool]:
    """(rows, the column's max from statistics or None, whether statistics covered every row group)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with storage.filesystem.open_input_file(entry.path) as handle:
            metadata = pq.ParquetFile(handle).metadata
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(f"cannot read the Parquet footer of {entry.path}: {exc}") from exc
    arrow_schema = metadata.schema.to_arrow_schema()
    if column not in arrow_schema.names:
        shown = ", ".join(arrow_schema.names[:20])
        raise SourceError(f"column {column!r} not found in {entry.path} (columns: {shown})")
    dtype = arrow_schema.field(column).type
    leaf = next((j for j in range(metadata.num_columns) if metadata.schema.column(j).path == column), None)
    if leaf is None or not _stats_usable(dtype) or metadata.schema.column(leaf).physical_type == "INT96":
        return metadata.num_rows, None, False
    newest: float | None = None
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        if group.num_rows == 0:
            continue
        stats = group.column(leaf).statistics
        if stats is None:
            return metadata.num_rows, None, False
        if stats.has_min_max:
            raw = stats.max_raw
            newest = raw if newest is None or raw > newest else newest
        elif not (stats.has_null_count and stats.null_count == group.num_rows):
            return metadata.num_rows, None, False
    return metadata.num_rows, (None if newest is None else _seconds_from(newest, dtype)), True


def _scan(files: Sequence[str], file_format: FileFormat, storage: Storage) -> pl.LazyFrame:
    options: dict[str, Any] = {"storage_options": dict(storage.polars_options)} if storage.polars_options else {}
    if file_format == "parquet":
        return pl.scan_parquet(list(files), **options)
    return pl.scan_csv(list(files), infer_schema_length=10_000, **options)


def _scanned_newest(lf: pl.LazyFrame, column: str, where: str) -> tuple[float | None, int]:
    """(newest Unix seconds or None when the column has no value, rows) from a lazy scan of one column."""
    schema = lf.collect_schema()
    if column not in schema:
        raise SourceError(f"column {column!r} not found in {where} (columns: {', '.join(schema.names()[:20])})")
    dtype = schema[column]
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        frame = lf.select(col.max().dt.epoch("us").alias("newest"), pl.len().alias("rows")).collect()
        newest_us = frame.item(0, "newest")
        return (None if newest_us is None else newest_us / 1e6), frame.item(0, "rows")
    if isinstance(dtype, pl.Date):
        frame = lf.select(col.max().cast(pl.Datetime("us")).dt.epoch("us").alias("n"), pl.len().alias("r")).collect()
        newest_us = frame.item(0, "n")
        return (None if newest_us is None else newest_us / 1e6), frame.item(0, "r")
    if dtype.is_numeric():
        frame = lf.select(col.max().cast(pl.Float64).alias("n"), pl.len().alias("r")).collect()
        newest = frame.item(0, "n")
        return (None if newest is None else to_epoch_seconds(newest, f"column {column!r}")), frame.item(0, "r")
    if dtype != pl.String:
        raise SourceError(f"column {column!r} is {dtype}, not a timestamp, date, epoch number or string")
    text = col.str.strip_chars().str.replace(" ", "T", literal=True)
    parsed = pl.coalesce([text.str.strptime(pl.Datetime("us", "UTC"), f, strict=False) for f in _STRING_FORMATS])
    unreadable = col.is_not_null() & parsed.is_null()
    frame = lf.select(
        parsed.max().dt.epoch("us").alias("newest"),
        pl.len().alias("rows"),
        unreadable.sum().alias("bad"),
        col.filter(unreadable).first().alias("example"),
    ).collect()
    if frame.item(0, "bad"):
        raise SourceError(
            f"column {column!r} holds {frame.item(0, 'bad')} strings that are neither ISO 8601 nor "
            f"'YYYY-MM-DD HH:MM:SS', e.g. {frame.item(0, 'example')!r}"
        )
    newest_us = frame.item(0, "newest")
    return (None if newest_us is None else newest_us / 1e6), frame.item(0, "rows")


def newest_in_column(
    entries: Sequence[FileEntry], column: str, file_format: FileFormat, storage: Storage
) -> Newest:
    """The newest value of ``column`` across the files and their total row count (see module doc).

    ``SourceError`` when the column is missing, holds no readable timestamp, or holds no value at all.
    """
    try:
        rows = 0
        newest: float | None = None
        to_scan: list[str] = []
        if file_format == "parquet":
            for entry in entries:
                file_rows, file_newest, covered = _footer_newest(entry, storage, column)
                rows += file_rows
                if not covered:
                    to_scan.append(entry.uri(storage))
                elif file_newest is not None and (newest is None or file_newest > newest):
                    newest = file_newest
            if to_scan:
                scanned, _ = _scanned_newest(_scan(to_scan, "parquet", storage), column, f"{len(to_scan)} files")
                if scanned is not None and (newest is None or scanned > newest):
                    newest = scanned
        else:
            files = [entry.uri(storage) for entry in entries]
            newest, rows = _scanned_newest(_scan(files, "csv", storage), column, f"{len(files)} files")
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"cannot read column {column!r}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    if newest is None:
        raise SourceError(f"column {column!r} has no value in {len(entries)} files ({rows} rows)")
    return Newest(newest, rows)
