"""`redline demo` end to end, as `make demo` runs it but on the fast timeline: history, fleet,
agent, receiver and dashboard on 127.0.0.1; the scripted incident must page; Ctrl-C stops all.

``--timeline fast`` (``redline.demo.timeline``) is the same story compressed 8x: the incident
starts 5 s in and serves the real incident's errors in an eighth of the time, so the 1 h burn
rate still has to cross 14.4x against a full hour of healthy history, through scraping, the
engine, the alert policy and the webhook notifier. The test takes seconds, not a minute and a
half; the unit tests below pin the real timeline that `make demo` runs and the compression.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import polars as pl
import pytest

from redline.agent.cli import _parser
from redline.agent.demo import backfill, spend_samples, wait_until_serving
from redline.demo.history import make_history
from redline.demo.timeline import FAST_FACTOR, TIMELINES, compress
from redline.demo.traffic import DEMO_SCENARIO, Phase, Scenario
from redline.kernel.http_server import ThreadedHTTPServer, send_body
from redline.kernel.labels import parse_selector
from redline.store.embedded import SampleStore

PAGE = "[webhook receiver] PAGE firing: api-availability"
END_S = 1_700_000_100.0


class Lines:
    """Collects a process's output lines on a thread; wait for one with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self.closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._cond:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def join(self) -> None:
        self._thread.join(timeout=10)

    def wait_for(self, needle: str, timeout_s: float) -> tuple[float, str]:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for at, line in self.lines:
                    if needle in line:
                        return at, line
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    shown = "\n".join(line for _, line in self.lines[-30:])
                    why = "the output ended" if self.closed else f"not within {timeout_s}s"
                    raise AssertionError(f"no line with {needle!r}: {why}; last output:\n{shown}")
                self._cond.wait(left)


def test_the_demo_pages_through_the_webhook_and_stops_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "redline.agent.cli", "demo", "--dir", str(tmp_path / "demo"), "--duration", "300",
         "--timeline", "fast"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = Lines(proc)
    try:
        lines.wait_for("Redline demo is running", timeout_s=90)
        _, dash = lines.wait_for("dashboard:  http://127.0.0.1:", timeout_s=5)
        dashboard_url = re.search(r"http://127\.0\.0\.1:\d+/", dash)
        assert dashboard_url is not None
        _, hooks = lines.wait_for("webhooks:   http://127.0.0.1:", timeout_s=5)
        hooks_url = re.search(r"http://127\.0\.0\.1:\d+/alerts", hooks)
        assert hooks_url is not None
        _, fleet = lines.wait_for("fleet:      http://127.0.0.1:", timeout_s=5)
        dcgm_url = re.search(r"(http://127\.0\.0\.1:\d+/metrics) \(dcgm-exporter\)", fleet)
        assert dcgm_url is not None
        assert "DCGM_FI_DEV_GPU_UTIL{" in httpx.get(dcgm_url.group(1), timeout=10).text
        # each scripted event is logged as it happens: the incident starts 5 s in, the stall ~19 s in
        lines.wait_for("scenario +5 s: bad deploy: 40% of requests fail", timeout_s=60)
        lines.wait_for("scenario +19 s: features pipeline stalled", timeout_s=60)

        _, page = lines.wait_for(PAGE, timeout_s=150)  # a bound on the wait, not an assertion on speed
        burn_1h = float(re.search(r"at ([\d.]+)× over 1h", page).group(1))  # type: ignore[union-attr]
        assert burn_1h > 14.4
        # the same page in the agent's log, from the log notifier
        lines.wait_for('"status": "firing", "slo": "api-availability", "severity": "page"', timeout_s=5)
        assert httpx.get(dashboard_url.group(0) + "_stcore/health", timeout=10).text == "ok"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        lines.wait_for("stopping", timeout_s=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        lines.join()
        assert proc.stdout is not None
        proc.stdout.close()


def test_the_real_timeline_is_what_make_demo_runs() -> None:
    real = TIMELINES["real"]
    assert real.scenario is DEMO_SCENARIO
    assert real.history_s == 30 * 86400
    assert real.interval is None  # examples/demo.yaml's own 5 s
    assert real.summary == (
        "incident at +40 s (page fires), API restart at +120 s, pipeline stall at +150 s (last run at +60 s)"
    )
    assert _parser(0.0).parse_args(["demo"]).timeline == "real"  # what `make demo` (plain `redline demo`) runs


def test_the_fast_timeline_serves_the_real_incident_in_an_eighth_of_the_time() -> None:
    real = {ph.name: ph for ph in DEMO_SCENARIO.phases}
    fast = {ph.name: ph for ph in TIMELINES["fast"].scenario.phases}
    assert fast.keys() == real.keys()
    for name, ph in real.items():
        assert fast[name].at_s == ph.at_s / FAST_FACTOR
        assert fast[name].error_share == ph.error_share
        assert fast[name].restart == ph.restart
    incident, fast_incident = real["incident"], fast["incident"]
    assert incident.duration_s is not None and incident.request_rate_per_s is not None
    assert fast_incident.duration_s is not None and fast_incident.request_rate_per_s is not None
    # as many requests (so as many errors) as the real incident: the 1h burn reaches the same ~20x
    assert fast_incident.duration_s * fast_incident.request_rate_per_s == pytest.approx(
        incident.duration_s * incident.request_rate_per_s
    )
    assert TIMELINES["fast"].history_s >= 3 * 86400  # every burn-rate window, up to 3d, has a past


def test_compress_keeps_the_baseline_and_open_ended_phases_and_refuses_a_bad_factor() -> None:
    scenario = Scenario(phases=(Phase(at_s=10, name="stall", pipeline_running=False),))
    fast = compress(scenario, 2)
    assert fast.baseline == scenario.baseline
    assert fast.phases == (Phase(at_s=5, name="stall", pipeline_running=False),)
    with pytest.raises(ValueError, match="factor"):
        compress(scenario, 0)


def test_the_backfill_stores_the_history_and_the_spend_as_the_agent_reads_them(tmp_path: Path) -> None:
    history = make_history(end_s=END_S, duration_s=6 * 3600, seed=3)
    spend = spend_samples(start_s=history.start_s, end_s=history.end_s)
    store = SampleStore(tmp_path / "data")

    line = backfill(store, history.frame(), spend)

    stored = store.read([parse_selector("redline_spend_usd_total"), parse_selector("http_requests_total")],
                        0, int(END_S * 1000) + 1)
    assert line.startswith(f"history: stored {history.samples + 361} samples of 22 series (")
    spent = stored.filter(pl.col("metric") == "redline_spend_usd_total")
    assert spent.height == 361  # one a minute over 6 hours, both ends
    assert spent["value"].to_list()[-1] == 6 * 2 * 2.5  # two GPUs at $2.50 an hour
    assert spent["labels"].unique().to_list() == ['resource="gpu",source="gpu-rate-card"']
    ok = stored.filter(pl.col("labels").str.contains('code="200"'))
    assert ok["value"].to_list()[-1] == history.inference.requests_by_code["200"]
    assert not list((tmp_path / "data" / "batches").glob("*.parquet"))  # compacted into segments


def test_waiting_for_the_dashboard_ends_when_it_answers_or_names_its_exit(tmp_path: Path) -> None:
    died = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    died.wait(timeout=30)
    with pytest.raises(RuntimeError, match="exited with code 3 before serving"):
        wait_until_serving(died, "http://127.0.0.1:9/", timeout_s=30)

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            send_body(self, 200, "text/plain", b"ok" if self.path == "/_stcore/health" else b"")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadedHTTPServer("fake-streamlit", "127.0.0.1", 0)
    server.start(Health)
    # a process that runs until it is killed: it waits for a signal, on no clock
    alive = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    try:
        assert wait_until_serving(alive, f"http://127.0.0.1:{server.port}/", timeout_s=30) is True
        assert wait_until_serving(alive, "http://127.0.0.1:9/", timeout_s=0.3) is False  # nothing there
    finally:
        alive.kill()
        alive.wait(timeout=10)
        server.shutdown()
