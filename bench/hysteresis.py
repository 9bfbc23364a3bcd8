"""Hysteresis benchmark: the flapper (pages with for: 2m) and the 99.5% latency backtest (tickets).

Run: ``.venv/bin/python -m bench.hysteresis`` (about 40 s).

- **flapper**: the live path (``AlertManager`` with ``AlertPolicy`` on a real ``alerts.sqlite``,
  30 s evaluations for 30 minutes) on a page condition flapping in several rhythms, a tier with
  ``for: 2m``; pages counted at the notifier, with the default resolve delay (one 5 m short
  window) beside the same tier with a 1 s delay (no resolve delay in effect: the baseline).
  Target: at most 2 pages in every rhythm.
- **backtest**: the demo's history (``redline.demo.history``, 33 days at 1-minute steps, seed 7),
  imported with ``redline import``; ``redline backtest --slo api-latency --compare-objective 99.5``
  over the last 30 days: its 1-day/2-hour and 3-day/6-hour ticket conditions hover around their
  factors at 99.5% (the issue's "9,918 one-minute tickets"), without hysteresis
  (``--no-hysteresis``, the previous policy) and with it (the objective's tiers, their resolve
  delay and inhibition).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from redline.alerts.alert_policy import AlertPolicy
from redline.alerts.hysteresis_store import HysteresisStore
from redline.alerts.manager import AlertManager
from redline.alerts.notifiers import Notification, Notifier
from redline.alerts.state import AlertStateStore
from redline.demo.history import write_history
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.spec import BURN_WINDOWS, SLOSpec

END_S = 1_764_000_000.0
T0 = 1_714_564_800.0
BURNING = {"5m": 25.0, "30m": 20.0, "1h": 20.0, "2h": 10.0, "6h": 4.0, "1d": 2.0, "3d": 0.5}
RHYTHMS = {  # seconds burning, seconds not, per cycle
    "30 s on / 30 s off": (30, 30),
    "60 s on / 30 s off": (60, 30),
    "150 s on / 30 s off": (150, 30),
    "4 min on / 30 s off": (240, 30),
    "random (p = 0.7 per 30 s)": (0, 0),
}


class _Count(Notifier):
    def __init__(self) -> None:
        self.name = "count"
        self.pages = 0

    def send(self, notification: Notification) -> None:
        if notification.status == "firing" and notification.severity == "page":
            self.pages += 1


def _objective(burning: bool) -> ObjectiveResult:
    rates: dict[str, float | None] = dict(BURNING) if burning else dict.fromkeys(BURN_WINDOWS, 0.0)
    return ObjectiveResult(
        name="api", kind="availability", dimension="users", objective=0.999, window="30d",
        window_seconds=30 * 86400.0, sli=0.99, budget_remaining=0.8, burn_rates=rates,
        time_to_breach_seconds=None, status="warning", reason="bench",
    )


def _flap(on_s: int, off_s: int, keep: str | None, tmp: Path) -> int:
    tier: dict[str, object] = {"severity": "page", "long_window": "1h", "short_window": "5m", "factor": 14.4,
                               "for": "2m"}
    if keep is not None:
        tier["keep_firing_for"] = keep
    spec = SLOSpec.model_validate({
        "name": "api", "objective": 99.9, "alerting": {"tiers": [tier]},
        "sli": {"ratio": {"errors": 'r{code="500"}', "total": "r"}},
    })
    path = tmp / f"{on_s}-{off_s}-{keep}.sqlite"
    now = [T0]
    counter = _Count()
    state, hyst = AlertStateStore(path), HysteresisStore(path)
    manager = AlertManager(state, [counter], clock=lambda: now[0], specs=[spec], repeat_interval_s=None,
                           alert_policy=AlertPolicy([spec], hyst))
    rng = np.random.default_rng(7)
    for i in range(60):
        t = 30 * i
        burning = bool(rng.random() < 0.7) if on_s == 0 else (t % (on_s + off_s)) < on_s
        now[0] = T0 + t
        manager.process(StatusReport(at=now[0], dimensions=(), objectives=(_objective(burning),)))
    state.close()
    hyst.close()
    return counter.pages


def _backtest_demo(tmp: Path) -> list[tuple[str, int, int, int, float]]:
    """The demo's 33 days of history (seed 7, as ``make demo``), imported with ``redline import``,
    and ``redline backtest --compare-objective 99.5`` over the last 30 days, before and after."""
    config = tmp / "demo.yaml"
    text = (Path(__file__).parent.parent / "examples" / "demo.yaml").read_text(encoding="utf-8")
    config.write_text(text.replace("data_dir: ./redline-data", f"data_dir: {tmp / 'data'}"), encoding="utf-8")
    write_history(tmp / "history.om", end_s=END_S, duration_s=33 * 86400.0, step_s=60, seed=7)
    redline = [sys.executable, "-m", "redline.agent.cli"]
    subprocess.run([*redline, "import", "--config", str(config), str(tmp / "history.om")], check=True,
                   capture_output=True)
    rows = []
    for label, flag in (("without hysteresis (before)", ["--no-hysteresis"]), ("with hysteresis (after)", [])):
        t0 = time.perf_counter()
        out = subprocess.run([*redline, "backtest", "--config", str(config), "--slo", "api-latency", "--since", "30d",
                              "--at", str(END_S), "--compare-objective", "99.5", "--json", *flag],
                             check=True, capture_output=True, text=True).stdout
        took = time.perf_counter() - t0
        episodes = json.loads(out)["objective 99.5"]["episodes"]
        tickets = [e for e in episodes if e["severity"] == "ticket"]
        pages = sum(e["severity"] == "page" for e in episodes)
        one_minute = sum(e["end"] is not None and e["end"] - e["start"] <= 60 for e in tickets)
        rows.append((label, pages, len(tickets), one_minute, took))
    return rows


def main(argv: list[str]) -> int:
    del argv
    worst = 0
    print("flapper, 30 s evaluations for 30 min, page tier with for: 2m — pages (target ≤ 2)")
    print(f"  {'rhythm':<28} {'no resolve delay':>16} {'resolve delay 5m':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (on_s, off_s) in RHYTHMS.items():
            before = _flap(on_s, off_s, "1s", Path(tmp))
            after = _flap(on_s, off_s, None, Path(tmp))
            worst = max(worst, after)
            print(f"  {name:<28} {before:>16} {after:>16}")

        rows = _backtest_demo(Path(tmp))
    print("\nbacktest: the demo's api-latency at 99.5% under 250 ms, 30 days at 1-minute steps (redline backtest)")
    print(f"  {'policy':<28} {'pages':>6} {'tickets':>8} {'1-min tickets':>14} {'time':>7}")
    for label, pages, tickets, one_minute, took in rows:
        print(f"  {label:<28} {pages:>6} {tickets:>8,} {one_minute:>14,} {took:>6.2f}s")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
