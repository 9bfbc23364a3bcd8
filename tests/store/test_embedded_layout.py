from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import SampleStore

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
T0 = 1_700_006_400_000  # 2023-11-15T00:00:00Z


def samples(rows: list[tuple[str, str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def day_of_counters(day_start: int) -> pl.DataFrame:
    rows = [
        (metric, f'k="{k}"', day_start + i * 60_000, v)
        for metric in ("a", "b")
        for k in range(3)
        for i, v in enumerate([float(j * 3 + k) for j in range(1440)])
    ]
    rows += [("g", "", day_start + i * 60_000, i + 0.5) for i in range(1440)]
    return samples(rows)


def test_a_segment_uses_delta_and_byte_stream_split_encodings_and_four_hour_row_groups(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    store.append(day_of_counters(T0))
    store.compact()

    meta = pq.read_metadata(tmp_path / "segments" / "2023-11-15.parquet")
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    assert names == ["metric", "labels", "timestamp", "value_int", "value_float"]
    assert meta.num_row_groups == 6
    assert meta.num_rows == 7 * 1440
    first = meta.row_group(0)
    assert first.num_rows == 7 * 240
    assert (first.column(2).statistics.min, first.column(2).statistics.max) == (T0, T0 + 4 * HOUR_MS - 60_000)
    assert "DELTA_BINARY_PACKED" in first.column(2).encodings
    assert "DELTA_BINARY_PACKED" in first.column(3).encodings
    assert "BYTE_STREAM_SPLIT" in first.column(4).encodings
    assert {first.column(i).compression for i in range(5)} == {"ZSTD"}
    assert first.column(3).statistics.null_count == 240  # the gauge's x.5 values are floats
    assert first.column(4).statistics.null_count == 6 * 240


def test_a_read_of_the_last_hour_opens_only_the_day_that_covers_it(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    store.append(pl.concat([day_of_counters(T0), day_of_counters(T0 + DAY_MS)]))
    store.compact()
    old_day = tmp_path / "segments" / "2023-11-15.parquet"
    old_day.write_bytes(b"not parquet at all")

    newest = store.newest_timestamp_ms()
    assert newest == T0 + 2 * DAY_MS - 60_000
    got = store.read([], newest - HOUR_MS, newest)
    assert got.height == 7 * 61
    assert store.problems == []

    assert store.read([], T0, T0 + HOUR_MS).is_empty()
    assert len(store.problems) == 1 and str(old_day) in store.problems[0]


def test_compaction_quarantines_a_damaged_segment_and_builds_the_day_anew_from_its_batches(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    store.append(samples([("m", "", T0, 1.0)]))
    store.compact()
    segment = tmp_path / "segments" / "2023-11-15.parquet"
    segment.write_bytes(segment.read_bytes()[:-30])
    batch = store.append(samples([("m", "", T0 + 1, 2.0)]))
    assert batch is not None
    assert store.read([], T0, T0 + 10).get_column("value").to_list() == [2.0]
    assert segment.exists()  # a read only reports it

    assert store.compact().batches_merged == 1
    assert not batch.exists() and store.check() == []
    assert store.read([], T0, T0 + 10).get_column("value").to_list() == [2.0]
    [moved] = [c for c in store.corrupt if c.quarantined_to]
    assert moved.path == str(segment) and Path(moved.quarantined_to).exists()


def test_temp_files_are_never_read_and_a_dead_writers_temp_is_cleaned_at_compaction(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    store.append(samples([("m", "", T0, 1.0)]))
    half_written = tmp_path / "batches" / "00000000000000000001-999999999.parquet.tmp-999999999"
    half_written.write_bytes(b"PAR1 half")

    assert store.read([], T0, T0).get_column("value").to_list() == [1.0]
    assert store.check() == []
    store.compact()
    assert not half_written.exists()


def test_an_empty_store_answers_empty_without_creating_anything(tmp_path: Path) -> None:
    store = SampleStore(tmp_path / "data")
    assert store.read([], 0, 2**62).schema == SAMPLE_SCHEMA
    assert store.read([], 0, 2**62).is_empty()
    assert store.series().is_empty()
    assert store.newest_timestamp_ms() is None
    assert store.oldest_timestamp_ms() is None
    assert store.compact().batches_merged == 0
    assert not (tmp_path / "data").exists()
