"""What the Alerts page shows, read from the agent's alert database (``data_dir/alerts.sqlite``)
through the alerts package's own stores, and what it changes there (silences, acknowledgements),
without Streamlit. Kept to this one module: the alert storage is the alerts package's to change,
and only this module follows it.

Reading never creates the database: a data directory without one has no alerts yet. A change
is made by someone (``by``), recorded as the CLI records it; the running agent applies it at its
next evaluation, for every notifier.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from redline.alerts.silences import Acknowledgement, Silence, SilenceStore, silence_matchers
from redline.alerts.state import AlertRecord, AlertStateStore, NotificationLogEntry

__all__ = [
    "ALERTS_FILE",
    "AlertsView",
    "Silence",
    "acknowledge",
    "add_silence",
    "deliveries_table",
    "expire_silence",
    "incidents_table",
    "read_alerts",
    "silences_table",
]

ALERTS_FILE = "alerts.sqlite"
_NOTICES = 5000
"""The newest first firing notices read for the burn rates at firing (older incidents: none)."""


@dataclass(frozen=True)
class AlertsView:
    """Every alert that ever left inactive, the latest delivery attempts (oldest first), every
    silence and every acknowledgement."""

    records: tuple[AlertRecord, ...]
    deliveries: tuple[NotificationLogEntry, ...]
    silences: tuple[Silence, ...] = field(default=())
    acks: tuple[Acknowledgement, ...] = field(default=())
    at_firing: Mapping[tuple[str, float], Mapping[str, str]] = field(default_factory=dict)
    """The annotations each incident's firing notice carried (by alert key and start), as the
    outbox keeps them; an incident whose intents were pruned has none."""

    def acked_by(self, record: AlertRecord) -> str | None:
        """Who acknowledged ``record``'s current incident, if anyone did."""
        return next(
            (a.acked_by for a in reversed(self.acks) if a.key == record.key and a.started_at == record.started_at),
            None,
        )


def read_alerts(data_dir: Path, *, log_limit: int = 500) -> AlertsView | None:
    """The alert state in ``data_dir``, or None when the agent has written none yet. Raises
    ``StoreError`` (naming the file) for a database that cannot be read."""
    path = data_dir / ALERTS_FILE
    if not path.is_file():
        return None
    with AlertStateStore(path) as store:
        records, log = tuple(store.records()), tuple(store.log(limit=log_limit))
        firing_notices = store.query(  # the first notice of each incident: what it said when it fired
            "SELECT payload FROM intents WHERE status = 'firing' AND repeat = 0 ORDER BY id DESC LIMIT ?",
            (_NOTICES,),
        )
    at_firing: dict[tuple[str, float], Mapping[str, str]] = {}
    for (payload,) in reversed(firing_notices):
        try:
            notice = json.loads(payload)
            at_firing.setdefault((str(notice["key"]), float(notice["starts_at"])), dict(notice["annotations"]))
        except (ValueError, KeyError, TypeError):  # a snapshot this reader cannot use: that incident shows none
            continue
    silences = SilenceStore(path)  # opened only once the state store is closed: one connection at a time
    try:
        return AlertsView(records, log, tuple(silences.silences()), tuple(silences.acknowledgements()), at_firing)
    finally:
        silences.close()


def add_silence(
    data_dir: Path, matchers: Sequence[str], *, slo: str | None, starts_at: float, ends_at: float, comment: str,
    by: str, now: float, grouped: bool = False,
) -> Silence:
    """Store a silence of ``slo``'s alerts (None: any objective's; ``grouped``: a ``group_by``
    objective, every member's) matching every one of ``matchers`` (Alertmanager syntax).
    ``ValueError`` naming an invalid matcher, or saying what else is wrong."""
    parsed = silence_matchers(matchers, slo, grouped=grouped)
    store = SilenceStore(data_dir / ALERTS_FILE)
    try:
        return store.add(parsed, starts_at=starts_at, ends_at=ends_at, by=by, now=now, comment=comment)
    finally:
        store.close()


def expire_silence(data_dir: Path, silence_id: str, *, by: str, now: float) -> Silence:
    """End silence ``silence_id`` now; ``KeyError`` when it is unknown or has already ended."""
    store = SilenceStore(data_dir / ALERTS_FILE)
    try:
        return store.expire(silence_id, by=by, now=now)
    finally:
        store.close()


def acknowledge(data_dir: Path, key: str, *, by: str, now: float, comment: str = "") -> Acknowledgement:
    """Acknowledge the incident alert ``key`` is firing now (its repeats stop); ``KeyError`` when
    that alert is not firing."""
    path = data_dir / ALERTS_FILE
    record = None
    if path.is_file():
        with AlertStateStore(path) as state:
            record = state.get(key)
    if record is None or record.state != "firing" or record.started_at is None:
        raise KeyError(f"alert {key!r} is not firing")
    store = SilenceStore(path)
    try:
        return store.acknowledge(key, record.started_at, by=by, now=now, comment=comment)
    finally:
        store.close()


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def incidents_table(view: AlertsView, *, firing: bool) -> pl.DataFrame:
    """Firing and pending alerts (``firing=True``) or the resolved ones, newest first, with the
    burn rates (1 h and 5 m) as last notified and as the firing notice said, the condition, the
    budget left and who acknowledged the incident."""
    wanted = {"firing", "pending"} if firing else {"resolved"}
    rows = sorted(
        (r for r in view.records if r.state in wanted),
        key=lambda r: r.started_at or r.pending_since or r.updated_at,
        reverse=True,
    )

    def number(r: AlertRecord, key: str) -> float | None:
        try:
            return float(r.annotations[key])
        except (KeyError, ValueError):
            return None

    def fired_with(r: AlertRecord, key: str) -> float | None:
        notice = view.at_firing.get((r.key, r.started_at)) if r.started_at is not None else None
        try:
            return None if notice is None else float(notice[key])
        except (KeyError, ValueError):
            return None

    def budget_left(r: AlertRecord) -> float | None:
        used = number(r, "budget_used_ratio")  # the one budget figure an alert carries
        return None if used is None else round(1.0 - used, 9)

    frame = pl.DataFrame(
        {
            "objective": [r.slo for r in rows],
            "tier": [r.severity for r in rows],
            "state": [r.state for r in rows],
            "started": [_ms(r.started_at or r.pending_since) for r in rows],
            "resolved": [_ms(r.resolved_at) for r in rows],
            "burn 1h": [number(r, "burn_rate_1h") for r in rows],
            "burn 5m": [number(r, "burn_rate_5m") for r in rows],
            "burn 1h at firing": [fired_with(r, "burn_rate_1h") for r in rows],
            "burn 5m at firing": [fired_with(r, "burn_rate_5m") for r in rows],
            "condition": [r.annotations.get("condition", "") for r in rows],
            "budget left": [budget_left(r) for r in rows],
            "acknowledged by": [view.acked_by(r) or "" for r in rows],
            "summary": [r.annotations.get("summary", "") for r in rows],
            "alert": [r.key for r in rows],
        },
        schema={
            "objective": pl.String, "tier": pl.String, "state": pl.String, "started": pl.Int64,
            "resolved": pl.Int64, "burn 1h": pl.Float64, "burn 5m": pl.Float64,
            "burn 1h at firing": pl.Float64, "burn 5m at firing": pl.Float64, "condition": pl.String,
            "budget left": pl.Float64, "acknowledged by": pl.String, "summary": pl.String, "alert": pl.String,
        },
    )
    return frame.with_columns(
        pl.col("started", "resolved").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    )


def deliveries_table(view: AlertsView) -> pl.DataFrame:
    """Per alert and notifier: attempts, the last outcome and when, and the last error."""
    latest: dict[tuple[str, str], NotificationLogEntry] = {}
    attempts: dict[tuple[str, str], int] = {}
    errors: dict[tuple[str, str], str] = {}
    for entry in view.deliveries:  # oldest first: the last one seen is the latest
        pair = (entry.key, entry.notifier)
        latest[pair] = entry
        attempts[pair] = attempts.get(pair, 0) + 1
        if entry.error:
            errors[pair] = entry.error
    pairs = sorted(latest, key=lambda p: latest[p].at, reverse=True)
    return pl.DataFrame(
        {
            "alert": [p[0] for p in pairs],
            "notifier": [p[1] for p in pairs],
            "status sent": [latest[p].status for p in pairs],
            "outcome": ["delivered" if latest[p].ok else "failed" for p in pairs],
            "attempts": [attempts[p] for p in pairs],
            "at": [_ms(latest[p].at) for p in pairs],
            "last error": [errors.get(p, "") for p in pairs],
        },
        schema={
            "alert": pl.String, "notifier": pl.String, "status sent": pl.String, "outcome": pl.String,
            "attempts": pl.Int64, "at": pl.Int64, "last error": pl.String,
        },
    ).with_columns(pl.col("at").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))


def silences_table(view: AlertsView, now: float, *, include_expired: bool = False) -> pl.DataFrame:
    """The silences, newest first: state at ``now``, matchers in Alertmanager's syntax, the time
    range, who created (and expired) each, and its comment; expired ones only when asked."""
    shown = [s for s in reversed(view.silences) if include_expired or s.state(now) != "expired"]
    return pl.DataFrame(
        {
            "id": [s.id for s in shown],
            "state": [s.state(now) for s in shown],
            "matchers": [", ".join(str(m) for m in s.matchers) for s in shown],
            "starts": [_ms(s.starts_at) for s in shown],
            "ends": [_ms(s.ends_at) for s in shown],
            "created by": [s.created_by for s in shown],
            "comment": [s.comment for s in shown],
            "expired by": [s.expired_by or "" for s in shown],
        },
        schema={
            "id": pl.String, "state": pl.String, "matchers": pl.String, "starts": pl.Int64, "ends": pl.Int64,
            "created by": pl.String, "comment": pl.String, "expired by": pl.String,
        },
    ).with_columns(pl.col("starts", "ends").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))
