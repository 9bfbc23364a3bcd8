"""Slack, PagerDuty, Alertmanager and file notifiers: the exact JSON a real receiver on 127.0.0.1 gets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from redline.alerts.alertmanager import AlertmanagerNotifier
from redline.alerts.file_notifier import FileNotifier
from redline.alerts.notifiers import DeliveryFailed, Notification
from redline.alerts.pagerduty import PagerDutyNotifier
from redline.alerts.slack import SlackNotifier
from tests.alerts.conftest import T0, Receiver
from tests.alerts.test_webhook import ANNOTATIONS, FINGERPRINT, LABELS, RESOLVED_ANNOTATIONS

KEY = "R0UT1NGKEY0000000000000000000000"
DEDUP = "redline-f6881a9c595fab611113a7cb42b4ec1a92c723d3"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def notification(status: str = "firing", *, test: bool = False) -> Notification:
    firing = status == "firing"
    return Notification(
        status="firing" if firing else "resolved",
        key="api-availability/page",
        labels=LABELS,
        annotations=ANNOTATIONS if firing else RESOLVED_ANNOTATIONS,
        starts_at=T0,
        ends_at=None if firing else T0 + 600,
        fingerprint=FINGERPRINT,
        generator_url="http://redline.example:8501/?slo=api-availability",
        external_url="http://redline.example:8501",
        dedup_key=DEDUP,
        test=test,
    )


def only_body(receiver: Receiver) -> Any:
    (body,) = receiver.bodies()
    return body


def test_pagerduty_gets_a_trigger_then_a_resolve_with_the_same_dedup_key(
    receiver: Receiver, client: httpx.Client
) -> None:
    pd = PagerDutyNotifier(KEY, client, url=f"{receiver.base_url}/v2/enqueue")
    pd.send([notification()])
    pd.send([notification("resolved")])
    trigger, resolve = receiver.bodies()
    assert trigger == {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": DEDUP,
        "payload": {
            "summary": "FIRING page: api-availability (users) burning 20× over 1h and 25× over 5m (threshold 14.4×)",
            "severity": "critical",
            "source": "redline",
            "timestamp": "2024-05-01T12:00:00Z",
            "component": "api-availability",
            "group": "users",
            "class": "availability",
            "custom_details": {
                "status": "firing",
                "objective": "api-availability",
                "dimension": "users",
                "severity": "page",
                "tier": "page-1h-5m",
                "threshold": "14.4×",
                "long_window": "1h",
                "long_burn_rate": "20×",
                "short_window": "5m",
                "short_burn_rate": "25×",
                "budget_remaining": "75.0%",
                "time_to_breach": "1h 0m",
                "dashboard_url": "http://redline.example:8501/objective?slo=api-availability",
                "runbook_url": "https://runbooks.example/api-availability",
                "owner": "inference",
                "summary": ANNOTATIONS["summary"],
                "description": "error ratio 2.5% over 1h against a 0.1% budget",
                "test": False,
            },
        },
        "links": [
            {"href": "http://redline.example:8501/objective?slo=api-availability", "text": "Dashboard"},
            {"href": "https://runbooks.example/api-availability", "text": "Runbook"},
        ],
        "client": "Redline",
        "client_url": "http://redline.example:8501",
    }
    assert resolve == {"routing_key": KEY, "event_action": "resolve", "dedup_key": DEDUP}
    assert receiver.requests[0][0] == "/v2/enqueue"


def test_a_pagerduty_error_never_shows_the_routing_key(receiver: Receiver, client: httpx.Client) -> None:
    answer = json.dumps({"message": f"bad key {KEY}"}).encode()
    receiver.statuses = [(400, {"Content-Type": "application/json"}, answer)]
    with pytest.raises(DeliveryFailed) as info:
        PagerDutyNotifier(KEY, client, url=f"{receiver.base_url}/v2/enqueue").send([notification()])
    assert info.value.verdict.kind == "permanent"
    assert KEY not in str(info.value)
    assert str(info.value) == 'notifier \'pagerduty\': receiver answered HTTP 400: {"message": "bad key <redacted>"}'


def test_slack_gets_a_block_kit_message_with_every_figure_and_the_links(
    receiver: Receiver, client: httpx.Client
) -> None:
    SlackNotifier(f"{receiver.base_url}/services/T0/B0/XYZ", client).send([notification()])
    headline = "FIRING page: api-availability (users) burning 20× over 1h and 25× over 5m (threshold 14.4×)"

    def text(value: str) -> dict[str, Any]:
        return {"type": "plain_text", "text": value, "emoji": False}

    assert only_body(receiver) == {
        "text": headline,
        "blocks": [
            {"type": "header", "text": text(headline)},
            {"type": "section", "text": text("api-availability (users) · page · tier page-1h-5m")},
            {
                "type": "section",
                "fields": [
                    text("Burning 20× over 1h and 25× over 5m (threshold 14.4×)"),
                    text("Budget left: 75.0%"),
                    text("Time to breach: 1h 0m"),
                    text("Owner: inference"),
                ],
            },
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": text("Dashboard"),
                     "url": "http://redline.example:8501/objective?slo=api-availability"},
                    {"type": "button", "text": text("Runbook"), "url": "https://runbooks.example/api-availability"},
                ],
            },
        ],
    }


def test_the_slack_resolve_says_the_burn_dropped_below_the_threshold_and_what_it_is_now(
    receiver: Receiver, client: httpx.Client
) -> None:
    SlackNotifier(f"{receiver.base_url}/hook", client).send([notification("resolved")])
    body = only_body(receiver)
    assert body["text"] == (
        "RESOLVED page: api-availability (users) burn dropped below 14.4×; now 0× over 1h, 0× over 5m"
    )
    assert body["blocks"][2]["fields"][0]["text"] == (
        "Burn dropped below the threshold 14.4×; now 0× over 1h and 0× over 5m"
    )
    assert "19.99" not in json.dumps(body) and "20×" not in json.dumps(body)


def test_a_test_message_is_labelled_as_such(receiver: Receiver, client: httpx.Client) -> None:
    SlackNotifier(f"{receiver.base_url}/hook", client).send([notification(test=True)])
    assert only_body(receiver)["blocks"][0]["text"]["text"].startswith("[TEST] FIRING page: api-availability")


def test_slack_error_bodies_are_permanent(receiver: Receiver, client: httpx.Client) -> None:
    receiver.statuses = [(404, {"Content-Type": "text/plain"}, b"channel_not_found")]
    with pytest.raises(DeliveryFailed) as info:
        SlackNotifier(f"{receiver.base_url}/hook", client).send([notification()])
    verdict = info.value.verdict
    assert (verdict.kind, verdict.reason) == ("permanent", "HTTP 404: Slack says channel_not_found")


def test_alertmanager_gets_the_v2_alerts_with_an_end_four_resends_ahead_while_firing(
    receiver: Receiver, client: httpx.Client
) -> None:
    am = AlertmanagerNotifier(receiver.base_url, client, resend_interval_s=60.0, clock=lambda: T0 + 30)
    am.send([notification()])
    am.send([notification("resolved")])
    firing, resolved = receiver.bodies()
    assert firing == [
        {
            "labels": LABELS,
            "annotations": ANNOTATIONS,
            "startsAt": "2024-05-01T12:00:00Z",
            "endsAt": "2024-05-01T12:04:30Z",
            "generatorURL": "http://redline.example:8501/?slo=api-availability",
        }
    ]
    assert resolved[0]["endsAt"] == "2024-05-01T12:10:00Z"
    assert resolved[0]["annotations"] == RESOLVED_ANNOTATIONS
    assert [r[0] for r in receiver.requests] == ["/api/v2/alerts", "/api/v2/alerts"]


def test_the_file_notifier_appends_one_json_line_per_notification(tmp_path: Path) -> None:
    path = tmp_path / "out" / "alerts.jsonl"
    notifier = FileNotifier(path)
    notifier.send([notification()])
    notifier.send([notification("resolved")])
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["status"], line["dedup_key"], line["facts"]["long_burn_rate"]) for line in lines] == [
        ("firing", DEDUP, "20×"),
        ("resolved", DEDUP, "0×"),
    ]
