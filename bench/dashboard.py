"""Dashboard benchmark: the overview in a real browser with 1,000 objectives over 30 days.

Run: ``.venv/bin/python -m bench.dashboard [services] [days] [--baseline CHECKOUT]`` (default 100
services × 10 objectives = 1,000 objectives over 30 days; needs Playwright and Debian's
``chromium``, as the browser test does). The full size holds 26M rows: the benchmark frame and each
dashboard process need a few GB.

The store holds ``bench.evaluate``'s 1-minute history of the requests counters and the latency
histogram (6 series per service) up to now; each service has four availability and six latency
objectives, and a team label (ten teams). Streamlit runs as ``redline dashboard`` starts it, one
fresh process per column, and Chromium opens the overview. The columns, measured in one run:

- **baseline** (``--baseline CHECKOUT``, e.g. ``/work/main``): that checkout's own
  ``dashboard/app.py`` on the same store, at the history's end (``?at=``);
- **evaluated here**: this code at the history's end (``?at=``): the dashboard evaluates every
  objective itself, the fallback when the agent's last evaluation cannot be used;
- **agent's evaluation**: this code, live, after the agent's last evaluation was written (as the
  agent does after each evaluation, ``redline.agent.last_evaluation``).

The rows: **first paint** (``goto`` until the "What breaks first?" callout is visible, on a fresh
dashboard: nothing cached; target < 2 s), **warm paint** (the same page opened again), **rerun
after a filter change** (one service chosen, until the table says "10 of 1000 objectives" and the
script has finished; target < 500 ms) and **rerun after an objective change** (another objective
chosen in "Objective to inspect": its burn-down is read from the store).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import polars as pl
from playwright.sync_api import Page, sync_playwright

from bench.evaluate import MIN_MS, _history
from redline.agent.runtime import Agent
from redline.config import load_config
from redline.dashboard.launch import APP_PATH, dashboard_command
from redline.store.embedded import SampleStore

DAYS = 30
TARGET_PAINT_S = 2.0
TARGET_RERUN_S = 0.5
CHROMIUM = "/usr/bin/chromium"
CALLOUT = "What breaks first?"
ROWS = ("first paint", "warm paint", "rerun after a filter change", "rerun after an objective change")


def write_fleet(root: Path, services: int, days: int, end_ms: int) -> Path:
    """The store (history up to ``end_ms``) and the config for ``services``; returns the config."""
    minutes = days * 1440
    history, _ = _history(services, minutes, 0, end_ms - (minutes - 1) * MIN_MS)
    history = history.filter(pl.col("metric").is_in(["requests_total", "rq_seconds_bucket"]))
    store = SampleStore(root / "data")
    store.append(history)
    del history
    store.compact()
    lines = ["agent: {data_dir: ./data, retention: 35d, evaluate_interval: 2m}", "slos:"]
    for i in range(services):
        svc = f'service="svc{i:03d}"'
        labels = f"    labels: {{team: team{i % 10}}}"
        for target in (99.9, 99.5, 99.0, 95.0):
            lines += [
                f"  - name: svc{i:03d}-availability-{target}",
                f"    objective: {target}",
                labels,
                f"    sli: {{ratio: {{errors: 'requests_total{{{svc},code=\"500\"}}', "
                f"total: 'requests_total{{{svc}}}'}}}}",
            ]
        for thr, target in (("100ms", 90.0), ("250ms", 99.0), ("500ms", 99.9), ("250ms", 95.0), ("100ms", 80.0),
                            ("500ms", 99.0)):
            lines += [
                f"  - name: svc{i:03d}-latency-{thr}-{target:g}",
                f"    objective: {target}",
                labels,
                f"    sli: {{latency: {{histogram: 'rq_seconds{{{svc}}}', threshold: {thr}}}}}",
            ]
    config = root / "redline.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@contextmanager
def dashboard(config: Path, port: int, app: Path) -> Iterator[str]:
    """``streamlit run`` of ``app`` (this checkout's or the baseline's) as ``redline dashboard`` starts it."""
    command = [str(app) if part == str(APP_PATH) else part for part in dashboard_command(config, port=port)]
    if app != APP_PATH:  # the baseline's own code: plain ``streamlit run``, nothing of this checkout's imported
        command = [("streamlit" if part == "redline.dashboard.serve" else part) for part in command]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=config.parent)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _timed(action: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


def _filter_change(page: Page, services: int) -> None:
    page.get_by_text(f"10 of {services * 10} objectives pass the filters.").wait_for()
    page.wait_for_selector("[data-test-script-state=notRunning]")


def measure(
    url: str, config: Path, port: int, app: Path, services: int, *, filters: bool, provenance: str | None = None
) -> dict[str, float]:
    """The four figures, in seconds, for ``url`` on a fresh dashboard (NaN where the page has no
    filters); ``provenance`` is the caption the page must show (where its figures come from)."""
    out: dict[str, float] = {}
    with dashboard(config, port, app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        page.set_default_timeout(600_000)
        for label in ("first paint", "warm paint"):
            t0 = time.perf_counter()
            page.goto(base + url)
            page.get_by_text(CALLOUT).first.wait_for()
            out[label] = time.perf_counter() - t0
            page.wait_for_selector("[data-test-script-state=notRunning]")
            if provenance is not None:
                page.get_by_text(provenance).first.wait_for(timeout=30_000)
        out["rerun after a filter change"] = float("nan")
        if filters:
            page.locator("[data-testid=stMultiSelect]", has_text="service").click()
            option = page.get_by_role("option", name="svc001", exact=True)
            option.wait_for()
            t0 = time.perf_counter()
            option.click()
            _filter_change(page, services)
            out["rerun after a filter change"] = time.perf_counter() - t0
            page.keyboard.press("Escape")
        page.get_by_label("Objective to inspect").click()
        t0 = time.perf_counter()
        page.get_by_role("option").nth(1).click()
        page.wait_for_selector("[data-test-script-state=running]", timeout=5_000)
        page.wait_for_selector("[data-test-script-state=notRunning]")
        out["rerun after an objective change"] = time.perf_counter() - t0
        browser.close()
    return out


def agent_writes_its_evaluation(config: Path) -> float:
    """An agent on the fleet's store, as ``redline run`` starts it: it loads the history, evaluates
    once and so writes its last evaluation for the dashboard. Returns the seconds the start took
    (the agent's, not the page's)."""
    loaded = load_config(config)
    t0 = time.perf_counter()
    agent = Agent(loaded, env={}, serve_metrics=False)
    try:
        agent.load_history()
        agent.evaluate()
    finally:
        agent.shutdown()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="?", type=int, default=100)
    parser.add_argument("days", nargs="?", type=int, default=DAYS)
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. /work/main) whose dashboard to measure")
    parser.add_argument("--dir", type=Path, help="keep the fleet in this folder and reuse it when it is there")
    args = parser.parse_args()
    services, days = args.services, args.days
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp)
        config = root / "redline.yaml"
        if not config.is_file():
            root.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            write_fleet(root, services, days, int(time.time() * 1000) // MIN_MS * MIN_MS)
            print(f"store: {services * 10} objectives, {services * 6} series × {days} days written in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
        end_ms = SampleStore(root / "data").newest_timestamp_ms()
        assert end_ms is not None
        at = f"/?at={end_ms // 1000}"
        columns: dict[str, dict[str, float]] = {}
        if args.baseline is not None:
            app = args.baseline.resolve() / "dashboard" / "app.py"
            columns["baseline"] = measure(at, config, 18_611, app, services, filters=False)
        columns["evaluated here"] = measure(
            at, config, 18_612, APP_PATH, services, filters=True, provenance="Figures evaluated here."
        )
        seconds = agent_writes_its_evaluation(config)
        print(f"the agent's start and first evaluation (the agent's time, not the page's): {seconds:.1f} s", flush=True)
        columns["agent's evaluation"] = measure(
            "/", config, 18_613, APP_PATH, services, filters=True, provenance="Figures as evaluated by the agent at"
        )
    print(f"{'':34}" + "".join(f"{name:>20}" for name in columns) + "  target")
    for label in ROWS:
        target = TARGET_PAINT_S if label == "first paint" else TARGET_RERUN_S if "filter" in label else None
        cells = "".join(
            f"{'—':>20}" if figures[label] != figures[label] else f"{figures[label]:>18.2f} s"
            for figures in columns.values()
        )
        print(f"{label:34}{cells}  {f'< {target:g} s' if target else ''}")


if __name__ == "__main__":
    main()
