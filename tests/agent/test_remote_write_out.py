"""The remote write queue against a scripted receiver on 127.0.0.1: batching, retry on 5xx/429,
no retry on 4xx, a buffer on disk that survives a restart and stays bounded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from redline.agent.remote_write_out import RemoteWriteQueue
from redline.collectors.prompb import WriteRequest, snappy_decompress
from redline.config import RemoteWriteOutConfig
from redline.kernel.http_server import ThreadedHTTPServer, send_body


class ScriptedReceiver:
    """Answers each POST with the next status of ``script`` (then 204), keeping what it received."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.requests: list[tuple[int, list[tuple[str, int, float]], dict[str, str]]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = WriteRequest.FromString(snappy_decompress(body, 10**7))
                series = [
                    ({lb.name: lb.value for lb in ts.labels}["__name__"], s.timestamp, s.value)
                    for ts in request.timeseries
                    for s in ts.samples
                ]
                status = receiver.script.pop(0) if receiver.script else 204
                with receiver.arrived:
                    receiver.requests.append((status, series, dict(self.headers)))
                    receiver.arrived.notify_all()
                send_body(self, status, "text/plain", b"" if status == 204 else b"no")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadedHTTPServer("scripted-receiver", "127.0.0.1", 0)
        self.server.start(Handler)
        self.url = f"http://127.0.0.1:{self.server.port}/api/v1/write"

    def wait_for(self, count: int) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.requests) >= count, timeout=10), self.requests


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


def queue(tmp_path: Path, url: str, client: httpx.Client, **settings: object) -> RemoteWriteQueue:
    config = RemoteWriteOutConfig.model_validate(
        {"name": "central", "url": url, "min_backoff": "10ms", "max_backoff": "50ms", **settings}
    )
    return RemoteWriteQueue(config, tmp_path / "rw", client, {"X-Scope-OrgID": "team-a"})


def points(n: int, value: float = 1.0) -> list[tuple[str, dict[str, str], float]]:
    return [(f"m{i}", {"slo": "x"}, value) for i in range(n)]


def test_records_are_batched_up_to_max_samples_per_send(tmp_path: Path, client: httpx.Client) -> None:
    receiver = ScriptedReceiver([])
    q = queue(tmp_path, receiver.url, client, max_samples_per_send=5)
    for tick in range(3):
        q.append(points(2, value=tick), at_ms=1000 * (tick + 1))
    assert q.send_once().sent == 4  # two records of 2; the third would make 6
    assert q.send_once().sent == 2
    assert [[ts for _, ts, _ in series] for _, series, _ in receiver.requests] == [[1000, 1000, 2000, 2000], [3000] * 2]
    headers = receiver.requests[0][2]
    assert headers["Content-Encoding"] == "snappy" and headers["X-Scope-OrgID"] == "team-a"
    assert headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    assert q.records() == [] and q.counts["sent"] == 6
    receiver.server.shutdown()


def test_a_400_drops_the_batch_and_counts_it_without_retrying(tmp_path: Path, client: httpx.Client) -> None:
    receiver = ScriptedReceiver([400])
    q = queue(tmp_path, receiver.url, client)
    q.append(points(3), at_ms=1000)
    outcome = q.send_once()
    assert (outcome.dropped, outcome.retry) == (3, False)
    assert q.records() == [] and q.counts["dropped_rejected"] == 3
    assert q.send_once().sent == 0 and len(receiver.requests) == 1  # nothing left to retry
    receiver.server.shutdown()


def test_a_503_and_a_429_are_retried_with_backoff_until_taken(tmp_path: Path, client: httpx.Client) -> None:
    receiver = ScriptedReceiver([503, 429])
    q = queue(tmp_path, receiver.url, client)
    q.append(points(2), at_ms=1000)
    q.start()
    try:
        receiver.wait_for(3)
    finally:
        q.shutdown()
    assert [status for status, _, _ in receiver.requests] == [503, 429, 204]
    assert receiver.requests[0][1] == receiver.requests[2][1]  # the same batch, kept first in line
    assert q.counts["sent"] == 2 and q.records() == []
    receiver.server.shutdown()


def test_the_buffer_survives_a_restart_and_is_sent_by_the_next_run(tmp_path: Path, client: httpx.Client) -> None:
    receiver = ScriptedReceiver([])
    first = queue(tmp_path, "http://127.0.0.1:9/api/v1/write", client)  # nothing listens on port 9
    first.append(points(2), at_ms=1000)
    assert first.send_once().retry
    first.shutdown()
    second = queue(tmp_path, receiver.url, client)
    second.start()
    try:
        receiver.wait_for(1)
    finally:
        second.shutdown()
    assert receiver.requests[0][1] == [("m0", 1000, 1.0), ("m1", 1000, 1.0)]
    receiver.server.shutdown()


def test_the_buffer_is_bounded_dropping_the_oldest_records(tmp_path: Path, client: httpx.Client) -> None:
    q = queue(tmp_path, "http://127.0.0.1:9/api/v1/write", client, buffer_max_bytes=300)
    for tick in range(10):
        q.append(points(2, value=tick), at_ms=1000 * (tick + 1))
    assert q.buffered_bytes <= 300
    kept = len(q.records())
    assert 0 < kept < 10 and q.counts["dropped_overflow"] == 2 * (10 - kept)


def test_an_evaluation_larger_than_one_send_is_kept_as_several_records(tmp_path: Path, client: httpx.Client) -> None:
    q = queue(tmp_path, "http://127.0.0.1:9/api/v1/write", client, max_samples_per_send=5)
    q.append(points(12), at_ms=1000)
    assert [p.name.split("-", 1)[1] for p in q.records()] == ["5.rw", "5.rw", "2.rw"]
