from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from redline.alerts.http_retry import RetryPolicy, redact
from redline.alerts.log_notifier import LogNotifier
from redline.alerts.manager import AlertManager
from redline.alerts.notifiers import Notification, Notifier, fingerprint, rfc3339
from redline.alerts.state import AlertStateStore
from redline.kernel.errors import ConfigError
from redline.kernel.secrets import secret_from_env
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, objective, report

OpenStore = Callable[[Path], AlertStateStore]


def test_the_log_notifier_writes_one_json_line_per_notification(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.oncall")
    notifier = LogNotifier(logging.getLogger("test.oncall"))
    labels = {"alertname": "RedlineErrorBudgetBurn", "slo": "api", "severity": "page"}
    notifier.send(
        Notification(
            status="resolved",
            key="api/page",
            labels=labels,
            annotations={"description": "first line\nsecond line"},
            starts_at=T0,
            ends_at=T0 + 90.5,
            fingerprint="0123456789abcdef",
        )
    )
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert "\n" not in record.getMessage()
    prefix, payload = record.getMessage().split(" ", 1)
    assert prefix == "alert"
    assert json.loads(payload) == {
        "event": "alert",
        "status": "resolved",
        "slo": "api",
        "severity": "page",
        "fingerprint": "0123456789abcdef",
        "startsAt": "2024-05-01T12:00:00Z",
        "endsAt": "2024-05-01T12:01:30.5Z",
        "labels": labels,
        "annotations": {"description": "first line\nsecond line"},
    }
    assert record.__dict__["alert"] == json.loads(payload)


def test_fingerprints_match_prometheus_label_signatures() -> None:
    # Values from prometheus/common model.LabelsToSignature's own tests.
    assert int(fingerprint({}), 16) == 14695981039346656037
    labels = {"name": "garland, briggs", "fear": "love is not enough"}
    assert int(fingerprint(labels), 16) == 5799056148416392346


def test_times_are_written_as_alertmanager_does() -> None:
    assert rfc3339(T0) == "2024-05-01T12:00:00Z"
    assert rfc3339(T0 + 0.000001) == "2024-05-01T12:00:00.000001Z"
    assert rfc3339(None) == "0001-01-01T00:00:00Z"


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(retries=6, backoff_s=0.5, max_backoff_s=3.0)
    assert [policy.delay_s(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    with pytest.raises(ValueError, match="retries must be >= 0, got -1"):
        RetryPolicy(retries=-1)


def test_redact_removes_the_url_and_its_path_but_keeps_the_rest() -> None:
    url = "https://hooks.example/services/T000/B000/XXXX?token=abc"
    text = f"POST {url} failed; path /services/T000/B000/XXXX?token=abc; host hooks.example"
    assert redact(text, url) == "POST <redacted> failed; path <redacted>; host hooks.example"


class ExplodingNotifier(Notifier):
    """A notifier with a bug: it raises something that is not a NotifyError."""

    name = "exploding"

    def send(self, notification: Notification) -> None:
        raise RuntimeError("bug in notifier")


class CountingNotifier(Notifier):
    name = "counting"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        with self.lock:
            self.sent.append(f"{notification.status} {notification.key}")


def test_a_notifier_that_raises_unexpectedly_is_contained_logged_and_retried_later(
    tmp_path: Path, open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    good = CountingNotifier()
    store = open_store(tmp_path / "a.db")
    manager = AlertManager(store, [ExplodingNotifier(), good], clock=clock)
    events = manager.process(report(objective(burn=PAGE_BURN)))
    assert [(e.current, sorted((d.notifier, d.ok) for d in e.deliveries)) for e in events] == [
        ("firing", [("counting", True), ("exploding", False)])
    ]
    assert good.sent == ["firing api-availability/page"]
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure.getMessage() == "alert api-availability/page: firing notification via exploding failed"
    assert failure.exc_info is not None
    assert [(o.notifier, o.tries) for o in store.owed()] == [("exploding", 1)]
    assert [e.error for e in store.log() if not e.ok] == [
        "notifier 'exploding' failed unexpectedly: RuntimeError: bug in notifier"
    ]


def test_concurrent_evaluations_page_once(tmp_path: Path, open_store: OpenStore) -> None:
    notifier = CountingNotifier()
    manager = AlertManager(open_store(tmp_path / "a.db"), [notifier], clock=FakeClock())
    firing = report(objective(burn=PAGE_BURN))
    start = threading.Barrier(4)

    def evaluate() -> None:
        start.wait()
        manager.process(firing)

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert notifier.sent == ["firing api-availability/page"]


def test_the_webhook_url_comes_from_the_named_variable_or_its_file(tmp_path: Path) -> None:
    assert secret_from_env("HOOK", {"HOOK": " https://hooks.example/x \n"}) == "https://hooks.example/x"
    secret_file = tmp_path / "hook.txt"
    secret_file.write_text("https://hooks.example/from-file\n")
    assert secret_from_env("HOOK", {"HOOK_FILE": str(secret_file)}) == "https://hooks.example/from-file"
    with pytest.raises(ConfigError) as info:
        secret_from_env("HOOK", {}, where="alerting.notifiers[0].url_env")
    assert str(info.value) == (
        "environment variable HOOK (named by alerting.notifiers[0].url_env) is not set (nor HOOK_FILE)"
    )


def test_an_objective_with_an_impossible_window_is_reported_and_does_not_stop_the_others(
    tmp_path: Path, open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = CountingNotifier()
    manager = AlertManager(open_store(tmp_path / "a.db"), [notifier], clock=FakeClock())
    broken = objective("broken", burn=PAGE_BURN, window_seconds=0.0)
    events = manager.process(report(broken, objective(burn=PAGE_BURN)))
    assert [(e.key, e.current) for e in events] == [("api-availability/page", "firing")]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "objective broken: cannot evaluate the alert policy: "
        "period_seconds must be a positive number, got 0.0"
    ]


def test_old_notification_log_rows_can_be_pruned(tmp_path: Path, open_store: OpenStore) -> None:
    clock = FakeClock()
    store = open_store(tmp_path / "a.db")
    manager = AlertManager(store, [CountingNotifier()], clock=clock)
    manager.process(report(objective(burn=PAGE_BURN)))
    clock.now += 3600
    manager.process(report(objective()))
    assert store.prune(before=T0 + 1) == 1
    assert [(e.status, e.at) for e in store.log()] == [("resolved", T0 + 3600)]


def test_a_duplicated_objective_is_evaluated_once(
    tmp_path: Path, open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = CountingNotifier()
    manager = AlertManager(open_store(tmp_path / "a.db"), [notifier], clock=FakeClock())
    events = manager.process(report(objective(burn=PAGE_BURN), objective()))
    assert [(e.key, e.current) for e in events] == [("api-availability/page", "firing")]
    assert notifier.sent == ["firing api-availability/page"]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "objective api-availability appears twice in the report; the first one counts"
    ]
