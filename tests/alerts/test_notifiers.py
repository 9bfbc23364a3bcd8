from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from redline.alerts.http_send import redact
from redline.alerts.log_notifier import LogNotifier
from redline.alerts.notifiers import Notification, Notifier, dedup_key, fingerprint, rfc3339
from redline.alerts.state import AlertStateStore
from redline.kernel.errors import ConfigError
from redline.kernel.secrets import secret_from_env
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, Harness, objective, report

OpenStore = Callable[[Path], AlertStateStore]


def test_the_log_notifier_writes_one_json_line_per_notification(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.oncall")
    notifier = LogNotifier(logging.getLogger("test.oncall"))
    labels = {"alertname": "RedlineErrorBudgetBurn", "slo": "api", "severity": "page"}
    notifier.send([
        Notification(
            status="resolved",
            key="api/page",
            labels=labels,
            annotations={"description": "first line\nsecond line"},
            starts_at=T0,
            ends_at=T0 + 90.5,
            fingerprint="0123456789abcdef",
            dedup_key="redline-0",
        )
    ])
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
        "dedup_key": "redline-0",
        "startsAt": "2024-05-01T12:00:00Z",
        "endsAt": "2024-05-01T12:01:30.5Z",
        "headline": "RESOLVED page: api (n/a) burn dropped below n/a; now n/a over n/a, n/a over n/a",
        "facts": {
            "status": "resolved", "objective": "api", "dimension": "n/a", "severity": "page", "tier": "n/a",
            "threshold": "n/a", "long_window": "n/a", "long_burn_rate": "n/a", "short_window": "n/a",
            "short_burn_rate": "n/a", "budget_remaining": "n/a", "time_to_breach": "n/a", "dashboard_url": "",
            "runbook_url": "", "owner": "n/a", "summary": "", "description": "first line\nsecond line",
            "test": False,
        },
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


def test_the_dedup_key_depends_only_on_the_incident_identity() -> None:
    key = dedup_key("api-availability/page", T0)
    assert key == "redline-f6881a9c595fab611113a7cb42b4ec1a92c723d3"  # a contract: it must never change
    assert len(key) == 48 <= 255
    assert dedup_key("api-availability/page", T0 + 0.0001) == key  # milliseconds, not float noise
    assert dedup_key("api-availability/page", T0 + 60) != key  # a new incident
    assert dedup_key("api-availability/ticket", T0) != key


def test_redact_removes_the_url_and_its_path_but_keeps_the_rest() -> None:
    url = "https://hooks.example/services/T000/B000/XXXX?token=abc"
    text = f"POST {url} failed; path /services/T000/B000/XXXX?token=abc; host hooks.example"
    assert redact(text, url) == "POST <redacted> failed; path <redacted>; host hooks.example"


class ExplodingNotifier(Notifier):
    """A notifier with a bug: it raises something that is not a NotifyError."""

    name = "exploding"

    def send(self, notifications: Sequence[Notification]) -> None:
        raise RuntimeError("bug in notifier")


class CountingNotifier(Notifier):
    name = "counting"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, notifications: Sequence[Notification]) -> None:
        with self.lock:
            self.sent.extend(f"{n.status} {n.key}" for n in notifications)


def test_a_notifier_that_raises_unexpectedly_is_contained_logged_and_retried_later(
    tmp_path: Path, open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    good = CountingNotifier()
    store = open_store(tmp_path / "a.db")
    harness = Harness(store, [ExplodingNotifier(), good], clock)
    harness.process(report(objective(burn=PAGE_BURN)))
    assert good.sent == ["firing api-availability/page"]
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure.getMessage() == "notifier exploding failed unexpectedly"
    assert failure.exc_info is not None
    assert store.pending_counts() == {"exploding": 1}
    assert [e.error for e in store.log() if not e.ok] == ["unexpected RuntimeError: bug in notifier"]


def test_concurrent_evaluations_page_once(tmp_path: Path, open_store: OpenStore) -> None:
    notifier = CountingNotifier()
    manager = Harness(open_store(tmp_path / "a.db"), [notifier], FakeClock())
    firing = report(objective(burn=PAGE_BURN))
    start = threading.Barrier(4)

    def evaluate() -> None:
        start.wait()
        manager.process(firing, deliver=False)  # a worker is stepped by one thread only

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    manager.deliver()
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
    manager = Harness(open_store(tmp_path / "a.db"), [notifier], FakeClock())
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
    manager = Harness(store, [CountingNotifier()], clock)
    manager.process(report(objective(burn=PAGE_BURN)))
    clock.now += 3600
    manager.process(report(objective()))
    assert store.prune(before=T0 + 1) == 1
    assert [(e.status, e.at) for e in store.log()] == [("resolved", T0 + 3600)]


def test_a_duplicated_objective_is_evaluated_once(
    tmp_path: Path, open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = CountingNotifier()
    manager = Harness(open_store(tmp_path / "a.db"), [notifier], FakeClock())
    events = manager.process(report(objective(burn=PAGE_BURN), objective()))
    assert [(e.key, e.current) for e in events] == [("api-availability/page", "firing")]
    assert notifier.sent == ["firing api-availability/page"]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "objective api-availability appears twice in the report; the first one counts"
    ]
