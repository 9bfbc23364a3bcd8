from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from redline.alerts.log_notifier import LogNotifier
from redline.alerts.manager import AlertManager
from redline.alerts.notifiers import Notification
from redline.alerts.state import AlertStateStore
from redline.alerts.webhook import WebhookNotifier
from redline.kernel.errors import NotifyError
from redline.slo.spec import SLOSpec
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, Receiver, objective, report

OpenStore = Callable[[Path], AlertStateStore]
SECRET = "s3cr3t-t0ken-4242"
REFUSED = (
    "notifier 'webhook': not delivered after 4 attempts; "
    "last error: ConnectError: [Errno 111] Connection refused"
)

SPEC = SLOSpec.model_validate(
    {
        "name": "api-availability",
        "objective": 99.9,
        "sli": {"ratio": {"errors": 'http_requests_total{code=~"5.."}', "total": "http_requests_total"}},
        "labels": {"team": "inference"},
        "runbook_url": "https://runbooks.example/api-availability",
    }
)

LABELS = {
    "alertname": "RedlineErrorBudgetBurn",
    "slo": "api-availability",
    "severity": "page",
    "dimension": "users",
    "kind": "availability",
    "team": "inference",
    "tier": "page-1h-5m",
}
ANNOTATIONS = {
    "summary": (
        "api-availability is burning its error budget at 20× over 1h and 25× over 5m (threshold 14.4×)"
    ),
    "description": "error ratio 2.5% over 1h against a 0.1% budget",
    "runbook_url": "https://runbooks.example/api-availability",
    "condition": "1h/5m > 14.4×",
    "burn_rate_5m": "25",
    "burn_rate_30m": "20",
    "burn_rate_1h": "20",
    "burn_rate_2h": "10",
    "burn_rate_6h": "4",
    "burn_rate_1d": "2",
    "burn_rate_3d": "0.5",
    "budget_remaining": "0.75",
    "time_to_breach_seconds": "3600",
}
RESOLVED_ANNOTATIONS = {
    **ANNOTATIONS,
    "summary": (
        "api-availability: resolved — the burn dropped below the threshold of 14.4×: now 0× over 1h and 0× over 5m"
    ),
    **{f"burn_rate_{w}": "0" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")},
}
GROUP = {"alertname": "RedlineErrorBudgetBurn", "severity": "page", "slo": "api-availability"}
GROUP_KEY = '{}:{alertname="RedlineErrorBudgetBurn", severity="page", slo="api-availability"}'
FINGERPRINT = "79c652d44d7b7e9c"  # FNV-1a 64 of LABELS, as Prometheus computes it


def expected_body(status: str, ends_at: str) -> dict[str, Any]:
    annotations = ANNOTATIONS if status == "firing" else RESOLVED_ANNOTATIONS
    return {
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "oncall",
        "groupLabels": GROUP,
        "commonLabels": LABELS,
        "commonAnnotations": annotations,
        "externalURL": "http://redline.example:8501",
        "alerts": [
            {
                "status": status,
                "labels": LABELS,
                "annotations": annotations,
                "startsAt": "2024-05-01T12:00:00Z",
                "endsAt": ends_at,
                "generatorURL": "http://redline.example:8501/?slo=api-availability",
                "fingerprint": FINGERPRINT,
            }
        ],
    }


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def notification(status: str = "firing") -> Notification:
    return Notification(
        status="firing" if status == "firing" else "resolved",
        key="api-availability/page",
        labels=LABELS,
        annotations=ANNOTATIONS,
        starts_at=T0,
        ends_at=None if status == "firing" else T0 + 600,
        fingerprint=FINGERPRINT,
    )


def test_the_receiver_gets_alertmanager_webhook_json_when_firing_and_when_resolved(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    clock = FakeClock()
    webhook = WebhookNotifier(f"{receiver.base_url}/hooks/{SECRET}", client, name="oncall")
    manager = AlertManager(
        open_store(tmp_path / "a.db"),
        [webhook],
        clock=clock,
        specs=[SPEC],
        external_url="http://redline.example:8501",
        generator_url="http://redline.example:8501/?slo={slo}",
    )
    manager.process(report(objective(burn=PAGE_BURN)))
    clock.now = T0 + 754.5
    manager.process(report(objective()))

    assert receiver.bodies() == [
        expected_body("firing", "0001-01-01T00:00:00Z"),
        expected_body("resolved", "2024-05-01T12:12:34.5Z"),
    ]
    path, headers, _ = receiver.requests[0]
    assert path == f"/hooks/{SECRET}"
    assert headers["Content-Type"] == "application/json"


def test_a_receiver_answering_500_twice_gets_the_alert_on_the_third_attempt(
    receiver: Receiver, client: httpx.Client
) -> None:
    receiver.statuses = [500, 500]
    delays: list[float] = []
    webhook = WebhookNotifier(f"{receiver.base_url}/hook", client, sleep=delays.append)
    webhook.send(notification())
    assert receiver.count() == 3
    assert delays == [0.5, 1.0]
    bodies = receiver.bodies()
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[2]["status"] == "firing"


def test_backoff_doubles_up_to_its_cap_and_429_honours_retry_after(
    receiver: Receiver, client: httpx.Client
) -> None:
    receiver.statuses = [503, 503, 503, (429, {"Retry-After": "2"}), (429, {"Retry-After": "600"}), 502]
    delays: list[float] = []
    webhook = WebhookNotifier(
        f"{receiver.base_url}/hook", client, retries=6, backoff_s=1.0, max_backoff_s=5.0, sleep=delays.append
    )
    webhook.send(notification())
    assert receiver.count() == 7
    assert delays == [1.0, 2.0, 4.0, 2.0, 5.0, 5.0]


def test_a_404_is_permanent_and_not_retried(receiver: Receiver, client: httpx.Client) -> None:
    receiver.statuses = [404]
    delays: list[float] = []
    webhook = WebhookNotifier(f"{receiver.base_url}/hooks/{SECRET}", client, sleep=delays.append)
    with pytest.raises(NotifyError) as info:
        webhook.send(notification())
    assert info.value.permanent is True
    assert str(info.value) == "notifier 'webhook': receiver answered HTTP 404 Not Found; not retrying"
    assert receiver.count() == 1
    assert delays == []


def test_a_receiver_that_is_down_is_retried_then_fails_transiently_without_naming_the_url(
    down_receiver: Receiver, client: httpx.Client
) -> None:
    delays: list[float] = []
    webhook = WebhookNotifier(f"{down_receiver.base_url}/hooks/{SECRET}", client, sleep=delays.append)
    with pytest.raises(NotifyError) as info:
        webhook.send(notification())
    assert info.value.permanent is False
    assert str(info.value) == REFUSED
    assert delays == [0.5, 1.0, 2.0]
    assert SECRET not in repr(webhook)


def test_an_unusable_url_is_permanent_and_its_text_is_redacted(client: httpx.Client) -> None:
    webhook = WebhookNotifier(f"ftp://hooks.example/{SECRET}", client, sleep=lambda s: None)
    with pytest.raises(NotifyError) as info:
        webhook.send(notification())
    assert info.value.permanent is True
    assert info.value.__cause__ is None
    assert SECRET not in str(info.value)
    assert str(info.value).startswith(
        "notifier 'webhook': the configured URL cannot be used: UnsupportedProtocol"
    )


def test_shutdown_cuts_a_backoff_wait_short(receiver: Receiver, client: httpx.Client) -> None:
    receiver.statuses = [500] * 10
    webhook = WebhookNotifier(f"{receiver.base_url}/hook", client, backoff_s=60.0, max_backoff_s=60.0)
    errors: list[NotifyError] = []

    def run() -> None:
        try:
            webhook.send(notification())
        except NotifyError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert receiver.wait_for(1, timeout_s=10)
    webhook.shutdown(timeout_s=1.0)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [(e.permanent, str(e)) for e in errors] == [
        (False, "notifier 'webhook' is shut down; not sent (HTTP 500 Internal Server Error)")
    ]
    assert receiver.count() == 1


def test_a_down_receiver_is_logged_recorded_and_paged_again_on_the_next_evaluation(
    tmp_path: Path,
    open_store: OpenStore,
    down_receiver: Receiver,
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="httpx")  # the CLI quietens httpx; this test reads its lines
    clock = FakeClock()
    delays: list[float] = []
    url = f"{down_receiver.base_url}/hooks/{SECRET}"
    webhook = WebhookNotifier(url, client, sleep=delays.append)
    log = LogNotifier(logging.getLogger("test.alerts.oncall"))
    store = open_store(tmp_path / "a.db")
    manager = AlertManager(store, [webhook, log], clock=clock, specs=[SPEC])

    events = manager.process(report(objective(burn=PAGE_BURN)))
    assert [(e.current, sorted((d.notifier, d.ok, d.attempt) for d in e.deliveries)) for e in events] == [
        ("firing", [("log", True, 1), ("webhook", False, 1)])
    ]
    assert delays == [0.5, 1.0, 2.0]
    refused = REFUSED
    assert [(e.notifier, e.ok, e.error, e.attempts) for e in store.log() if e.notifier == "webhook"] == [
        ("webhook", False, refused, 1)
    ]
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "redline.alerts.manager"
    ]
    assert warnings == [
        "alert api-availability/page: firing notification via webhook failed (attempt 1), "
        f"will retry next evaluation: {refused}"
    ]

    # The evaluation goes on while the receiver is down: a second objective still pages through the log.
    clock.now += 60
    other = objective("pipeline-freshness", burn=PAGE_BURN)
    events = manager.process(report(objective(burn=PAGE_BURN), other))
    assert [(e.key, e.current, sorted((d.notifier, d.ok) for d in e.deliveries)) for e in events] == [
        ("api-availability/page", "firing", [("webhook", False)]),
        ("pipeline-freshness/page", "firing", [("log", True)]),
    ]

    down_receiver.start()
    clock.now += 60
    events = manager.process(report(objective(burn=PAGE_BURN), other))
    assert [(e.key, [(d.notifier, d.ok, d.attempt) for d in e.deliveries]) for e in events] == [
        ("api-availability/page", [("webhook", True, 3)]),
        ("pipeline-freshness/page", [("webhook", True, 1)]),
    ]
    bodies = down_receiver.bodies()
    assert [(b["status"], b["commonLabels"]["slo"], b["alerts"][0]["startsAt"]) for b in bodies] == [
        ("firing", "api-availability", "2024-05-01T12:00:00Z"),
        ("firing", "pipeline-freshness", "2024-05-01T12:01:00Z"),
    ]
    assert store.owed() == []
    log_lines = [r for r in caplog.records if r.name == "test.alerts.oncall"]
    assert [r.getMessage().split(" ", 1)[0] for r in log_lines] == ["alert", "alert"]

    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert httpx_lines == ['HTTP Request: POST <redacted> "HTTP/1.0 200 OK"'] * 2
    everything = caplog.text + "".join(str(e.error) for e in store.log()) + repr(webhook)
    assert SECRET not in everything
    assert url not in everything
    assert down_receiver.base_url not in everything
