"""The one table of delivery verdicts: what is retried, what waits, what is permanent."""

from __future__ import annotations

import httpx
import pytest

from redline.alerts.classify import Backoff, Verdict, classify_exception, classify_response, retry_after_s

NOW = 1_714_564_800.0  # 2024-05-01T12:00:00Z
HTML = b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>x</body></html>"


@pytest.mark.parametrize(
    ("status", "headers", "body", "slack", "expected"),
    [
        (200, {}, b"", False, Verdict("sent", "HTTP 200")),
        (202, {}, b'{"status":"success"}', False, Verdict("sent", 'HTTP 202: {"status":"success"}')),
        (200, {}, b"ok", True, Verdict("sent", "HTTP 200: ok")),
        (500, {}, b"", False, Verdict("retry", "HTTP 500")),
        (503, {"Content-Type": "text/html"}, HTML, False, Verdict("retry", "HTTP 503: 503 Service Unavailable")),
        (429, {"Retry-After": "30"}, b"", False, Verdict("rate_limited", "HTTP 429", 30.0)),
        (429, {"retry-after": "Wed, 01 May 2024 12:02:00 GMT"}, b"", False, Verdict("rate_limited", "HTTP 429", 120.0)),
        (429, {}, b"", False, Verdict("rate_limited", "HTTP 429", None)),
        (404, {}, b"", False, Verdict("permanent", "HTTP 404")),
        (400, {}, b"bad", False, Verdict("permanent", "HTTP 400: bad")),
        (301, {}, b"", False, Verdict("permanent", "HTTP 301")),
        (400, {}, b"invalid_payload", True, Verdict("permanent", "HTTP 400: Slack says invalid_payload")),
        (404, {}, b"channel_not_found", True, Verdict("permanent", "HTTP 404: Slack says channel_not_found")),
        (410, {}, b"channel_is_archived", True, Verdict("permanent", "HTTP 410: Slack says channel_is_archived")),
        (404, {}, b"no_service", True, Verdict("permanent", "HTTP 404: Slack says no_service")),
        (403, {}, b"action_prohibited", True, Verdict("permanent", "HTTP 403: Slack says action_prohibited")),
        (500, {}, b"rollup_error", True, Verdict("retry", "HTTP 500: rollup_error")),
    ],
)
def test_an_answer_is_judged_by_the_one_table(
    status: int, headers: dict[str, str], body: bytes, slack: bool, expected: Verdict
) -> None:
    assert classify_response(status, headers, body, now=NOW, slack=slack) == expected


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), "retry"),
        (httpx.ReadTimeout("slow"), "retry"),
        (httpx.RemoteProtocolError("closed"), "retry"),
        (httpx.UnsupportedProtocol("ftp"), "permanent"),
        (httpx.InvalidURL("bad"), "permanent"),
    ],
)
def test_an_exception_is_judged_by_the_one_table(exc: Exception, kind: str) -> None:
    assert classify_exception(exc).kind == kind


def test_retry_after_reads_seconds_and_http_dates_and_ignores_garbage() -> None:
    assert retry_after_s("7", NOW) == 7.0
    assert retry_after_s("Wed, 01 May 2024 12:00:10 GMT", NOW) == 10.0
    assert retry_after_s("Wed, 01 May 2024 11:00:00 GMT", NOW) == 0.0  # a date past: no wait
    assert retry_after_s("soon", NOW) is None
    assert retry_after_s("-3", NOW) is None
    assert retry_after_s(None, NOW) is None


def test_backoff_grows_by_half_with_jitter_and_is_capped_at_a_minute() -> None:
    exact = Backoff(random=lambda: 0.5)
    assert [round(exact.delay_s(n), 4) for n in range(1, 6)] == [0.5, 0.75, 1.125, 1.6875, 2.5312]
    assert exact.delay_s(100) == 60.0
    low, high = Backoff(random=lambda: 0.0), Backoff(random=lambda: 0.999999)
    assert low.delay_s(3) == pytest.approx(1.125 * 0.8)
    assert high.delay_s(3) == pytest.approx(1.125 * 1.2, rel=1e-5)
