"""The Alerts page reads the agent's alert database (written here by the alerts package's own store):
firing and resolved incidents with their burn rates, and deliveries per notifier with the last error."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from redline.alerts.notifiers import Notification
from redline.alerts.outbox_sql import NewIntent, enqueue
from redline.alerts.state import AlertRecord, AlertStateStore
from redline.dashboard.alerts_view import deliveries_table, incidents_table, read_alerts
from tests.dashboard.fleet import AT_S, write_fleet

FIRING = AlertRecord(
    key="api-availability/page", slo="api-availability", severity="page", state="firing", fingerprint="ab",
    annotations={
        "burn_rate_1h": "15.11", "burn_rate_5m": "150.2", "condition": "1h/5m > 14.4×", "budget_used_ratio": "0.5249",
        "summary": "api-availability is burning its error budget at 15.11× over 1h",
    },
    started_at=AT_S - 600.0, updated_at=AT_S - 600.0,
)
RESOLVED = AlertRecord(
    key="features-freshness/ticket", slo="features-freshness", severity="ticket", state="resolved", fingerprint="cd",
    annotations={"burn_rate_1h": "3.6"}, started_at=AT_S - 7200.0, resolved_at=AT_S - 3600.0, updated_at=AT_S - 3600.0,
)


def write_alerts(data_dir: Path) -> None:
    with AlertStateStore(data_dir / "alerts.sqlite") as store:
        store.save_many([(FIRING, ()), (RESOLVED, ())])
        with store.transaction() as conn:  # the attempts as the outbox's workers log them
            store.log_attempt(
                conn, FIRING.key, "hook", "firing", ok=False, error="HTTP 503", attempt=1, at=AT_S - 590.0
            )
            store.log_attempt(conn, FIRING.key, "hook", "firing", ok=True, error=None, attempt=2, at=AT_S - 580.0)
            store.log_attempt(conn, FIRING.key, "log", "firing", ok=True, error=None, attempt=1, at=AT_S - 595.0)
            enqueue(conn, [  # the outbox's firing notices: the incident's first one says what it fired with
                (FIRING.key, NewIntent("hook", notice(FIRING.started_at - 7200, "30.5")), AT_S - 7800.0),  # before
                (FIRING.key, NewIntent("hook", notice(FIRING.started_at, "14.9")), AT_S - 600.0),
                (FIRING.key, NewIntent("hook", notice(FIRING.started_at, "15.11"), repeat=True), AT_S - 300.0),
            ], 100)


def notice(started_at: float | None, burn_1h: str) -> Notification:
    assert started_at is not None
    return Notification("firing", FIRING.key, {"slo": FIRING.slo}, {"burn_rate_1h": burn_1h, "burn_rate_5m": "99"},
                        started_at, None, FIRING.fingerprint)


def test_incidents_and_deliveries_as_the_alert_database_holds_them(tmp_path: Path) -> None:
    write_alerts(tmp_path)
    view = read_alerts(tmp_path)
    assert view is not None

    firing = incidents_table(view, firing=True).to_dicts()
    assert [(r["objective"], r["tier"], r["burn 1h"], r["burn 5m"], r["budget left"]) for r in firing] == [
        ("api-availability", "page", 15.11, 150.2, 0.4751)
    ]
    assert [(r["burn 1h at firing"], r["burn 5m at firing"]) for r in firing] == [(14.9, 99.0)]
    resolved = incidents_table(view, firing=False).to_dicts()
    assert [(r["objective"], r["tier"], r["burn 1h"], r["burn 5m"], r["burn 1h at firing"]) for r in resolved] == [
        ("features-freshness", "ticket", 3.6, None, None)  # its notices were pruned: nothing to say
    ]
    deliveries = deliveries_table(view).to_dicts()
    assert [(d["notifier"], d["outcome"], d["attempts"], d["last error"]) for d in deliveries] == [
        ("hook", "delivered", 2, "HTTP 503"),  # the newest first; the error of the failed first try kept
        ("log", "delivered", 1, ""),
    ]


def test_no_database_yet_is_none_and_reading_does_not_create_one(tmp_path: Path) -> None:
    assert read_alerts(tmp_path) is None
    assert not (tmp_path / "alerts.sqlite").exists()


def alerts_page(config: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("REDLINE_CONFIG", str(config))

    def script() -> None:
        import os
        from pathlib import Path

        from redline.dashboard.views import alerts

        alerts.render(Path(os.environ["REDLINE_CONFIG"]))

    app = AppTest.from_function(script, default_timeout=120)
    app.query_params.update(at=str(AT_S))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_the_page_lists_firing_resolved_and_deliveries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_fleet(tmp_path)
    write_alerts(tmp_path / "data")
    app = alerts_page(config, monkeypatch)
    assert [s.value for s in app.subheader] == [
        "Firing and pending (1)", "Recent incidents, resolved (1)", "Deliveries", "Silences",
    ]
    firing, resolved, deliveries = (df.value for df in app.dataframe)
    assert list(firing["objective"]) == ["api-availability"]
    assert list(firing["open"]) == ["./objective?slo=api-availability"]
    assert list(resolved["objective"]) == ["features-freshness"]
    assert list(deliveries["last error"]) == ["HTTP 503", ""]


def test_the_page_says_when_there_are_no_alerts_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = alerts_page(write_fleet(tmp_path), monkeypatch)
    assert app.info[0].value.startswith("No alerts yet: the agent has not written")
