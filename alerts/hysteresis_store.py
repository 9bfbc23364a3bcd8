"""Tier hysteresis persisted in the alert database, so ``for:`` and the resolve delay survive a
restart with their original start times.

Tables: ``alert_tiers`` (one row per objective and tier that is pending or firing: its
``redline.slo.hysteresis.HoldState``), ``alert_open`` (the severities of an objective that are
open, i.e. not inhibited by a more severe one) and ``alert_evaluated`` (when the states were
last saved). An inactive tier has no row.

A tier whose condition held at the last save is stored as ``holding`` without its
``last_held``, which is then the save's time: a row changes only when its tier changes state or
stops holding, so a thousand alerts firing steadily cost one small write per evaluation, not a
thousand.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Final, cast

from redline.alerts.policy_db import PolicyDatabase
from redline.alerts.state import AlertStateStore
from redline.slo.hysteresis import HoldState, TierState

__all__ = ["HysteresisSnapshot", "HysteresisStore"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS alert_tiers (
    scope TEXT NOT NULL,
    slo TEXT NOT NULL,
    tier TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'firing')),
    active_since REAL,
    firing_since REAL,
    last_held REAL,
    holding INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, slo, tier)
);
CREATE TABLE IF NOT EXISTS alert_open (
    scope TEXT NOT NULL,
    slo TEXT NOT NULL,
    severity TEXT NOT NULL,
    PRIMARY KEY (scope, slo, severity)
);
CREATE TABLE IF NOT EXISTS alert_evaluated (
    scope TEXT PRIMARY KEY,
    at REAL NOT NULL
)
"""

HysteresisSnapshot = tuple[dict[tuple[str, str], HoldState], set[tuple[str, str]]]
"""Tier states by ``(slo, tier)`` and the open ``(slo, severity)`` pairs."""

_Row = tuple[str, float | None, float | None, float | None, int]


class HysteresisStore:
    """Loads and saves every tier's state in ``path`` (the agent's ``alerts.sqlite``); ``scope``
    keeps the burn-rate tiers (``tiers``) apart from other condition alerts (``conditions``)."""

    def __init__(self, path: Path, scope: str = "tiers", state: AlertStateStore | None = None) -> None:
        self._db = PolicyDatabase(path, _SCHEMA, "alert hysteresis", state)
        self._saved_generation: int | None = None
        """The database generation ``_saved`` describes (``PolicyDatabase.generation``)."""
        self._scope = scope
        self._saved: dict[tuple[str, str], _Row] = {}
        self._saved_open: set[tuple[str, str]] = set()
        self._holding: set[tuple[str, str]] = set()
        """Stored rows marked ``holding`` (their ``last_held`` is the save time)."""

    def load(self) -> HysteresisSnapshot:
        """Every stored tier state and open severity."""
        evaluated = self._db.read("SELECT at FROM alert_evaluated WHERE scope = ?", (self._scope,))
        at: float | None = evaluated[0][0] if evaluated else None
        rows = self._db.read(
            "SELECT slo, tier, state, active_since, firing_since, last_held, holding FROM alert_tiers "
            "WHERE scope = ?",
            (self._scope,),
        )
        tiers: dict[tuple[str, str], HoldState] = {}
        for slo, tier, state, active_since, firing_since, last_held, holding in rows:
            held = at if holding and at is not None else last_held
            tiers[(slo, tier)] = HoldState(cast(TierState, state), active_since, firing_since, held)
            self._saved[(slo, tier)] = (state, active_since, firing_since, last_held, holding)
            if holding:
                self._holding.add((slo, tier))
        opened = {
            (r[0], r[1]) for r in self._db.read("SELECT slo, severity FROM alert_open WHERE scope = ?", (self._scope,))
        }
        self._saved_open = set(opened)
        self._saved_generation = self._db.generation
        return tiers, opened

    def wants_everything(self) -> bool:
        """Whether the next ``save`` needs every state (``changed=None``): the database under it
        changed (into memory or back), so what it holds is not known row by row."""
        return self._saved_generation is not None and self._saved_generation != self._db.generation

    def save(
        self,
        tiers: Mapping[tuple[str, str], HoldState],
        opened: set[tuple[str, str]],
        now: float,
        changed: Collection[tuple[str, str]] | None = None,
        *,
        opened_moved: bool = True,
    ) -> None:
        """Make the stored states ``tiers`` (inactive ones dropped) and ``opened`` as of ``now``, in
        one transaction that writes only what changed.

        ``changed``: the only keys whose state may differ from the last save (``None``: any), so a
        tick with a thousand tiers firing steadily looks at none of them. When no row changes, the
        save time alone is written (it is every holding row's ``last_held``) by a commit that does
        not wait for the disk: a SIGKILL keeps it, and a power cut costs at most a shorter resolve
        delay after the restart. ``opened_moved=False``: ``opened`` is what the last save was given
        (not compared again).
        """
        if self.wants_everything():
            self._rewrite(tiers, opened, now)
            return
        keys = self._saved.keys() | tiers.keys() if changed is None else changed
        rows: dict[tuple[str, str], _Row] = {}
        gone: list[tuple[str, str]] = []
        for key in keys:
            s = tiers.get(key)
            if s is None or s.state == "inactive":
                if key in self._saved:
                    gone.append(key)
                continue
            holding = s.last_held == now
            row: _Row = (s.state, s.active_since, s.firing_since, None if holding else s.last_held, int(holding))
            if self._saved.get(key) != row:
                rows[key] = row
        if not rows and not gone and (not opened_moved or opened == self._saved_open):
            if self._holding:  # the save time moves every holding row's last_held
                with self._db.tx(durable=False) as conn:
                    conn.execute("INSERT OR REPLACE INTO alert_evaluated (scope, at) VALUES (?, ?)", (self._scope, now))
            return  # a calm evaluation costs no transaction at all
        with self._db.tx() as conn:
            conn.executemany("DELETE FROM alert_tiers WHERE scope = ? AND slo = ? AND tier = ?",
                             [(self._scope, *key) for key in gone])
            conn.executemany(
                "INSERT OR REPLACE INTO alert_tiers "
                "(scope, slo, tier, state, active_since, firing_since, last_held, holding) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(self._scope, *key, *row) for key, row in rows.items()],
            )
            _sync_open(conn, self._scope, self._saved_open, opened)
            conn.execute("INSERT OR REPLACE INTO alert_evaluated (scope, at) VALUES (?, ?)", (self._scope, now))
        for key in gone:
            del self._saved[key]
            self._holding.discard(key)
        for key, row in rows.items():
            self._saved[key] = row
            if row[4]:
                self._holding.add(key)
            else:
                self._holding.discard(key)
        self._saved_open = set(opened)

    def _rewrite(self, tiers: Mapping[tuple[str, str], HoldState], opened: set[tuple[str, str]], now: float) -> None:
        """Every row of the scope anew, from ``tiers`` and ``opened``."""
        generation = self._db.generation
        with self._db.tx() as conn:
            conn.execute("DELETE FROM alert_tiers WHERE scope = ?", (self._scope,))
            conn.execute("DELETE FROM alert_open WHERE scope = ?", (self._scope,))
        self._saved, self._saved_open, self._holding = {}, set(), set()
        self._saved_generation = generation
        self.save(tiers, opened, now)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def _sync_open(conn: Any, scope: str, before: set[tuple[str, str]], after: set[tuple[str, str]]) -> None:
    conn.executemany(
        "DELETE FROM alert_open WHERE scope = ? AND slo = ? AND severity = ?",
        [(scope, *pair) for pair in sorted(before - after)],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO alert_open (scope, slo, severity) VALUES (?, ?, ?)",
        [(scope, *pair) for pair in sorted(after - before)],
    )
