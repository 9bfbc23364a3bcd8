"""The receivers' HTTP server on 127.0.0.1: routes, body limit, concurrency limit, slow senders."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from redline.agent.ingest_server import IngestServer
from redline.agent.selfmetrics import ListenError
from redline.collectors.otlp import OTLPReceiverConfig
from redline.collectors.receiver import Answer
from tests.ports import free_port


class Gate:
    """A route that holds each request until released, counting those in hand."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)
        self.bodies: list[bytes] = []

    def __call__(self, body: bytes, content_type: str, encoding: str) -> Answer:
        self.entered.release()
        self.release.wait(10)
        self.bodies.append(body)
        return Answer(200, "text/plain", f"{len(body)} {content_type} {encoding}".encode())


def read_until_closed(sock: socket.socket) -> str:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks).decode()


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def server(gate: Gate) -> Iterator[IngestServer]:
    settings = OTLPReceiverConfig(
        kind="otlp",
        listen=f"127.0.0.1:{free_port()}",
        body_size_limit=1000,
        max_concurrent_requests=1,
        request_timeout=1,
        retry_after=3,
    )
    srv = IngestServer(settings, {"/v1/metrics": gate})
    srv.start()
    yield srv
    gate.release.set()
    srv.shutdown()


def test_a_body_is_routed_with_its_content_type_and_encoding(server: IngestServer, gate: Gate) -> None:
    gate.release.set()
    r = httpx.post(
        f"http://127.0.0.1:{server.port}/v1/metrics",
        content=b"abc",
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )
    assert (r.status_code, r.text) == (200, "3 application/x-protobuf gzip")


def test_an_unknown_path_is_a_404_naming_the_receivers(server: IngestServer, gate: Gate) -> None:
    r = httpx.post(f"http://127.0.0.1:{server.port}/v1/traces", content=b"abc")
    assert r.status_code == 404 and "/v1/metrics" in r.text
    assert gate.bodies == []


def test_a_content_length_over_the_limit_is_a_413_without_reading_the_body(server: IngestServer, gate: Gate) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")
        answer = read_until_closed(sock)  # answered (and closed) before any byte of the body is sent
    assert answer.startswith("HTTP/1.1 413")
    assert "body of 5000000 bytes is over body_size_limit (1000)" in answer
    assert gate.bodies == []


def test_a_request_without_content_length_is_a_411(server: IngestServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        assert sock.recv(4096).decode().startswith("HTTP/1.1 411")


def test_one_request_more_than_the_concurrency_limit_is_a_429_with_retry_after(
    server: IngestServer, gate: Gate
) -> None:
    url = f"http://127.0.0.1:{server.port}/v1/metrics"
    first: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: first.append(httpx.post(url, content=b"one", timeout=10)))
    sender.start()
    assert gate.entered.acquire(timeout=10)  # the first request is in hand
    second = httpx.post(url, content=b"two", timeout=10)
    assert (second.status_code, second.headers["Retry-After"]) == (429, "3")
    gate.release.set()
    sender.join(10)
    assert first[0].status_code == 200 and gate.bodies == [b"one"]
    assert server.busy_answers == 1


def test_a_sender_that_stops_mid_body_is_cut_off_after_the_request_timeout(server: IngestServer, gate: Gate) -> None:
    gate.release.set()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
        answer = sock.recv(4096)  # the server gives up after request_timeout (1 s) and closes
    assert answer.startswith(b"HTTP/1.1 408")
    assert gate.bodies == []
    # and the server still serves
    assert httpx.post(f"http://127.0.0.1:{server.port}/v1/metrics", content=b"ok").status_code == 200


def test_an_address_in_use_is_a_listen_error_naming_it(server: IngestServer) -> None:
    taken = OTLPReceiverConfig(kind="otlp", listen=f"127.0.0.1:{server.port}")
    with pytest.raises(ListenError, match=f"127.0.0.1:{server.port} is already in use"):
        IngestServer(taken, {}).start()
