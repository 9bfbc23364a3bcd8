"""An alert database from before the outbox (schema 1, an ``owed`` table) keeps what it owed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from redline.alerts.notifiers import dedup_key
from redline.alerts.state import AlertStateStore
from tests.alerts.conftest import T0, FakeClock, Harness, RecordingNotifier

OpenStore = Callable[[Path], AlertStateStore]

SCHEMA_1 = """
CREATE TABLE alerts (key TEXT PRIMARY KEY, slo TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL,
    fingerprint TEXT NOT NULL, labels TEXT NOT NULL, annotations TEXT NOT NULL, pending_since REAL,
    started_at REAL, resolved_at REAL, last_notified_at REAL, updated_at REAL NOT NULL);
CREATE TABLE owed (key TEXT NOT NULL, notifier TEXT NOT NULL, status TEXT NOT NULL, since REAL NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (key, notifier));
CREATE TABLE notifications (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, status TEXT NOT NULL,
    notifier TEXT NOT NULL, ok INTEGER NOT NULL, error TEXT, attempts INTEGER NOT NULL, at REAL NOT NULL);
PRAGMA user_version = 1;
"""


def test_an_undelivered_resolve_from_schema_1_is_sent_after_the_upgrade(tmp_path: Path, open_store: OpenStore) -> None:
    path = tmp_path / "alerts.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_1)
    labels = {"alertname": "RedlineErrorBudgetBurn", "slo": "api", "severity": "page"}
    conn.execute(
        "INSERT INTO alerts VALUES "
        "('api/page', 'api', 'page', 'resolved', '00000000000000ab', ?, '{}', NULL, ?, ?, ?, ?)",
        (json.dumps(labels), T0, T0 + 600, T0, T0 + 600),
    )
    conn.execute("INSERT INTO owed VALUES ('api/page', 'hook', 'resolved', ?, 2)", (T0 + 600,))
    conn.commit()
    conn.close()

    rec = RecordingNotifier("hook")
    harness = Harness(open_store(path), [rec], FakeClock(T0 + 700))
    harness.deliver()
    assert [(n.status, n.key, n.ends_at, n.dedup_key) for n in rec.sent] == [
        ("resolved", "api/page", T0 + 600, dedup_key("api/page", T0))
    ]
    tables = {r[0] for r in harness.store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "owed" not in tables and "intents" in tables
