"""Peak memory of ``redline import`` on a big file (2 GB by default), beside the previous approach.

A file of ``--series`` counters, 15 s apart, ~140 bytes a line, is generated once; then ``redline
import`` (the real command line, with a config that only names the data directory) runs in a child
process for each approach, and the child's peak RSS is read from the kernel (``os.wait4``'s
``ru_maxrss``, the high-water mark, so a short peak inside a compaction counts). The previous
approach is the same command run from a given commit of this repository (``--baseline-commit``,
default the commit before the bounded import), checked out with ``git archive`` into a temp folder.
Both stores are read back and must hold the same samples.

Run: ``.venv/bin/python -m bench.import_memory [--gigabytes 2] [--series 400]``; ``--gigabytes 0.25``
for a short run. Goal: under 500 MB for a 2 GB file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP_S = 15
START_S = 1_700_000_000
PAD = "x" * 24
DEFAULT_BASELINE = "e413377"


def write_history(path: Path, target_bytes: int, series: int) -> int:
    """Counters grouped by series (as promtool wants), enough samples each to reach ``target_bytes``;
    returns the number of samples."""
    sample_line = len(f'bench_requests_total{{service="svc-0",code="200",pod="pod-0-{PAD}",region="eu-west-1"}} ')
    per_series = max(1, -(-target_bytes // (series * (sample_line + 16))))  # value and timestamp: ~16 bytes
    total = 0
    with path.open("w") as out:
        out.write("# HELP bench_requests Requests.\n# TYPE bench_requests counter\n")
        for s in range(series):
            labels = f'service="svc-{s % 8}",code="{200 + s % 5}",pod="pod-{s}-{PAD}",region="eu-west-1"'
            head = f"bench_requests_total{{{labels}}} "
            step = 1000
            for first in range(0, per_series, step):
                n = min(step, per_series - first)
                out.write(
                    "".join(f"{head}{(i * 7 + s) % 100_000} {START_S + i * STEP_S}\n" for i in range(first, first + n))
                )
            total += per_series
        out.write("# EOF\n")
    return total


def run_import(python_path: Path, history: Path, data: Path, extra: str) -> tuple[int, float, float, str]:
    """``redline import`` in a child process: (exit code, peak RSS in MB, seconds, output)."""
    data.mkdir(parents=True, exist_ok=True)
    config = data.parent / f"{data.name}.yaml"
    config.write_text(f"agent: {{data_dir: {data}{extra}}}\n")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from redline.agent.cli import main; sys.exit(main(sys.argv[1:]))",
            "import",
            str(history),
            "--config",
            str(config),
        ],
        cwd=python_path,
        env={**os.environ, "PYTHONPATH": str(python_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own high-water mark, not all children's
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024, time.perf_counter() - started, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--gigabytes", type=float, default=2.0, help="size of the generated file, in GiB")
    parser.add_argument("--series", type=int, default=400, help="series in the file")
    parser.add_argument("--baseline-commit", default=DEFAULT_BASELINE, help="the previous approach's commit")
    parser.add_argument("--no-baseline", action="store_true", help="run only this checkout")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="redline-bench-import-memory-") as tmp:
        work = Path(tmp)
        history = work / "history.om"
        t = time.perf_counter()
        samples = write_history(history, int(args.gigabytes * 2**30), args.series)
        size = history.stat().st_size
        took = time.perf_counter() - t
        print(f"{history.name}: {size / 2**30:.2f} GiB, {samples:,} samples of {args.series} series ({took:.0f} s)\n")
        runs = [("this checkout", ROOT, "")]
        if not args.no_baseline:
            old = work / "baseline"
            old.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.baseline_commit], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
            runs.append((f"previous ({args.baseline_commit})", old, ""))
            runs.append(("previous, max_merge_rows 1M", old, ", compaction: {max_merge_rows: 1000000}"))
        print(f"  {'approach':<34} {'peak RSS MB':>12} {'seconds':>8}  stored")
        stores = []
        for i, (name, path, extra) in enumerate(runs):
            data = work / f"data-{i}"
            code, peak_mb, seconds, out = run_import(path, history, data, extra)
            first = out.strip().splitlines()[0] if out.strip() else ""
            shown = first.split(": ", 1)[-1].split(" (", 1)[0] if code == 0 else f"FAILED ({code}): {out[-300:]}"
            print(f"  {name:<34} {peak_mb:>12,.0f} {seconds:>8.0f}  {shown}", flush=True)
            stores.append(data)
        return verify_same(stores, samples)


def verify_same(stores: list[Path], samples: int) -> int:
    """The stores hold the same samples, ``samples`` of them, compared a day at a time; 0 when so."""
    from redline.store.embedded import SampleStore

    opened = [SampleStore(data) for data in stores]
    first_ms, last_ms = opened[0].oldest_timestamp_ms(), opened[0].newest_timestamp_ms()
    if first_ms is None or last_ms is None:
        print(f"{stores[0]}: empty")
        return 1
    day_ms = 86_400_000
    total = 0
    for start in range(first_ms // day_ms * day_ms, last_ms + 1, day_ms):
        reads = [store.read([], start, start + day_ms - 1) for store in opened]
        total += reads[0].height
        for data, got in zip(stores[1:], reads[1:], strict=True):
            if not got.equals(reads[0]):
                print(f"{data}: not the same samples as {stores[0]} in the day from {start} ms")
                return 1
    if total != samples:
        print(f"{total:,} samples read back, expected {samples:,}")
        return 1
    print(f"\nevery store read back: {samples:,} samples, identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
