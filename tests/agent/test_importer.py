"""`redline import` streams: a file cut into many chunks (series spanning the cuts) stores the
same samples as a one-shot import; skipped lines are counted per reason with their line
numbers; the summary's numbers are exact."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest

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
