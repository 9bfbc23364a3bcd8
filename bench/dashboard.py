"""Dashboard benchmark: the overview in a real browser with many objectives over 30 days.

Run: ``.venv/bin/python -m bench.dashboard [services] [days]`` (default 100 services × 10
objectives = 1,000 objectives over 30 days; needs Playwright and Debian's ``chromium``, as the
browser test does). The full size holds 26M rows: the benchmark frame and the dashboard process
each need a few GB.

The store holds ``bench.evaluate``'s 1-minute history of the requests counters and the latency
histogram (6 series per service); each service has four availability and six latency objectives.
Streamlit runs as ``redline dashboard`` starts it; Chromium opens the overview at the history's end.
Measured, in one run:

- **first meaningful paint**: from ``goto`` to the "What breaks first?" callout visible, on a
  freshly started dashboard (cold: nothing cached; target < 2 s);
- **warm paint**: the same page opened again while its evaluation is cached (15 s TTL);
- **rerun after a selection change**: another objective chosen in "Objective to inspect", until
  the script has finished (target < 500 ms);
- **baseline**: the same on a 10-objective config (one service) in the same run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import polars as pl
from playwright.sync_api import sync_playwright

from bench.evaluate import MIN_MS, _history
from redline.dashboard.launch import dashboard_command
from redline.store.embedded import SampleStore

DAYS = 30
START_MS = 1_700_000_000_000 // MIN_MS * MIN_MS
TARGET_PAINT_S = 2.0
TARGET_RERUN_S = 0.5
CHROMIUM = "/usr/bin/chromium"


def write_fleet(root: Path, services: int, days: int = DAYS) -> tuple[Path, int]:
    """The store and config for ``services``; returns the config and the history's end (s)."""
    minutes = days * 1440
    history, _ = _history(services, minutes, 0, START_MS)
    history = history.filter(pl.col("metric").is_in(["requests_total", "rq_seconds_bucket"]))
    store = SampleStore(root / "data")
    store.append(history)
    del history
    store.compact()
    lines = ["agent: {data_dir: ./data, retention: 35d}", "slos:"]
    for i in range(services):
        svc = f'service="svc{i:03d}"'
        for target in (99.9, 99.5, 99.0, 95.0):
            lines += [
                f"  - name: svc{i:03d}-availability-{target}",
                f"    objective: {target}",
                f"    sli: {{ratio: {{errors: 'requests_total{{{svc},code=\"500\"}}', "
                f"total: 'requests_total{{{svc}}}'}}}}",
            ]
        for thr, target in (("100ms", 90.0), ("250ms", 99.0), ("500ms", 99.9), ("250ms", 95.0), ("100ms", 80.0),
                            ("500ms", 99.0)):
            lines += [
                f"  - name: svc{i:03d}-latency-{thr}-{target:g}",
                f"    objective: {target}",
                f"    sli: {{latency: {{histogram: 'rq_seconds{{{svc}}}', threshold: {thr}}}}}",
            ]
    config = root / "redline.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config, (START_MS + (minutes - 1) * MIN_MS) // 1000


@contextmanager
def dashboard(config: Path, port: int) -> Iterator[str]:
    proc = subprocess.Popen(dashboard_command(config, port=port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=config.parent)
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


def measure(config: Path, at_s: int, port: int) -> dict[str, float]:
    """Cold paint, warm paint and rerun after a selection change, in seconds."""
    out: dict[str, float] = {}
    with dashboard(config, port) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        page.set_default_timeout(600_000)
        for label in ("cold paint", "warm paint"):
            t0 = time.perf_counter()
            page.goto(f"{base}/?at={at_s}")
            page.get_by_text("What breaks first?").first.wait_for()
            out[label] = time.perf_counter() - t0
            page.wait_for_selector("[data-test-script-state=notRunning]")
        box = page.get_by_label("Objective to inspect")
        box.click()
        options = page.get_by_role("option")
        t0 = time.perf_counter()
        options.nth(1).click()
        page.wait_for_selector("[data-test-script-state=running]", timeout=5_000)
        page.wait_for_selector("[data-test-script-state=notRunning]")
        out["rerun after a change"] = time.perf_counter() - t0
        browser.close()
    return out


def main() -> None:
    services = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    days = int(sys.argv[2]) if len(sys.argv) > 2 else DAYS
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "big").mkdir()
        (root / "small").mkdir()
        t0 = time.perf_counter()
        big, at_s = write_fleet(root / "big", services, days)
        print(f"store: {services * 10} objectives, {services * 6} series × {days} days written in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        small, _ = write_fleet(root / "small", 1, days)
        baseline = measure(small, at_s, 18_611)
        figures = measure(big, at_s, 18_612)
    print(f"{'':28}{'10 objectives':>14}{f'{services * 10} objectives':>18}  target")
    rows = (("cold paint", TARGET_PAINT_S), ("warm paint", None), ("rerun after a change", TARGET_RERUN_S))
    for label, target in rows:
        goal = f"< {target:g} s" if target else ""
        print(f"{label:28}{baseline[label]:>12.2f} s{figures[label]:>16.2f} s  {goal}")


if __name__ == "__main__":
    main()
