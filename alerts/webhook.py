"""A webhook notifier that posts Alertmanager's webhook JSON (version "4").

A message is one group of alerts grouped by ``alertname``, ``slo`` and ``severity`` (the
outbox may put several incidents that opened together in one message), so any receiver
written for Alertmanager's ``webhook_config`` reads it as is. With a signing secret, the body's
HMAC-SHA256 goes in ``X-Redline-Signature-256: sha256=<hex>`` (as GitHub signs webhooks).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from redline.alerts.http_send import post_once, protect_url
from redline.alerts.notifiers import Notification, Notifier, rfc3339

__all__ = ["GROUP_BY", "SIGNATURE_HEADER", "WebhookNotifier", "alertmanager_payload", "signature"]

GROUP_BY: tuple[str, ...] = ("alertname", "severity", "slo")
"""The labels a notification is grouped by (``groupLabels``, ``groupKey``)."""

SIGNATURE_HEADER = "X-Redline-Signature-256"


def _common(maps: Sequence[dict[str, str]]) -> dict[str, str]:
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def alertmanager_payload(notifications: Notification | Sequence[Notification], receiver: str) -> dict[str, Any]:
    """The webhook body Alertmanager would post for this group of alerts."""
    group = [notifications] if isinstance(notifications, Notification) else list(notifications)
    labels = [dict(n.labels) for n in group]
    annotations = [dict(n.annotations) for n in group]
    common_labels = _common(labels)
    group_labels = {k: common_labels[k] for k in GROUP_BY if k in common_labels}
    group_key = "{}:{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in group_labels.items()) + "}"
    status = "firing" if any(n.status == "firing" for n in group) else "resolved"
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": _common(annotations),
        "externalURL": group[0].external_url,
        "alerts": [
            {
                "status": n.status,
                "labels": lab,
                "annotations": ann,
                "startsAt": rfc3339(n.starts_at),
                "endsAt": rfc3339(n.ends_at),
                "generatorURL": n.generator_url,
                "fingerprint": n.fingerprint,
            }
            for n, lab, ann in zip(group, labels, annotations, strict=True)
        ],
    }


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier(Notifier):
    """POSTs Alertmanager webhook JSON to ``url``; one attempt per ``send`` (the outbox retries).

    ``url`` and ``hmac_secret`` are resolved secrets (from the environment variables the config
    names); never logged nor put in an error, and the URL is redacted from httpx's own log.
    ``client`` is owned by the caller.
    """

    def __init__(
        self,
        url: str,
        client: httpx.Client,
        *,
        name: str = "webhook",
        timeout_s: float | None = None,
        clock: Callable[[], float] = time.time,
        hmac_secret: str | None = None,
        max_batch: int = 50,
        min_interval_s: float = 0.0,
    ) -> None:
        self.name = name
        self.max_batch = max_batch
        self.min_interval_s = min_interval_s
        self._url = url
        protect_url(url)  # httpx logs request URLs at INFO; this one is a secret
        self._client = client
        self._timeout_s = timeout_s
        self._clock = clock
        self._hmac_secret = hmac_secret

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self.name!r})"

    def send(self, notifications: Sequence[Notification]) -> None:
        """Post one message; raises ``DeliveryFailed`` with the verdict."""
        body = json.dumps(alertmanager_payload(notifications, self.name)).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Redline"}
        if self._hmac_secret:
            headers[SIGNATURE_HEADER] = signature(self._hmac_secret, body)
        post_once(
            self._client, self._url, content=body, headers=headers, name=self.name,
            timeout_s=self._timeout_s, clock=self._clock,
        )
