"""Freshness from a many-row-group Parquet dataset: statistics-only and one-column reads vs a full read.

Run: ``.venv/bin/python -m bench.freshness [--files 200] [--row-groups 10] [--rows 5000]``

Writes ``files × row_groups`` row groups of ``rows`` rows (event_time, user_id, amount, country,
payload) to a temporary directory, then finds the newest ``event_time`` three ways:

1. Redline's freshness collector path (``newest_in_column``): footers only, the maximum from
   row-group statistics. Bytes are counted exactly, through a pyarrow filesystem that wraps every
   file it opens in a byte-counting reader.
2. The fallback Redline uses when statistics are missing (strings, old writers): a polars lazy scan
   of the one column. Bytes: the column's compressed chunk sizes from the footers (what the scan
   must read; polars maps local files, so reads cannot be counted from Python).
3. The baseline: ``polars.read_parquet`` of every file, then the max. Bytes: every file whole.

The page cache is warm (dropping it needs root), so the times are CPU and syscall time, not disk
time; the bytes are the figure that carries to a cold disk or object storage. "10 GB-equivalent":
the same file and row-group layout at 10 GB has bigger row groups but the same footers, so path 1
reads the same bytes; paths 2 and 3 grow with the data (scaled figures are printed as such).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from redline.collectors.base import CollectorContext
from redline.collectors.freshness import FreshnessCollector, FreshnessConfig
from redline.collectors.freshness_files import list_files, newest_in_column
from redline.collectors.object_storage import Storage

_TEN_GB = 10e9


class _CountingReader:
    """A read-only file object that adds every byte it returns to ``counter[0]``."""

    def __init__(self, path: str, counter: list[int]) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by pyarrow through close()
        self._counter = counter
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        data = self._file.read(n)
        self._counter[0] += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()
        self.closed = True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False


class _CountingHandler(pafs.FileSystemHandler):  # type: ignore[misc]
    """A local filesystem whose input files count the bytes read from them."""

    def __init__(self) -> None:
        self.local = pafs.LocalFileSystem()
        self.bytes_read = [0]

    def get_type_name(self) -> str:
        return "counting-local"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return list(self.local.get_file_info(paths))

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return list(self.local.get_file_info(selector))

    def open_input_file(self, path: str) -> pa.PythonFile:
        return pa.PythonFile(_CountingReader(path, self.bytes_read), mode="r")

    def open_input_stream(self, path: str) -> pa.PythonFile:
        return self.open_input_file(path)

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("read-only benchmark filesystem")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
    delete_file = move = copy_file = open_output_stream = open_append_stream = _read_only

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__


def _write_dataset(root: Path, files: int, row_groups: int, rows: int) -> None:
    rng = np.random.default_rng(7)
    n = row_groups * rows
    start_us = 1_704_067_200_000_000  # 2024-01-01
    base = {
        "user_id": pa.array(rng.integers(0, 10_000_000, n)),
        "amount": pa.array(rng.gamma(2.0, 20.0, n)),
        "country": pa.array(rng.choice(["DE", "FR", "US", "JP", "BR", "IN"], n)),
        "payload": pa.array([f"{x:016x}{y:016x}" for x, y in rng.integers(0, 2**62, (n, 2))]),
    }
    step_us = 1_000  # one event per ms across the whole dataset; the newest is in the last file
    for i in range(files):
        stamps = start_us + (i * n + np.arange(n)) * step_us
        table = pa.table({"event_time": pa.array(stamps, pa.timestamp("us", "UTC")), **base})
        pq.write_table(table, root / f"part-{i:04d}.parquet", row_group_size=rows, compression="zstd")


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--row-groups", type=int, default=10)
    parser.add_argument("--rows", type=int, default=5_000, help="rows per row group")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="redline-bench-freshness-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        _write_dataset(root, args.files, args.row_groups, args.rows)
        paths = sorted(str(p) for p in root.glob("*.parquet"))
        total_bytes = sum(os.path.getsize(p) for p in paths)
        total_rows = args.files * args.row_groups * args.rows
        column_bytes = 0
        footer_bytes = 0
        for p in paths:
            md = pq.ParquetFile(p).metadata
            footer_bytes += md.serialized_size + 8
            column_bytes += sum(md.row_group(g).column(0).total_compressed_size for g in range(md.num_row_groups))
        print(
            f"dataset: {args.files} files × {args.row_groups} row groups × {args.rows:,} rows = {total_rows:,} rows, "
            f"{total_bytes / 1e6:.1f} MB on disk (zstd); event_time chunks {column_bytes / 1e6:.1f} MB; "
            f"footers {footer_bytes / 1e3:.0f} kB; written in {time.perf_counter() - started:.1f} s"
        )

        handler = _CountingHandler()
        storage = Storage(pafs.PyFileSystem(handler))
        entries = list_files(str(root / "*.parquet"), storage)

        def stats_path() -> float:
            return newest_in_column(entries, "event_time", "parquet", storage).seconds

        handler.bytes_read[0] = 0
        t_stats, newest_stats = _timed(stats_path, 5)
        stats_bytes = handler.bytes_read[0] // 5

        def column_scan() -> float:
            value = pl.scan_parquet(paths).select(pl.col("event_time").max().dt.epoch("us")).collect().item()
            return float(value) / 1e6

        t_column, newest_column = _timed(column_scan, 3)

        def full_read() -> float:
            frame = pl.read_parquet(paths)
            value = frame.select(pl.col("event_time").max().dt.epoch("us")).item()
            return float(value) / 1e6

        t_full, newest_full = _timed(full_read, 3)
        assert newest_stats == newest_column == newest_full, (newest_stats, newest_column, newest_full)

        config = FreshnessConfig(name="bench", kind="freshness", path=str(root / "*.parquet"),
                                 timestamp_column="event_time")
        with httpx.Client() as client:  # unused by a path source; the context holds one
            context = CollectorContext(clock=time.time, env={}, http=client)
            t_collect, result = _timed(FreshnessCollector(config, context).collect, 5)
        assert result.health.ok, result.health.error

        scale = _TEN_GB / total_bytes
        print(f"newest event_time: {newest_stats:.3f} (all three agree)\n")
        print(f"{'method':<44} {'time':>9} {'bytes read':>14} {'of dataset':>10}   at 10 GB (scaled)")
        rows = [
            ("row-group statistics (Redline)", t_stats, stats_bytes, t_stats, stats_bytes),
            ("  whole collect(): glob + stats + samples", t_collect, stats_bytes, t_collect, stats_bytes),
            ("one-column lazy scan (Redline's fallback)", t_column, column_bytes, t_column * scale,
             column_bytes * scale),
            ("baseline: pl.read_parquet(all) then max", t_full, total_bytes, t_full * scale, total_bytes * scale),
        ]
        for name, t, b, t10, b10 in rows:
            print(
                f"{name:<44} {t * 1000:>7.1f}ms {b / 1e6:>11.3f} MB {b / total_bytes:>9.2%}   "
                f"~{t10:.2f} s, {b10 / 1e9:.3f} GB"
            )
        print(
            f"\nstatistics vs baseline: {t_full / t_stats:.0f}× faster, {total_bytes / max(stats_bytes, 1):.0f}× fewer "
            f"bytes here; at 10 GB the statistics path reads the same {stats_bytes / 1e6:.2f} MB "
            "(footers do not grow with row-group size), the baseline all 10 GB."
        )
        print(
            f"statistics bytes = {len(paths)} × {stats_bytes // len(paths):,} B: pyarrow reads each file's last 64 KiB "
            "in one go to get the footer (the footers themselves are the kB above)."
        )
        print("page cache warm (no root to drop it): times are CPU + syscalls; bytes are what a cold disk or S3 reads.")


if __name__ == "__main__":
    main()
