"""``redline demo``: a simulated fleet, the agent and the dashboard, all on 127.0.0.1.

Order of events, the slowest first so that it overlaps the rest: start the dashboard (Streamlit
takes seconds to start, in its own process); make 30 days of history for the fleet's series and
the GPU rate card's spend at once (``redline.demo.history``); start the inference API and the
batch pipeline (their counters continue from the history's last values) and a webhook receiver;
store the history as one batch and compact it (so the 30-day objectives and the cost guardrails
have a past at once); start the agent, and a GenAI client pushing OTLP to it
(``redline.demo.genai``: no history, its objectives start with the demo); once the dashboard
answers, print the URLs, and the scripted scenario runs from then (incident at +40 s, restart at
+120 s, pipeline stall at +150 s), each event logged as it happens. Ctrl-C (or ``--duration``)
stops everything in reverse order. ``--timeline fast`` runs the same story eight times faster on
three days of history (``redline.demo.timeline``), for tests.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import yaml

from redline.agent.children import start_group, stop_process_group
from redline.agent.runtime import Agent
from redline.agent.signals import wait_for_stop
from redline.agent.wiring import writable_store
from redline.config import load_config
from redline.dashboard.launch import dashboard_command
from redline.demo.fleet import start_demo_fleet
from redline.demo.genai import MODEL, GenAIClient
from redline.demo.history import make_history
from redline.demo.receiver import WebhookReceiver
from redline.demo.timeline import TIMELINES, DemoTimeline
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels
from redline.kernel.units import parse_duration
from redline.store.embedded import SampleStore

__all__ = ["demo_config", "run_demo"]

log = logging.getLogger("redline.demo")

EXAMPLE_CONFIG = Path(str(files("redline.demo").joinpath("demo.yaml")))
"""The demo's config, package data (``examples/demo.yaml`` links to it), so an installed wheel has it."""
SEED = 7
DASHBOARD_START_S = 120.0
"""How long the demo waits for Streamlit to answer before printing its URL anyway."""


GPU_HOUR_USD = 2.5
GPUS = 2
"""The demo's rate card: two GPUs at $2.50 an hour (examples/demo.yaml, source gpu-rate-card)."""


def spend_samples(*, start_s: float, end_s: float, step_s: float = 60.0) -> pl.DataFrame:
    """The rate card's spend over the history, so the cost guardrails have a past like the
    fleet's series: ``redline_spend_usd_total`` growing by GPUS × GPU_HOUR_USD an hour, one
    sample every ``step_s`` (values to the micro-dollar)."""
    per_s = GPUS * GPU_HOUR_USD / 3600
    steps = int((end_s - start_s) // step_s)
    offsets = pl.int_range(0, steps + 1, eager=True, dtype=pl.Int64) * step_s
    return pl.DataFrame(
        {
            "metric": "redline_spend_usd_total",
            "labels": format_labels({"resource": "gpu", "source": "gpu-rate-card"}),
            "timestamp": ((start_s + offsets) * 1000).round().cast(pl.Int64),
            "value": (offsets * per_s).round(6),
        },
        schema=SAMPLE_SCHEMA,
    )


def backfill(store: SampleStore, *frames: pl.DataFrame) -> str:
    """Store the history's frames as one batch and compact it into its days' segments: the
    store's bulk write path (what ``redline import`` does chunk by chunk), without the text.
    Returns the line the demo prints."""
    started = time.perf_counter()
    samples = pl.concat(frames)
    store.append(samples)
    store.compact()
    bounds = samples.select(pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last")).row(0)
    first, last = (datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds") for ms in bounds)
    series = samples.select("metric", "labels").n_unique()
    return (f"history: stored {samples.height} samples of {series} series ({first} .. {last}) "
            f"in {time.perf_counter() - started:.1f}s")


def freshness_max_age_s(example: Path, slo: str = "features-freshness") -> float:
    """``max_age`` of the demo's freshness objective: when a stalled pipeline's data starts burning."""
    raw = yaml.safe_load(example.read_text(encoding="utf-8"))
    spec = next(s for s in raw["slos"] if s["name"] == slo)
    return parse_duration(spec["sli"]["freshness"]["max_age"])


def _port_or_free(port: int) -> int:
    """``port`` if it can be bound on 127.0.0.1 now, else a free one."""
    for candidate in (port, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def demo_config(
    example: Path,
    *,
    data_dir: Path,
    api_url: str,
    pipeline_url: str,
    listen_port: int,
    dcgm_url: str | None = None,
    interval: str | None = None,
    otlp_port: int | None = None,
) -> dict[str, Any]:
    """The example config with this run's URLs, listen ports and data directory; with
    ``interval``, the fleet's sources are scraped and the objectives evaluated that often."""
    raw: dict[str, Any] = yaml.safe_load(example.read_text(encoding="utf-8"))
    urls = {"inference-api": api_url, "batch-pipeline": pipeline_url}
    if dcgm_url is not None:
        urls["gpu-dcgm"] = dcgm_url
    for source in raw["sources"]:
        if source["name"] in urls:
            source["url"] = urls[source["name"]]
            if interval is not None:
                source["interval"] = source["timeout"] = interval
    if interval is not None:
        raw["agent"]["evaluate_interval"] = interval
    raw["agent"]["data_dir"] = str(data_dir)
    raw["agent"]["listen"] = f"127.0.0.1:{listen_port}"
    if otlp_port is not None:
        for receiver in raw.get("receivers", []):
            receiver["listen"] = f"127.0.0.1:{otlp_port}"
    return raw


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, *, timeout_s: float = DASHBOARD_START_S) -> bool:
    """Wait until Streamlit at ``url`` answers its health check: True once it does, False after
    ``timeout_s``. Raises ``RuntimeError`` when the process ends first (it cannot start)."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the dashboard (streamlit) exited with code {proc.returncode} before serving")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url + "_stcore/health").text == "ok":
                    return True
            pause.wait(0.1)
    return False


def run_demo(
    *,
    workdir: Path,
    duration_s: float | None = None,
    with_dashboard: bool = True,
    timeline: DemoTimeline = TIMELINES["real"],
) -> int:
    """Run the demo along ``timeline`` until Ctrl-C or ``duration_s``; returns the exit code.

    The dashboard starts first, in its own process, so that Streamlit's start overlaps the
    backfill and the agent's cold start; the URLs are printed once it answers.
    """
    workdir = workdir.resolve()
    data_dir = workdir / "redline-data"
    shutil.rmtree(data_dir, ignore_errors=True)  # the demo's own data: every run starts fresh
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "demo.yaml"

    with ExitStack() as stack:
        dash: subprocess.Popen[bytes] | None = None
        dashboard_url = ""
        if with_dashboard:
            # Streamlit reads the config when a page is opened, not at start: it is written below,
            # before the URL is printed.
            port = _port_or_free(8501)
            dashboard_url = f"http://127.0.0.1:{port}/"
            dash = start_group(  # its own process group: stopped whole, never orphaned
                dashboard_command(config_path, port=port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            stack.callback(stop_process_group, dash)

        history = make_history(end_s=time.time(), duration_s=timeline.history_s, step_s=60, seed=SEED)
        receiver = WebhookReceiver(on_summary=lambda line: print(f"[webhook receiver] {line}", flush=True))
        receiver.start()
        stack.callback(receiver.shutdown)
        # The fleet's counters continue from the history's last values: no spurious reset.
        fleet = start_demo_fleet(
            seed=SEED,
            initial_inference=history.inference,
            initial_pipeline=history.pipeline,
            scenario=timeline.scenario,
            stale_after_s=freshness_max_age_s(EXAMPLE_CONFIG),
            run=False,  # the scenario's clock starts when everything is up, just before the URLs are printed
        )
        stack.callback(fleet.shutdown)

        raw = demo_config(
            EXAMPLE_CONFIG,
            data_dir=data_dir,
            api_url=fleet.api.url,
            pipeline_url=fleet.pipeline.url,
            dcgm_url=fleet.gpus.url,
            listen_port=_port_or_free(9464),
            interval=timeline.interval,
            otlp_port=(otlp_port := _port_or_free(4318)),
        )
        config_path.write_text(
            "# Written by `redline demo` from examples/demo.yaml with this run's ports.\n"
            + yaml.safe_dump(raw, sort_keys=False),
            encoding="utf-8",
        )
        loaded = load_config(config_path)
        spend = spend_samples(start_s=history.start_s, end_s=history.end_s)
        print(backfill(writable_store(loaded), history.frame(), spend), flush=True)

        env = {**os.environ, "REDLINE_DEMO_WEBHOOK_URL": receiver.url}

        agent = Agent(loaded, env=env)
        agent.start()
        stack.callback(agent.shutdown)
        genai = GenAIClient(
            f"http://127.0.0.1:{otlp_port}/v1/metrics", seed=SEED, export_interval_s=1.0 if timeline.interval else 5.0
        )
        genai.start()
        stack.callback(genai.shutdown)  # before the agent stops: its last export is received

        lines = [
            "",
            "Redline demo is running (Ctrl-C stops it).",
            f"  fleet:      {fleet.api.url}  {fleet.pipeline.url}  {fleet.gpus.url} (dcgm-exporter)",
            f"  agent:      http://127.0.0.1:{agent.metrics_port}/metrics",
            f"  OTLP:       http://127.0.0.1:{otlp_port}/v1/metrics (GenAI metrics of {MODEL})",
            f"  webhooks:   {receiver.url} (the receiver prints each alert it gets)",
            f"  status:     .venv/bin/redline status --config {config_path}",
        ]
        if dash is not None:
            if not wait_until_serving(dash, dashboard_url):
                log.warning("the dashboard did not answer within %.0f s; it may still be starting", DASHBOARD_START_S)
            lines.insert(2, f"  dashboard:  {dashboard_url}")
        lines.append(f"  scenario:   {timeline.summary} (from now; each event is logged as it happens)")
        fleet.run()
        print("\n".join(lines) + "\n", flush=True)
        wait_for_stop(duration_s)
        print("stopping…", flush=True)
    return 0
