"""SIGKILL during compaction at random points: no sample written is lost, none is stored twice.

A child process runs a deterministic workload against a store (batches of ``SERIES`` series, one
timestamp each, 30 minutes apart, so days close and their runs merge into a base; some batches
replay an earlier one, so the same samples arrive twice; a compaction after every few appends,
with a small ``max_merge_rows`` so pending batches are taken in chunks and a closed day stays in
several runs). Inside ``compact`` the child counts steps: every ``os.replace`` (a file appearing),
``os.unlink`` (an input going), ``os.fsync`` and Parquet row-group write (a file half written);
at step ``kill_at`` it sends itself SIGKILL, before the step runs. The parent then opens the store
as a restarted agent would and checks:

- every batch the child reported as appended is there, each of its ``SERIES`` samples once;
- nothing is stored twice (each (series, timestamp) once), and a batch is there whole or not at all;
- ``check()`` finds no damaged file, and a compaction after the restart changes no answer.

A first run without a kill counts the steps of the whole workload; the points are drawn from that
range with a fixed seed. Run: ``.venv/bin/python -m bench.kill_compaction [--points 20] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import CompactionPolicy, SampleStore

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STEP_MS = 1_800_000  # 30 minutes between batches: 48 batches a day
SERIES = 50
APPENDS = 150  # a bit over three days
COMPACT_EVERY = 3  # appends between two compactions (pending batches pile up a little)
REPLAY_EVERY = 7  # every 7th batch is followed by a replay of the one two before it
POLICY = CompactionPolicy(merge_fanout=2, small_run_rows=0, max_merge_rows=800)
ROOT = Path(__file__).resolve().parents[1]


def batch(i: int) -> pl.DataFrame:
    """Batch ``i``: every series at ``T0 + i * STEP_MS`` with value ``i``."""
    rows = [("m", f'k="{k}"', T0 + i * STEP_MS, float(i)) for k in range(SERIES)]
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def child(data: Path, kill_at: int) -> None:
    """The workload; prints ``appended <i>`` once batch i is stored and ``steps <n>`` at the end."""
    import pyarrow.parquet as pq

    steps = 0
    compacting = False

    def counted(real):  # type: ignore[no-untyped-def]
        def step(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal steps
            if compacting:
                steps += 1
                if steps == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        return step

    os.replace = counted(os.replace)
    os.unlink = counted(os.unlink)
    os.fsync = counted(os.fsync)
    pq.ParquetWriter.write_table = counted(pq.ParquetWriter.write_table)  # type: ignore[method-assign]
    store = SampleStore(data, policy=POLICY)
    for i in range(APPENDS):
        for j in (i, i - 2) if i % REPLAY_EVERY == REPLAY_EVERY - 1 else (i,):
            store.append(batch(j))
            print(f"appended {j}", flush=True)
        if i % COMPACT_EVERY == COMPACT_EVERY - 1:
            compacting = True
            store.compact()
            compacting = False
    compacting = True
    store.compact()
    print(f"steps {steps}", flush=True)


@dataclass(frozen=True)
class PointResult:
    """What one killed run left: batches reported appended and found; samples of appended batches
    missing (``lost``) or stored twice; batches found with a part of their samples; damaged files;
    whether a compaction after the restart changed what a read returns."""

    kill_at: int
    killed: bool
    appended: int
    found: int
    lost: int
    duplicated: int
    partial: int
    damaged: int
    changed_by_compaction: bool

    @property
    def ok(self) -> bool:
        return (
            self.killed
            and not self.lost
            and not self.duplicated
            and not self.partial
            and not self.damaged
            and not self.changed_by_compaction
        )


def run_child(data: Path, kill_at: int) -> tuple[int, list[str]]:
    """Run the workload in a child process; its return code and output lines."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.kill_compaction", "--child", str(data), "--kill-at", str(kill_at)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    return proc.returncode, proc.stdout.splitlines()


def count_steps(workdir: Path) -> int:
    """Steps inside compaction of the whole workload (a run that is not killed)."""
    code, lines = run_child(workdir / "count", 0)
    if code != 0 or not lines or not lines[-1].startswith("steps "):
        raise RuntimeError(f"the workload failed (exit {code}): {lines[-3:]}")
    return int(lines[-1].split()[1])


def check_point(workdir: Path, kill_at: int) -> PointResult:
    """Kill the workload at step ``kill_at`` of compaction, reopen the store and count the damage."""
    data = workdir / f"kill-{kill_at}"
    code, lines = run_child(data, kill_at)
    appended = {int(line.split()[1]) for line in lines if line.startswith("appended ")}
    store = SampleStore(data, policy=POLICY)
    damaged = len(store.check())
    end = T0 + APPENDS * STEP_MS
    got = store.read([], 0, end)
    per_value = dict(got.group_by("value").len().iter_rows())
    found = {int(v) for v in per_value}
    lost = sum(SERIES - per_value.get(float(i), 0) for i in appended)
    partial = sum(1 for n in per_value.values() if n != SERIES)
    duplicated = got.height - got.select("labels", "timestamp").n_unique()
    store.compact()
    changed = not store.read([], 0, end).equals(got)
    return PointResult(
        kill_at, code == -signal.SIGKILL, len(appended), len(found), lost, duplicated, partial, damaged, changed
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--points", type=int, default=20, help="kill points to try")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random points")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kill-at", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.kill_at)
        return 0
    with tempfile.TemporaryDirectory(prefix="redline-bench-kill-") as tmp:
        total = count_steps(Path(tmp))
        points = sorted(random.Random(args.seed).sample(range(1, total + 1), args.points))
        print(
            f"workload: {APPENDS} batches of {SERIES} samples over 3 days, {total} steps inside compaction; "
            f"SIGKILL at {args.points} random steps (seed {args.seed})\n"
        )
        print(
            f"{'step':>6} {'killed':>6} {'appended':>8} {'found':>6} {'lost':>5} {'dup':>5} {'partial':>7} "
            f"{'damaged':>7} {'changed':>7}"
        )
        results = []
        for point in points:
            r = check_point(Path(tmp), point)
            results.append(r)
            print(
                f"{r.kill_at:>6} {r.killed!s:>6} {r.appended:>8} {r.found:>6} {r.lost:>5} {r.duplicated:>5} "
                f"{r.partial:>7} {r.damaged:>7} {r.changed_by_compaction!s:>7}",
                flush=True,
            )
    bad = [r.kill_at for r in results if not r.ok]
    lost = sum(r.lost for r in results)
    dup = sum(r.duplicated for r in results)
    print(
        f"\n{len(results) - len(bad)}/{len(results)} points clean: {lost} samples lost, "
        f"{dup} samples stored twice" + (f"; failed at steps {bad}" if bad else "")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
