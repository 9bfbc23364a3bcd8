"""``redline alerts test``: one clearly labelled test notification through each route, each result.

Every route of ``alerting.routes`` (then the default route) gets a test alert whose labels
match the route (its ``match`` labels; ``alertname`` ``RedlineTest``; ``test`` ``true``), sent
once, synchronously, to each notifier of that route: no outbox, no retry,
so the answer printed is the receiver's own. Nothing is written to the alert database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from redline.agent.delivery_wiring import build_delivery
from redline.alerts.message import dashboard_url
from redline.alerts.notifiers import DeliveryFailed, Notification, dedup_key, fingerprint
from redline.config import LoadedConfig

__all__ = ["RouteTestResult", "render_results", "send_test_notifications"]

TEST_SLO = "redline-test"


@dataclass(frozen=True)
class RouteTestResult:
    """One test message through one notifier of one route."""

    route: str
    notifier: str
    ok: bool
    detail: str


def _test_notification(route: str, match: Mapping[str, str], external_url: str, now: float) -> Notification:
    labels = {
        "alertname": "RedlineTest", "slo": TEST_SLO, "severity": "page", "dimension": "users",
        "kind": "availability", "test": "true", **dict(match),
    }
    key = f"{TEST_SLO}/{route}"
    annotations = {
        "summary": f"Test notification from Redline for route {route}: no action needed",
        "description": "Sent by `redline alerts test` to check this route reaches its receivers.",
        "tier": "test", "threshold": "14.4", "long_window": "1h", "long_burn_rate": "0",
        "short_window": "5m", "short_burn_rate": "0", "budget_remaining": "1",
        "dashboard_url": dashboard_url(external_url, TEST_SLO),
    }
    return Notification(
        status="firing", key=key, labels=labels, annotations=annotations, starts_at=now, ends_at=None,
        fingerprint=fingerprint(labels), external_url=external_url, dedup_key=dedup_key(key, now), test=True,
    )


def send_test_notifications(
    loaded: LoadedConfig, env: Mapping[str, str], client: httpx.Client, clock: Callable[[], float] = time.time
) -> list[RouteTestResult]:
    """Send the test message of every route; ``ConfigError`` when a secret is missing."""
    delivery = build_delivery(loaded, env, client)
    by_name = {n.name: n for n in delivery.notifiers}
    alerting = loaded.config.alerting
    routes = [
        (f"routes[{i}]", dict(r.match), built.notifiers)
        for i, (r, built) in enumerate(zip(alerting.routes, delivery.router.routes, strict=True))
    ]
    routes.append(("default", {}, delivery.router.default))
    results: list[RouteTestResult] = []
    for route, match, targets in routes:
        notification = _test_notification(route, match, alerting.external_url, clock())
        for name in targets:
            try:
                by_name[name].send([notification])
            except DeliveryFailed as exc:
                results.append(RouteTestResult(route, name, False, str(exc)))
            else:
                results.append(RouteTestResult(route, name, True, "delivered"))
    return results


def render_results(results: list[RouteTestResult]) -> str:
    """One line per route and notifier: ``ok`` or ``FAILED`` and why."""
    if not results:
        return "no notifiers configured: nothing to test"
    width = max(len(r.route) for r in results)
    return "\n".join(
        f"{r.route:<{width}}  {r.notifier}: {'ok' if r.ok else 'FAILED'} ({r.detail})" for r in results
    )
