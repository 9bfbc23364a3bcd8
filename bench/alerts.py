"""Alerts benchmark: one ``AlertManager.process()`` tick for 1,000 objectives.

Run: ``.venv/bin/python -m bench.alerts``. Scenarios, each timed over several ticks:

- calm: no objective burns (the usual tick: one read of the alert table, no write);
- steady firing: every objective keeps firing with fresh burn rates, so every alert's
  annotations are rewritten (the worst steady state), in one transaction per tick —
  side by side with the baseline of one transaction per alert, in the same run;
- storm: all 1,000 objectives start firing at once: the tick writes every transition and its
  outbox intent in one transaction (delivery happens later, on the outbox's workers).

The issue's bar: a tick with 1,000 objectives firing costs the same as one with none (±10%).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from redline.alerts.log_notifier import LogNotifier
from redline.alerts.manager import AlertManager
from redline.alerts.state import AlertStateStore
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.spec import BURN_WINDOWS

N_OBJECTIVES = 1000
TICKS = 5
POLICY_TICKS = 20
ROUNDS = 4
T0 = 1_767_225_600.0


def _report(at: float, burn: float) -> StatusReport:
    objectives = [
        ObjectiveResult(
            name=f"slo-{i:04d}",
            kind="availability",
            dimension="users",
            target=0.999,
            window="30d",
            window_seconds=30 * 86400.0,
            value=0.99,
            budget_remaining=0.5,
            burn_rates=dict.fromkeys(BURN_WINDOWS, burn + i * 1e-4),
            time_to_breach_seconds=3600.0,
            status="warning",
            reason=f"error ratio {burn / 10:.3f}%",
        )
        for i in range(N_OBJECTIVES)
    ]
    return StatusReport(at=at, dimensions=(), objectives=objectives)


def _ms(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:8.1f} ms  (min {min(seconds) * 1000:.1f})"


def main() -> None:
    quiet = logging.getLogger("bench.alerts.quiet")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    with tempfile.TemporaryDirectory() as tmp:
        clock = [T0]
        store = AlertStateStore(Path(tmp) / "alerts.db")
        manager = AlertManager(
            store, [LogNotifier(quiet)], clock=lambda: clock[0], logger=quiet, repeat_interval_s=None
        )  # the notifier's name only: process() writes intents, it never sends

        calm: list[float] = []
        for tick in range(TICKS):
            clock[0] = T0 + tick * 60
            report = _report(clock[0], 0.1)
            started = time.perf_counter()
            manager.process(report)
            calm.append(time.perf_counter() - started)

        clock[0] += 60
        report = _report(clock[0], 100.0)
        started = time.perf_counter()
        events = manager.process(report)
        storm = time.perf_counter() - started
        notified = sum(len(e.owed_to) for e in events)

        steady: list[float] = []
        for tick in range(TICKS):
            clock[0] += 60
            report = _report(clock[0], 100.0 + tick)
            started = time.perf_counter()
            manager.process(report)
            steady.append(time.perf_counter() - started)

        # Before: the same steady ticks re-reading every alert row's version each tick (the
        # database-version stamp forgotten before each one), as records() did before it.
        unstamped: list[float] = []
        for tick in range(TICKS):
            clock[0] += 60
            report = _report(clock[0], 100.0 + TICKS + tick)
            store._records_stamp = None  # the bench measures the previous behaviour
            started = time.perf_counter()
            manager.process(report)
            unstamped.append(time.perf_counter() - started)

        # Baseline: the same rewrite of every firing alert, one transaction per alert.
        baseline: list[float] = []
        for tick in range(TICKS):
            records = store.records()
            started = time.perf_counter()
            for record in records:
                store.save(replace(record, annotations={"tick": str(tick)}, updated_at=clock[0] + tick))
            baseline.append(time.perf_counter() - started)
        store.close()

    print(f"alerts: {N_OBJECTIVES} objectives × 2 severities, {TICKS} ticks each")
    print(f"  calm tick                          {_ms(calm)}")
    print(f"  steady firing, one transaction     {_ms(steady)}")
    print(f"  baseline: one transaction per alert {_ms(baseline)}")
    speedup = statistics.median(baseline) / statistics.median(steady)
    print(f"  speed-up over baseline             {speedup:.1f}×")
    print(f"  storm: {notified} transitions and outbox intents written in {storm * 1000:.0f} ms "
          f"({storm / max(notified, 1) * 1000:.2f} ms each)")
    ratio = statistics.median(steady) / statistics.median(calm)
    before = statistics.median(unstamped) / statistics.median(calm)
    print(f"  steady firing, rows re-read (before) {_ms(unstamped)}")
    print(f"  1,000 firing vs none (steady tick / calm tick) {ratio:.2f}× (before: {before:.2f}×; bar: 0.90–1.10)")
    with_policy(sys.argv[1:])


_POLICY_TICKS = """
import json, logging, sys, tempfile, time
from pathlib import Path
from bench.alerts import _report, T0
from redline.alerts.alert_policy import AlertPolicy
from redline.alerts.hysteresis_store import HysteresisStore
from redline.alerts.log_notifier import LogNotifier
from redline.alerts.manager import AlertManager
from redline.alerts.state import AlertStateStore

quiet = logging.getLogger("bench.alerts.quiet")
quiet.addHandler(logging.NullHandler())
quiet.propagate = False
ticks = int(sys.argv[1])


def timed(manager, report, wall, cpu):
    started, cpu_started = time.perf_counter(), time.process_time()
    manager.process(report)
    wall.append(time.perf_counter() - started)
    cpu.append(time.process_time() - cpu_started)


def wrote(store):
    # whether the last tick rewrote alert rows (the figures refreshed every 300 s)
    return store.query("SELECT max(updated_at) FROM alerts")[0][0] == clock[0]


with tempfile.TemporaryDirectory() as tmp:
    clock = [T0]
    stores, managers = [], []
    for name in ("calm", "firing"):
        store = AlertStateStore(Path(tmp) / f"{name}.db")
        hysteresis = HysteresisStore(Path(tmp) / f"{name}.db")
        stores += [store, hysteresis]
        managers.append(AlertManager(
            store, [LogNotifier(quiet)], clock=lambda: clock[0], logger=quiet, repeat_interval_s=None,
            alert_policy=AlertPolicy(store=hysteresis),
        ))
    calm_manager, firing_manager = managers
    calm, steady, calm_cpu, steady_cpu, refresh, refresh_cpu = [], [], [], [], [], []
    for tick in range(3 + ticks):  # into firing (past the tiers' for:), then steady; ticks alternated
        clock[0] = T0 + tick * 60
        calm_report, firing_report = _report(clock[0], 0.1), _report(clock[0], 100.0 + tick)
        if tick < 3:
            calm_manager.process(calm_report)
            firing_manager.process(firing_report)
        else:
            wall, cpu = [], []
            if tick % 2:
                timed(calm_manager, calm_report, calm, calm_cpu)
            timed(firing_manager, firing_report, wall, cpu)
            if not tick % 2:
                timed(calm_manager, calm_report, calm, calm_cpu)
            if wrote(stores[2]):
                refresh += wall
                refresh_cpu += cpu
            else:
                steady += wall
                steady_cpu += cpu
    firing = sum(r.state == "firing" for r in stores[2].records())
    for store in stores:
        store.close()
print(json.dumps({"calm": calm, "steady": steady, "calm_cpu": calm_cpu, "steady_cpu": steady_cpu,
                  "refresh": refresh, "refresh_cpu": refresh_cpu, "firing": firing}))
"""
"""One run of the agent's setup (per-objective tiers, ``for:`` and resolve delay persisted each
tick) in a child process whose working directory picks the code: this tree or a baseline's. Only
APIs both trees have."""


def _policy_run(tree: Path, ticks: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _POLICY_TICKS, str(ticks)], cwd=tree, capture_output=True, text=True,
        check=True, env={**os.environ, "PYTHONPATH": str(tree)},
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def with_policy(argv: list[str]) -> None:
    """The agent's own setup, calm against 1,000 objectives firing, in this tree and in a baseline
    tree (``--baseline DIR``, by default the main checkout when there is one), runs alternated."""
    here = Path(__file__).resolve().parent.parent
    baseline = Path(argv[argv.index("--baseline") + 1]) if "--baseline" in argv else Path("/work/main")
    trees = [("this tree", here)]
    if baseline.is_dir() and baseline.resolve() != here:
        trees.append(("baseline", baseline))
    figures = ("calm", "steady", "calm_cpu", "steady_cpu", "refresh", "refresh_cpu")
    runs: dict[str, dict[str, list[float]]] = {name: {f: [] for f in figures} for name, _ in trees}
    firing: dict[str, int] = {}
    for _ in range(ROUNDS):
        for name, tree in trees:
            result = _policy_run(tree, POLICY_TICKS)
            for f in figures:
                runs[name][f] += result[f]
            firing[name] = int(result["firing"])
    print(f"with the agent's alert policy (tiers, for:, resolve delay persisted), {ROUNDS} runs each, alternated;")
    print("  wall time, and the process's CPU time (what a loaded machine does not blur):")
    for name, tree in trees:
        run = runs[name]
        print(f"  {name} ({tree}), {firing[name]} alerts firing:")
        for unit, calm, steady in (("wall", run["calm"], run["steady"]), ("CPU", run["calm_cpu"], run["steady_cpu"])):
            ratio = statistics.median(steady) / statistics.median(calm)
            print(f"    {unit:4} calm tick {_ms(calm)}; steady firing tick {_ms(steady)}; "
                  f"ratio {ratio:.2f}× (bar: 0.90–1.10)")
        print(f"    and {len(run['refresh'])} firing ticks that refreshed every alert's figures (every 300 s): "
              f"wall {_ms(run['refresh'])}, CPU {_ms(run['refresh_cpu'])}")

if __name__ == "__main__":
    main()
