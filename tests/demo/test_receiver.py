from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from redline.demo.receiver import WebhookReceiver, summarize_alert

PAGE_PAYLOAD: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="SLOBurnRate",slo="api-availability"}',
    "status": "firing",
    "receiver": "demo-webhook",
    "groupLabels": {"alertname": "SLOBurnRate"},
    "commonLabels": {"alertname": "SLOBurnRate", "slo": "api-availability", "severity": "page"},
    "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:8501",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "SLOBurnRate", "slo": "api-availability", "severity": "page"},
            "annotations": {"summary": "burning 48× over 1h and 5m"},
            "startsAt": "2026-01-01T00:01:40Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:8501/?slo=api-availability",
            "fingerprint": "3f1c9a0d2b7e6c41",
        }
    ],
}


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def receiver(lines: list[str]) -> Iterator[WebhookReceiver]:
    lock = threading.Lock()

    def keep(line: str) -> None:
        with lock:
            lines.append(line)

    r = WebhookReceiver(on_summary=keep)
    r.start()
    try:
        yield r
    finally:
        r.shutdown()


def test_receiver_records_the_posted_json_and_prints_one_line_per_alert(
    receiver: WebhookReceiver, lines: list[str]
) -> None:
    response = httpx.post(receiver.url, json=PAGE_PAYLOAD, timeout=5)

    assert response.status_code == 200
    assert receiver.received == [PAGE_PAYLOAD]
    assert lines == ["PAGE firing: api-availability — burning 48× over 1h and 5m"]
    assert receiver.url == f"http://127.0.0.1:{receiver.port}/alerts"


def test_a_resolved_group_prints_each_alert_as_resolved(receiver: WebhookReceiver, lines: list[str]) -> None:
    resolved = {
        **PAGE_PAYLOAD,
        "status": "resolved",
        "alerts": [
            {"labels": {"slo": "api-availability", "severity": "page"}, "annotations": {}},
            {"status": "resolved", "labels": {"alertname": "FreshnessBurn", "severity": "ticket"},
             "annotations": {"burn_rate": "6.04"}},
        ],
    }

    httpx.post(receiver.url, json=resolved, timeout=5)

    assert lines == [
        "PAGE resolved: api-availability",
        "TICKET resolved: FreshnessBurn (while it fired: burning 6.0×)",
    ]


def test_a_body_that_is_not_json_is_refused_with_400_and_not_kept(
    receiver: WebhookReceiver, lines: list[str]
) -> None:
    response = httpx.post(receiver.url, content=b"{not json", timeout=5)

    assert response.status_code == 400
    assert response.text.startswith("body is not JSON: Expecting property name enclosed in double quotes")
    assert receiver.received == []
    assert lines == []


def test_json_without_an_alerts_list_is_refused_with_400(receiver: WebhookReceiver) -> None:
    listed = httpx.post(receiver.url, json=[PAGE_PAYLOAD], timeout=5)
    no_alerts = httpx.post(receiver.url, json={"status": "firing"}, timeout=5)

    assert listed.status_code == 400
    assert listed.text == "expected a JSON object (Alertmanager webhook), got list\n"
    assert (no_alerts.status_code, no_alerts.text) == (400, "expected an 'alerts' list in the payload\n")
    assert receiver.received == []


def test_a_body_over_the_limit_is_refused_with_413() -> None:
    r = WebhookReceiver(max_body_bytes=100)
    r.start()
    try:
        response = httpx.post(r.url, json=PAGE_PAYLOAD, timeout=5)
    finally:
        r.shutdown()

    assert response.status_code == 413
    assert r.received == []


def test_concurrent_posts_are_all_kept(receiver: WebhookReceiver, lines: list[str]) -> None:
    def post(i: int) -> None:
        payload = {**PAGE_PAYLOAD, "groupKey": f"group-{i}"}
        assert httpx.post(receiver.url, json=payload, timeout=10).status_code == 200

    threads = [threading.Thread(target=post, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert receiver.wait_for(16, timeout_s=10)
    assert sorted(p["groupKey"] for p in receiver.received) == sorted(f"group-{i}" for i in range(16))
    assert len(lines) == 16


def test_wait_for_reports_false_when_nothing_arrives(receiver: WebhookReceiver) -> None:
    assert receiver.wait_for(1, timeout_s=0.05) is False


def test_summary_falls_back_to_the_alert_name_and_a_generic_severity() -> None:
    alert = {"labels": {"alertname": "Watchdog"}, "annotations": {"description": "still alive"}}

    line = summarize_alert(alert)

    assert line == "ALERT firing: Watchdog — still alive"


def test_a_stopped_receiver_refuses_connections() -> None:
    r = WebhookReceiver()
    r.start()
    url = r.url
    r.shutdown()
    r.shutdown()  # twice is fine

    with pytest.raises(httpx.ConnectError):
        httpx.post(url, json=PAGE_PAYLOAD, timeout=5)


def test_summary_does_not_repeat_the_objective_name_of_redline_alert_annotations() -> None:
    alert = {
        "labels": {"alertname": "RedlineBurnRate", "slo": "api-availability", "severity": "page"},
        "annotations": {
            "summary": "api-availability is burning its error budget at 19.8× over 1h and 152× over 5m "
            "(threshold 14.4×)",
        },
    }

    line = summarize_alert(alert, status="firing")

    assert line == (
        "PAGE firing: api-availability — burning its error budget at 19.8× over 1h and 152× over 5m "
        "(threshold 14.4×)"
    )
