"""Which HTTP server for the push receivers: ``.venv/bin/python -m bench.ingest_server``.

The same ``OTLPReceiver`` (its samples discarded, so the figure is the server plus the OTLP
parse and translation) behind (a) the agent's ``IngestServer`` (the standard library's threading
server) and (b) a raw ASGI app under uvicorn (h11, the body read in the event loop, the receiver
run in a worker thread). Senders are separate processes, each posting protobuf bodies of
``POINTS`` cumulative Sum points (10 labels each) over one keep-alive connection, as an OTLP
exporter does. Printed: points/s and server CPU seconds per million points, for both, in one run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import anyio
import httpx
import uvicorn
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from redline.agent.ingest_server import IngestServer, Route
from redline.collectors.base import CollectResult
from redline.collectors.otlp import OTLPReceiver, OTLPReceiverConfig
from redline.collectors.receiver import Answer
from tests.ports import free_port

POINTS = 1_000
SENDERS = 4
REQUESTS = int(os.environ.get("BENCH_INGEST_REQUESTS", "25"))
ROUNDS = 3


def make_request(sender: int, step: int, points: int = POINTS) -> bytes:
    """One export: ``points`` cumulative monotonic Sum points of sender ``sender`` at ``step``."""
    t0 = 1_700_000_000_000_000_000
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=f"svc-{sender}")))
    metric = rm.scope_metrics.add().metrics.add()
    metric.name = "app.requests"
    metric.unit = "1"
    metric.sum.is_monotonic = True
    metric.sum.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_CUMULATIVE
    for i in range(points):
        p = metric.sum.data_points.add()
        p.start_time_unix_nano = t0
        p.time_unix_nano = t0 + (step + 1) * 15_000_000_000
        p.as_int = step * 10 + i
        for j in range(10):
            p.attributes.append(KeyValue(key=f"label.{j}", value=AnyValue(string_value=f"v{j}-{(i * (j + 3)) % 997}")))
    return req.SerializeToString()


def send(url: str, sender: int, requests: int) -> int:
    """Post ``requests`` bodies; returns how many were answered 200 without rejections."""
    bodies = [make_request(sender, step) for step in range(requests)]
    ok = 0
    with httpx.Client(timeout=60) as client:
        for body in bodies:
            r = client.post(url, content=body, headers={"Content-Type": "application/x-protobuf"})
            ok += r.status_code == 200 and not r.content
    return ok


class DiscardSink:
    """Takes samples and drops them (the store is not what is measured)."""

    def behind(self) -> str | None:
        return None

    def accept(self, source: str, result: CollectResult) -> None:
        pass


class AsgiIngest:
    """The same routes as a raw ASGI app (what uvicorn would serve)."""

    def __init__(self, routes: Mapping[str, Route], limit: int, slots: int) -> None:
        self.routes, self.limit, self.slots, self.in_hand = routes, limit, slots, 0

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        route = self.routes.get(scope["path"])
        answer: Answer
        if route is None or self.in_hand >= self.slots:
            answer = Answer(404 if route is None else 429, "text/plain", b"")
        else:
            self.in_hand += 1
            try:
                chunks, more, size = [], True, 0
                while more:
                    message = await receive()
                    chunks.append(message.get("body", b""))
                    size += len(chunks[-1])
                    more = message.get("more_body", False)
                    if size > self.limit:
                        break
                body = b"".join(chunks)
                answer = await anyio.to_thread.run_sync(
                    route, body, headers.get("content-type", ""), headers.get("content-encoding", "")
                )
            finally:
                self.in_hand -= 1
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [(b"content-type", answer.content_type.encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})


def measure(name: str, url: str) -> tuple[float, float]:
    """Points/s and server CPU seconds per million points for ``SENDERS`` senders."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with ProcessPoolExecutor(SENDERS) as pool:
        ok = sum(pool.map(send, [url] * SENDERS, range(SENDERS), [REQUESTS] * SENDERS))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    points = ok * POINTS
    assert ok == SENDERS * REQUESTS, f"{name}: {ok} of {SENDERS * REQUESTS} requests taken"
    return points / wall, cpu / points * 1e6


def serve_stdlib(config: OTLPReceiverConfig) -> tuple[str, Callable[[], None]]:
    """The agent's server on a fresh receiver: (url, stop)."""
    server = IngestServer(config, {"/v1/metrics": OTLPReceiver(config, DiscardSink()).handle})
    server.start()
    return f"http://127.0.0.1:{server.port}/v1/metrics", server.shutdown


def serve_uvicorn(config: OTLPReceiverConfig) -> tuple[str, Callable[[], None]]:
    """The raw ASGI app under uvicorn on a fresh receiver: (url, stop)."""
    receiver = OTLPReceiver(config, DiscardSink())
    app = AsgiIngest({"/v1/metrics": receiver.handle}, config.body_size_limit, config.max_concurrent_requests)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)  # uvicorn has no started event to wait on

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{port}/v1/metrics", stop


def main() -> None:
    config = OTLPReceiverConfig(kind="otlp", listen=f"127.0.0.1:{free_port()}", max_concurrent_requests=16)
    with ProcessPoolExecutor(1) as pool:  # warm the senders' imports so that neither server pays for them
        pool.submit(make_request, 0, 0, 1).result()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    best: dict[str, tuple[float, float]] = {}
    for _ in range(ROUNDS):  # alternate, best of each: the machine is shared and noisy
        for name, serve in (("stdlib", serve_stdlib), ("uvicorn", serve_uvicorn)):
            url, stop = serve(config)
            try:
                rate, cpu = measure(name, url)
            finally:
                stop()
            old = best.get(name, (0.0, float("inf")))
            best[name] = (max(old[0], rate), min(old[1], cpu))
    total = SENDERS * REQUESTS * POINTS
    print(
        f"OTLP/HTTP ingest, {SENDERS} senders x {REQUESTS} requests x {POINTS} points ({total:,} points), "
        f"best of {ROUNDS} alternating rounds:"
    )
    for name, label in (("stdlib", "stdlib ThreadingHTTPServer (chosen)"), ("uvicorn", "uvicorn + raw ASGI app")):
        rate, cpu = best[name]
        print(f"  {label:<36} {rate:10,.0f} points/s  {cpu:6.2f} server CPU s per 1M points")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
