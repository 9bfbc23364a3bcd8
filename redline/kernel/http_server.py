"""One way to run a small HTTP server on a background thread: the agent's /metrics, the demo
fleet's services and the demo's webhook receiver all use it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["ThreadedHTTPServer", "send_body"]


def send_body(handler: BaseHTTPRequestHandler, code: int, content_type: str, body: bytes) -> None:
    """Answer with a status, a Content-Type and a body of known length."""
    handler.send_response(code)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class ThreadedHTTPServer:
    """Serves a handler class on ``host:port`` (0 = ephemeral) from a daemon thread.

    ``start()`` binds (raising ``OSError`` when the port is taken) and serves; ``shutdown()``
    stops serving, releases the port and joins the thread; it is safe to call twice.
    """

    def __init__(self, name: str, host: str, port: int) -> None:
        self.name = name
        self.host = host
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        """Whether the server is bound and serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port; only after ``start()``."""
        if self._server is None:
            raise RuntimeError(f"{self.name}: not started")
        return int(self._server.server_address[1])

    def start(self, handler: type[BaseHTTPRequestHandler]) -> None:
        """Bind and serve ``handler`` on a daemon thread."""
        if self._server is not None:
            raise RuntimeError(f"{self.name}: already started")
        server = ThreadingHTTPServer((self.host, self._requested_port), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=self.name, daemon=True
        )
        self._thread.start()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop serving and release the port."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout_s)
