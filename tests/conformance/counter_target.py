"""A counter target (prometheus_client on 127.0.0.1) and a bounded poll, for the remote write tests."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, start_http_server

from tests.polling import wait_until

DEADLINE_S = 60.0


class Target:
    """http_requests_total by code, served by prometheus_client on an ephemeral port."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "Requests.", ["code"], registry=self.registry)
        for code in ("200", "500"):
            self.requests.labels(code)
        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.address = f"127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until true, failing after ``DEADLINE_S`` (``tests.polling``):
    Prometheus scrapes and sends on its own schedule."""
    wait_until(condition, what, DEADLINE_S, 0.2)
