"""Redline's own /metrics, /healthz and /readyz: its health, every source's and every objective's state.

``/healthz`` is liveness (200 while the process loop runs), ``/readyz`` readiness (200 when
its answers can be trusted, else 503 with the reasons), as Kubernetes means them.

Objective and source gauges are produced on each scrape from the agent's latest results (a
custom prometheus_client collector), so nothing is kept twice and a removed objective simply
disappears. Work counters and durations are ordinary prometheus_client metrics on a registry
the agent owns (never the global one).
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from redline.collectors.base import SourceHealth
from redline.kernel.http_server import ThreadedHTTPServer, send_body
from redline.slo.results import StatusReport

__all__ = ["AgentMetrics", "ListenError", "SelfMetricsServer", "StoreUsageCollector"]

STATES: tuple[str, ...] = ("ok", "warning", "breached", "no_data", "low_traffic")
"""Every value of ``redline_slo_status``'s ``status`` label: one series each, 1 for the current state."""


class _StateCollector(Collector):
    """Gauges read from the latest report and source healths at scrape time."""

    def __init__(
        self,
        report: Callable[[], StatusReport | None],
        health: Callable[[], Mapping[str, SourceHealth]],
        series: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        self._report = report
        self._health = health
        self._series = series

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("redline_source_up", "1 if the last collection succeeded.", labels=["source"])
        dur = GaugeMetricFamily(
            "redline_source_last_duration_seconds", "Duration of the last collection.", labels=["source"]
        )
        samples = GaugeMetricFamily(
            "redline_source_last_samples", "Samples in the last collection.", labels=["source"]
        )
        last = GaugeMetricFamily(
            "redline_source_last_collection_timestamp_seconds",
            "When the source was last collected.",
            labels=["source"],
        )
        for name, h in sorted(self._health().items()):
            up.add_metric([name], 1.0 if h.ok else 0.0)
            dur.add_metric([name], h.duration_seconds)
            samples.add_metric([name], float(h.samples))
            last.add_metric([name], h.timestamp_ms / 1000.0)
        yield from (up, dur, samples, last)
        counts = dict(self._series())
        per_source = GaugeMetricFamily(
            "redline_source_last_series", "Distinct series in the source's last collection.", labels=["source"]
        )
        for name, count in sorted(counts.items()):
            per_source.add_metric([name], float(count))
        yield per_source
        yield GaugeMetricFamily(
            "redline_store_active_series",
            "Series arriving now: the distinct series of every source's last collection, summed "
            "(the store holds more: every series seen in its retention).",
            value=float(sum(counts.values())),
        )

        report = self._report()
        if report is None:
            return
        burn = GaugeMetricFamily(
            "redline_slo_burn_rate", "Error budget burn rate over a window.", labels=["slo", "window"]
        )
        used_ratio = GaugeMetricFamily(
            "redline_slo_budget_used_ratio",
            "Share of the error budget (or a guardrail's limit) spent: 0..1, above 1 when overspent.",
            labels=["slo"],
        )
        ttb = GaugeMetricFamily(
            "redline_slo_time_to_breach_seconds",
            "Seconds until the budget is spent at the current burn (absent when not burning).",
            labels=["slo"],
        )
        sli = GaugeMetricFamily(
            "redline_slo_sli_ratio", "An SLO's value: its compliance over the window (not a guardrail).", labels=["slo"]
        )
        target = GaugeMetricFamily(
            "redline_slo_objective_ratio", "An SLO's target as a ratio (a guardrail's is redline_guardrail_limit).",
            labels=["slo"],
        )
        status = GaugeMetricFamily(
            "redline_slo_status",
            "1 for the objective's current status, 0 for the others (one series per status, as kube-state-metrics).",
            labels=["slo", "dimension", "status"],
        )
        limit = GaugeMetricFamily(
            "redline_guardrail_limit",
            "A guardrail's target in its currency: a budget's limit per period, or the maximum cost per 1k inferences.",
            labels=["guardrail", "currency"],
        )
        spent = GaugeMetricFamily(
            "redline_guardrail_spend", "Spend so far in the budget period (or the cost-per-1k window).",
            labels=["guardrail", "currency"],
        )
        forecast = GaugeMetricFamily(
            "redline_guardrail_forecast", "Spend forecast at the end of the budget period at the current run-rate.",
            labels=["guardrail", "currency"],
        )
        per_1k = GaugeMetricFamily(
            "redline_guardrail_cost_per_1k", "Spend per 1,000 inferences over the guardrail's window.",
            labels=["guardrail", "currency"],
        )
        capacity = GaugeMetricFamily(
            "redline_slo_capacity_used_ratio",
            "A throughput objective's newest rate over its configured capacity (1 − saturation headroom).",
            labels=["slo"],
        )
        for o in report.objectives:
            details = o.details or {}
            used = details.get("capacity_used")
            if isinstance(used, int | float) and not o.is_guardrail:
                capacity.add_metric([o.name], float(used))
            currency = str(details.get("currency", ""))
            for family, key in ((spent, "spend"), (forecast, "forecast"), (per_1k, "cost_per_1k")):
                value = details.get(key)
                if isinstance(value, int | float):
                    family.add_metric([o.name, currency], float(value))
            for window, rate in o.burn_rates.items():
                if rate is not None:
                    burn.add_metric([o.name, window], rate)
            used_now = o.budget_used_ratio
            if used_now is not None:
                used_ratio.add_metric([o.name], used_now)
            if o.time_to_breach_seconds is not None:
                ttb.add_metric([o.name], o.time_to_breach_seconds)
            if o.is_guardrail:
                limit.add_metric([o.name, currency], o.target)
            else:
                if o.value is not None:
                    sli.add_metric([o.name], o.value)
                target.add_metric([o.name], o.target)
            for state in STATES:
                status.add_metric([o.name, o.dimension, state], 1.0 if state == o.status else 0.0)
        yield from (burn, used_ratio, ttb, sli, target, status, limit, spent, forecast, per_1k, capacity)


class AgentMetrics:
    """The agent's registry: state gauges plus counters and histograms of its own work."""

    def __init__(
        self,
        report: Callable[[], StatusReport | None],
        health: Callable[[], Mapping[str, SourceHealth]],
        readiness: Collector | None = None,
        series: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StateCollector(report, health, series))
        if readiness is not None:
            self.registry.register(readiness)
        # process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds, ... (Linux)
        ProcessCollector(registry=self.registry)
        self.tick_duration = Histogram(
            "redline_tick_duration_seconds",
            "One whole evaluate tick: evaluation, alert processing and delivery, health checks.",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.collect_duration = Histogram(
            "redline_source_collect_duration_seconds",
            "Time spent collecting one source.",
            ["source"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.collect_samples = Counter(
            "redline_source_samples", "Samples collected.", ["source"], registry=self.registry
        )
        self.collect_failures = Counter(
            "redline_source_failures", "Collections that failed.", ["source"], registry=self.registry
        )
        self.limit_failures = Counter(
            "redline_source_limit_failures",
            "Collections that failed whole for going over one of the source's limits (sample_limit, label_limit, "
            "label_name_length_limit, label_value_length_limit, body_size_limit).",
            ["source", "limit"],
            registry=self.registry,
        )
        self.evaluate_duration = Histogram(
            "redline_evaluate_duration_seconds",
            "Time spent evaluating every objective once.",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5),
        )
        self.job_failures = Counter(
            "redline_job_failures", "Scheduled jobs that raised.", ["job"], registry=self.registry
        )
        self.store_write_failures = Counter(
            "redline_store_write_failures", "Batches that could not be written.", registry=self.registry
        )
        self.compaction_duration = Histogram(
            "redline_compaction_duration_seconds",
            "Time one compaction cycle took (it follows the data that arrived since the last one).",
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.compaction_rows_read = Counter(
            "redline_compaction_rows_read", "Rows compaction read: new batches plus the runs merged.",
            registry=self.registry,
        )
        self.compaction_bytes_written = Counter(
            "redline_compaction_written_bytes", "Bytes of segment files compaction wrote.", registry=self.registry
        )


class StoreUsageCollector(Collector):
    """``redline_store_bytes{dir}``: bytes on disk under the store's ``segments/``, ``batches/``
    and ``quarantine/``, read at scrape time (one ``stat`` per file)."""

    def __init__(self, disk_bytes: Callable[[], Mapping[str, int]]) -> None:
        self._disk_bytes = disk_bytes

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "redline_store_bytes", "Bytes of the store's files on disk, by folder of the data directory.",
            labels=["dir"],
        )
        for folder, size in sorted(self._disk_bytes().items()):
            family.add_metric([folder], float(size))
        yield family


class ListenError(OSError):
    """The agent could not listen on ``host:port``; ``str()`` says why in words (``errno`` kept).

    An ``OSError`` still, so code catching the socket error keeps working; its own type lets the
    command line tell a bind failure (the user's to fix) from any other I/O error.
    """

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        address = f"{host}:{port}"
        if cause.errno == errno.EADDRINUSE:
            reason = f"{address} is already in use"
        elif cause.errno == errno.EACCES:
            reason = f"no permission to listen on {address} (ports below 1024 need privileges)"
        else:
            reason = f"cannot listen on {address}: {cause.strerror or cause}"
        super().__init__(cause.errno, reason)
        self.host, self.port = host, port

    def __str__(self) -> str:
        return str(self.strerror)


class SelfMetricsServer:
    """Serves ``/metrics``, ``/healthz`` and ``/readyz``; ``start()``/``shutdown()``.

    ``health()`` answers ``/healthz`` (200 when its ``ok`` is true), ``ready()`` ``/readyz``
    (200 when its ``ready`` is true); both else 503 with the same JSON.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        health: Callable[[], dict[str, Any]],
        host: str,
        port: int,
        *,
        ready: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._registry = registry
        self._health = health
        self._ready = ready
        self._http = ThreadedHTTPServer("redline-metrics", host, port)
        self._requested_port = port

    @property
    def port(self) -> int:
        """The bound port (useful when started on port 0)."""
        return self._http.port

    def start(self) -> None:
        """Bind and serve in a daemon thread; ``ListenError`` when the address cannot be bound."""
        registry, health, ready = self._registry, self._health, self._ready

        def answer(handler: BaseHTTPRequestHandler, state: dict[str, Any], good: str) -> None:
            body = json.dumps(state, sort_keys=True).encode()
            send_body(handler, 200 if state.get(good) else 503, "application/json", body)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                    send_body(self, 200, content_type, encoder(registry))
                elif path == "/healthz":
                    answer(self, health(), "ok")
                elif path == "/readyz" and ready is not None:
                    answer(self, ready(), "ready")
                else:
                    send_body(self, 404, "text/plain; charset=utf-8", b"not found: try /metrics, /healthz or /readyz\n")

            def log_message(self, format: str, *args: Any) -> None:
                return

        try:
            self._http.start(Handler)
        except OSError as exc:  # includes socket.gaierror for a host name that does not resolve
            raise ListenError(self._http.host, self._requested_port, exc) from exc

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        self._http.shutdown()
