"""What every dashboard page shares: the instant it shows (``?at=`` and the sidebar), the cached
evaluation of the config at that instant, and the errors a page shows instead of its body."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import streamlit as st

from redline.config import LoadedConfig, load_config
from redline.dashboard.data import evaluate_report
from redline.dashboard.last_evaluation import FILE_NAME as LAST_EVALUATION_FILE
from redline.dashboard.last_evaluation import LastEvaluation, Reading, config_fingerprint, judge
from redline.dashboard.last_evaluation import load as load_last_evaluation
from redline.dashboard.text import literal, markdown
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
    "loaded_config",
    "page_start",
    "provenance",
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
    """One evaluation of a config at one instant, as the pages show it: the agent's own (read from
    its last-evaluation file) or one made here."""

    at_ms: int
    config: LoadedConfig
    report: StatusReport
    store_problems: tuple[str, ...]
    newest_sample_ms: int | None
    by_agent: bool = False
    """Painted from the agent's last evaluation; otherwise evaluated by the dashboard itself."""
    not_by_agent: str | None = None
    """Why the agent's last evaluation was not used, when there is one it could not use."""
    config_stamp: tuple[int, int] | None = None
    """The config file's (mtime ns, size) when it was loaded: what caches of its derivations key on."""

    def provenance(self) -> str:
        """Where the figures come from, for a caption."""
        when = datetime.fromtimestamp(self.at_ms / 1000, UTC).strftime("%H:%M:%S")
        return f"as evaluated by the agent at {when} UTC" if self.by_agent else "evaluated here"


def _stamp(path: Path) -> tuple[int, int] | None:
    """(mtime in ns, size) of ``path``, None when it is absent: what a cache of its content is keyed on."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


@st.cache_resource(max_entries=8, show_spinner=False)
def _config(config_path: str, stamp: tuple[int, int] | None) -> tuple[LoadedConfig, str]:
    """The config and its fingerprint, loaded once per version of the file (``stamp``)."""
    config = load_config(Path(config_path))
    return config, config_fingerprint(config)


@st.cache_resource(max_entries=4, show_spinner=False)
def _agent_file(path: str, stamp: tuple[int, int] | None) -> LastEvaluation | Reading:
    """The agent's last-evaluation file, decoded once per version of it (``stamp``)."""
    return load_last_evaluation(Path(path))


def loaded_config(config_path: str | Path) -> LoadedConfig:
    """The config at ``config_path``, parsed once per version of the file (a config of 1,000
    objectives takes seconds to parse): what every page and cached computation starts from.
    Raises ``ConfigError`` as ``load_config`` does."""
    return _config(str(config_path), _stamp(Path(config_path)))[0]


def _evaluate(config: LoadedConfig, at_ms: int) -> Snapshot:
    evaluation = evaluate_report(config, at_ms)
    return Snapshot(at_ms, config, evaluation.report, evaluation.store_problems, evaluation.newest_sample_ms)


# cache_resource, not cache_data: a report of 1,000 objectives is shared as it is, not copied per
# rerun. The config's stamp is in the key: an edited config is never answered from the old one.
@st.cache_resource(ttl=TTL_S, max_entries=8, show_spinner="Evaluating objectives…")
def _live_evaluation(config_path: str, stamp: tuple[int, int] | None) -> Snapshot:
    return _evaluate(_config(config_path, stamp)[0], int(time.time() * 1000))


@st.cache_resource(ttl=PAST_TTL_S, max_entries=32, show_spinner="Evaluating objectives…")
def _past_evaluation(config_path: str, stamp: tuple[int, int] | None, at_s: int) -> Snapshot:
    return _evaluate(_config(config_path, stamp)[0], at_s * 1000)


def snapshot(config_path: str, at_s: int | None) -> Snapshot:
    """Config and evaluation. For now (``at_s=None``): the agent's last evaluation when it is fresh
    and was made for this config, else one made here, cached ``TTL_S``; for a fixed past instant,
    one made here, cached ``PAST_TTL_S``. Raises ``ConfigError``/``StoreError`` as evaluating does."""
    stamp = _stamp(Path(config_path))
    config, fingerprint = _config(config_path, stamp)
    if at_s is not None:
        return replace(_past_evaluation(config_path, stamp, at_s), config_stamp=stamp)
    agent_path = config.data_dir / LAST_EVALUATION_FILE
    found = _agent_file(str(agent_path), _stamp(agent_path))
    if isinstance(found, LastEvaluation):
        found = judge(found, fingerprint, time.time(), config.config.agent.evaluate_interval, agent_path)
    if found.verdict == "fresh" and found.last is not None:
        last = found.last
        return Snapshot(
            int(last.evaluated_at * 1000), config, last.report, (), last.newest_sample_ms, by_agent=True,
            config_stamp=stamp,
        )
    why = None if found.verdict == "missing" else found.why
    return replace(_live_evaluation(config_path, stamp), not_by_agent=why, config_stamp=stamp)


def snapshot_or_error(config_path: str, at_s: int | None) -> Snapshot | None:
    """``snapshot``, or None after showing why the config or the store cannot be used."""
    try:
        return snapshot(config_path, at_s)
    except ConfigError as exc:
        st.error(markdown("The config cannot be used: {error}", error=exc))
    except StoreError as exc:
        st.error(markdown("The sample store cannot be read: {error}", error=exc))
    return None


def provenance(shot: Snapshot) -> None:
    """Say where the figures come from (the agent's evaluation or one made here), and why the agent's
    last evaluation was not used when there is one."""
    st.caption(markdown("Figures {provenance}.", provenance=shot.provenance()))
    if shot.not_by_agent:
        st.info(markdown("The agent's last evaluation was not used: {why}.", why=shot.not_by_agent),
                icon=":material/info:")


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
            st.caption(markdown("{query!c}", query=f"?at={at_s}"))


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
