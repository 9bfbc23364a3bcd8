"""What every dashboard page shares: the instant it shows (``?at=`` and the sidebar), the cached
evaluation of the config at that instant, and the errors a page shows instead of its body."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import streamlit as st

from redline.config import LoadedConfig, load_config
from redline.dashboard.data import evaluate_report
from redline.dashboard.text import code, literal, markdown
from redline.kernel.errors import ConfigError, StoreError
from redline.kernel.times import parse_instant
from redline.slo.results import StatusReport

__all__ = [
    "PAST_TTL_S",
    "TTL_S",
    "Snapshot",
    "as_of_controls",
    "at_from_query",
    "explain_missing_config",
    "page_start",
    "snapshot",
    "snapshot_or_error",
]

TTL_S: Final = 15
"""Seconds a live page's evaluation is cached; a live page refreshes this often."""
PAST_TTL_S: Final = 600
"""Seconds an evaluation at a fixed past instant (``?at=``) is cached: its data no longer changes
(but for a backfill), so a rerun after a click must not evaluate everything again."""


@dataclass(frozen=True)
class Snapshot:
    """One evaluation of a config at one instant, as the pages show it."""

    at_ms: int
    config: LoadedConfig
    report: StatusReport
    store_problems: tuple[str, ...]
    newest_sample_ms: int | None


def _evaluate(config_path: str, at_s: int | None) -> Snapshot:
    at_ms = int(time.time() * 1000) if at_s is None else at_s * 1000
    config = load_config(Path(config_path))
    evaluation = evaluate_report(config, at_ms)
    return Snapshot(at_ms, config, evaluation.report, evaluation.store_problems, evaluation.newest_sample_ms)


@st.cache_data(ttl=TTL_S, max_entries=8, show_spinner="Evaluating objectives…")
def _live_snapshot(config_path: str) -> Snapshot:
    return _evaluate(config_path, None)


@st.cache_data(ttl=PAST_TTL_S, max_entries=32, show_spinner="Evaluating objectives…")
def _past_snapshot(config_path: str, at_s: int) -> Snapshot:
    return _evaluate(config_path, at_s)


def snapshot(config_path: str, at_s: int | None) -> Snapshot:
    """Config and evaluation, cached on (config path, at): ``TTL_S`` for now (``at_s=None``),
    ``PAST_TTL_S`` for a fixed past instant."""
    return _live_snapshot(config_path) if at_s is None else _past_snapshot(config_path, at_s)


def snapshot_or_error(config_path: str, at_s: int | None) -> Snapshot | None:
    """``snapshot``, or None after showing why the config or the store cannot be used."""
    try:
        return snapshot(config_path, at_s)
    except ConfigError as exc:
        st.error(markdown("The config cannot be used: {error}", error=exc))
    except StoreError as exc:
        st.error(markdown("The sample store cannot be read: {error}", error=exc))
    return None


def at_from_query(raw: str | None, now_s: float) -> tuple[int | None, str | None]:
    """``?at=`` in the CLI's time grammar (``redline.kernel.times``: Unix seconds, ISO 8601,
    ``-2h``), or None for now; the second item explains a value that was ignored."""
    if raw is None or raw.strip() in ("", "now"):
        return None, None
    try:
        value = parse_instant(raw, now_s)
    except ValueError as exc:
        return None, f"?at={exc}; showing now instead."
    if not math.isfinite(value) or value <= 0:
        return None, f"?at={raw!r} is before 1970; showing now instead."
    return int(value), None


def as_of_controls(at_s: int | None) -> None:
    """Sidebar: live or a past instant, kept in ``?at=`` so a link reproduces the view."""
    with st.sidebar:
        st.header("As of")
        # No keys: each widget's identity follows the URL-derived value, so the URL stays the truth.
        live = st.toggle("Live (now, refreshes every 15 s)", value=at_s is None)
        if live and at_s is not None:
            del st.query_params["at"]
            st.rerun()
        if not live and at_s is None:
            st.query_params["at"] = str(int(time.time()))
            st.rerun()
        if at_s is not None:
            shown = datetime.fromtimestamp(at_s, UTC).replace(tzinfo=None, second=0, microsecond=0)
            chosen = st.datetime_input("Time (UTC)", value=shown, step=timedelta(minutes=1))
            if chosen is not None and chosen != shown:
                st.query_params["at"] = str(int(chosen.replace(tzinfo=UTC).timestamp()))
                st.rerun()
            st.caption(code(f"?at={at_s}"))


def explain_missing_config() -> None:
    """Say how to give the dashboard its config."""
    st.error(
        "No config given. Start the dashboard with "
        "`streamlit run dashboard/app.py -- --config FILE` (or `redline dashboard --config FILE`)."
    )


def page_start(title: str, config_path: Path | None) -> tuple[bool, int | None]:
    """A page's title, a missing config explained, and the instant it shows (``?at=``, with the
    sidebar's controls): (whether the page can go on, ``at_s`` — None for now)."""
    st.title(title)
    if config_path is None:
        explain_missing_config()
        return False, None
    at_s, at_problem = at_from_query(st.query_params.get("at"), time.time())
    if at_problem:
        st.warning(literal(at_problem))  # it echoes the URL's own text
    as_of_controls(at_s)
    return True, at_s
