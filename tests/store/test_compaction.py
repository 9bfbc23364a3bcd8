"""Incremental compaction: a cycle's cost follows the rows that arrived since the last one, not
the day; a crash at any step between writing a merged file and deleting its inputs loses no
sample and duplicates none."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import CompactionPolicy, SampleStore, plan_merge
from redline.store.segments import parse_segment_name

DAY_MS = 86_400_000
T0 = 1_700_006_400_000  # 2023-11-15T00:00:00Z
SERIES = 50
STEPS = 20  # scrapes per cycle
TIERED = CompactionPolicy(merge_fanout=4, small_run_rows=0, max_merge_rows=10_000_000)


def cycle_rows(cycle: int, value_shift: float = 0.0) -> pl.DataFrame:
    """``SERIES`` series × ``STEPS`` scrapes (1 s apart) of one compaction cycle."""
    rows = [
        ("m", f'k="{k}"', T0 + (cycle * STEPS + i) * 1000, float(cycle * STEPS + i) + value_shift)
        for k in range(SERIES)
        for i in range(STEPS)
    ]
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def segment_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "segments").glob("*.parquet"))


def test_plan_merge_merges_similar_tails_and_never_the_big_old_run() -> None:
    policy = CompactionPolicy(merge_fanout=4, small_run_rows=0, max_merge_rows=1000)
    assert plan_merge([10], policy, closed=False) is None
    assert plan_merge([10, 10, 10], policy, closed=False) is None
    assert plan_merge([10, 10, 10, 10], policy, closed=False) == 0
    assert plan_merge([160, 40, 10, 10, 10, 10], policy, closed=False) == 2  # the 40 and 160 wait
    assert plan_merge([160, 40, 40, 40, 40], policy, closed=False) == 1
    assert plan_merge([400, 400, 400], policy, closed=False) is None  # over max_merge_rows
    assert plan_merge([400, 300, 10, 10], policy, closed=True) == 0  # a closed day: whole
    assert plan_merge([900, 300, 10], policy, closed=True) is None  # ... unless over the largest merge
    small = CompactionPolicy(merge_fanout=4, small_run_rows=100, max_merge_rows=1000)
    assert plan_merge([50, 30], small, closed=False) == 0  # small runs merge at once
    assert plan_merge([500, 30], small, closed=False) is None


def test_a_cycle_late_in_the_day_reads_the_new_rows_not_the_day(tmp_path: Path) -> None:
    store = SampleStore(tmp_path, policy=TIERED)
    per_cycle = SERIES * STEPS
    stats = []
    for cycle in range(64):
        store.append(cycle_rows(cycle))
        stats.append(store.compact())

    # The whole-day rewrite read cycle × per_cycle rows at each cycle; this reads the new rows
    # and, when four similar runs have piled up, merges those (like carrying in base 4).
    assert stats[0].rows_read == per_cycle and stats[1].rows_read == per_cycle
    assert stats[49].rows_read == per_cycle  # 50 = 302 in base 4: no carry
    assert stats[50].rows_read == per_cycle
    assert stats[3].rows_read == 4 * per_cycle  # 4 runs of one cycle merged
    assert stats[15].rows_read == (4 + 16) * per_cycle  # 16 = 100 in base 4: two carries
    assert stats[63].rows_read == (4 + 16 + 64) * per_cycle  # the day's largest merge so far
    total = sum(s.rows_read for s in stats)
    # Each row is read once new and at most once per level: 64 new, 16 merges of 3 older runs
    # of 1 cycle, 4 of 4 runs of 4, 1 of 4 runs of 16.
    assert total == (64 + 16 * 3 + 4 * 16 + 64) * per_cycle <= 4 * 64 * per_cycle
    whole_day = sum((c + 1) * per_cycle for c in range(64))
    assert total * 8 < whole_day
    assert all(s.samples <= s.rows_read for s in stats)
    assert [s.bytes > 0 for s in stats] == [True] * 64

    got = store.read([], T0, T0 + DAY_MS)
    assert got.height == 64 * per_cycle and got.select("labels", "timestamp").n_unique() == got.height
    assert segment_files(tmp_path) == ["2023-11-15.parquet"]  # 64 = 4^3: one run again
    assert len(list((tmp_path / "batches").iterdir())) == 0


def test_a_day_keeps_a_few_runs_per_level_and_reads_see_each_sample_once(tmp_path: Path) -> None:
    store = SampleStore(tmp_path, policy=TIERED)
    for cycle in range(27):  # 27 = 123 in base 4: the base, 2 runs of 4 cycles, 3 of 1
        store.append(cycle_rows(cycle))
        store.compact()
    names = segment_files(tmp_path)
    assert len(names) == 1 + 2 + 3 and "2023-11-15.parquet" in names
    parsed = [parse_segment_name(n) for n in names]
    assert all(p is not None and p[0] == parsed[0][0] for p in parsed if p is not None)  # type: ignore[index]
    # A later write of an already stored sample wins over the older run holding it.
    store.append(cycle_rows(3, value_shift=0.5).filter(pl.col("labels") == 'k="0"'))
    store.compact()
    got = store.read([], T0, T0 + DAY_MS)
    assert got.height == 27 * SERIES * STEPS
    first_of_cycle_3 = got.filter(pl.col("labels") == 'k="0"', pl.col("timestamp") == T0 + 3 * STEPS * 1000)
    assert first_of_cycle_3.get_column("value").to_list() == [3 * STEPS + 0.5]
    assert store.newest_timestamp_ms() == T0 + (27 * STEPS - 1) * 1000
    assert store.oldest_timestamp_ms() == T0
    assert store.series().height == SERIES
    assert store.check() == [] and store.foreign_files() == []


def test_a_closed_day_is_merged_into_one_base_and_an_old_single_file_day_reads_with_new_parts(
    tmp_path: Path,
) -> None:
    store = SampleStore(tmp_path, policy=TIERED)
    for cycle in range(6):
        store.append(cycle_rows(cycle))
        store.compact()
    assert len(segment_files(tmp_path)) == 3  # base(4 cycles) + 2 parts
    store.append(cycle_rows(0).with_columns(pl.col("timestamp") + DAY_MS))  # the next day begins
    stats = store.compact()
    assert segment_files(tmp_path) == ["2023-11-15.parquet", "2023-11-16.parquet"]
    assert stats.runs_merged == 3
    assert store.read([], T0, T0 + DAY_MS - 1).height == 6 * SERIES * STEPS


def test_leftover_inputs_of_a_merge_are_skipped_by_reads_and_deleted_by_the_next_cycle(tmp_path: Path) -> None:
    store = SampleStore(tmp_path, policy=TIERED)
    for cycle in range(3):
        store.append(cycle_rows(cycle))
        store.compact()
    kept = tmp_path / "kept"
    shutil.copytree(tmp_path / "segments", kept)
    store.append(cycle_rows(3))
    store.compact()  # merges the base and the two parts with the new rows into the base
    assert segment_files(tmp_path) == ["2023-11-15.parquet"]
    for part in kept.iterdir():  # as if the process died before deleting the merge's inputs
        if part.name != "2023-11-15.parquet":
            shutil.copy(part, tmp_path / "segments" / part.name)
    assert len(segment_files(tmp_path)) == 3

    got = store.read([], T0, T0 + DAY_MS)
    assert got.height == 4 * SERIES * STEPS
    store.compact()
    assert segment_files(tmp_path) == ["2023-11-15.parquet"]
    assert store.read([], T0, T0 + DAY_MS).equals(got)


class Crash(BaseException):
    """Stands for the process dying at this point (not caught by the store's handlers)."""


@pytest.mark.parametrize("steps_before_crash", range(9))  # the cycle has 8 steps
def test_a_crash_at_any_rename_or_delete_of_a_cycle_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, steps_before_crash: int
) -> None:
    """Every rename (a written file appearing) and unlink (an input going) of a cycle that
    merges three runs and new rows, in turn made the last step before the process dies."""
    store = SampleStore(tmp_path, policy=TIERED)
    for cycle in range(15):  # the next cycle carries twice (15 -> 16 = 100 in base 4)
        store.append(cycle_rows(cycle))
        store.compact()
    store.append(cycle_rows(14, value_shift=0.25))  # rewrites of stored samples: newest must win
    store.append(cycle_rows(15))
    real_replace, real_unlink = os.replace, Path.unlink
    steps = 0

    def step() -> None:
        nonlocal steps
        steps += 1
        if steps > steps_before_crash:
            raise Crash

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        step()
        real_replace(src, dst)

    def unlink(self: Path, missing_ok: bool = False) -> None:
        step()
        real_unlink(self, missing_ok=missing_ok)

    before = store.read([], T0, T0 + DAY_MS)
    with (
        mock.patch("redline.store.segments.os.replace", side_effect=replace),
        mock.patch.object(Path, "unlink", autospec=True, side_effect=unlink),
        contextlib.suppress(Crash),
    ):
        store.compact()
    reopened = SampleStore(tmp_path, policy=TIERED)
    after = reopened.read([], T0, T0 + DAY_MS)
    assert after.equals(before)
    assert after.height == 16 * SERIES * STEPS
    assert after.filter(pl.col("timestamp") == T0 + 14 * STEPS * 1000).get_column("value").unique().to_list() == [
        14 * STEPS + 0.25
    ]
    reopened.compact()
    assert reopened.read([], T0, T0 + DAY_MS).equals(before)
    assert reopened.check() == []
    assert not list((tmp_path / "batches").iterdir())


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import polars as pl
    from redline.store.embedded import CompactionPolicy, SampleStore
    from redline.kernel.fields import SAMPLE_SCHEMA
    store = SampleStore(Path(sys.argv[1]), policy=CompactionPolicy(merge_fanout=2, small_run_rows=0))
    i = 0
    while True:
        rows = [("m", f'k="{{j}}"', {t0} + i * 15000, float(i)) for j in range(100)]
        store.append(pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row"))
        print(i, flush=True)
        store.compact()
        i += 1
    """
).format(t0=T0)


@pytest.mark.parametrize("kill_after", [5, 12, 21])
def test_sigkill_during_merging_compactions_loses_nothing_written_and_duplicates_nothing(
    tmp_path: Path, kill_after: int
) -> None:
    data = tmp_path / "data"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data)], stdout=subprocess.PIPE, text=True,
                            cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert proc.stdout is not None
    written: list[int] = []
    try:
        for line in proc.stdout:
            written.append(int(line))
            if len(written) >= kill_after:
                break
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -9

    store = SampleStore(data)
    assert store.check() == []
    got = store.read([], 0, T0 + 10 * DAY_MS)
    have = dict(got.group_by("value").len().iter_rows())
    assert all(have.get(float(i)) == 100 for i in written)
    assert got.height == len(have) * 100  # no sample twice, whatever else landed landed whole
    store.compact()
    assert store.read([], 0, T0 + 10 * DAY_MS).equals(got)
