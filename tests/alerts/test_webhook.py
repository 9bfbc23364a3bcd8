from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from redline.alerts.log_notifier import LogNotifier
from redline.alerts.notifiers import DeliveryFailed, Notification
from redline.alerts.state import AlertStateStore
from redline.alerts.webhook import SIGNATURE_HEADER, WebhookNotifier, signature
from redline.slo.spec import SLOSpec
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, Harness, Receiver, objective, report

OpenStore = Callable[[Path], AlertStateStore]
SECRET = "s3cr3t-t0ken-4242"
REFUSED = "ConnectError: [Errno 111] Connection refused"

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
    "value": "0.99",
    "unit": "ratio",
    "target": "0.999",
    "budget_used_ratio": "0.25",
    "tier": "page-1h-5m",
    "threshold": "14.4",
    "long_window": "1h",
    "long_burn_rate": "20",
    "short_window": "5m",
    "short_burn_rate": "25",
    "dashboard_url": "http://redline.example:8501/objective?slo=api-availability",
    "time_to_breach_seconds": "3600",
    "owner": "inference",
}
RESOLVED_ANNOTATIONS = {
    **ANNOTATIONS,
    "summary": (
        "api-availability: resolved — the burn dropped below the threshold of 14.4×: now 0× over 1h and 0× over 5m"
    ),
    **{f"burn_rate_{w}": "0" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")},
    "long_burn_rate": "0",
    "short_burn_rate": "0",
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
    harness = Harness(
        open_store(tmp_path / "a.db"),
        [webhook],
        clock,
        specs=[SPEC],
        external_url="http://redline.example:8501",
        generator_url="http://redline.example:8501/?slo={slo}",
    )
    harness.process(report(objective(burn=PAGE_BURN)))
    clock.now = T0 + 754.5
    harness.process(report(objective()))

    assert receiver.bodies() == [
        expected_body("firing", "0001-01-01T00:00:00Z"),
        expected_body("resolved", "2024-05-01T12:12:34.5Z"),
    ]
    path, headers, _ = receiver.requests[0]
    assert path == f"/hooks/{SECRET}"
    assert headers["Content-Type"] == "application/json"
    assert SIGNATURE_HEADER not in headers


def test_with_a_signing_secret_the_body_carries_its_hmac(receiver: Receiver, client: httpx.Client) -> None:
    webhook = WebhookNotifier(f"{receiver.base_url}/hook", client, hmac_secret="k3y")
    webhook.send([notification()])
    _, headers, body = receiver.requests[0]
    expected = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected == signature("k3y", body)


def test_incidents_opening_together_go_out_as_one_webhook_message(receiver: Receiver, client: httpx.Client) -> None:
    other = Notification(
        status="firing", key="pipeline-freshness/page", labels={**LABELS, "slo": "pipeline-freshness"},
        annotations=ANNOTATIONS, starts_at=T0, ends_at=None, fingerprint="0000000000000001",
    )
    WebhookNotifier(f"{receiver.base_url}/hook", client, name="oncall").send([notification(), other])
    (body,) = receiver.bodies()
    assert body["groupLabels"] == {"alertname": "RedlineErrorBudgetBurn", "severity": "page"}
    assert body["commonLabels"] == {k: v for k, v in LABELS.items() if k != "slo"}
    assert [a["labels"]["slo"] for a in body["alerts"]] == ["api-availability", "pipeline-freshness"]


def test_a_404_is_permanent(receiver: Receiver, client: httpx.Client) -> None:
    receiver.statuses = [404]
    webhook = WebhookNotifier(f"{receiver.base_url}/hooks/{SECRET}", client)
    with pytest.raises(DeliveryFailed) as info:
        webhook.send([notification()])
    assert info.value.permanent is True
    assert info.value.verdict.kind == "permanent"
    assert str(info.value) == "notifier 'webhook': receiver answered HTTP 404"
    assert receiver.count() == 1


def test_an_html_error_page_is_retried_and_reported_by_its_title(receiver: Receiver, client: httpx.Client) -> None:
    page = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    receiver.statuses = [(502, {"Content-Type": "text/html"}, page)]
    with pytest.raises(DeliveryFailed) as info:
        WebhookNotifier(f"{receiver.base_url}/hook", client).send([notification()])
    assert (info.value.verdict.kind, info.value.verdict.reason) == ("retry", "HTTP 502: 502 Bad Gateway")


def test_an_unusable_url_is_permanent_and_its_text_is_redacted(client: httpx.Client) -> None:
    webhook = WebhookNotifier(f"ftp://hooks.example/{SECRET}", client)
    with pytest.raises(DeliveryFailed) as info:
        webhook.send([notification()])
    assert info.value.permanent is True
    assert info.value.__cause__ is None
    assert SECRET not in str(info.value)
    assert str(info.value) == "notifier 'webhook': UnsupportedProtocol: the configured URL cannot be used"


def test_a_down_receiver_never_holds_up_evaluation_or_another_notifier_and_gets_every_change_in_order(
    tmp_path: Path,
    open_store: OpenStore,
    down_receiver: Receiver,
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="httpx")  # the CLI quietens httpx; this test reads its lines
    clock = FakeClock()
    url = f"{down_receiver.base_url}/hooks/{SECRET}"
    webhook = WebhookNotifier(url, client)
    log = LogNotifier(logging.getLogger("test.alerts.oncall"))
    store = open_store(tmp_path / "a.db")
    harness = Harness(store, [webhook, log], clock, specs=[SPEC])

    events = harness.process(report(objective(burn=PAGE_BURN)))
    assert [(e.current, e.owed_to) for e in events] == [("firing", ("webhook", "log"))]
    assert [(e.notifier, e.ok, e.error, e.attempts) for e in store.log() if e.notifier == "webhook"] == [
        ("webhook", False, REFUSED, 1)
    ]
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "redline.alerts.delivery" and r.levelno >= logging.WARNING
    ]
    assert warnings == [
        f"alert api-availability/page: firing notification via webhook failed (attempt 1), will retry: {REFUSED}"
    ]
    # Ten minutes down: a second objective pages through the log, and then resolves the first.
    other = objective("pipeline-freshness", burn=PAGE_BURN)
    clock.now += 60
    harness.process(report(objective(burn=PAGE_BURN), other))
    harness.run_until(T0 + 300)
    clock.now = T0 + 300
    harness.process(report(objective(), other))
    harness.run_until(T0 + 600)
    assert down_receiver.count() == 0
    assert [r.getMessage().split('"status": ')[1][:9] for r in caplog.records if r.name == "test.alerts.oncall"] == [
        '"firing",', '"firing",', '"resolved'
    ]

    down_receiver.start()
    harness.run_until(T0 + 700)  # the next retry is at most 60 s away
    bodies = down_receiver.bodies()
    # every change, in order, in one message: the backlog of one group goes together
    assert [[(a["status"], a["labels"]["slo"], a["startsAt"]) for a in b["alerts"]] for b in bodies] == [[
        ("firing", "api-availability", "2024-05-01T12:00:00Z"),
        ("firing", "pipeline-freshness", "2024-05-01T12:01:00Z"),
        ("resolved", "api-availability", "2024-05-01T12:00:00Z"),
    ]]
    assert store.pending_counts() == {}
    health = harness.health.snapshot()["webhook"]
    assert (health.sent, health.given_up, health.coalesced) == (3, 0, 0)
    tries = {e.at for e in store.log() if e.notifier == "webhook"}  # one message may carry several
    assert 10 <= len(tries) <= 40  # 0.5 s ×1.5 up to 60 s over ten minutes, not one a second

    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert all(line.startswith("HTTP Request: POST <redacted> ") for line in httpx_lines)
    everything = caplog.text + "".join(str(e.error) for e in store.log()) + repr(webhook)
    assert SECRET not in everything
    assert url not in everything
    assert down_receiver.base_url not in everything
