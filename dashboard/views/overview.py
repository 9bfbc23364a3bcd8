"""Overview page: what breaks first — data, users, model or cost?

Shareable state lives in the URL: ``?at=`` (Unix seconds; absent means live, now) and
``?objective=`` (the objective whose burn-down is shown).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import polars as pl
import streamlit as st
from streamlit.navigation.page import StreamlitPage

from redline.config import load_config
from redline.dashboard.charts import burn_down_chart, burn_rate_chart
from redline.dashboard.data import burn_down, format_time_to_breach, rank_objectives
from redline.dashboard.text import code, literal, safe_link
from redline.dashboard.views.common import PAST_TTL_S, TTL_S, Snapshot, page_start, snapshot_or_error
from redline.dashboard.views.objective import objective_url
from redline.slo.results import ObjectiveResult, Status
from redline.slo.spec import DIMENSIONS, SLOSpec

__all__ = ["objectives_table", "render"]

_STATUS_LABEL: Final[dict[str, str]] = {
    "breached": "breached",
    "warning": "warning",
    "ok": "ok",
    "no_data": "no data",
    "low_traffic": "low traffic",
}
# Material icons ship with Streamlit's frontend; emoji depend on the viewer's fonts.
_STATUS_ICON: Final = {
    "breached": ":material/error:",
    "warning": ":material/warning:",
    "ok": ":material/check_circle:",
    "no_data": ":material/help:",
    "low_traffic": ":material/hourglass_empty:",
}
_STATUS_COLOUR: Final = {
    "breached": "red", "warning": "orange", "ok": "green", "no_data": "gray", "low_traffic": "gray",
}


@st.cache_data(ttl=PAST_TTL_S, max_entries=64, show_spinner="Computing burn-down…")  # keyed on at_ms
def _burn_down(config_path: str, at_ms: int, name: str) -> pl.DataFrame:
    return burn_down(load_config(Path(config_path)), name, at_ms)


def _utc(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _objective_text(result: ObjectiveResult) -> str:
    """The objective as people write it: 0.999 → ``99.9%``; a guardrail's limit in currency."""
    return result.target_text()


def _percent(value: float | None) -> str:
    return "no data" if value is None or not math.isfinite(value) else f"{value:.1%}"


def _callout(
    ranked: list[ObjectiveResult], config_path: Path, newest_sample_ms: int | None, data_dir: Path | None = None
) -> None:
    """The answer to the page's question, coloured by status, above everything else."""
    if not ranked:
        st.info(f"No objectives are configured in {code(config_path)} (`slos:` is empty).")
        return
    top = ranked[0]
    if top.status == "no_data":
        if data_dir is not None and not data_dir.is_dir():
            hint = (
                f"The data directory {code(data_dir)} does not exist: start the agent with this config "
                "(`redline run --config …`), or point `agent.data_dir` at the agent's."
            )
        elif newest_sample_ms is None:
            hint = "The store holds no samples yet: is the agent running and writing to the data folder?"
        else:
            hint = (
                f"The newest stored sample is from {_utc(newest_sample_ms)}: for older history, "
                f"pick that time under *As of* (`?at={newest_sample_ms // 1000}`)."
            )
        st.info(
            f"**No data yet** for any objective, so nothing can be ranked. {hint}",
            icon=_STATUS_ICON["no_data"],
        )
        return
    what = f"**{literal(top.name)}** ({literal(_objective_text(top))} over {literal(top.window)})"
    ttb = top.time_to_breach_seconds
    if top.status == "breached" or (ttb is not None and ttb <= 0):
        text = f"**{top.dimension}** has already broken: {what} has spent its error budget."
    elif ttb is None:
        text = (
            f"**{top.dimension}** is nearest to breaking: {what} has the least budget left "
            f"({_percent(top.budget_remaining)}), but is not burning it now."
        )
    else:
        text = (
            f"**{top.dimension}** is nearest to breaking: {what} breaches in "
            f"**{format_time_to_breach(ttb)}** at the current burn."
        )
    text = f"What breaks first? {text}  \n{literal(top.reason)}"
    show = {"breached": st.error, "warning": st.warning, "ok": st.success}[top.status]
    show(text, icon=_STATUS_ICON[top.status])


def _dimension_cards(ranked: list[ObjectiveResult]) -> None:
    """One metric card per scale dimension with its worst objective."""
    for column, dim in zip(st.columns(len(DIMENSIONS), border=True), DIMENSIONS, strict=True):
        worst = next((o for o in ranked if o.dimension == dim), None)
        with column:
            if worst is None:
                st.metric(dim, "—", "no objectives", delta_color="gray", delta_arrow="off")
                continue
            ttb = worst.time_to_breach_seconds
            value = "no data" if worst.status == "no_data" else format_time_to_breach(ttb)
            st.metric(
                dim,
                value,
                f"{_STATUS_LABEL[worst.status]} · {literal(worst.name)}",
                delta_color=_STATUS_COLOUR[worst.status],  # type: ignore[arg-type]
                delta_arrow="off",
                help=f"Time to breach of the worst objective in {dim}. {literal(worst.reason)}",
            )


def objectives_table(ranked: list[ObjectiveResult]) -> pl.DataFrame:
    """One row per objective in ranked order; no-data objectives have null SLI and budget, never 100%.
    The SLI column is a ratio: a guardrail's value (in currency) is on the cost page, not there."""
    windows = list(dict.fromkeys(w for o in ranked for w in o.burn_rates))
    rows: dict[str, list[object]] = {
        "objective": [o.name for o in ranked],
        "dimension": [o.dimension for o in ranked],
        "status": [_STATUS_LABEL[o.status] for o in ranked],
        "time to breach": [
            "no data" if o.status == "no_data" else format_time_to_breach(o.time_to_breach_seconds)
            for o in ranked
        ],
        "budget remaining": [_finite(o.budget_remaining, o.status) for o in ranked],
        "SLI": [None if o.is_guardrail else _finite(o.value, o.status) for o in ranked],
        "target": [_objective_text(o) for o in ranked],
        "window": [o.window for o in ranked],
    }
    for w in windows:
        rows[f"burn {w}"] = [_finite(o.burn_rates.get(w), o.status) for o in ranked]
    schema: dict[str, pl.DataType] = {k: pl.String() for k in ("objective", "dimension", "status")}
    schema |= {"time to breach": pl.String(), "window": pl.String(), "target": pl.String()}
    schema |= {k: pl.Float64() for k in rows if k not in schema}
    return pl.DataFrame(rows, schema=schema)


def _finite(value: float | None, status: Status) -> float | None:
    if status == "no_data" or value is None or not math.isfinite(value):
        return None
    return value


def _row_picked(event: object, names: list[str]) -> str | None:
    """The objective of a newly selected table row, once per selection (a choice in the select box
    afterwards is not overridden by a row that is still highlighted)."""
    rows = [int(r) for r in getattr(getattr(event, "selection", None), "rows", None) or []]
    previous = st.session_state.get("_picked_rows")
    st.session_state["_picked_rows"] = rows
    if rows and rows != previous and 0 <= rows[0] < len(names):
        return names[rows[0]]
    return None


def _at_in_url() -> int | None:
    """``?at=`` as Unix seconds when the page shows a past instant (links keep it), else None."""
    raw = st.query_params.get("at")
    return int(raw) if raw is not None and raw.isdigit() else None


def _objectives_section(ranked: list[ObjectiveResult]) -> str | None:
    """The ranked table; returns the selected objective (from ``?objective=``, else the nearest)."""
    st.subheader("Objectives, nearest to breaking first")
    at_s = _at_in_url()
    names = [o.name for o in ranked]
    frame = objectives_table(ranked).with_columns(
        pl.Series("open", ["./spend" if o.is_guardrail else objective_url(o.name, at_s) for o in ranked], pl.String)
    )
    burn_columns = {
        c: st.column_config.NumberColumn(
            c, format="%.2f×", width="small",
            help=f"Burn rate over {c[5:]}; 1× spends the budget exactly over the window",
        )
        for c in frame.columns
        if c.startswith("burn ")
    }
    event = st.dataframe(
        frame,
        hide_index=True,
        key="objectives_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "budget remaining": st.column_config.ProgressColumn(
                "budget remaining", format="percent", min_value=0.0, max_value=1.0, color="blue",
                help="Share of the error budget left in the window (empty when overspent or no data); "
                "one colour for all, so it never contradicts the status column",
            ),
            "objective": st.column_config.TextColumn("objective", pinned=True),
            "SLI": st.column_config.NumberColumn(
                "SLI", format="percent", help="Compliance over the window"
            ),
            "window": st.column_config.TextColumn("window", width="small"),
            "dimension": st.column_config.TextColumn("dimension", width="small"),
            **burn_columns,
            "open": st.column_config.LinkColumn(
                "open", display_text="open", help="The objective's own page (a guardrail's: the cost page)"
            ),
        },
    )
    if not names:
        return None
    picked = _row_picked(event, names)
    if picked is not None:
        st.query_params["objective"] = picked
    wanted = st.query_params.get("objective")
    index = names.index(wanted) if wanted in names else 0
    status_of = {o.name: o.status for o in ranked}
    selected = st.selectbox(
        "Objective to inspect",
        names,
        index=index,
        format_func=lambda n: f"{n} ({_STATUS_LABEL[status_of[n]]})",
    )
    if selected is not None and st.query_params.get("objective") != selected:
        st.query_params["objective"] = selected
    return selected


def _defines(spec: SLOSpec, name: str) -> bool:
    """Whether ``spec`` is the objective ``name``, or the grouped objective it is a member of."""
    return name == spec.name or (bool(spec.group_by) and name.startswith(spec.name + "{"))


def _objective_detail(
    shot: Snapshot, config_path: str, result: ObjectiveResult, at_s: int | None, whatif: StreamlitPage | None
) -> None:
    """The selected objective: reason, budget burn-down and burn rates against the alert thresholds,
    and a link to ask what if it were relaxed."""
    spec = next((s for s in shot.config.config.slos if _defines(s, result.name)), None)
    colour = _STATUS_COLOUR[result.status]
    st.subheader(f"{literal(result.name)} · :{colour}[{_STATUS_LABEL[result.status]}]")
    facts = (
        f"{result.kind}, dimension **{result.dimension}**, objective {_objective_text(result)} over "
        f"{result.window}; value {literal(result.value_text())}, budget left {_percent(result.budget_remaining)}, "
        f"time to breach {format_time_to_breach(result.time_to_breach_seconds)}."
    )
    st.markdown(f"{facts}  \n{literal(result.reason)}")
    if spec is not None and spec.description:
        st.caption(literal(spec.description))
    if spec is not None and spec.runbook_url:
        link = safe_link("Runbook", spec.runbook_url)
        st.markdown(link if link is not None else f"Runbook: {code(spec.runbook_url)}")
    if result.error:
        st.error(f"{literal(result.name)} could not be evaluated: {literal(result.error)}")
    if whatif is not None and not result.is_guardrail:
        st.page_link(
            whatif, label=f"What if we relaxed {literal(result.name)}?", icon=":material/tune:",
            query_params={"objective": result.name} | ({} if at_s is None else {"at": str(at_s)}),
        )
    left, right = st.columns(2)
    with left:
        frame = _burn_down(config_path, shot.at_ms, result.name)
        if frame.is_empty():
            st.info("No stored samples for this objective yet: no burn-down to draw.")
        else:
            st.altair_chart(burn_down_chart(frame, result.name), key="burn_down_chart")
    with right:
        st.altair_chart(burn_rate_chart(result.burn_rates, result.window_seconds), key="burn_rate_chart")
    showback = (result.details or {}).get("showback")
    if showback:
        st.markdown("**Showback** — who spends it")
        st.dataframe(pl.DataFrame(showback), hide_index=True, key="showback")


def _body(config_path: str, at_s: int | None, whatif: StreamlitPage | None) -> None:
    shot = snapshot_or_error(config_path, at_s)
    if shot is None:
        return
    live = "live, refreshes every 15 s" if at_s is None else "a past instant"
    st.caption(f"As of **{_utc(shot.at_ms)}** ({live}) · config {code(config_path)}")
    for problem in shot.store_problems:
        st.warning(f"Skipped while reading the store (the file is left in place): {literal(problem)}")
    ranked = rank_objectives(shot.report.objectives)
    _callout(ranked, Path(config_path), shot.newest_sample_ms, shot.config.data_dir)
    _dimension_cards(ranked)
    selected = _objectives_section(ranked)
    if selected is not None:
        result = next(o for o in ranked if o.name == selected)
        _objective_detail(shot, config_path, result, at_s, whatif)


@st.fragment(run_every=f"{TTL_S}s")
def _live_body(config_path: str, whatif: StreamlitPage | None) -> None:
    _body(config_path, None, whatif)


def render(config_path: Path | None, whatif: StreamlitPage | None = None) -> None:
    """The overview page for ``config_path`` (None: explain how to pass one); ``whatif`` is the
    what-if page the selected objective links to."""
    go_on, at_s = page_start("Redline · what breaks first?", config_path)
    if not go_on or config_path is None:
        return
    if at_s is None:
        _live_body(str(config_path), whatif)
    else:
        _body(str(config_path), at_s, whatif)
