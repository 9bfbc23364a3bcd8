"""A PagerDuty Events API v2 notifier: ``trigger`` and ``resolve`` by the incident's dedup key.

A trigger carries ``payload.summary`` (≤ 1,024 characters), ``severity``, ``source``,
``component`` (the objective), ``group`` (its dimension), ``class`` (its kind),
``custom_details`` (every figure of the message) and ``links`` (dashboard, runbook). The
routing key is a secret from the environment; it is never logged nor put in an error. PagerDuty
accepts 120 events a minute per routing key; Redline stays at 100: ``burst`` 100 in any
``100 × min_interval_s`` (0.6 s) = 60 s, so a backlog goes as 100 events at once, then 100 a
minute. Events v2 takes one event per request (``max_batch`` 1).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import httpx

from redline.alerts.http_send import post_once
from redline.alerts.message import facts, headline
from redline.alerts.notifiers import Notification, Notifier, rfc3339

__all__ = ["EVENTS_URL", "PagerDutyNotifier", "pagerduty_event"]

EVENTS_URL: Final = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES: Final = {"page": "critical", "ticket": "warning"}


def pagerduty_event(
    n: Notification, routing_key: str, *, source: str = "redline", severities: Mapping[str, str] = SEVERITIES
) -> dict[str, Any]:
    """The Events v2 body for ``n``: a trigger while firing, a resolve after."""
    if n.status == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": n.dedup_key}
    f = facts(n)
    links = [{"href": url, "text": text} for url, text in ((f.dashboard_url, "Dashboard"), (f.runbook_url, "Runbook"))
             if url.startswith(("http://", "https://"))]
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": n.dedup_key,
        "payload": {
            "summary": headline(f)[:1024],
            "severity": severities.get(n.severity, "error"),
            "source": source,
            "timestamp": rfc3339(n.starts_at),
            "component": f.objective,
            "group": f.dimension,
            "class": n.labels.get("kind", ""),
            "custom_details": f.as_dict(),
        },
        "links": links,
        "client": "Redline",
        "client_url": n.external_url,
    }


class PagerDutyNotifier(Notifier):
    """Sends one event per notification to the Events API v2 with ``routing_key``."""

    def __init__(
        self,
        routing_key: str,
        client: httpx.Client,
        *,
        name: str = "pagerduty",
        url: str = EVENTS_URL,
        timeout_s: float | None = None,
        clock: Callable[[], float] = time.time,
        source: str = "redline",
        min_interval_s: float = 0.6,
        burst: int = 100,
    ) -> None:
        self.name = name
        self.min_interval_s = min_interval_s
        self.burst = burst
        self._routing_key = routing_key
        self._client = client
        self._url = url
        self._timeout_s = timeout_s
        self._clock = clock
        self._source = source

    def __repr__(self) -> str:
        return f"PagerDutyNotifier(name={self.name!r})"

    def send(self, notifications: Sequence[Notification]) -> None:
        """Send the one event (``max_batch`` is 1); raises ``DeliveryFailed`` with the verdict."""
        for n in notifications:
            body = json.dumps(pagerduty_event(n, self._routing_key, source=self._source)).encode()
            post_once(
                self._client, self._url, content=body,
                headers={"Content-Type": "application/json", "User-Agent": "Redline"},
                name=self.name, timeout_s=self._timeout_s, clock=self._clock, secrets=(self._routing_key,),
            )
