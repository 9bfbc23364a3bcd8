"""What the Alerts page shows, read from the agent's alert database (``data_dir/alerts.sqlite``)
through the alerts package's own store, without Streamlit. Kept to this one module: the alert
storage is the alerts package's to change, and only this reader follows it.

Reading never creates the database: a data directory without one has no alerts yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from redline.alerts.state import AlertRecord, AlertStateStore, NotificationLogEntry

__all__ = ["ALERTS_FILE", "AlertsView", "deliveries_table", "incidents_table", "read_alerts"]

ALERTS_FILE = "alerts.sqlite"


@dataclass(frozen=True)
class AlertsView:
    """Every alert that ever left inactive, and the latest delivery attempts (oldest first)."""

    records: tuple[AlertRecord, ...]
    deliveries: tuple[NotificationLogEntry, ...]


def read_alerts(data_dir: Path, *, log_limit: int = 500) -> AlertsView | None:
    """The alert state in ``data_dir``, or None when the agent has written none yet. Raises
    ``StoreError`` (naming the file) for a database that cannot be read."""
    path = data_dir / ALERTS_FILE
    if not path.is_file():
        return None
    with AlertStateStore(path) as store:
        return AlertsView(tuple(store.records()), tuple(store.log(limit=log_limit)))


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def incidents_table(view: AlertsView, *, firing: bool) -> pl.DataFrame:
    """Firing and pending alerts (``firing=True``) or the resolved ones, newest first, with the
    burn rates they carried (1 h and 5 m), the condition and the budget left."""
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
            "condition": [r.annotations.get("condition", "") for r in rows],
            "budget left": [budget_left(r) for r in rows],
            "summary": [r.annotations.get("summary", "") for r in rows],
        },
        schema={
            "objective": pl.String, "tier": pl.String, "state": pl.String, "started": pl.Int64,
            "resolved": pl.Int64, "burn 1h": pl.Float64, "burn 5m": pl.Float64, "condition": pl.String,
            "budget left": pl.Float64, "summary": pl.String,
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
