"""The Alerts page (on-call): what is firing, what fired recently, what was delivered to whom, the
silences, and the actions on them: create or expire a silence, acknowledge an incident.

An action changes what the agent notifies, so it needs someone to answer for it: the user the
dashboard's authentication names is recorded with it. Without authentication (a loopback
dashboard with no ``dashboard.auth``) the actions are shown disabled, with the way to turn them
on. Matchers and comments are data: they reach the page in table cells or escaped, never as
Markdown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

import polars as pl
import streamlit as st

from redline.config import LoadedConfig, load_config
from redline.dashboard.alerts_view import (
    AlertsView,
    Silence,
    acknowledge,
    add_silence,
    deliveries_table,
    expire_silence,
    incidents_table,
    read_alerts,
    silences_table,
)
from redline.dashboard.auth import signed_in_user
from redline.dashboard.text import markdown
from redline.dashboard.views.common import page_start
from redline.dashboard.views.objective import objective_url
from redline.kernel.errors import ConfigError, StoreError
from redline.kernel.times import INSTANT_FORMS, parse_instant
from redline.kernel.units import parse_duration

__all__ = ["ANY_OBJECTIVE", "NEEDS_LOGIN", "render"]

_T = TypeVar("_T")
_TIME = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss [UTC]")
_FLASH: Final = "_redline_alerts_flash"
ANY_OBJECTIVE: Final = "(any objective)"
NEEDS_LOGIN: Final = (
    "Creating or expiring silences and acknowledging incidents needs a logged-in user: configure "
    "`dashboard.auth` (a password, OIDC or a trusted proxy header; see the README's Dashboard authentication)."
)


def _incidents(frame: pl.DataFrame, key: str) -> None:
    shown = frame.with_columns(
        pl.Series("open", [objective_url(name) for name in frame.get_column("objective")], pl.String)
    )
    st.dataframe(
        shown, hide_index=True, key=key,
        column_config={
            "started": _TIME, "resolved": _TIME,
            **{
                f"burn {w}": st.column_config.NumberColumn(
                    f"burn {w}", format="%.1f×", help=f"Burn rate over {w}, as last notified"
                )
                for w in ("1h", "5m")
            },
            **{
                f"burn {w} at firing": st.column_config.NumberColumn(
                    f"burn {w} at firing", format="%.1f×", help=f"Burn rate over {w} in the incident's firing notice"
                )
                for w in ("1h", "5m")
            },
            "budget left": st.column_config.NumberColumn("budget left", format="percent"),
            "open": st.column_config.LinkColumn("open", display_text="open"),
        },
    )


def _attempt(action: Callable[[], _T], failed: str) -> _T | None:
    """``action()``, or None after saying why not: ``failed`` (wording written here), then the
    reason (an invalid matcher or time named, an unknown silence, an incident no longer firing)."""
    try:
        return action()
    except StoreError as exc:
        st.error(markdown("The alert database cannot be written: {error}", error=exc))
    except KeyError as exc:
        st.error(markdown(failed + ": {error}", error=exc.args[0]))
    except ValueError as exc:
        st.error(markdown(failed + ": {error}", error=exc))
    return None


def _done(message: str, *cleared: str) -> None:
    """Show ``message`` (Markdown made with ``markdown()``) after the rerun that shows the change,
    with the widgets keyed ``cleared`` back to their defaults."""
    for key in cleared:
        st.session_state.pop(key, None)
    st.session_state[_FLASH] = message
    st.rerun()


def _new_silence(loaded: LoadedConfig, who: str | None) -> None:
    objectives = [ANY_OBJECTIVE, *sorted({s.name for s in loaded.config.slos})]
    grouped = {s.name for s in loaded.config.slos if s.group_by}
    off = who is None
    with st.form("new_silence", clear_on_submit=False):
        st.markdown("**New silence**")
        slo = st.selectbox("Objective", objectives, disabled=off, key="silence_slo")
        matchers = st.text_area(
            "Label matchers", disabled=off, key="silence_matchers", placeholder='severity="page"\nteam=~"ml-.*"',
            help='One per line, Alertmanager syntax: name=value, name!=value, name=~regex, name!~regex '
            '(regexes anchored), or a braced list {a="b", c=~"d"}. An alert is muted when all match.',
        )
        left, middle, right = st.columns(3)
        start = left.text_input("Starts", "now", disabled=off, key="silence_start",
                                help=f"When it starts: {INSTANT_FORMS}")
        duration = middle.text_input("Lasts", "2h", disabled=off, key="silence_duration",
                                     help="A duration such as 30m, 2h, 1d")
        end = right.text_input("Or ends", "", disabled=off, key="silence_end",
                               help="When it ends, instead of a duration")
        comment = st.text_input("Comment", disabled=off, key="silence_comment", help="Why (shown in the list)")
        submitted = st.form_submit_button("Create silence", disabled=off)
    if not submitted or who is None:
        return
    now = time.time()

    def create() -> Silence:
        starts = parse_instant(start, now)
        ends = parse_instant(end, now) if end.strip() else starts + parse_duration(duration)
        return add_silence(
            loaded.data_dir, matchers.splitlines(), slo=None if slo == ANY_OBJECTIVE else slo,
            starts_at=starts, ends_at=ends, comment=comment, by=who, now=now, grouped=slo in grouped,
        )

    silence = _attempt(create, "Silence not created")
    if silence is None:
        return
    _done(markdown(
        "Silence {id!c} created by {who}: {matchers}.", id=silence.id, who=who,
        matchers=", ".join(str(m) for m in silence.matchers),
    ), "silence_matchers", "silence_start", "silence_duration", "silence_end", "silence_comment")


def _expire(loaded: LoadedConfig, view: AlertsView | None, who: str | None, now: float) -> None:
    live = [s for s in (view.silences if view else ()) if s.state(now) != "expired"]
    if not live:
        return
    labels = {  # a select box's options are plain text
        s.id: " · ".join([s.id, ", ".join(str(m) for m in s.matchers), *([s.comment] if s.comment else [])])
        for s in live
    }
    with st.form("expire_silence"):
        chosen = st.selectbox("Silence", list(labels), format_func=labels.__getitem__, disabled=who is None,
                              key="silence_expire_id")
        submitted = st.form_submit_button("Expire silence", disabled=who is None)
    if not submitted or who is None or chosen is None:
        return
    silence = _attempt(lambda: expire_silence(loaded.data_dir, chosen, by=who, now=time.time()),
                       "Silence not expired")
    if silence is None:
        return
    _done(markdown("Silence {id!c} expired by {who}.", id=silence.id, who=who))


def _acknowledge(loaded: LoadedConfig, view: AlertsView, who: str | None) -> None:
    open_incidents = [r for r in view.records if r.state == "firing" and view.acked_by(r) is None]
    if not open_incidents:
        return
    with st.form("acknowledge"):
        key = st.selectbox("Incident", [r.key for r in open_incidents], disabled=who is None, key="ack_key")
        comment = st.text_input("Note", disabled=who is None, key="ack_note")
        submitted = st.form_submit_button("Acknowledge", disabled=who is None,
                                          help="Its repeat notifications stop; its resolve is still sent")
    if not submitted or who is None or key is None:
        return
    if _attempt(lambda: acknowledge(loaded.data_dir, key, by=who, now=time.time(), comment=comment),
                "Not acknowledged") is None:
        return
    _done(markdown("{key} acknowledged by {who}: no more repeats of this incident.", key=key, who=who), "ack_note")


def _silences(loaded: LoadedConfig, view: AlertsView | None, who: str | None) -> None:
    now = time.time()
    show_all = st.toggle("Include expired silences", value=False, key="silences_all")
    frame = silences_table(view, now, include_expired=show_all) if view is not None else None
    if frame is None or frame.is_empty():
        st.caption("No silences." if show_all else "No pending or active silences.")
    else:
        st.dataframe(frame, hide_index=True, key="silences", column_config={"starts": _TIME, "ends": _TIME})
    if who is None:
        st.info(NEEDS_LOGIN)
    _new_silence(loaded, who)
    _expire(loaded, view, who, now)


def render(config_path: Path | None) -> None:
    """The alerts page for ``config_path`` (None: explain how to pass one)."""
    go_on, _ = page_start("Redline · alerts", config_path)
    if not go_on or config_path is None:
        return
    try:
        loaded = load_config(config_path)
        view = read_alerts(loaded.data_dir)
    except ConfigError as exc:
        st.error(markdown("The config cannot be used: {error}", error=exc))
        return
    except StoreError as exc:
        st.error(markdown("The alert database cannot be read: {error}", error=exc))
        return
    who = signed_in_user(loaded.config.dashboard.auth)
    flash = st.session_state.pop(_FLASH, None)
    if isinstance(flash, str):
        st.success(flash)
    if view is None:
        st.info(markdown(
            "No alerts yet: the agent has not written {path!c} (is it running?).",
            path=loaded.data_dir / "alerts.sqlite",
        ))
    else:
        firing = incidents_table(view, firing=True)
        st.subheader(markdown("Firing and pending ({n})", n=firing.height))
        if firing.is_empty():
            st.success("Nothing is firing.")
        else:
            _incidents(firing, "firing")
            _acknowledge(loaded, view, who)
        resolved = incidents_table(view, firing=False)
        st.subheader(markdown("Recent incidents, resolved ({n})", n=resolved.height))
        if not resolved.is_empty():
            _incidents(resolved, "resolved")
        st.subheader("Deliveries")
        deliveries = deliveries_table(view)
        if deliveries.is_empty():
            st.caption("No notification has been sent yet.")
        else:
            st.dataframe(deliveries, hide_index=True, key="deliveries", column_config={"at": _TIME})
    st.subheader("Silences")
    _silences(loaded, view, who)
