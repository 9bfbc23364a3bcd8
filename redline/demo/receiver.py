"""The demo's webhook receiver: accepts Alertmanager webhook JSON on 127.0.0.1 and shows each alert.

Every POST whose body is a JSON object with an ``alerts`` list is kept in memory, in arrival
order, answered 200, and summarised one line per alert through the ``on_summary`` callback:

    PAGE firing: api-availability — burning 48× over 1h and 5m

Anything else is answered 400 with the reason and not kept. ``received`` and ``wait_for`` are
safe to call from any thread while the server runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from redline.kernel.http_server import ThreadedHTTPServer, send_body

__all__ = ["WebhookReceiver", "summarize_alert"]

logger = logging.getLogger(__name__)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def summarize_alert(alert: Mapping[str, Any], *, status: str = "") -> str:
    """One line for one alert of a webhook payload: severity, status, objective and what it says.

    The objective is the ``slo`` label (else ``alertname``); the detail is the ``summary``
    annotation (else ``description``, without a leading "<name> is"), or ``burning N×`` from a
    ``burn_rate`` annotation; for a resolved alert, marked as what it said while it fired.
    """
    labels = alert.get("labels")
    labels = labels if isinstance(labels, Mapping) else {}
    annotations = alert.get("annotations")
    annotations = annotations if isinstance(annotations, Mapping) else {}
    severity = (_text(labels.get("severity")) or "alert").upper()
    state = _text(alert.get("status")) or status or "firing"
    name = _text(labels.get("slo")) or _text(labels.get("alertname")) or "(unnamed alert)"
    detail = _text(annotations.get("summary")) or _text(annotations.get("description"))
    # "api-availability is burning …" after "api-availability —" would say the name twice
    detail = detail.removeprefix(f"{name} is ").removeprefix(f"{name}: ").removeprefix(f"{name} ")
    if not detail and "burn_rate" in annotations:
        try:
            detail = f"burning {float(annotations['burn_rate']):.1f}×"
        except (TypeError, ValueError):
            detail = f"burn rate {annotations['burn_rate']}"
    line = f"{severity} {state}: {name}"
    if detail and state == "resolved":
        # the annotations describe the alert as it fired: "resolved — burning 19.99×" would read as now
        return f"{line} (while it fired: {detail})"
    return f"{line} — {detail}" if detail else line


class WebhookReceiver:
    """A ThreadingHTTPServer on 127.0.0.1 that records Alertmanager webhook posts."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_summary: Callable[[str], None] | None = None,
        max_body_bytes: int = 1_000_000,
    ) -> None:
        self._on_summary = on_summary
        self._max_body_bytes = max_body_bytes
        self._received: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._http = ThreadedHTTPServer("demo-webhook", host, port)

    @property
    def port(self) -> int:
        """The bound port; only after ``start()``."""
        return self._http.port

    @property
    def url(self) -> str:
        """Where to post (any path is accepted); only after ``start()``."""
        return f"http://{self._http.host}:{self.port}/alerts"

    @property
    def received(self) -> list[dict[str, Any]]:
        """A copy of the payloads accepted so far, oldest first."""
        with self._cond:
            return list(self._received)

    def wait_for(self, count: int, timeout_s: float) -> bool:
        """Block until at least ``count`` payloads arrived or ``timeout_s`` passed; True if they did."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _accept(self, payload: dict[str, Any]) -> None:
        with self._cond:
            self._received.append(payload)
            self._cond.notify_all()
        if self._on_summary is None:
            return
        status = _text(payload.get("status"))
        for alert in payload["alerts"]:
            if isinstance(alert, Mapping):
                try:
                    self._on_summary(summarize_alert(alert, status=status))
                except Exception:
                    logger.exception("webhook receiver: summary callback failed")

    def _check(self, body: bytes) -> dict[str, Any]:
        """The payload, or ``ValueError`` saying what is wrong with it."""
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"body is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise ValueError(f"expected a JSON object (Alertmanager webhook), got {type(payload).__name__}")
        if not isinstance(payload.get("alerts"), list):
            raise ValueError("expected an 'alerts' list in the payload")
        return payload

    def start(self) -> None:
        """Bind and serve on a background thread; raises ``OSError`` if the port is taken."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    self._reply(411, "a Content-Length header is required\n")
                    return
                if length > owner._max_body_bytes:
                    self._reply(413, f"body of {length} bytes exceeds {owner._max_body_bytes}\n")
                    return
                try:
                    payload = owner._check(self.rfile.read(length))
                except ValueError as exc:
                    self._reply(400, f"{exc}\n")
                    return
                owner._accept(payload)
                self._reply(200, "ok\n")

            def _reply(self, code: int, text: str) -> None:
                send_body(self, code, "text/plain; charset=utf-8", text.encode())

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("webhook receiver: " + format, *args)

        self._http.start(Handler)

    def shutdown(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        self._http.shutdown()
