"""``redline status --json`` and an agent restart with 30 days x 1,000 objectives stored: from the
checkpoint plus the raw tail, beside the full rebuild from raw samples (the way before checkpoints,
the baseline), beside the same objective as a PromQL query on a real Prometheus.

Run: ``python -m bench.status_restart [services] [--keep DIR]`` (default 100 services x 10
objectives = 1,000 objectives, 12 series each, one sample a minute for 30 days: 52M samples; the
seeding alone takes minutes, so ``--keep DIR`` seeds once and reuses; a full rebuild of that
needs ~18 GB). Not in ``make bench``: it takes longer than the others together.

Measured, each in its own process (wall time and the child's peak RSS from ``/usr/bin/time``):
status from the checkpoint (written 10 minutes before the end, as the agent's default
``checkpoint_interval`` leaves it at worst) and status as a full rebuild (the checkpoint moved
away), their ``--json`` documents compared figure for figure; an agent's restart to its first
evaluation both ways. Prometheus 2.42 (Debian's package) holds one service's 12 series for the
same 30 days (backfilled with promtool: the smaller scale on its side), and answers the same
availability objective's 30-day error ratio as one instant query.

Goals (issue 10): status under 1 s and 300 MB; restart to first evaluation under 2 s; answers
identical to a full rebuild.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import yaml

from bench.evaluate import _history, _specs
from redline.checkpoints.resume import resume, save
from redline.store.checkpoint_file import checkpoint_path
from redline.store.embedded import SampleStore
from tests.prometheus_server import api_data, serve_prometheus

MIN_MS = 60_000
DAYS = 30
CHECKPOINT_AGE_MIN = 10
START_MS = 1_700_000_040_000 - 1_700_000_040_000 % MIN_MS

RESTART = """
import sys, time
from pathlib import Path
from redline.agent.runtime import Agent
from redline.config import load_config
t0 = time.perf_counter()
loaded = load_config(Path(sys.argv[1]))
agent = Agent(loaded, env={}, clock=lambda: float(sys.argv[2]), serve_metrics=False)
agent.load_history()
agent.evaluate()
print(agent.resumed_from, time.perf_counter() - t0)
agent.shutdown()
"""
"""An agent's restart: config, the agent built, ``load_history`` (the cold start ``start`` runs),
the first evaluation; timed inside the process after the imports, and whole by ``/usr/bin/time``."""

STATUS = """
import sys, time
from pathlib import Path
from redline.agent.status import compute_status, render_json
from redline.config import load_config
t0 = time.perf_counter()
document = render_json(compute_status(load_config(Path(sys.argv[1])), float(sys.argv[2])))
sys.stderr.write(f"in-process {time.perf_counter() - t0}\\n")
print(document)
"""
"""``redline status --json``'s work (``cmd_status``) timed inside the process after the imports."""

IMPORTS = "import redline.agent.cli, redline.agent.status, redline.agent.runtime"
"""The floor of any ``redline`` command here: Python and the imports, nothing run."""


def _seed(root: Path, services: int) -> tuple[Path, int]:
    """The config and store of ``services`` x 10 objectives over 30 days; the last sample's time."""
    config = root / "redline.yaml"
    data = root / "data"
    end_ms = START_MS + (DAYS * 1440 - 1) * MIN_MS
    if config.exists():
        return config, end_ms
    specs = _specs(services)
    store = SampleStore(data)
    seeded = root / "seeded"
    if not seeded.exists():
        history, _ = _history(services, DAYS * 1440, 0, START_MS)
        started = time.perf_counter()
        for day in range(DAYS):
            lo, hi = START_MS + day * 86_400_000, START_MS + (day + 1) * 86_400_000
            store.append(history.filter((pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi)))
            store.compact()
        print(f"seeded {history.height:,} samples in {time.perf_counter() - started:.0f} s", flush=True)
        del history  # the rebuild below needs the memory
        gc.collect()
        seeded.touch()
    at_ms = end_ms - CHECKPOINT_AGE_MIN * MIN_MS
    resumed = resume(store, specs, [], at_ms)
    size = save(data, resumed.evaluator, specs, [], at_ms)
    print(f"checkpoint: {size / 1e6:.0f} MB, current {CHECKPOINT_AGE_MIN} min before the end", flush=True)
    config.write_text(yaml.safe_dump({  # last: a folder with a config is seeded whole
        "agent": {"data_dir": str(data), "listen": "127.0.0.1:0", "retention": "35d"},
        "slos": [s.model_dump(mode="json", exclude_defaults=True) for s in specs],
    }, sort_keys=False))
    return config, end_ms


def _timed(cmd: list[str]) -> tuple[str, str, float, float]:
    """stdout, stderr, wall seconds and peak RSS (MB) of ``cmd``, run under ``/usr/bin/time``."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], capture_output=True, text=True, check=True)
    wall, rss_kb = out.stderr.strip().splitlines()[-1].split()
    return out.stdout, out.stderr, float(wall), int(rss_kb) / 1024


def _status(config: Path, at_s: float) -> tuple[dict[str, object], float, float]:
    """``redline status --json --at``: the document, wall seconds, peak RSS (MB)."""
    stdout, _, wall, rss = _timed([sys.executable, "-m", "redline.agent.cli", "status", "--config", str(config),
                                   "--json", "--at", str(at_s)])
    return json.loads(stdout), wall, rss


def _status_inside(config: Path, at_s: float) -> float:
    """Seconds of status's work inside the process, after the imports."""
    _, stderr, _, _ = _timed([sys.executable, "-c", STATUS, str(config), str(at_s)])
    return float(next(line for line in stderr.splitlines() if line.startswith("in-process")).split()[1])


def _restart(config: Path, at_s: float) -> tuple[str, float, float, float]:
    stdout, _, wall, rss = _timed([sys.executable, "-c", RESTART, str(config), str(at_s)])
    source, seconds = stdout.split()[-2:]
    return source, float(seconds), wall, rss


def _prometheus(root: Path, end_ms: int) -> tuple[float, float]:
    """Prometheus's answer and median query seconds for service 0's 30-day availability error ratio
    (its two request series backfilled with promtool as one block)."""
    history, _ = _history(1, DAYS * 1440, 0, START_MS)
    lines = ["# TYPE requests counter"]
    requests = history.filter(pl.col("metric") == "requests_total")
    for (labels,), part in requests.group_by(["labels"], maintain_order=True):
        ts, vs = part.get_column("timestamp").to_numpy(), part.get_column("value").to_numpy()
        lines += [f"requests_total{{{labels}}} {v:.17g} {t / 1000:.3f}" for t, v in zip(ts, vs, strict=True)]
    om = root / "history.om"
    om.write_text("\n".join(lines) + "\n# EOF\n")
    data = root / "data"
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=800h", str(om), str(data)],
        check=True, capture_output=True, timeout=600,
    )
    query = ('sum(increase(requests_total{service="svc000",code="500"}[30d])) / '
             'sum(increase(requests_total{service="svc000"}[30d]))')
    times = []
    with serve_prometheus(data, root) as url, httpx.Client(timeout=60) as client:
        for _ in range(5):
            started = time.perf_counter()
            found = api_data(client, url, "/api/v1/query", query=query, time=str(end_ms / 1000))
            times.append(time.perf_counter() - started)
    return float(found["result"][0]["value"][1]), float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("services", type=int, nargs="?", default=100, help="services, 10 objectives each")
    parser.add_argument("--runs", type=int, default=2, help="alternated runs of each way (a rebuild needs ~12 GB)")
    parser.add_argument("--keep", type=Path, help="seed here once and reuse (default: a temporary folder)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="redline-status-restart-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        config, end_ms = _seed(root, args.services)
        at_s = end_ms / 1000
        ckpt = checkpoint_path(root / "data")
        aside = ckpt.with_name("aside.ckpt")
        rows: list[tuple[str, str, float, float]] = []
        reports = {}
        _, _, wall, rss = _timed([sys.executable, "-c", IMPORTS])
        rows.append(("python + imports only (the floor)", "", wall, rss))
        for run in range(args.runs):  # alternated: checkpoint, rebuild, checkpoint, rebuild
            for how in ("checkpoint", "rebuild"):
                if how == "rebuild":
                    ckpt.rename(aside)
                try:
                    report, wall, rss = _status(config, at_s)
                    reports[how] = report
                    inside = _status_inside(config, at_s)
                    rows.append((f"status --json ({how}, run {run + 1})", f"{inside:.2f} s", wall, rss))
                    print("  measured:", *rows[-1], flush=True)
                    source, first_eval, wall, rss = _restart(config, at_s)
                    assert source == how, (source, how)
                    rows.append((f"restart to 1st evaluation ({how}, run {run + 1})", f"{first_eval:.2f} s", wall, rss))
                    print("  measured:", *rows[-1], flush=True)
                finally:
                    if how == "rebuild":
                        aside.rename(ckpt)
        same = reports["checkpoint"] == reports["rebuild"]
        print(f"\n{args.services * 10} objectives, {DAYS} days stored; status and restart each in its own process\n")
        print(f"  {'what':<52} {'in-process':>10} {'wall s':>7} {'max RSS MB':>10}")
        for what, inner, wall, rss in rows:
            print(f"  {what:<52} {inner:>10} {wall:>7.2f} {rss:>10.0f}")
        print(f"\n  checkpoint report == full rebuild report (every figure): {same}", flush=True)
        prom_root = root / "prometheus"
        shutil.rmtree(prom_root, ignore_errors=True)
        prom_root.mkdir()
        ratio, prom_s = _prometheus(prom_root, end_ms)
        ours = next(o for o in reports["checkpoint"]["objectives"] if o["name"] == "svc000-availability-99.9")  # type: ignore[index, union-attr]
        print(f"  Prometheus 2.42, the same objective (2 series, 30 d) as one instant query: {prom_s:.3f} s")
        print(f"  svc000-availability-99.9 30-day error ratio: Redline {1 - ours['sli']:.6g}, Prometheus {ratio:.6g}")
        print("  goals: status < 1 s and < 300 MB; restart to first evaluation < 2 s")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
