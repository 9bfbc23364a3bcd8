"""Damaged and foreign files in a real data directory: found, quarantined with their range, and
nothing else of their day lost."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import SampleStore
from redline.store.quarantine import list_quarantined
from redline.store.segments import BATCH_TRAILER, read_batch

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
T0 = 1_700_006_400_000  # 2023-11-15T00:00:00Z
SEGMENT = "2023-11-15.parquet"


def samples(rows: list[tuple[str, str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def minutes(start: int, count: int, metric: str = "m") -> pl.DataFrame:
    return samples([(metric, "", start + i * 60_000, float(i)) for i in range(count)])


def values(store: SampleStore, start: int = T0, end: int = T0 + DAY_MS) -> list[float]:
    return store.read([], start, end).get_column("value").to_list()


def quarantine_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "moved to" in r.getMessage()]


def test_a_truncated_batch_is_quarantined_and_later_batches_are_still_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SampleStore(tmp_path, quarantine=True)
    store.append(samples([("m", "", T0, 1.0)]))
    bad = store.append(samples([("m", "", T0 + 1, 2.0)]))
    store.append(samples([("m", "", T0 + 2, 3.0)]))
    assert bad is not None
    bad.write_bytes(bad.read_bytes()[:-10])

    with caplog.at_level(logging.ERROR, "redline.store"):
        assert values(store) == [1.0, 3.0]
    assert not bad.exists()
    [moved] = list_quarantined(tmp_path)
    assert moved.path == str(bad) and moved.kind == "batch"
    assert "no checksum trailer" in moved.reason and moved.quarantined_to is not None
    assert Path(moved.quarantined_to).read_bytes()  # the damaged bytes are kept, not deleted
    [line] = quarantine_log(caplog)
    assert str(bad) in line and "written 20" in line  # the name's write time when the trailer is gone
    assert store.corrupt_files_total == 1

    assert store.compact().batches_merged == 2
    assert values(store) == [1.0, 3.0]
    assert store.check() == []


def test_a_batch_with_a_flipped_byte_is_quarantined_with_the_range_from_its_trailer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SampleStore(tmp_path, quarantine=True)
    bad = store.append(minutes(T0 + HOUR_MS, 30))
    assert bad is not None
    data = bytearray(bad.read_bytes())
    data[len(data) // 3] ^= 0x01
    bad.write_bytes(bytes(data))

    with caplog.at_level(logging.ERROR, "redline.store"):
        assert store.check() and store.read([], T0, T0 + DAY_MS).is_empty()
    [moved] = store.corrupt
    assert (moved.start_ms, moved.end_ms) == (T0 + HOUR_MS, T0 + HOUR_MS + 29 * 60_000)
    assert "fails its checksum" in moved.reason
    [line] = quarantine_log(caplog)
    assert "2023-11-15T01:00:00.000Z .. 2023-11-15T01:29:00.000Z" in line


def test_a_batch_written_before_trailers_is_still_read(tmp_path: Path) -> None:
    store = SampleStore(tmp_path, quarantine=True)
    new = store.append(samples([("m", "", T0, 1.0)]))
    assert new is not None and new.read_bytes().endswith(b"RLB1")
    old = new.with_name("00000000000000000001-1.parquet")
    pq.write_table(samples([("m", "", T0 + 1, 2.0)]).to_arrow(), old)  # the former format: Parquet only
    assert read_batch(old).get_column("value").to_list() == [2.0]
    assert store.oldest_timestamp_ms() == T0 and store.newest_timestamp_ms() == T0 + 1
    assert values(store) == [1.0, 2.0] and store.check() == []
    assert len(new.read_bytes()) - BATCH_TRAILER.size == len(new.read_bytes()[: -BATCH_TRAILER.size])


def _day_with_batches(tmp_path: Path) -> tuple[SampleStore, Path]:
    store = SampleStore(tmp_path, quarantine=True)
    store.append(minutes(T0, 12 * 60))  # 00:00-12:00, compacted into the segment
    store.compact()
    store.append(minutes(T0 + 12 * HOUR_MS, 60, "late"))  # 12:00-13:00, still a batch
    return store, tmp_path / "segments" / SEGMENT


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[: len(b) // 2], "magic bytes not found"),
        (lambda b: b"", "empty (0 bytes)"),
    ],
    ids=["truncated", "zero-length"],
)
def test_a_truncated_or_empty_segment_is_quarantined_and_the_days_batches_stay_readable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: object, reason: str
) -> None:
    store, segment = _day_with_batches(tmp_path)
    assert callable(damage)
    segment.write_bytes(damage(segment.read_bytes()))

    with caplog.at_level(logging.ERROR, "redline.store"):
        got = store.read([], T0, T0 + DAY_MS)
    assert got.get_column("metric").unique().to_list() == ["late"] and got.height == 60
    [moved] = store.corrupt
    assert moved.kind == "segment" and reason in moved.reason
    assert (moved.start_ms, moved.end_ms) == (T0, T0 + DAY_MS - 1)  # no footer: the day of its name
    [line] = quarantine_log(caplog)
    assert str(segment) in line and "2023-11-15T00:00:00.000Z .. 2023-11-15T23:59:59.999Z" in line

    store.compact()  # the day starts anew from its batches
    assert values(store) == list(map(float, range(60)))
    assert store.check() == [] and len(list_quarantined(tmp_path)) == 1


def test_a_segment_with_flipped_bytes_is_caught_by_its_page_checksums(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, segment = _day_with_batches(tmp_path)
    meta = pq.read_metadata(segment)
    assert meta.metadata[b"redline.format"] == b"2"
    chunk = meta.row_group(1).column(4)  # value_float of 04:00-08:00
    assert chunk.path_in_schema == "value_float"
    data = bytearray(segment.read_bytes())
    data[chunk.data_page_offset + chunk.total_compressed_size * 3 // 4] ^= 0x5A  # inside the page's data
    segment.write_bytes(bytes(data))

    assert len(values(store, T0, T0 + 4 * HOUR_MS - 1)) == 240  # row group 0 decodes fine
    assert store.corrupt == [] and segment.exists()
    with caplog.at_level(logging.ERROR, "redline.store"):
        store.read([], T0 + 5 * HOUR_MS, T0 + 6 * HOUR_MS)
    [moved] = store.corrupt
    assert (moved.start_ms, moved.end_ms) == (T0 + 4 * HOUR_MS, T0 + 8 * HOUR_MS - 60_000)  # footer statistics
    assert not segment.exists() and len(quarantine_log(caplog)) == 1


def test_a_segment_written_without_page_checksums_is_still_read(tmp_path: Path) -> None:
    store, segment = _day_with_batches(tmp_path)
    table = pq.read_table(segment)
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"redline.format": b"1"}), sink)
    segment.write_bytes(sink.getvalue())
    assert len(values(store)) == 12 * 60 + 60 and store.check() == []


def test_foreign_files_are_ignored_with_one_warning_and_left_in_place(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, _ = _day_with_batches(tmp_path)
    foreign = [
        tmp_path / "segments" / "backup.parquet",
        tmp_path / "segments" / "notes.txt",
        tmp_path / "batches" / "copy-of-a-batch.parquet",
    ]
    pq.write_table(pa.table({"x": [1]}), foreign[0])
    foreign[1].write_text("mine")
    foreign[2].write_bytes(b"PAR1 not really")

    with caplog.at_level(logging.WARNING, "redline.store"):
        for _ in range(2):
            assert len(values(store)) == 12 * 60 + 60
        store.compact()
    warned = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert len(warned) == 2  # the .parquet ones the listing sees; each once
    assert all(p.exists() for p in foreign)
    assert store.corrupt == [] and not (tmp_path / "quarantine").exists()
    assert store.foreign_files() == sorted(foreign)
