"""`redline import` streams: a file cut into many chunks (series spanning the cuts) stores the
same samples as a one-shot import; skipped lines are counted per reason with their line
numbers; the summary's numbers are exact."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from redline.agent.cli import main
from redline.agent.importer import NO_TIMESTAMP_REASON, import_history
from redline.kernel.errors import SourceError
from redline.store.embedded import SampleStore


def history(series: int = 6, samples: int = 200) -> str:
    lines = []
    for family in ("alpha_requests", "beta_requests"):
        lines += [f"# HELP {family} Requests.", f"# TYPE {family} counter"]
        for s in range(series):
            lines += [f'{family}_total{{pod="p{s}"}} {i * 2 + s} {1_700_000_000 + i * 15}' for i in range(samples)]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def stored(data_dir: Path) -> pl.DataFrame:
    return SampleStore(data_dir).read([], 0, 2**62).sort("metric", "labels", "timestamp")


def test_many_small_chunks_store_the_same_samples_as_one_chunk(tmp_path: Path) -> None:
    path = tmp_path / "h.om"
    path.write_text(history())
    whole = import_history(path, SampleStore(tmp_path / "one"), chunk_bytes=1 << 30)
    progress = io.StringIO()
    chunked = import_history(path, SampleStore(tmp_path / "many"), chunk_bytes=997, compact_every_bytes=20_000,
                             progress=progress)
    assert stored(tmp_path / "one").equals(stored(tmp_path / "many"))
    assert stored(tmp_path / "one").height == 2 * 6 * 200
    for stats in (whole, chunked):
        assert (stats.samples_read, stats.samples_stored, stats.series) == (2400, 2400, 12)
        assert (stats.duplicates, stats.out_of_order, stats.skipped) == (0, 0, {})
        assert stats.first_ms == 1_700_000_000_000 and stats.last_ms == (1_700_000_000 + 199 * 15) * 1000
    assert progress.getvalue().count("\r") > 10 and "100.0%" in progress.getvalue()


def test_skipped_lines_are_counted_per_reason_with_their_line_numbers(tmp_path: Path) -> None:
    text = "\n".join([
        "# TYPE m counter",
        'm_total{a="1"} 1 1700000000',      # 2
        'm_total{a="1"} oops 1700000015',   # 3: bad value
        'm_total{a="1"} 3 1700000030',      # 4
        'm_total{a="1"} 4',                 # 5: no timestamp
        'm_total{a="1"} x 1700000060',      # 6: bad value
        'm_total{a="2"} 5 1700000000',      # 7
        'm_total{a="2"} 6 1700000000',      # 8: duplicate timestamp (the last kept)
        "# EOF",
    ]) + "\n"
    path = tmp_path / "h.om"
    path.write_text(text)
    for chunk in (1 << 20, 40):
        stats = import_history(path, SampleStore(tmp_path / f"d{chunk}"), chunk_bytes=chunk)
        assert stats.samples_stored == 3 and stats.series == 2 and stats.duplicates == 1
        assert stats.without_timestamp == 1 and stats.skipped[NO_TIMESTAMP_REASON].count == 1
        bad = [s for reason, s in stats.skipped.items() if reason != NO_TIMESTAMP_REASON]
        assert len(bad) == 1 and bad[0].count == 2 and bad[0].first_lines == [3, 6], stats.skipped
        assert "2 skipped: " in stats.summary() and "(first at line 3, 6)" in stats.summary()
        assert stored(tmp_path / f"d{chunk}").filter(pl.col("labels").str.contains('a="2"'))["value"].to_list() == [6.0]


def test_the_summary_is_exact_for_a_small_file(tmp_path: Path) -> None:
    path = tmp_path / "h.om"
    path.write_text("# TYPE m counter\nm_total 1 1700000000\nm_total 2 1700000060\n# EOF\n")
    stats = import_history(path, SampleStore(tmp_path / "d"))
    first = stats.summary().splitlines()[0]
    assert first.startswith(f"{path}: stored 2 samples of 1 series (2023-11-14T22:13:20+00:00 .. "
                            "2023-11-14T22:14:20+00:00) in ")


def test_a_truncated_file_is_reported_and_its_samples_kept(tmp_path: Path) -> None:
    path = tmp_path / "h.om"
    path.write_text("# TYPE m counter\nm_total 1 1700000000\nm_total 2 1700000060\n")
    stats = import_history(path, SampleStore(tmp_path / "d"), chunk_bytes=16)
    assert stats.samples_stored == 2
    assert any("does not end with" in reason for reason in stats.skipped), stats.skipped


def test_nothing_to_import_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "h.om"
    path.write_text("# TYPE m counter\nm_total 1\n# EOF\n")
    with pytest.raises(SourceError, match="nothing to import"):
        import_history(path, SampleStore(tmp_path / "d"))


def test_a_small_merge_bound_keeps_every_merge_under_it_and_stores_the_same_samples(tmp_path: Path) -> None:
    """Three days of 12 series: with ``max_merge_rows`` 1,000 no segment holds more than the bound
    plus one batch, a day above it stays in several runs, and the store reads back exactly what an
    import without the bound stored (the store's own policy is restored afterwards)."""
    lines = []
    for family in ("alpha_requests", "beta_requests"):
        lines += [f"# TYPE {family} counter"]
        for s in range(6):
            pod = f"pod-{s}-{'x' * 30}"
            lines += [f'{family}_total{{pod="{pod}"}} {i * 3 + s} {1_700_000_000 + i * 180}' for i in range(1500)]
    lines.append("# EOF")
    path = tmp_path / "h.om"
    path.write_text("\n".join(lines) + "\n")

    unbounded = import_history(path, SampleStore(tmp_path / "whole"), max_merge_rows=10**9)
    bounded_store = SampleStore(tmp_path / "bounded")
    bounded = import_history(path, bounded_store, chunk_bytes=8_000, compact_every_bytes=100_000, max_merge_rows=1000)

    assert bounded_store.policy.max_merge_rows == 10_000_000  # restored
    assert stored(tmp_path / "bounded").equals(stored(tmp_path / "whole"))
    assert stored(tmp_path / "bounded").height == bounded.samples_stored == unbounded.samples_stored == 12 * 1500
    largest_batch = 8_000 // len(lines[1])  # a chunk's samples (lines are about this long)
    runs: dict[str, int] = {}
    for segment in (tmp_path / "bounded" / "segments").iterdir():
        rows = pq.ParquetFile(segment).metadata.num_rows
        assert rows <= 1000 + largest_batch, (segment.name, rows)
        day = segment.name.split(".")[0]
        runs[day] = runs.get(day, 0) + 1
    assert sorted(runs) == ["2023-11-14", "2023-11-15", "2023-11-16", "2023-11-17", "2023-11-18"]
    assert max(runs.values()) >= 3  # a day of 5,760 samples is kept in several runs of at most ~1,000
    assert [p.name for p in (tmp_path / "whole" / "segments").iterdir() if "." in p.stem] == []  # one per day


def test_redline_import_takes_the_merge_bound_from_its_flag(tmp_path: Path) -> None:
    """A second import into the same day: within the default bound its rows merge with the day's
    run (one file); with ``--max-merge-rows 1000`` the 4,800 stored rows are too many to merge
    with, so the new rows become a run of their own (two files)."""
    first = tmp_path / "a.om"
    first.write_text(history(series=6, samples=400))
    second = tmp_path / "b.om"  # the same day, other series
    second.write_text(history(series=6, samples=400).replace("alpha_", "gamma_").replace("beta_", "delta_"))
    files = {}
    for name, flag in (("default", []), ("bounded", ["--max-merge-rows", "1000"])):
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(f"agent: {{data_dir: {tmp_path / name}}}\n")
        assert main(["import", str(first), "--config", str(cfg)]) == 0
        assert main(["import", str(second), "--config", str(cfg), *flag]) == 0
        assert stored(tmp_path / name).height == 4 * 6 * 400
        files[name] = len(list((tmp_path / name / "segments").iterdir()))
    assert files == {"default": 1, "bounded": 2}
    assert stored(tmp_path / "default").equals(stored(tmp_path / "bounded"))
    assert main(["import", str(first), "--config", str(tmp_path / "default.yaml"), "--max-merge-rows", "0"]) == 2
