"""The demo fleet's services: an inference API and a batch pipeline serving ``/metrics``.

Each service owns its ``prometheus_client.CollectorRegistry`` (never the global one) and serves
it on a ``ThreadingHTTPServer`` bound to 127.0.0.1 through prometheus-client's exposition, in
OpenMetrics when the scraper's ``Accept`` asks for it.

Metric values come from a custom collector reading a thread-safe tally rather than from
``Counter``/``Histogram`` objects, so that the fleet can start from the final values of the
backfilled history (``InferenceAPI(initial=...)``) and history and live data join without a
spurious reset. For the same reason no ``_created`` series are exposed: the history has none.

Threads: the HTTP server serves each request on its own thread; ``record``/``restart`` and
scrapes may run concurrently (the tallies lock). ``start()`` and ``shutdown()`` are explicit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Final

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from redline.demo.counts import (
    DURATION_BUCKETS_S,
    INFERENCE_SERVICE,
    PIPELINE_NAME,
    InferenceCounts,
    InferenceStep,
    InferenceTally,
    PipelineCounts,
    PipelineTally,
    le_text,
)
from redline.kernel.http_server import ThreadedHTTPServer, send_body

__all__ = ["DEFAULT_INFERENCE_PORT", "DEFAULT_PIPELINE_PORT", "BatchPipeline", "InferenceAPI"]

logger = logging.getLogger(__name__)

DEFAULT_INFERENCE_PORT: Final = 8001
DEFAULT_PIPELINE_PORT: Final = 8002


class _InferenceCollector:
    def __init__(self, tally: InferenceTally) -> None:
        self._tally = tally

    def collect(self) -> Iterable[Metric]:
        c = self._tally.snapshot()
        requests = CounterMetricFamily(
            "http_requests", "HTTP requests served, by status code.", labels=["service", "code"]
        )
        for code in sorted(c.requests_by_code):
            requests.add_metric([INFERENCE_SERVICE, code], c.requests_by_code[code])
        duration = HistogramMetricFamily(
            "http_request_duration_seconds", "Time to serve a request.", labels=["service"]
        )
        bounds = [le_text(b) for b in DURATION_BUCKETS_S] + ["+Inf"]
        duration.add_metric(
            [INFERENCE_SERVICE], list(zip(bounds, map(float, c.bucket_counts), strict=True)), c.duration_sum_s
        )
        inferences = CounterMetricFamily(
            "inferences", "Inferences run, by model.", labels=["service", "model"]
        )
        for model in sorted(c.inferences_by_model):
            inferences.add_metric([INFERENCE_SERVICE, model], c.inferences_by_model[model])
        return [requests, duration, inferences]


class _PipelineCollector:
    def __init__(self, tally: PipelineTally) -> None:
        self._tally = tally

    def collect(self) -> Iterable[Metric]:
        c = self._tally.snapshot()
        last = GaugeMetricFamily(
            "pipeline_last_success_timestamp_seconds",
            "Unix time of the pipeline's last successful run.",
            labels=["pipeline"],
        )
        last.add_metric([PIPELINE_NAME], c.last_success_s)
        rows = CounterMetricFamily(
            "pipeline_rows_processed", "Rows processed by successful runs.", labels=["pipeline"]
        )
        rows.add_metric([PIPELINE_NAME], c.rows_processed)
        return [last, rows]


class _MetricsServer:
    """A ThreadingHTTPServer serving one registry (swappable on restart) at ``/metrics``."""

    def __init__(self, name: str, host: str, port: int) -> None:
        self.name = name
        self._registry = CollectorRegistry()
        self._http = ThreadedHTTPServer(f"fleet-{name}", host, port)

    @property
    def registry(self) -> CollectorRegistry:
        """The registry currently served (a restart replaces it)."""
        return self._registry

    def _set_registry(self, registry: CollectorRegistry) -> None:
        self._registry = registry  # one reference swap: a scrape sees the old or the new, never half

    @property
    def port(self) -> int:
        """The bound port (the ephemeral one when constructed with port 0); only after ``start()``."""
        return self._http.port

    @property
    def url(self) -> str:
        """The ``/metrics`` URL; only after ``start()``."""
        return f"http://{self._http.host}:{self.port}/metrics"

    def start(self) -> None:
        """Bind and serve on a background thread; raises ``OSError`` if the port is taken."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    send_body(self, 404, "text/plain; charset=utf-8", b"not found: try /metrics\n")
                    return
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                send_body(self, 200, content_type, encoder(owner.registry))

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("%s: " + format, owner.name, *args)

        self._http.start(Handler)

    def shutdown(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        self._http.shutdown()


class InferenceAPI(_MetricsServer):
    """The simulated inference API: requests by code, a latency histogram, inferences by model."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, initial: InferenceCounts | None = None
    ) -> None:
        super().__init__(INFERENCE_SERVICE, host, port)
        self._tally = InferenceTally(initial)
        self._registry.register(_InferenceCollector(self._tally))

    def record(self, step: InferenceStep) -> None:
        """Count one step of served requests."""
        self._tally.record(step)

    def restart(self) -> None:
        """Simulate a process restart: fresh registry and metrics, all counters at zero; keeps serving."""
        tally = InferenceTally()
        registry = CollectorRegistry()
        registry.register(_InferenceCollector(tally))
        self._tally = tally
        self._set_registry(registry)

    def counts(self) -> InferenceCounts:
        """The values ``/metrics`` currently shows."""
        return self._tally.snapshot()


class BatchPipeline(_MetricsServer):
    """The simulated batch pipeline: last-success timestamp and rows processed.

    Without ``initial`` the gauge reads 0 ("never succeeded") until the first run.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, initial: PipelineCounts | None = None
    ) -> None:
        super().__init__("batch-pipeline", host, port)
        self._tally = PipelineTally(initial)
        self._registry.register(_PipelineCollector(self._tally))

    def record_run(self, at_s: float, rows: int) -> None:
        """A run that succeeded at ``at_s`` (Unix seconds) after processing ``rows`` rows."""
        self._tally.record_run(at_s, rows)

    def restart(self) -> None:
        """Simulate a process restart: the rows counter resets; the last-success time is kept."""
        last = self._tally.snapshot().last_success_s
        tally = PipelineTally(PipelineCounts(last_success_s=last))
        registry = CollectorRegistry()
        registry.register(_PipelineCollector(tally))
        self._tally = tally
        self._set_registry(registry)

    def counts(self) -> PipelineCounts:
        """The values ``/metrics`` currently shows."""
        return self._tally.snapshot()
