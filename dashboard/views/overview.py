"""Overview page: what breaks first — data, users, model or cost?

Shareable state lives in the URL, written back when it changes: ``?at=`` (the CLI's time
grammar; absent means live, now), ``?objective=`` (the objective whose burn-down is shown) and
the filters ``?service=``, ``?team=``, ``?dimension=``, ``?status=`` (``redline.dashboard.filters``).
Live, the page paints from the agent's last evaluation when it can (``views.common.snapshot``).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import polars as pl
import streamlit as st
from streamlit.navigation.page import StreamlitPage

from redline.config import LoadedConfig
from redline.dashboard.charts import burn_down_chart, burn_rate_chart, vega_lite_json
from redline.dashboard.data import burn_down, format_time_to_breach, rank_objectives
from redline.dashboard.filters import FILTERS, Facets, facet, facets_of, matches, options, wanted_from_query
from redline.dashboard.text import literal, markdown, safe_link
from redline.dashboard.views.common import (
    PAST_TTL_S,
    TTL_S,
    Snapshot,
    loaded_config,
    page_start,
    provenance,
    snapshot_or_error,
)
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
_STATUS_BADGE: Final = {status: f":{colour}[{_STATUS_LABEL[status]}]" for status, colour in _STATUS_COLOUR.items()}
"""Each status as a coloured word: the colour never stands alone."""


# Charts are cached as their Vega-Lite JSON: a rerun (a filter changed) neither reads the store
# nor builds an Altair chart again.
@st.cache_resource(ttl=PAST_TTL_S, max_entries=64, show_spinner="Computing burn-down…")  # keyed on at_ms
def _burn_down_spec(config_path: str, at_ms: int, name: str) -> str | None:
    """The burn-down chart of objective ``name`` at ``at_ms``; None when nothing is stored for it."""
    frame = burn_down(loaded_config(config_path), name, at_ms)
    return None if frame.is_empty() else vega_lite_json(burn_down_chart(frame, name))


@st.cache_resource(ttl=PAST_TTL_S, max_entries=256, show_spinner=False)
def _burn_rate_spec(rates: tuple[tuple[str, float | None], ...], window_seconds: float) -> str:
    return vega_lite_json(burn_rate_chart(dict(rates), window_seconds))


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
    """The answer to the page's question, coloured by status (and said in words), above everything else."""
    if not ranked:
        st.info(markdown("No objectives are configured in {path!c} (`slos:` is empty).", path=config_path))
        return
    top = ranked[0]
    if top.status == "no_data":
        if data_dir is not None and not data_dir.is_dir():
            hint = markdown(
                "The data directory {path!c} does not exist: start the agent with this config "
                "(`redline run --config …`), or point `agent.data_dir` at the agent's.",
                path=data_dir,
            )
        elif newest_sample_ms is None:
            hint = "The store holds no samples yet: is the agent running and writing to the data folder?"
        else:
            hint = markdown(
                "The newest stored sample is from {when}: for older history, pick that time under *As of* ({query!c}).",
                when=_utc(newest_sample_ms), query=f"?at={newest_sample_ms // 1000}",
            )
        st.info(
            "**No data yet** for any objective, so nothing can be ranked. " + hint, icon=_STATUS_ICON["no_data"]
        )
        return
    what = markdown(
        "**{name}** ({target} over {window})", name=top.name, target=_objective_text(top), window=top.window
    )
    ttb = top.time_to_breach_seconds
    if top.status == "breached" or (ttb is not None and ttb <= 0):
        text = markdown("**{dim}** has already broken: ", dim=top.dimension) + what + " has spent its error budget."
    elif ttb is None:
        text = (
            markdown("**{dim}** is nearest to breaking: ", dim=top.dimension) + what
            + markdown(" has the least budget left ({left}), but is not burning it now.",
                       left=_percent(top.budget_remaining))
        )
    else:
        text = (
            markdown("**{dim}** is nearest to breaking: ", dim=top.dimension) + what
            + markdown(" breaches in **{ttb}** at the current burn.", ttb=format_time_to_breach(ttb))
        )
    text = "What breaks first? " + text + markdown("  \n{reason}", reason=top.reason)
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
                markdown("{status} · {name}", status=_STATUS_LABEL[worst.status], name=worst.name),
                delta_color=_STATUS_COLOUR[worst.status],  # type: ignore[arg-type]
                delta_arrow="off",
                help=markdown("Time to breach of the worst objective in {dim}. {reason}", dim=dim, reason=worst.reason),
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


@st.cache_resource(max_entries=8, show_spinner=False)
def _facets(config_path: str, _config: LoadedConfig, stamp: tuple[int, int] | None) -> dict[str, Facets]:
    """Each objective's service and team, once per version of the config (``stamp``)."""
    return facets_of(_config)


def _filter_controls(ranked: list[ObjectiveResult], facets: dict[str, Facets]) -> dict[str, tuple[str, ...]]:
    """The service/team/dimension/status filters: read from the URL, written back to it when changed
    (a link reproduces the view), unknown values named and dropped. Returns the values chosen."""
    wanted = wanted_from_query({name: st.query_params.get_all(name) for name in FILTERS})
    chosen: dict[str, tuple[str, ...]] = {}
    for column, name in zip(st.columns(len(FILTERS)), FILTERS, strict=True):
        values = options(ranked, facets, name)
        from_url = [v for v in wanted[name] if v in values]
        unknown = [v for v in wanted[name] if v not in values]
        key, shadow = f"filter_{name}", f"_filter_{name}_in_url"
        if st.session_state.get(shadow) != from_url:  # the URL changed (a link, back): it wins
            st.session_state[key] = from_url
            st.session_state[shadow] = from_url
        with column:
            picked = st.multiselect(
                name, values, key=key, placeholder=f"any {name}", disabled=not values,
                format_func=(lambda v: _STATUS_LABEL.get(v, v)) if name == "status" else str,
            )
            if unknown:
                st.caption(markdown("Ignored (no such {name} here): {values}", name=name, values=", ".join(unknown)))
        if picked != from_url or unknown:
            if picked:
                st.query_params[name] = picked
            elif name in st.query_params:
                del st.query_params[name]
            st.session_state[shadow] = list(picked)
        chosen[name] = tuple(picked)
    return chosen


def _objectives_section(ranked: list[ObjectiveResult], facets: dict[str, Facets], at_s: int | None) -> str | None:
    """The filters and the ranked table of the objectives that pass them; returns the objective to
    inspect (from ``?objective=``, else the nearest of all: filtering never changes it, so a filter
    change needs nothing from the store)."""
    st.subheader("Objectives, nearest to breaking first")
    chosen = _filter_controls(ranked, facets)
    shown = [o for o in ranked if matches(o, facets, chosen)]
    if len(shown) != len(ranked):
        st.caption(markdown("{shown} of {total} objectives pass the filters.", shown=len(shown), total=len(ranked)))
    return _inspected(ranked, _table(shown, facets, at_s))


def _facet_columns(frame: pl.DataFrame, shown: list[ObjectiveResult], facets: dict[str, Facets]) -> pl.DataFrame:
    """``frame`` with ``service`` and ``team`` after the objective, each only when some objective has one."""
    at = 1
    for name in ("service", "team"):
        values = [getattr(facet(o, facets), name) or None for o in shown]
        if any(values):
            frame = frame.insert_column(at, pl.Series(name, values, pl.String))
            at += 1
    return frame


def _table(shown: list[ObjectiveResult], facets: dict[str, Facets], at_s: int | None) -> str | None:
    """One dataframe for every objective shown (1,000 rows are one element, not 1,000), its columns
    configured with their units in the headers so that it fits the page. Returns the objective of
    a newly picked row. Each row links to its page at the instant shown (``at_s``, None: live)."""
    frame = _facet_columns(objectives_table(shown), shown, facets).with_columns(
        pl.Series("open", ["./spend" if o.is_guardrail else objective_url(o.name, at_s) for o in shown], pl.String)
    )
    burn_columns = {
        c: st.column_config.NumberColumn(
            f"{c} (×)", format="%.2f", width="small",
            help=markdown("Burn rate over {window}; 1× spends the budget exactly over the window", window=c[5:]),
        )
        for c in frame.columns
        if c.startswith("burn ")
    }
    small = {c: st.column_config.TextColumn(c, width="small") for c in ("window", "dimension", "service", "team")}
    event = st.dataframe(
        frame,
        hide_index=True,
        key="objectives_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            **small,
            "objective": st.column_config.TextColumn("objective", pinned=True),
            "status": st.column_config.TextColumn("status", width="small"),
            "time to breach": st.column_config.TextColumn(
                "time to breach (d h m)", width="small", help="At the current burn; now when breached"
            ),
            "budget remaining": st.column_config.ProgressColumn(
                "budget left (%)", format="percent", min_value=0.0, max_value=1.0, color="blue", width="small",
                help="Share of the error budget left in the window (empty when overspent or no data); "
                "one colour for all, so it never contradicts the status column",
            ),
            "SLI": st.column_config.NumberColumn(
                "SLI (%)", format="percent", width="small", help="Compliance over the window"
            ),
            "target": st.column_config.TextColumn("target", width="small"),
            **burn_columns,
            "open": st.column_config.LinkColumn(
                "page", display_text="open", width="small",
                help="The objective's own page (a guardrail's: the cost page)",
            ),
        },
    )
    return _row_picked(event, [o.name for o in shown])


def _inspected(ranked: list[ObjectiveResult], picked: str | None) -> str | None:
    """The objective to inspect: a row just picked, else ``?objective=``, else the nearest; chosen
    in a select box and written back to ``?objective=``."""
    names = [o.name for o in ranked]
    if not names:
        return None
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
    st.subheader(markdown("{name} · ", name=result.name) + _STATUS_BADGE[result.status])
    st.markdown(markdown(
        "{kind}, dimension **{dim}**, objective {target} over {window}; value {value}, budget left {left}, "
        "time to breach {ttb}.  \n{reason}",
        kind=result.kind, dim=result.dimension, target=_objective_text(result), window=result.window,
        value=result.value_text(), left=_percent(result.budget_remaining),
        ttb=format_time_to_breach(result.time_to_breach_seconds), reason=result.reason,
    ))
    if spec is not None and spec.description:
        st.caption(literal(spec.description))
    if spec is not None and spec.runbook_url:
        link = safe_link("Runbook", spec.runbook_url)
        st.markdown(link if link is not None else markdown("Runbook: {url!c}", url=spec.runbook_url))
    if result.error:
        st.error(markdown("{name} could not be evaluated: {error}", name=result.name, error=result.error))
    if whatif is not None and not result.is_guardrail:
        st.page_link(
            whatif, label=markdown("What if we relaxed {name}?", name=result.name), icon=":material/tune:",
            query_params={"objective": result.name} | ({} if at_s is None else {"at": str(at_s)}),
        )
    left, right = st.columns(2)
    with left:
        burn_down_spec = _burn_down_spec(config_path, shot.at_ms, result.name)
        if burn_down_spec is None:
            st.info("No stored samples for this objective yet: no burn-down to draw.")
        else:
            st.vega_lite_chart(spec=json.loads(burn_down_spec), key="burn_down_chart")
    with right:
        rates = tuple(result.burn_rates.items())
        st.vega_lite_chart(spec=json.loads(_burn_rate_spec(rates, result.window_seconds)), key="burn_rate_chart")
    showback = (result.details or {}).get("showback")
    if showback:
        st.markdown("**Showback** — who spends it")
        st.dataframe(pl.DataFrame(showback), hide_index=True, key="showback")


def _body(config_path: str, at_s: int | None, whatif: StreamlitPage | None) -> None:
    shot = snapshot_or_error(config_path, at_s)
    if shot is None:
        return
    live = "live, refreshes every 15 s" if at_s is None else "a past instant"
    st.caption(markdown(
        "As of **{when}** ({live}) · config {path!c}", when=_utc(shot.at_ms), live=live, path=config_path
    ))
    provenance(shot)
    for problem in shot.store_problems:
        st.warning(markdown("Skipped while reading the store (the file is left in place): {problem}", problem=problem))
    ranked = rank_objectives(shot.report.objectives)
    _callout(ranked, Path(config_path), shot.newest_sample_ms, shot.config.data_dir)
    _dimension_cards(ranked)
    selected = _objectives_section(ranked, _facets(config_path, shot.config, shot.config_stamp), at_s)
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
