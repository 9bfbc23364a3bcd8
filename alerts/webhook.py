"""A webhook notifier that posts Alertmanager's webhook JSON (version "4").

Every notification is one group holding one alert, grouped by ``alertname``, ``slo`` and
``severity``, so any receiver written for Alertmanager's ``webhook_config`` reads it as is.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx

from redline.alerts.http_retry import RetryPolicy, post_with_retry, protect_url
from redline.alerts.notifiers import Notification, Notifier, rfc3339

__all__ = ["GROUP_BY", "WebhookNotifier", "alertmanager_payload"]

GROUP_BY: tuple[str, ...] = ("alertname", "severity", "slo")
"""The labels a notification is grouped by (``groupLabels``, ``groupKey``)."""


def alertmanager_payload(notification: Notification, receiver: str) -> dict[str, Any]:
    """The webhook body Alertmanager would post for this one-alert group."""
    labels = dict(notification.labels)
    annotations = dict(notification.annotations)
    group_labels = {k: labels[k] for k in GROUP_BY if k in labels}
    group_key = "{}:{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in group_labels.items()) + "}"
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": notification.status,
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": notification.external_url,
        "alerts": [
            {
                "status": notification.status,
                "labels": labels,
                "annotations": annotations,
                "startsAt": rfc3339(notification.starts_at),
                "endsAt": rfc3339(notification.ends_at),
                "generatorURL": notification.generator_url,
                "fingerprint": notification.fingerprint,
            }
        ],
    }


class WebhookNotifier(Notifier):
    """POSTs Alertmanager webhook JSON to ``url``, retrying transient failures with backoff.

    ``url`` is the resolved secret (from the environment variable the config names); it is
    never logged nor put in an error, and is redacted from httpx's own request log.
    ``client`` is owned by the caller (its timeout applies to every attempt). ``sleep`` waits
    between attempts; by default an interruptible wait that ``shutdown()`` cuts short.
    """

    def __init__(
        self,
        url: str,
        client: httpx.Client,
        *,
        name: str = "webhook",
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        timeout_s: float | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.name = name
        self._url = url
        protect_url(url)  # httpx logs request URLs at INFO; this one is a secret
        self._client = client
        self._policy = RetryPolicy(
            retries=retries, backoff_s=backoff_s, max_backoff_s=max_backoff_s, timeout_s=timeout_s
        )
        self._stop = threading.Event()
        self._sleep: Callable[[float], object] = sleep if sleep is not None else self._stop.wait

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self.name!r})"

    def send(self, notification: Notification) -> None:
        """Post one notification; raises ``NotifyError`` (permanent for 4xx other than 429)."""
        body = json.dumps(alertmanager_payload(notification, self.name)).encode()
        post_with_retry(
            self._client,
            self._url,
            content=body,
            headers={"Content-Type": "application/json", "User-Agent": "Redline"},
            name=self.name,
            policy=self._policy,
            sleep=self._sleep,
            stopped=self._stop.is_set,
        )

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Cut any backoff wait short; the HTTP client stays open (the caller owns it)."""
        self._stop.set()
