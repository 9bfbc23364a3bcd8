"""Rows coded by series (``store.coded``): every row keeps its own series, whatever dictionaries
its batch was written with, and a merge keeps each (series, timestamp) once, the newest value."""

from __future__ import annotations

import io

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.coded import CodedRows, SeriesCoder, merge_coded

DAY = 19_700
T0 = DAY * 86_400_000


def frame(rows: list[tuple[str, str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def as_batch(samples: pl.DataFrame) -> pa.Table:
    """The frame as compaction reads a batch file: Parquet, metric and labels as dictionaries."""
    sink = io.BytesIO()
    pq.write_table(samples.to_arrow(), sink)
    sink.seek(0)
    return pq.read_table(sink, read_dictionary=["metric", "labels"])


def decoded(coder: SeriesCoder, rows: pl.DataFrame) -> pl.DataFrame:
    return rows.join(coder.series, on="_sid", how="left").select("metric", "labels", "timestamp", "value")


def test_batches_with_equal_or_look_alike_dictionaries_keep_every_rows_series() -> None:
    coder = SeriesCoder()
    first = frame([("m", 'a="1"', T0, 1.0), ("m", 'a="2"', T0, 2.0), ("m", 'a="3"', T0, 3.0)])
    same_dictionaries_other_rows = frame([("m", 'a="3"', T0 + 1, 4.0), ("m", 'a="1"', T0 + 1, 5.0)])
    # Same length, same first and last label: only the middle differs.
    look_alike = frame([("m", 'a="1"', T0 + 2, 6.0), ("m", 'a="9"', T0 + 2, 7.0), ("m", 'a="3"', T0 + 2, 8.0)])
    other_metric = frame([("n", 'a="2"', T0 + 3, 9.0)])
    for samples in (first, same_dictionaries_other_rows, look_alike, other_metric, first):
        assert decoded(coder, coder.code(as_batch(samples))).equals(samples)
    assert coder.series.select("metric", "labels").rows() == [
        ("m", 'a="1"'),
        ("m", 'a="2"'),
        ("m", 'a="3"'),
        ("m", 'a="9"'),
        ("n", 'a="2"'),
    ]


def test_a_merge_keeps_the_newest_value_of_each_sample_in_segment_order() -> None:
    coder = SeriesCoder()
    older = coder.code(as_batch(frame([("m", 'a="2"', T0 + 5, 1.0), ("m", 'a="1"', T0 + 5, 2.0)])))
    newer = coder.code(as_batch(frame([("m", 'a="2"', T0 + 5, 3.0), ("m", 'a="1"', T0 + 9, 4.0)])))
    other = SeriesCoder()  # an input with its own series table (a segment read back)
    third = other.code(as_batch(frame([("m", 'a="0"', T0 + 1, 5.0)])))
    merged = merge_coded(
        [CodedRows(coder.series, older), CodedRows(coder.series, newer), CodedRows(other.series, third)], DAY
    )
    got = merged.rows.join(merged.series, on="_sid").select("labels", "timestamp", "value").rows()
    assert got == [('a="0"', T0 + 1, 5.0), ('a="1"', T0 + 5, 2.0), ('a="1"', T0 + 9, 4.0), ('a="2"', T0 + 5, 3.0)]
    assert merged.series.get_column("labels").to_list() == ['a="0"', 'a="1"', 'a="2"']  # sorted, ids = rows
