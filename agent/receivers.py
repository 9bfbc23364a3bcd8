"""The agent's push receivers: one ``IngestServer`` per configured receiver, and their counters.

Each receiver hands its samples to the agent (``Agent.accept``), the path a scrape's samples take.
An OTLP receiver is told the latency thresholds objectives read from each histogram family, so an
exponential histogram is stored as the ``_bucket`` series those objectives select.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from redline.agent.ingest_server import IngestServer
from redline.collectors.otlp import OTLPReceiver, OTLPReceiverConfig
from redline.collectors.receiver import SampleSink
from redline.collectors.remote_write import RemoteWriteReceiver
from redline.config import RedlineConfig
from redline.slo.spec import SLOSpec

__all__ = ["ReceiverMetricsCollector", "Receivers", "build_receivers", "latency_thresholds"]

Receiver = OTLPReceiver | RemoteWriteReceiver


def latency_thresholds(specs: Sequence[SLOSpec]) -> dict[str, list[float]]:
    """Histogram family → the thresholds latency objectives read from it."""
    out: dict[str, list[float]] = defaultdict(list)
    for spec in specs:
        if spec.sli.latency is not None:
            out[spec.sli.latency.histogram.metric].append(spec.sli.latency.threshold)
    return dict(out)


class Receivers:
    """The servers of every configured receiver, started and stopped together."""

    def __init__(self, servers: list[tuple[IngestServer, Receiver]]) -> None:
        self.servers = servers

    def start(self) -> None:
        """Bind and serve each (``ListenError`` naming the address that cannot be bound; those
        already started are stopped)."""
        try:
            for server, _ in self.servers:
                server.start()
        except OSError:
            self.shutdown()
            raise

    def shutdown(self) -> None:
        """Stop every server."""
        for server, _ in self.servers:
            server.shutdown()

    def ports(self) -> dict[str, int]:
        """Receiver name → bound port (after ``start``)."""
        return {server.settings.name: server.port for server, _ in self.servers}


def build_receivers(config: RedlineConfig, sink: SampleSink, clock: Callable[[], float]) -> Receivers:
    """A server per ``receivers:`` entry; nothing is bound until ``start``."""
    thresholds = latency_thresholds(config.slos)
    servers: list[tuple[IngestServer, Receiver]] = []
    for settings in config.receivers:
        if isinstance(settings, OTLPReceiverConfig):
            otlp = OTLPReceiver(settings, sink, clock=clock, thresholds=thresholds)
            servers.append((IngestServer(settings, {"/v1/metrics": otlp.handle}), otlp))
        else:
            remote = RemoteWriteReceiver(settings, sink, clock=clock)
            servers.append((IngestServer(settings, {"/api/v1/write": remote.handle}), remote))
    return Receivers(servers)


class ReceiverMetricsCollector(Collector):
    """``redline_receiver_*``: points by outcome, requests turned away busy, streams remembered."""

    def __init__(self, receivers: Receivers) -> None:
        self._receivers = receivers

    def collect(self) -> Iterator[Metric]:
        points = CounterMetricFamily(
            "redline_receiver_points",
            "Points received, by outcome: accepted, rejected (named in partial_success), out_of_order, duplicate.",
            labels=["receiver", "outcome"],
        )
        busy = CounterMetricFamily(
            "redline_receiver_busy_answers",
            "Requests answered 429: max_concurrent_requests were in hand.",
            labels=["receiver"],
        )
        streams = GaugeMetricFamily(
            "redline_receiver_streams",
            "Streams the receiver remembers (bounded by max_streams).",
            labels=["receiver"],
        )
        for server, receiver in self._receivers.servers:
            name = server.settings.name
            for outcome in ("accepted", "rejected", "out_of_order", "duplicate"):
                points.add_metric([name, outcome], float(receiver.points[outcome]))
            busy.add_metric([name], float(server.busy_answers))
            streams.add_metric([name], float(len(receiver.streams)))
        yield from (points, busy, streams)
