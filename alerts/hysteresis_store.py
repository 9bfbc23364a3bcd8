"""Tier hysteresis persisted in the alert database, so ``for:`` and the resolve delay survive a
restart with their original start times.

Tables: ``alert_tiers`` (one row per objective and tier that is pending or firing: its
``redline.slo.hysteresis.HoldState``) and ``alert_open`` (the severities of an objective that
are open, i.e. not inhibited by a more severe one). An inactive tier has no row.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final, cast

from redline.alerts.policy_db import PolicyDatabase
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
    PRIMARY KEY (scope, slo, tier)
);
CREATE TABLE IF NOT EXISTS alert_open (
    scope TEXT NOT NULL,
    slo TEXT NOT NULL,
    severity TEXT NOT NULL,
    PRIMARY KEY (scope, slo, severity)
)
"""

HysteresisSnapshot = tuple[dict[tuple[str, str], HoldState], set[tuple[str, str]]]
"""Tier states by ``(slo, tier)`` and the open ``(slo, severity)`` pairs."""


class HysteresisStore:
    """Loads and saves every tier's state in ``path`` (the agent's ``alerts.sqlite``); ``scope``
    keeps the burn-rate tiers (``tiers``) apart from other condition alerts (``conditions``)."""

    def __init__(self, path: Path, scope: str = "tiers") -> None:
        self._db = PolicyDatabase(path, _SCHEMA, "alert hysteresis")
        self._scope = scope

    def load(self) -> HysteresisSnapshot:
        """Every stored tier state and open severity."""
        tiers = {
            (r[0], r[1]): HoldState(cast(TierState, r[2]), r[3], r[4], r[5])
            for r in self._db.read(
                "SELECT slo, tier, state, active_since, firing_since, last_held FROM alert_tiers WHERE scope = ?",
                (self._scope,),
            )
        }
        opened = {
            (r[0], r[1]) for r in self._db.read("SELECT slo, severity FROM alert_open WHERE scope = ?", (self._scope,))
        }
        return tiers, opened

    def save(self, tiers: Mapping[tuple[str, str], HoldState], opened: set[tuple[str, str]]) -> None:
        """Replace the stored states with ``tiers`` (inactive ones are dropped) and ``opened``, in
        one transaction."""
        with self._db.tx() as conn:
            conn.execute("DELETE FROM alert_tiers WHERE scope = ?", (self._scope,))
            conn.execute("DELETE FROM alert_open WHERE scope = ?", (self._scope,))
            conn.executemany(
                "INSERT INTO alert_tiers (scope, slo, tier, state, active_since, firing_since, last_held) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (self._scope, slo, tier, s.state, s.active_since, s.firing_since, s.last_held)
                    for (slo, tier), s in sorted(tiers.items())
                    if s.state != "inactive"
                ],
            )
            conn.executemany(
                "INSERT INTO alert_open (scope, slo, severity) VALUES (?, ?, ?)",
                [(self._scope, slo, severity) for slo, severity in sorted(opened)],
            )

    def close(self) -> None:
        """Close the connection."""
        self._db.close()
