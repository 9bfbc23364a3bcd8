"""Silences and acknowledgements, stored in the alert database (``alerts.sqlite``).

A silence mutes every alert whose labels match all its matchers (``redline.alerts.matchers``)
between ``starts_at`` and ``ends_at``; expiring one ends it now. An acknowledgement is of one
incident (alert key and its start time): it stops that incident's repeats, and a new incident of
the same alert is not acknowledged. Who created, expired or acknowledged is recorded.

``redline silence add|list|expire`` and ``redline ack`` write here while the agent runs; the
agent reads at every evaluation (``redline.alerts.suppression``), so a change applies at once.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from redline.alerts.matchers import Matcher, matches_all, parse_matchers
from redline.alerts.policy_db import PolicyDatabase
from redline.alerts.state import AlertStateStore

__all__ = ["Acknowledgement", "Silence", "SilenceStore", "silence_matchers"]

_log = logging.getLogger(__name__)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    comment TEXT NOT NULL,
    expired_by TEXT,
    expired_at REAL
);
CREATE TABLE IF NOT EXISTS acks (
    key TEXT NOT NULL,
    started_at REAL NOT NULL,
    acked_by TEXT NOT NULL,
    at REAL NOT NULL,
    comment TEXT NOT NULL,
    PRIMARY KEY (key, started_at)
);
CREATE TABLE IF NOT EXISTS muted (
    key TEXT PRIMARY KEY,
    started_at REAL NOT NULL
)
"""




def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database written by an earlier Redline to this schema, in place: acknowledgements
    recorded who in a column ``by``, now ``acked_by``; silences without who created or expired
    them get the columns (an old row's creator reads ``unknown``)."""
    acks = {r[1] for r in conn.execute("PRAGMA table_info(acks)")}
    if "by" in acks and "acked_by" not in acks:
        conn.execute('ALTER TABLE acks RENAME COLUMN "by" TO acked_by')
    silences = {r[1] for r in conn.execute("PRAGMA table_info(silences)")}
    for column, declaration in (
        ("created_by", "TEXT NOT NULL DEFAULT 'unknown'"), ("expired_by", "TEXT"), ("expired_at", "REAL")
    ):
        if column not in silences:
            conn.execute(f"ALTER TABLE silences ADD COLUMN {column} {declaration}")


def silence_matchers(texts: Iterable[str], slo: str | None = None, *, grouped: bool = False) -> tuple[Matcher, ...]:
    """The matchers of a new silence: ``texts`` in Alertmanager's syntax (each one matcher or a
    braced list), after one for objective ``slo`` when it is given: ``slo=NAME``, or for a
    ``group_by`` objective, whose members' alerts carry ``slo="NAME{label=…}"``, a regex that
    matches the objective and every member. ``ValueError`` naming the first invalid matcher;
    blank texts are skipped."""
    parsed = parse_matchers(t for t in texts if t.strip())
    if not slo:
        return parsed
    objective = Matcher("slo", "=~", re.escape(slo) + r"(\{.*\})?") if grouped else Matcher("slo", "=", slo)
    return (objective, *parsed)


@dataclass(frozen=True)
class Silence:
    """A silence; times are Unix seconds. ``expired_by`` is set when someone ended it early."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    created_at: float
    comment: str = ""
    expired_by: str | None = None
    expired_at: float | None = None

    def active(self, now: float) -> bool:
        """Whether it mutes alerts at ``now``."""
        return self.starts_at <= now < self.ends_at

    def state(self, now: float) -> str:
        """``pending`` (not started), ``active`` or ``expired``."""
        return "pending" if now < self.starts_at else "active" if now < self.ends_at else "expired"

    def mutes(self, labels: dict[str, str] | Any, now: float) -> bool:
        """Whether it mutes an alert with ``labels`` at ``now``."""
        return self.active(now) and matches_all(self.matchers, labels)

    def to_json(self, now: float) -> dict[str, Any]:
        """The ``silence list --json`` object."""
        return {
            "id": self.id, "matchers": [str(m) for m in self.matchers], "state": self.state(now),
            "starts_at": self.starts_at, "ends_at": self.ends_at, "created_by": self.created_by,
            "created_at": self.created_at, "comment": self.comment, "expired_by": self.expired_by,
            "expired_at": self.expired_at,
        }


@dataclass(frozen=True)
class Acknowledgement:
    """Someone acknowledged the incident of alert ``key`` that started at ``started_at``."""

    key: str
    started_at: float
    acked_by: str
    at: float
    comment: str = ""


class SilenceStore:
    """Silences and acknowledgements in ``path``; ``StoreError`` when it cannot be read or written."""

    def __init__(self, path: Path, state: AlertStateStore | None = None) -> None:
        self._db = PolicyDatabase(path, _SCHEMA, "silences", state, migrate=_migrate)

    def add(
        self, matchers: Sequence[Matcher], *, starts_at: float, ends_at: float, by: str, now: float, comment: str = ""
    ) -> Silence:
        """Store a new silence; ``ValueError`` when it has no matcher or ends before it starts."""
        if not matchers:
            raise ValueError("a silence needs at least one matcher (or --slo)")
        if ends_at <= starts_at:
            raise ValueError(f"a silence must end after it starts (starts {starts_at}, ends {ends_at})")
        silence = Silence(secrets.token_hex(8), tuple(matchers), starts_at, ends_at, by, now, comment)
        with self._db.tx() as conn:
            conn.execute(
                "INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, created_at, comment) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (silence.id, json.dumps([str(m) for m in matchers]), starts_at, ends_at, by, now, comment),
            )
        return silence

    def silences(self) -> list[Silence]:
        """Every silence, oldest first."""
        rows = self._db.read(
            "SELECT id, matchers, starts_at, ends_at, created_by, created_at, comment, expired_by, expired_at "
            "FROM silences ORDER BY created_at, id"
        )
        out = []
        for r in rows:
            try:
                matchers = parse_matchers(json.loads(r[1]))
            except (ValueError, TypeError) as exc:  # written by hand: skipped, said, the rest still apply
                _log.error("silence %s in %s is unreadable and ignored: %s", r[0], self._db.path, exc)
                continue
            out.append(Silence(r[0], matchers, *r[2:]))
        return out

    def active(self, now: float) -> list[Silence]:
        """The silences muting alerts at ``now``."""
        return [s for s in self.silences() if s.active(now)]

    def expire(self, silence_id: str, *, by: str, now: float) -> Silence:
        """End a silence now; ``KeyError`` when there is none with that id (or it already ended)."""
        with self._db.tx() as conn:
            changed = conn.execute(
                "UPDATE silences SET ends_at = ?, expired_by = ?, expired_at = ? WHERE id = ? AND ends_at > ?",
                (now, by, now, silence_id, now),
            ).rowcount
        if not changed:
            known = {s.id for s in self.silences()}
            raise KeyError(f"silence {silence_id!r} " + ("has already ended" if silence_id in known else "not found"))
        return next(s for s in self.silences() if s.id == silence_id)

    def acknowledge(self, key: str, started_at: float, *, by: str, now: float, comment: str = "") -> Acknowledgement:
        """Acknowledge one incident (its alert key and start time)."""
        with self._db.tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO acks (key, started_at, acked_by, at, comment) VALUES (?, ?, ?, ?, ?)",
                (key, started_at, by, now, comment),
            )
        return Acknowledgement(key, started_at, by, now, comment)

    def acknowledgements(self) -> list[Acknowledgement]:
        """Every acknowledgement, oldest first."""
        rows = self._db.read("SELECT key, started_at, acked_by, at, comment FROM acks ORDER BY at, key")
        return [Acknowledgement(*r) for r in rows]

    def muted(self) -> dict[str, float]:
        """Incidents whose firing notice a silence held back, by alert key: their start time."""
        return {r[0]: r[1] for r in self._db.read("SELECT key, started_at FROM muted")}

    def set_muted(self, muted: dict[str, float]) -> None:
        """Replace the muted incidents."""
        with self._db.tx() as conn:
            conn.execute("DELETE FROM muted")
            conn.executemany("INSERT INTO muted (key, started_at) VALUES (?, ?)", sorted(muted.items()))

    def close(self) -> None:
        """Close the connection."""
        self._db.close()
