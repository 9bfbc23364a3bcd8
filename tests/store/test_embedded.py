from __future__ import annotations

import errno
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import numpy as np
import polars as pl
import pytest

from redline.kernel.errors import StoreError
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels, parse_selector
from redline.store.embedded import SampleStore

DAY_MS = 86_400_000
T0 = 1_700_006_400_000  # 2023-11-15T00:00:00Z


def samples(rows: list[tuple[str, str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def bits(frame: pl.DataFrame) -> list[int]:
    return [int(b) for b in frame.get_column("value").to_numpy().view(np.uint64)]


STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
ODD_VALUES = [float("nan"), STALE_NAN, float("inf"), float("-inf"), -0.0, 0.0, 0.1, 2.0**53, 2.0**53 + 2,
              -(2.0**60), 5e-324, 1.7976931348623157e308, 42.0, -7.0]


def odd_frame() -> pl.DataFrame:
    labels = format_labels({"path": 'a"b\\c\nd', "code": "200"})
    return samples([("weird", labels, T0 + i * 15_000, v) for i, v in enumerate(ODD_VALUES)])


def test_round_trip_is_bit_exact_for_nan_payloads_inf_and_negative_zero_before_and_after_compaction(
    tmp_path: Path,
) -> None:
    store = SampleStore(tmp_path)
    frame = odd_frame()
    store.append(frame)
    before = store.read([], T0, T0 + DAY_MS)
    stats = store.compact()
    after = store.read([], T0, T0 + DAY_MS)

    expected = [struct.unpack("<Q", struct.pack("<d", v))[0] for v in ODD_VALUES]
    assert bits(before) == expected
    assert bits(after) == expected
    assert after.get_column("labels").to_list() == ['code="200",path="a\\"b\\\\c\\nd"'] * len(ODD_VALUES)
    assert after.schema == SAMPLE_SCHEMA
    assert stats.batches_merged == 1 and stats.segments_written == 1 and stats.samples == len(ODD_VALUES)
    assert list((tmp_path / "batches").iterdir()) == []


def test_read_range_includes_both_ends(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    store.append(samples([("m", "", T0 + i * 1000, float(i)) for i in range(10)]))
    for compacted in (False, True):
        if compacted:
            store.compact()
        got = store.read([], T0 + 2000, T0 + 5000)
        assert got.get_column("value").to_list() == [2.0, 3.0, 4.0, 5.0]


def test_selectors_pick_series_and_an_empty_list_means_all(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    store.append(
        samples(
            [
                ("req", 'code="200"', T0, 1.0),
                ("req", 'code="500"', T0, 2.0),
                ("req", 'code="503"', T0, 3.0),
                ("other", 'code="500"', T0, 4.0),
            ]
        )
    )
    store.compact()
    store.append(samples([("req", 'code="502"', T0 + 1, 5.0)]))

    got = store.read([parse_selector('req{code=~"5.."}')], T0, T0 + 10)
    assert got.rows() == [("req", 'code="500"', T0, 2.0), ("req", 'code="502"', T0 + 1, 5.0),
                          ("req", 'code="503"', T0, 3.0)]
    two = store.read([parse_selector('req{code="200"}'), parse_selector("other")], T0, T0 + 10)
    assert two.get_column("value").to_list() == [4.0, 1.0]
    assert store.read([], T0, T0 + 10).height == 5
    store.append(samples([("req", 'code="500"', T0 + 2, float("nan"))]))
    overlapping = store.read([parse_selector('req{code=~"5.."}'), parse_selector('req{code="500"}')], T0, T0 + 10)
    assert overlapping.select("labels", "timestamp").rows() == [('code="500"', T0), ('code="500"', T0 + 2),
                                                                ('code="502"', T0 + 1), ('code="503"', T0)]
    assert store.series().rows() == [("other", 'code="500"'), ("req", 'code="200"'), ("req", 'code="500"'),
                                     ("req", 'code="502"'), ("req", 'code="503"')]


def test_compaction_merges_with_the_old_segment_keeps_newest_written_value_and_deletes_batches(
    tmp_path: Path,
) -> None:
    store = SampleStore(tmp_path)
    store.append(samples([("m", "", T0, 1.0), ("m", "", T0 + 1000, 2.0)]))
    store.compact()
    store.append(samples([("m", "", T0 + 1000, 20.0), ("m", "", T0 + 2000, 3.0)]))
    store.append(samples([("m", "", T0 + 2000, 30.0), ("m", "", T0 - DAY_MS, -1.0)]))
    assert store.read([], T0, T0 + 5000).get_column("value").to_list() == [1.0, 20.0, 30.0]

    stats = store.compact()

    assert stats.batches_merged == 2
    assert stats.segments_written == 2  # the old day and the day before it (late data)
    assert stats.samples == 4
    assert sorted(p.name for p in (tmp_path / "segments").iterdir()) == ["2023-11-14.parquet",
                                                                        "2023-11-15.parquet"]
    assert list((tmp_path / "batches").iterdir()) == []
    assert store.read([], T0 - DAY_MS, T0 + 5000).get_column("value").to_list() == [-1.0, 1.0, 20.0, 30.0]
    assert store.oldest_timestamp_ms() == T0 - DAY_MS
    assert store.newest_timestamp_ms() == T0 + 2000


def test_a_sample_in_both_a_batch_and_a_segment_is_read_once(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    batch = store.append(samples([("m", "", T0, 1.0), ("m", "", T0 + 1000, 2.0)]))
    assert batch is not None
    kept = tmp_path / "kept.parquet"
    shutil.copy(batch, kept)
    store.compact()
    # As if compaction had crashed after writing the segment but before deleting the batch:
    shutil.copy(kept, batch)
    # and a batch written by a second writer with the same samples:
    store.append(samples([("m", "", T0 + 1000, 2.0)]))

    assert store.read([], T0, T0 + DAY_MS).rows() == [("m", "", T0, 1.0), ("m", "", T0 + 1000, 2.0)]
    store.compact()
    assert store.read([], T0, T0 + DAY_MS).height == 2


def test_a_leftover_batch_already_in_the_segment_does_not_override_a_newer_value(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    first = store.append(samples([("m", "", T0, 1.0)]))
    assert first is not None
    kept = tmp_path / "kept.parquet"
    shutil.copy(first, kept)
    store.append(samples([("m", "", T0, 2.0)]))
    store.compact()
    shutil.copy(kept, first)  # the crash left the older batch behind

    assert store.read([], T0, T0).get_column("value").to_list() == [2.0]
    store.compact()
    assert store.read([], T0, T0).get_column("value").to_list() == [2.0]
    assert list((tmp_path / "batches").iterdir()) == []


def test_retention_counts_back_from_the_newest_sample_so_old_history_stays(tmp_path: Path) -> None:
    t2021 = 1_614_556_800_000  # 2021-03-01T00:00:00Z
    store = SampleStore(tmp_path, retention_seconds=3 * 86400)
    store.append(samples([("m", "", t2021 + d * DAY_MS, float(d)) for d in range(6)]))

    stats = store.compact()

    # newest 2021-03-06T00:00Z, cutoff 2021-03-03T00:00Z: only days ending at or before it go.
    assert stats.segments_dropped == 0
    assert store.read([], 0, t2021 + 10 * DAY_MS).get_column("value").to_list() == [2.0, 3.0, 4.0, 5.0]
    assert sorted(p.name for p in (tmp_path / "segments").iterdir()) == [
        "2021-03-03.parquet", "2021-03-04.parquet", "2021-03-05.parquet", "2021-03-06.parquet"]
    store.append(samples([("m", "", t2021 + 7 * DAY_MS, 7.0)]))
    stats = store.compact()  # newest 2021-03-08: cutoff 2021-03-05T00:00Z
    assert stats.segments_dropped == 2
    assert store.read([], 0, t2021 + 10 * DAY_MS).get_column("value").to_list() == [4.0, 5.0, 7.0]


def test_disk_full_raises_naming_the_file_leaves_no_temp_and_keeps_existing_files(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    store.append(samples([("m", "", T0, 1.0)]))
    store.compact()
    kept = store.append(samples([("m", "", T0 + 1, 2.0)]))
    assert kept is not None
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}

    with (
        mock.patch("redline.store.segments.os.fsync", autospec=True,
                   side_effect=OSError(errno.ENOSPC, "No space left on device")),
        pytest.raises(StoreError) as info,
    ):
        store.append(samples([("m", "", T0 + 2, 3.0)]))

    message = str(info.value)
    assert "No space left on device" in message
    assert str(tmp_path / "batches") in message and ".parquet" in message
    assert [p.name for p in (tmp_path / "batches").iterdir()] == [kept.name]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == before
    assert store.read([], T0, T0 + 10).get_column("value").to_list() == [1.0, 2.0]


def test_disk_full_during_compaction_keeps_the_batches_and_the_old_segment(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    store.append(samples([("m", "", T0, 1.0)]))
    store.compact()
    store.append(samples([("m", "", T0 + 1, 2.0)]))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}

    with (
        mock.patch("redline.store.segments.os.fsync", autospec=True,
                   side_effect=OSError(errno.ENOSPC, "No space left on device")),
        pytest.raises(StoreError, match=r"2023-11-15\.parquet.*No space left"),
    ):
        store.compact()

    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == before
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]
    assert store.read([], T0, T0 + 10).get_column("value").to_list() == [1.0, 2.0]


def test_a_truncated_batch_is_skipped_and_kept_by_reads_and_quarantined_by_compaction(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)  # reads report damage, they do not move files
    good = store.append(samples([("m", "", T0, 1.0)]))
    bad = store.append(samples([("m", "", T0 + 1, 2.0)]))
    assert good is not None and bad is not None
    bad.write_bytes(bad.read_bytes()[:40])

    assert store.read([], T0, T0 + 10).get_column("value").to_list() == [1.0]
    assert len(store.problems) == 1 and str(bad) in store.problems[0]
    assert bad.exists()
    assert len(store.check()) == 1 and str(bad) in store.check()[0]
    assert [c.path for c in store.corrupt] == [str(bad)] and store.corrupt[0].quarantined_to is None
    stats = store.compact()
    assert stats.batches_merged == 1
    assert not bad.exists() and store.corrupt[-1].quarantined_to is not None
    assert store.check() == []
    assert store.read([], T0, T0 + 10).get_column("value").to_list() == [1.0]


def test_a_frame_with_the_wrong_schema_or_nulls_is_refused(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    with pytest.raises(StoreError, match=r"wrong types timestamp: Float64 \(expected Int64\)"):
        store.append(pl.DataFrame({"metric": ["m"], "labels": [""], "timestamp": [1.0], "value": [1.0]}))
    with pytest.raises(StoreError, match=r"missing columns \['value'\]"):
        store.append(pl.DataFrame({"metric": ["m"], "labels": [""], "timestamp": [1]}))
    with pytest.raises(StoreError, match=r"1 null\(s\) in column 'labels', first at row 1"):
        store.append(pl.DataFrame({"metric": ["m", "m"], "labels": ["", None], "timestamp": [1, 2],
                                   "value": [1.0, 2.0]}, schema=SAMPLE_SCHEMA))
    assert store.append(pl.DataFrame(schema=SAMPLE_SCHEMA)) is None
    assert not tmp_path.joinpath("batches").exists()


def test_a_read_survives_a_file_vanishing_between_listing_and_reading(tmp_path: Path) -> None:
    store = SampleStore(tmp_path)
    store.append(samples([("m", "", T0, 1.0)]))
    other = SampleStore(tmp_path)
    real_list = SampleStore._batch_files
    calls = 0

    def list_then_compact(self: SampleStore) -> list[Path]:
        nonlocal calls
        if self is not store:
            return real_list(self)
        calls += 1
        listed = real_list(self)
        if calls == 1:
            other.compact()  # another process compacts right after this reader listed
        return listed

    with mock.patch.object(SampleStore, "_batch_files", autospec=True, side_effect=list_then_compact):
        got = store.read([], T0, T0)
    assert got.get_column("value").to_list() == [1.0]
    assert calls == 2


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import polars as pl
    from redline.store.embedded import SampleStore
    from redline.kernel.fields import SAMPLE_SCHEMA
    store = SampleStore(Path(sys.argv[1]))
    i = 0
    while True:
        rows = [("m", f'k="{{j}}"', {t0} + i * 15000, float(i)) for j in range(200)]
        store.append(pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row"))
        print(i, flush=True)
        if i % 7 == 6:
            store.compact()
        i += 1
    """
).format(t0=T0)


def test_sigkill_mid_write_loses_nothing_reported_written_and_leaves_only_whole_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data)], stdout=subprocess.PIPE, text=True,
                            cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert proc.stdout is not None
    written: list[int] = []
    try:
        for line in proc.stdout:
            written.append(int(line))
            if len(written) >= 30:
                break
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -9
    assert len(written) == 30

    store = SampleStore(data)
    assert store.check() == []
    got = store.read([], 0, T0 + 10 * DAY_MS)
    per_step = got.group_by("value").len()
    have = dict(per_step.iter_rows())
    assert all(have.get(float(i)) == 200 for i in written)
    assert got.height == len(have) * 200  # whatever else landed landed whole
    store.compact()
    assert store.read([], 0, T0 + 10 * DAY_MS).height == got.height
