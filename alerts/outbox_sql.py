"""The outbox's rows: intents written with state changes, read and settled by the delivery workers.

An intent is one notification owed to one notifier: the alert key, ``firing`` or ``resolved``,
the incident's dedup key, whether it is only a repeat of a firing alert, and a snapshot of the
notification as it was decided (so a resolve sent late still says what was true at the resolve).
Each notifier's intents are sent in ``id`` order. Every function here runs inside the caller's
SQLite transaction (``AlertStateStore.transaction()``) or is a plain read.

The queue is bounded per notifier (``queue_size``): past it only repeats are dropped, never a
state change (a state change is written even over the bound, and evicts the oldest pending
repeat). Every drop is counted (the return values) and kept as a ``dropped`` row. A repeat for
an alert that already has a pending intent to that notifier adds nothing and is not written; a
pending repeat that a newer intent of its incident follows is collapsed (``collapse_repeats``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from redline.alerts.notifiers import AlertStatus, Notification, dedup_key

__all__ = [
    "COLLAPSED", "INTENT_COLUMNS", "Intent", "IntentState", "NewIntent", "collapse_repeats", "enqueue",
    "intent_from_row", "migrate_owed",
]

IntentState = Literal["pending", "sent", "dropped", "given_up", "failed"]

INTENT_COLUMNS: Final = (
    "id, key, notifier, status, dedup_key, repeat, created_at, tries, first_try_at, next_at, payload"
)


@dataclass(frozen=True)
class NewIntent:
    """An intent the evaluation decided on, not yet written."""

    notifier: str
    notification: Notification
    repeat: bool = False


@dataclass(frozen=True)
class Intent:
    """A written intent, as a delivery worker reads it."""

    id: int
    key: str
    notifier: str
    status: AlertStatus
    dedup_key: str
    repeat: bool
    created_at: float
    tries: int
    first_try_at: float | None
    next_at: float
    notification: Notification


def intent_from_row(row: Sequence[Any]) -> Intent:
    """An ``Intent`` from a row of ``INTENT_COLUMNS``."""
    return Intent(
        id=row[0], key=row[1], notifier=row[2], status=cast(AlertStatus, row[3]), dedup_key=row[4],
        repeat=bool(row[5]), created_at=row[6], tries=row[7], first_try_at=row[8], next_at=row[9],
        notification=Notification.from_json(json.loads(row[10])),
    )


def _pending(conn: sqlite3.Connection, notifier: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM intents WHERE notifier = ? AND state = 'pending'", (notifier,)
    ).fetchone()
    return int(row[0])


def _drop(conn: sqlite3.Connection, key: str, intent: NewIntent, at: float, why: str) -> None:
    _insert(conn, key, intent, at, state="dropped", error=why)


def _insert(
    conn: sqlite3.Connection, key: str, intent: NewIntent, at: float, *, state: IntentState = "pending",
    error: str | None = None,
) -> None:
    n = intent.notification
    conn.execute(
        "INSERT INTO intents (key, notifier, status, dedup_key, repeat, created_at, state, next_at, "
        "last_error, done_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key, intent.notifier, n.status, n.dedup_key, int(intent.repeat), at, state, at, error,
            None if state == "pending" else at, json.dumps(n.to_json(), sort_keys=True),
        ),
    )


def enqueue(
    conn: sqlite3.Connection, items: Sequence[tuple[str, NewIntent, float]], queue_size: int
) -> dict[str, int]:
    """Write ``(alert key, intent, at)`` items; return how many repeats were dropped, by notifier."""
    dropped: dict[str, int] = {}
    for key, intent, at in items:
        if intent.repeat:
            busy = conn.execute(
                "SELECT 1 FROM intents WHERE key = ? AND notifier = ? AND state = 'pending' LIMIT 1",
                (key, intent.notifier),
            ).fetchone()
            if busy is not None:
                continue  # a notification for this alert is already queued: the repeat adds nothing
            if _pending(conn, intent.notifier) >= queue_size:
                _drop(conn, key, intent, at, f"queue full ({queue_size}); repeats are dropped first")
                dropped[intent.notifier] = dropped.get(intent.notifier, 0) + 1
            else:
                _insert(conn, key, intent, at)
            continue
        _insert(conn, key, intent, at)
        if _pending(conn, intent.notifier) > queue_size:
            evicted = conn.execute(
                "UPDATE intents SET state = 'dropped', done_at = ?, last_error = ? WHERE id = ("
                "SELECT id FROM intents WHERE notifier = ? AND state = 'pending' AND repeat = 1 "
                "ORDER BY id LIMIT 1)",
                (at, f"queue full ({queue_size}): evicted for a state change", intent.notifier),
            ).rowcount
            if evicted:
                dropped[intent.notifier] = dropped.get(intent.notifier, 0) + evicted
    return dropped


COLLAPSED: Final = "collapsed: a repeat superseded by a newer notification of the same incident"


def collapse_repeats(conn: sqlite3.Connection, notifier: str, at: float) -> int:
    """Settle the pending repeats of ``notifier`` that a newer pending intent of the same incident
    (dedup key) follows; return how many. Only the delivery worker calls this, between its
    attempts, so nothing it settles is in flight.

    A repeat re-states an unchanged state, so the newer intent (the resolve, after an outage)
    says all it would: only repeats are ever collapsed. Every state change (a trigger, a resolve)
    stays owed and goes out once, in order, even for an incident that opened and closed while
    the receiver was down. Settled repeats become ``dropped`` rows whose ``last_error`` says so.
    """
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT r.id FROM intents r WHERE r.notifier = ? AND r.state = 'pending' AND r.repeat = 1 "
            "AND EXISTS (SELECT 1 FROM intents n WHERE n.notifier = r.notifier AND n.state = 'pending' "
            "AND n.dedup_key = r.dedup_key AND n.id > r.id)",
            (notifier,),
        )
    ]
    conn.executemany(
        "UPDATE intents SET state = 'dropped', done_at = ?, last_error = ? WHERE id = ?",
        [(at, COLLAPSED, i) for i in ids],
    )
    return len(ids)


def migrate_owed(conn: sqlite3.Connection) -> None:
    """Turn a schema-1 ``owed`` table into pending intents (same dedup key as a new one), then drop it."""
    rows = conn.execute(
        "SELECT o.key, o.notifier, o.status, o.since, a.labels, a.annotations, a.fingerprint, "
        "a.started_at, a.resolved_at, a.updated_at FROM owed o JOIN alerts a ON a.key = o.key "
        "ORDER BY o.since, o.key, o.notifier"
    ).fetchall()
    for key, notifier, status, since, labels_json, annotations_json, fp, started, resolved, updated in rows:
        starts_at = started if started is not None else updated
        notification = Notification(
            status=status, key=key, labels=json.loads(labels_json), annotations=json.loads(annotations_json),
            starts_at=starts_at, ends_at=resolved if status == "resolved" else None, fingerprint=fp,
            dedup_key=dedup_key(key, starts_at),
        )
        _insert(conn, key, NewIntent(notifier, notification), since)
    conn.execute("DROP TABLE owed")
