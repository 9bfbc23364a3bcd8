"""Samples coded by series, the form compaction merges and writes them in.

A sample frame carries its series as two strings per row (``metric``, ``labels``: ~100 bytes or
more), while a compaction only needs to know which rows belong to the same series. So compaction
works on ``CodedRows``: a small table of the distinct series and, per row, a 4-byte series id,
the timestamp and the value (20 bytes a row). Segments are read with their dictionary pages kept
as dictionaries (no string is materialised per row) and written from dictionary arrays, so a
merge of N rows costs about 100 bytes a row at its peak (the rows, their sort and the write),
not the ~650 of the string frames; the strings exist once per series.

``SeriesCoder`` gives the pending batches of one compaction chunk one shared series table, so
many batches of the same series do not each carry their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Final

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redline.store.segments import DAY_MS, SEGMENT_SCHEMA, SLICE_MS, SegmentFile, encode_values, segment_metadata

__all__ = ["ROWS_SCHEMA", "CodedRows", "SeriesCoder", "merge_coded", "read_coded", "write_coded_segment"]

_SERIES: Final = ["metric", "labels"]
_ID: Final = "_sid"
ROWS_SCHEMA: Final = pl.Schema({_ID: pl.UInt32, "timestamp": pl.Int64, "value": pl.Float64})
_TIME_BITS: Final = 27  # a time offset within one day (86,400,000 ms) fits in 27 bits


@dataclass(frozen=True, eq=False)
class CodedRows:
    """Samples as ``rows`` (``_sid``, ``timestamp``, ``value``) whose ``_sid`` indexes ``series``
    (``metric``, ``labels``, ``_sid``: each id once). Inputs of one merge may share one table."""

    series: pl.DataFrame
    rows: pl.DataFrame

    @property
    def height(self) -> int:
        return self.rows.height


@dataclass
class _Dictionaries:
    """A batch's two dictionaries and the global ids of the (metric, labels) index pairs seen with
    them: ``keys`` (metric index × width + labels index, sorted) and ``ids`` beside them."""

    metric: pa.Array
    labels: pa.Array
    keys: np.ndarray
    ids: np.ndarray


class SeriesCoder:
    """Codes Arrow sample tables (``metric``/``labels`` as dictionaries) against one growing set of
    series (ids in first-seen order), so the batches of a chunk share one series table.

    Scrapes of one target write the same dictionaries batch after batch, so the pairs of
    dictionary indices already seen with byte-equal dictionaries map to ids without touching a
    string; only a series new to those dictionaries is looked up by its strings."""

    _MAX_DICTIONARIES: Final = 1024

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}
        self._metric: list[str] = []
        self._labels: list[str] = []
        self._dictionaries: dict[tuple[int, int, str, str], list[_Dictionaries]] = {}

    @property
    def series(self) -> pl.DataFrame:
        """Every series coded so far: ``metric``, ``labels``, ``_sid`` (its id, the row number)."""
        return pl.DataFrame(
            {
                "metric": pl.Series(self._metric, dtype=pl.String),
                "labels": pl.Series(self._labels, dtype=pl.String),
                _ID: pl.Series(np.arange(len(self._metric)), dtype=pl.UInt32),
            }
        )

    def code(self, table: pa.Table) -> pl.DataFrame:
        """A batch's rows (``read_batch_dictionary``) as ``ROWS_SCHEMA``, its new series added."""
        metric_dict, labels_dict, key, keys = _pair_keys(table)
        width = max(1, len(labels_dict))
        known = self._known(metric_dict, labels_dict)
        at = np.searchsorted(known.keys, keys)
        found = at < len(known.keys)
        found[found] = known.keys[at[found]] == keys[found]
        missing = keys[~found]
        if len(missing):
            metrics = metric_dict.take(pa.array(missing // width)).to_pylist()
            labels = labels_dict.take(pa.array(missing % width)).to_pylist()
            pairs = zip(metrics, labels, strict=True)
            ids = np.fromiter((self._id(m, lab) for m, lab in pairs), np.uint32, len(missing))
            merged = np.concatenate([known.keys, missing])
            order = np.argsort(merged, kind="stable")
            known.keys, known.ids = merged[order], np.concatenate([known.ids, ids])[order]
        sid = known.ids[np.searchsorted(known.keys, key)] if len(key) else np.array([], np.uint32)
        return pl.DataFrame(
            {_ID: sid, "timestamp": table.column("timestamp").to_numpy(), "value": table.column("value").to_numpy()},
            schema=ROWS_SCHEMA,
        )

    def _id(self, metric: str, labels: str) -> int:
        found = self._ids.get((metric, labels))
        if found is None:
            found = self._ids[(metric, labels)] = len(self._metric)
            self._metric.append(metric)
            self._labels.append(labels)
        return found

    def _known(self, metric: pa.Array, labels: pa.Array) -> _Dictionaries:
        """The entry of byte-equal dictionaries seen before, or a new empty one."""
        tag = (
            len(metric),
            len(labels),
            labels[0].as_py() if len(labels) else "",
            labels[-1].as_py() if len(labels) else "",
        )
        candidates = self._dictionaries.setdefault(tag, [])
        for entry in candidates:
            if entry.labels.equals(labels) and entry.metric.equals(metric):
                return entry
        if sum(len(c) for c in self._dictionaries.values()) >= self._MAX_DICTIONARIES:
            self._dictionaries = {tag: candidates}  # churn: start over (ids are kept in _ids)
            candidates.clear()
        entry = _Dictionaries(metric, labels, np.array([], np.int64), np.array([], np.uint32))
        candidates.append(entry)
        return entry


def read_coded(segment: SegmentFile) -> CodedRows:
    """A whole segment as ``CodedRows``: its dictionary pages stay dictionaries, so a string is
    touched once per distinct series, not once per row. Errors as ``SegmentFile.read``."""
    table = segment.read_dictionary_table()
    series, sid = _series_of(table)
    values = pl.from_arrow(table.select(["value_int", "value_float"]))
    assert isinstance(values, pl.DataFrame)
    rows = pl.DataFrame(
        {
            _ID: sid,
            "timestamp": table.column("timestamp").to_numpy(),
            "value": values.select(
                pl.coalesce(pl.col("value_int").cast(pl.Float64), pl.col("value_float"))
            ).to_series(),
        },
        schema=ROWS_SCHEMA,
    )
    return CodedRows(series, rows)


def _series_of(table: pa.Table) -> tuple[pl.DataFrame, np.ndarray]:
    """The distinct series of a table whose ``metric``/``labels`` are dictionary columns (``metric``,
    ``labels``, ``_sid`` = 0..n-1 by key) and each row's ``_sid``; strings once per series."""
    metric_dict, labels_dict, key, keys = _pair_keys(table)
    width = max(1, len(labels_dict))
    series = pl.DataFrame(
        {
            "metric": pl.Series(metric_dict.take(pa.array(keys // width)).to_pylist(), dtype=pl.String),
            "labels": pl.Series(labels_dict.take(pa.array(keys % width)).to_pylist(), dtype=pl.String),
            _ID: pl.Series(np.arange(len(keys)), dtype=pl.UInt32),
        }
    )
    return series, np.searchsorted(keys, key).astype(np.uint32)


def _pair_keys(table: pa.Table) -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray]:
    """(metric dictionary, labels dictionary, each row's pair key, the distinct keys sorted) of a
    table whose ``metric``/``labels`` are dictionary columns; a key is metric index × the labels
    dictionary's length + labels index."""
    pair = table.select(["metric", "labels"]).unify_dictionaries()
    metric_dict, metric_idx = _dictionary(pair.column("metric"))
    labels_dict, labels_idx = _dictionary(pair.column("labels"))
    key = metric_idx * max(1, len(labels_dict)) + labels_idx
    keys = np.sort(pl.Series(key).unique().to_numpy()) if len(key) else np.array([], np.int64)
    return metric_dict, labels_dict, key, keys


def _dictionary(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """(dictionary, per-row indices) of a dictionary column whose chunks share one dictionary."""
    if column.num_chunks == 0:
        return pa.array([], pa.string()), np.array([], np.int64)
    dictionary = column.chunk(0).dictionary
    indices = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in column.chunks])
    return dictionary.cast(pa.string()), indices.astype(np.int64, copy=False)


def merge_coded(inputs: list[CodedRows], day: int) -> CodedRows:
    """One day's inputs, oldest-written first, merged: each (series, timestamp) once with its newest
    value, in segment order (time slice, then series by (metric, labels), then time).

    ``inputs`` is emptied as it is read, so each input's memory goes as soon as it is copied."""
    tables = {id(c.series): c.series for c in inputs}
    merged_series = pl.concat([t.select(_SERIES) for t in tables.values()]).unique().sort(_SERIES).with_row_index(_ID)
    maps: dict[int, np.ndarray] = {}
    for table_id, table in tables.items():
        joined = table.join(merged_series.rename({_ID: "_new"}), on=_SERIES, how="left")
        mapping = np.zeros(int(table.get_column(_ID).max() or 0) + 1, dtype=np.uint32)  # type: ignore[arg-type]
        mapping[joined.get_column(_ID).to_numpy()] = joined.get_column("_new").to_numpy()
        maps[table_id] = mapping
    # Plain arrays filled input by input (each input's memory goes once copied), one stable
    # argsort of one int64 key, one gather: about 52 bytes a row at the peak.
    total = sum(c.height for c in inputs)
    sid = np.empty(total, np.uint32)
    ts = np.empty(total, np.int64)
    values = np.empty(total, np.float64)
    at = 0
    while inputs:
        c = inputs.pop(0)
        n = c.height
        sid[at : at + n] = maps[id(c.series)][c.rows.get_column(_ID).to_numpy()]
        ts[at : at + n] = c.rows.get_column("timestamp").to_numpy()
        values[at : at + n] = c.rows.get_column("value").to_numpy()
        at += n
        del c
    offset = ts - day * DAY_MS
    key = offset // SLICE_MS
    key *= max(1, merged_series.height)
    key += sid
    key *= 2**_TIME_BITS
    key += offset
    del offset
    order = np.argsort(key, kind="stable")  # equal keys stay in write order: the last is the newest
    key = key[order]
    last = np.ones(total, dtype=bool)
    if total:
        np.not_equal(key[:-1], key[1:], out=last[:-1])
    del key
    order = order[last]
    del last
    rows = pl.DataFrame({_ID: sid[order], "timestamp": ts[order], "value": values[order]}, schema=ROWS_SCHEMA)
    return CodedRows(merged_series, rows)


def write_coded_segment(fh: IO[bytes], merged: CodedRows, day: int, absorbed: list[str], covers: int = 0) -> None:
    """Write ``merge_coded``'s output for ``day`` as one segment (the layout of
    ``store.segments``): a row group per time slice, ``metric`` and ``labels`` from dictionary
    arrays holding, per row group, the strings it uses (as a writer fed strings builds them);
    ``covers``: for a day's base, the newest part sequence number merged into it."""
    rows = merged.rows
    if rows.is_empty():
        raise ValueError("a segment needs at least one sample")
    series = merged.series
    metric_dict, metric_of = _column_codes(series, "metric")
    labels_dict, labels_of = _column_codes(series, "labels")
    sid = rows.get_column(_ID).to_numpy()
    ts = rows.get_column("timestamp").to_numpy()
    slices = (ts - day * DAY_MS) // SLICE_MS
    bounds = np.flatnonzero(np.diff(slices)) + 1
    starts = [0, *bounds.tolist()]
    ends = [*bounds.tolist(), len(ts)]
    values = rows.get_column("value").to_numpy()
    dict_schema = pa.schema(
        [
            pa.field("metric", pa.dictionary(pa.int32(), pa.string())),
            pa.field("labels", pa.dictionary(pa.int32(), pa.string())),
            *(SEGMENT_SCHEMA.field(name) for name in ("timestamp", "value_int", "value_float")),
        ]
    )
    with pq.ParquetWriter(
        fh,
        dict_schema,
        compression="zstd",
        compression_level=9,
        use_dictionary=["metric", "labels"],
        column_encoding={
            "timestamp": "DELTA_BINARY_PACKED",
            "value_int": "DELTA_BINARY_PACKED",
            "value_float": "BYTE_STREAM_SPLIT",
        },
        # Readers skip row groups by timestamp statistics; min/max label strings would only
        # cost bytes (more than the page checksums add).
        write_statistics=["timestamp", "value_int", "value_float"],
        write_page_checksum=True,
        # No ARROW:schema: readers get the columns as plain strings, as from segments written
        # before (the dictionary is how the file is encoded, not what a reader wants back).
        store_schema=False,
    ) as writer:
        for lo, hi in zip(starts, ends, strict=True):
            if hi <= lo:
                continue
            ids = sid[lo:hi]
            value_int, value_float = encode_values(values[lo:hi])  # per row group: transient
            table = pa.table(
                {
                    "metric": _used_only(metric_of[ids], metric_dict),
                    "labels": _used_only(labels_of[ids], labels_dict),
                    "timestamp": pa.array(ts[lo:hi], pa.int64()),
                    "value_int": value_int,
                    "value_float": value_float,
                },
                schema=dict_schema,
            )
            writer.write_table(table, row_group_size=hi - lo)
        writer.add_key_value_metadata(segment_metadata(absorbed, covers))


def _column_codes(series: pl.DataFrame, column: str) -> tuple[pa.Array, np.ndarray]:
    """The sorted distinct strings of one series column, and each series id's index among them."""
    values = series.get_column(column)
    distinct = values.unique().sort()
    index = pl.DataFrame({column: distinct}).with_row_index("_code")
    codes = series.select(_ID, column).join(index, on=column, how="left")
    out = np.zeros(int(series.height), dtype=np.int32)
    out[codes.get_column(_ID).to_numpy()] = codes.get_column("_code").to_numpy()
    return distinct.to_arrow().cast(pa.string()), out


def _used_only(codes: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    """A dictionary array of ``codes`` whose dictionary keeps only the entries they use, in order."""
    used = np.flatnonzero(np.bincount(codes, minlength=len(dictionary)))
    remap = np.zeros(len(dictionary), dtype=np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(remap[codes], pa.int32()), dictionary.take(pa.array(used)))
