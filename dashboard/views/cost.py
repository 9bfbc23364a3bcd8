"""Cost page: are we inside the budget and the cost-per-1k target, when do we cross, who spends?

One panel per guardrail, worst first (the engine's ranking): a budget's spend to date against
its limit, the run-rate forecast to the period end, when the forecast crosses the limit, the
spend curve this period, and the showback by its labels; a cost-per-1,000-inferences guardrail's
cost against its maximum and its showback. The instant is the overview's (``?at=``, or now).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import polars as pl
import streamlit as st

from redline.dashboard.charts import spend_chart
from redline.dashboard.data import format_time_to_breach, rank_objectives, spend_curve
from redline.dashboard.text import literal, markdown
from redline.dashboard.views.common import TTL_S, loaded_config, page_start, provenance, snapshot_or_error
from redline.kernel.money import format_money
from redline.slo.results import ObjectiveResult

__all__ = ["render"]

_STATUS_SHOW: Final = {"breached": st.error, "warning": st.warning, "ok": st.success}


@st.cache_data(ttl=TTL_S, max_entries=32, show_spinner="Reading this period's spend…")
def _spend_curve(config_path: str, name: str, at_ms: int) -> pl.DataFrame:
    return spend_curve(loaded_config(config_path), name, at_ms)


def _date(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "not this period"
    return datetime.fromtimestamp(seconds, UTC).strftime("%b %d %H:%M")


def _budget(config_path: str, at_ms: int, o: ObjectiveResult, d: dict[str, Any]) -> None:
    cur = d.get("currency")
    limit = float(d.get("limit") or o.target)
    spend, forecast = d.get("spent"), d.get("forecast")
    cols = st.columns(4)
    of_limit = markdown("of {limit}", limit=format_money(limit, cur))
    cols[0].metric("spent this period", format_money(spend, cur), of_limit, delta_color="off", delta_arrow="off")
    over = d.get("overrun")
    cols[1].metric(
        "forecast at period end", format_money(forecast, cur),
        markdown("{over} over", over=format_money(over, cur)) if isinstance(over, int | float) and over > 0
        else "within the limit",
        delta_color="inverse" if isinstance(over, int | float) and over > 0 else "off", delta_arrow="off",
    )
    over_now = isinstance(spend, int | float) and spend >= limit
    crossing = "already over" if over_now else _date(d.get("crosses_at"))
    cols[2].metric("crosses the limit (UTC)", crossing,
                   literal(format_time_to_breach(o.time_to_breach_seconds)), delta_color="off", delta_arrow="off")
    cols[3].metric("run-rate", f"{format_money(d.get('run_rate_per_day'), cur)}/day")
    curve = _spend_curve(config_path, o.name, at_ms)
    if not curve.is_empty():
        end = d.get("period_end")
        line = None
        if isinstance(spend, int | float) and isinstance(forecast, int | float) and isinstance(end, int | float):
            line = (at_ms, float(spend), int(end * 1000), float(forecast))
        st.altair_chart(spend_chart(curve, limit, line, cur), key=f"spend-{o.name}")


def _cost_per_1k(o: ObjectiveResult, d: dict[str, Any]) -> None:
    cur = d.get("currency")
    cols = st.columns(3)
    cost = d.get("cost_per_1k")
    cols[0].metric("cost per 1,000 inferences", format_money(cost, cur),
                   markdown("max {limit}", limit=format_money(d.get("max"), cur)), delta_color="off", delta_arrow="off")
    cols[1].metric(markdown("spend over {window}", window=o.window), format_money(d.get("spend"), cur))
    inferences = d.get("inferences")
    cols[2].metric(markdown("inferences over {window}", window=o.window),
                   f"{inferences:,.0f}" if isinstance(inferences, int | float) else "—")


def _panel(config_path: str, at_ms: int, o: ObjectiveResult) -> None:
    d = dict(o.details or {})
    with st.container(border=True):
        what = "budget" if o.kind == "budget" else "at most, per 1,000 inferences,"
        st.subheader(
            markdown(
                "{name} · {what} {target} over {window}",
                name=o.name, what=what, target=o.target_text(), window=o.window,
            )
        )
        _STATUS_SHOW.get(o.status, st.info)(literal(o.reason))
        if o.kind == "budget":
            _budget(config_path, at_ms, o, d)
        else:
            _cost_per_1k(o, d)
        showback = d.get("showback") or []
        if showback:
            st.markdown("**Showback** — who spends it")
            st.dataframe(pl.DataFrame(showback), hide_index=True, key=f"showback-{o.name}")


def _body(config_path: str, at_s: int | None) -> None:
    shot = snapshot_or_error(config_path, at_s)
    if shot is None:
        return
    guardrails = [o for o in rank_objectives(shot.report.objectives) if o.is_guardrail]
    if not guardrails:
        st.info(markdown("No cost guardrails are configured in {path!c} (`guardrails:` is empty).", path=config_path))
        return
    at = datetime.fromtimestamp(shot.at_ms / 1000, UTC)
    st.caption(markdown("As of **{at:%Y-%m-%d %H:%M:%S} UTC** · worst first", at=at))
    provenance(shot)
    for o in guardrails:
        _panel(config_path, shot.at_ms, o)


def render(config_path: Path | None) -> None:
    """The cost page for ``config_path`` (None: explain how to pass one)."""
    go_on, at_s = page_start("Redline · are we inside budget?", config_path)
    if not go_on:
        return
    _body(str(config_path), at_s)
