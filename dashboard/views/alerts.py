"""The Alerts page (on-call): what is firing, what fired recently, and what was delivered to whom.

Silences and acknowledgements are not stored by the alerts package yet, so the page says so
rather than offering buttons that would do nothing.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import streamlit as st

from redline.config import load_config
from redline.dashboard.alerts_view import deliveries_table, incidents_table, read_alerts
from redline.dashboard.text import code, literal
from redline.dashboard.views.common import page_start
from redline.dashboard.views.objective import objective_url
from redline.kernel.errors import ConfigError, StoreError

__all__ = ["render"]

_TIME = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss [UTC]")


def _incidents(frame: pl.DataFrame, key: str) -> None:
    shown = frame.with_columns(
        pl.Series("open", [objective_url(name) for name in frame.get_column("objective")], pl.String)
    )
    st.dataframe(
        shown, hide_index=True, key=key,
        column_config={
            "started": _TIME, "resolved": _TIME,
            **{
                f"burn {w}": st.column_config.NumberColumn(f"burn {w}", format="%.1f×", help=f"Burn rate over {w}")
                for w in ("1h", "5m")
            },
            "budget left": st.column_config.NumberColumn("budget left", format="percent"),
            "open": st.column_config.LinkColumn("open", display_text="open"),
        },
    )


def render(config_path: Path | None) -> None:
    """The alerts page for ``config_path`` (None: explain how to pass one)."""
    go_on, _ = page_start("Redline · alerts", config_path)
    if not go_on or config_path is None:
        return
    try:
        data_dir = load_config(config_path).data_dir
        view = read_alerts(data_dir)
    except ConfigError as exc:
        st.error(f"The config cannot be used: {literal(exc)}")
        return
    except StoreError as exc:
        st.error(f"The alert database cannot be read: {literal(exc)}")
        return
    if view is None:
        st.info(f"No alerts yet: the agent has not written {code(data_dir / 'alerts.sqlite')} (is it running?).")
        return
    firing = incidents_table(view, firing=True)
    st.subheader(f"Firing and pending ({firing.height})")
    if firing.is_empty():
        st.success("Nothing is firing.")
    else:
        _incidents(firing, "firing")
    resolved = incidents_table(view, firing=False)
    st.subheader(f"Recent incidents, resolved ({resolved.height})")
    if not resolved.is_empty():
        _incidents(resolved, "resolved")
    st.subheader("Deliveries")
    deliveries = deliveries_table(view)
    if deliveries.is_empty():
        st.caption("No notification has been sent yet.")
    else:
        st.dataframe(deliveries, hide_index=True, key="deliveries", column_config={"at": _TIME})
    st.subheader("Silences")
    st.caption("Silences and acknowledgements are not stored by the alerts package yet.")
