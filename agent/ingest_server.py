"""The HTTP server of the push receivers (OTLP, remote write): routes POST bodies to a receiver's
``handle`` and writes its ``Answer``, within limits.

Chosen by measurement (``bench/ingest_server.py``): the standard library's threading server
against a raw ASGI app under uvicorn, on the same receiver. Parsing a body is Python work under
the GIL either way, so the server is a small share of a request, and the threading server kept
pace (see the README's figures); it needs no new dependency and no event loop thread. What a
production server brings is had here explicitly:

- **body limit**: a ``Content-Length`` over the limit is answered 413 without reading the body; a
  request without one (chunked) is answered 411; the decompressed size is the receiver's limit.
- **timeouts**: ``request_timeout`` on the socket, so a slow or idle client's thread ends.
- **concurrency**: at most ``max_concurrent_requests`` bodies are read and handled at once; one
  more is answered 429 with ``Retry-After`` at once (the OTLP spec's retryable answer).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler

from redline.agent.selfmetrics import ListenError
from redline.collectors.receiver import Answer, ReceiverSettings
from redline.kernel.http_server import ThreadedHTTPServer

__all__ = ["IngestServer", "Route"]

log = logging.getLogger("redline.agent.ingest")

Route = Callable[[bytes, str, str], Answer]
"""A receiver's ``handle(body, content_type, content_encoding)``."""


def _plain(status: int, text: str, headers: Mapping[str, str] | None = None) -> Answer:
    return Answer(status, "text/plain; charset=utf-8", (text + "\n").encode(), dict(headers or {}))


class IngestServer:
    """Serves ``routes`` (path → receiver) on the receiver's ``listen`` address, with its limits."""

    def __init__(self, settings: ReceiverSettings, routes: Mapping[str, Route]) -> None:
        self.settings = settings
        self._routes = dict(routes)
        self._slots = threading.BoundedSemaphore(settings.max_concurrent_requests)
        self._server = ThreadedHTTPServer(f"redline-receiver-{settings.name}", settings.host, settings.port)
        self.busy_answers = 0
        """Requests answered 429 because ``max_concurrent_requests`` were in hand."""

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        return self._server.port

    def start(self) -> None:
        """Bind and serve on a daemon thread; ``ListenError`` (an ``OSError``) names the address
        when it cannot be bound, as for ``/metrics``."""
        try:
            self._server.start(self._handler())
        except OSError as exc:
            raise ListenError(self.settings.host, self.settings.port, exc) from exc

    def shutdown(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()

    def answer(
        self, path: str, length: str | None, read: Callable[[int], bytes], content_type: str, encoding: str
    ) -> tuple[Answer, bool]:
        """The answer to a POST and whether to close the connection (its body was not read)."""
        route = self._routes.get(path.split("?", 1)[0])
        if route is None:
            return _plain(404, f"no receiver at {path}; POST to {', '.join(sorted(self._routes))}"), True
        if length is None:
            return _plain(411, "Content-Length is required"), True
        try:
            size = int(length)
        except ValueError:
            return _plain(400, f"Content-Length {length!r} is not a number"), True
        if size < 0:
            return _plain(400, f"Content-Length {size} is negative"), True
        limit = self.settings.body_size_limit
        if limit and size > limit:
            return _plain(413, f"body of {size} bytes is over body_size_limit ({limit})"), True
        if not self._slots.acquire(blocking=False):
            self.busy_answers += 1
            retry = {"Retry-After": str(max(1, round(self.settings.retry_after)))}
            return _plain(429, "too many requests in hand; retry later", retry), True
        try:
            try:
                body = read(size)
            except TimeoutError:
                return _plain(408, f"the body did not arrive within {self.settings.request_timeout:g} s"), True
            if len(body) < size:
                return _plain(400, f"body ended after {len(body)} of {size} bytes"), True
            return route(body, content_type, encoding), False
        finally:
            self._slots.release()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: exporters reuse their connection
            timeout = server.settings.request_timeout

            def do_POST(self) -> None:
                try:
                    answer, close = server.answer(
                        self.path,
                        self.headers.get("Content-Length"),
                        self.rfile.read,
                        self.headers.get("Content-Type", ""),
                        self.headers.get("Content-Encoding", ""),
                    )
                except Exception:  # containment: a receiver bug is a 500, the server lives on
                    log.exception("receiver %s failed on a request", server.settings.name)
                    answer, close = _plain(500, "internal error; see the agent's log"), True
                self.close_connection = close
                self.send_response(answer.status)
                for name, value in (("Content-Type", answer.content_type), *answer.headers.items()):
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                if close:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("%s: " + format, server.settings.name, *args)

        return Handler
