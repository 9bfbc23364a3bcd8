"""One objective, the page for a notification to link to (``/objective?slo=<name>``): the SLI over its
window against the target, the budget burn-down against the ideal line with its projection, the
burn rate per window against each alert threshold, the spec (owner, runbook, description) and
the PromQL that expresses it; for a grouped objective, its members worst-first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl
import streamlit as st

from redline.config import LoadedConfig
from redline.dashboard.charts import budget_chart, burn_rate_chart, sli_chart
from redline.dashboard.data import format_time_to_breach, objective_history, objective_spec, rank_objectives
from redline.dashboard.palette import readable
from redline.dashboard.text import markdown, safe_link
from redline.dashboard.views.common import PAST_TTL_S, page_start, snapshot_or_error
from redline.slo.results import ObjectiveResult
from redline.slo.rules import prometheus_rules, skipped_objectives
from redline.slo.spec import SLOSpec

__all__ = ["URL_PATH", "objective_url", "render"]

URL_PATH: Final = "objective"
STATUS_WORD: Final = {"breached": "breached", "warning": "warning", "ok": "ok", "no_data": "no data"}
STATUS_COLOUR: Final = {"breached": "red", "warning": "orange", "ok": "green", "no_data": "gray"}
"""Streamlit's named colours, which it shades for the light and the dark theme; the status word is
always written beside the colour, so neither is needed to read the other."""
_HEADING: Final = {
    status: "{name} · :" + STATUS_COLOUR[status] + "[" + word + "]" for status, word in STATUS_WORD.items()
}


def objective_url(name: str, at_s: int | None = None) -> str:
    """The page's relative URL for objective ``name`` (what every row and notification links to)."""
    from urllib.parse import urlencode

    query = {"slo": name} | ({} if at_s is None else {"at": str(at_s)})
    return f"./{URL_PATH}?{urlencode(query)}"


@st.cache_data(ttl=PAST_TTL_S, max_entries=16, show_spinner="Replaying the window…")  # keyed on at_ms
def _history(config_path: str, name: str, at_ms: int) -> pl.DataFrame:
    from redline.config import load_config

    return objective_history(load_config(Path(config_path)), name, at_ms)


def _percent(value: float | None) -> str:
    return "no data" if value is None else f"{value:.3%}"


def _spec_section(spec: SLOSpec | None, result: ObjectiveResult) -> None:
    st.markdown(markdown(
        "**{kind}**, dimension **{dimension}**, objective {target} over {window}; SLI {sli}, budget left "
        "{budget}, time to breach **{breach}**.  \n{reason}",
        kind=result.kind, dimension=result.dimension, target=result.target_text(), window=result.window,
        sli=_percent(result.sli), budget=_percent(result.budget_remaining),
        breach=format_time_to_breach(result.time_to_breach_seconds), reason=result.reason,
    ))
    if spec is None:
        return
    owner = spec.labels.get("owner") or spec.labels.get("team")
    if owner:
        st.markdown(markdown("Owner: {owner}", owner=owner))
    if spec.description:
        st.caption(markdown("{description}", description=spec.description))
    if spec.runbook_url:
        link = safe_link("Runbook", spec.runbook_url)
        st.markdown(link if link is not None else markdown("Runbook: {url!c}", url=spec.runbook_url))


def _promql(spec: SLOSpec) -> None:
    """The recording rule of the SLI's error ratio, and the whole rule set in an expander."""
    skipped = skipped_objectives([spec])
    if skipped:
        st.caption(markdown("No PromQL for this objective: {why}", why=skipped[0]))
        return
    groups = prometheus_rules([spec])["groups"]
    first = groups[0]["rules"][0]
    st.markdown(markdown("**PromQL** ({record!c})", record=first.get("record", "")))
    st.code(first["expr"], language=None, wrap_lines=True)
    with st.expander("Every recording and alerting rule (`redline rules`)"):
        for group in groups:
            for rule in group["rules"]:
                st.code(f"{rule.get('record') or rule.get('alert')}:\n{rule['expr']}", language=None, wrap_lines=True)


def _members(members: list[ObjectiveResult], at_s: int | None) -> None:
    st.markdown(markdown("**Members, worst first** ({n})", n=len(members)))
    frame = pl.DataFrame(
        {
            "member": [m.name for m in members],
            "status": [STATUS_WORD[m.status] for m in members],
            "time to breach": [format_time_to_breach(m.time_to_breach_seconds) for m in members],
            "budget remaining": [m.budget_remaining for m in members],
            "SLI": [m.sli for m in members],
            "open": [objective_url(m.name, at_s) for m in members],
        },
        schema={"member": pl.String, "status": pl.String, "time to breach": pl.String,
                "budget remaining": pl.Float64, "SLI": pl.Float64, "open": pl.String},
    )
    st.dataframe(
        frame, hide_index=True, key="members",
        column_config={
            "budget remaining": st.column_config.NumberColumn("budget remaining", format="percent"),
            "SLI": st.column_config.NumberColumn("SLI", format="percent"),
            "open": st.column_config.LinkColumn("open", display_text="open"),
        },
    )


def _body(config_path: str, at_s: int | None) -> None:
    shot = snapshot_or_error(config_path, at_s)
    if shot is None:
        return
    ranked = [o for o in rank_objectives(shot.report.objectives) if not o.is_guardrail]
    if not ranked:
        st.info(markdown("No objectives are configured in {path!c} (`slos:` is empty).", path=config_path))
        return
    names = [o.name for o in ranked]
    groups = {s.name for s in shot.config.config.slos if s.group_by}
    choices = sorted(groups) + names
    wanted = st.query_params.get("slo") or names[0]
    if wanted not in choices:
        st.error(markdown("No objective named {name!c} in {path!c}.", name=wanted, path=config_path))
        wanted = names[0]
    picked = st.selectbox("Objective", choices, index=choices.index(wanted))
    if picked != st.query_params.get("slo"):
        st.query_params["slo"] = picked
    members = [o for o in ranked if o.name.startswith(picked + "{")] if picked in groups else []
    name = members[0].name if members else picked
    result = next((o for o in ranked if o.name == name), None)
    if result is None:
        st.info(markdown("{name} has no members in the stored data yet.", name=picked))
        return
    spec = _spec(shot.config, name)
    st.subheader(markdown(
        _HEADING[result.status] + (" (its worst member)" if members else ""), name=result.name
    ))
    left, right = st.columns(2)
    with left:
        _spec_section(spec, result)
    with right:
        if spec is not None:
            _promql(spec)
    history = _history(config_path, name, shot.at_ms)
    left, right = st.columns(2)
    if history.is_empty():
        st.info("No stored samples for this objective yet: no SLI or burn-down to draw.")
    else:
        target = spec.objective / 100 if spec is not None else 0.0
        with left:
            st.altair_chart(readable(sli_chart(history, target, result.window)), key="sli_chart")
        with right:
            st.altair_chart(
                readable(budget_chart(
                    history, window_ms=int(result.window_seconds * 1000), at_ms=shot.at_ms,
                    remaining=result.budget_remaining, breach_in_s=result.time_to_breach_seconds,
                )),
                key="budget_chart",
            )
    st.altair_chart(readable(burn_rate_chart(result.burn_rates, result.window_seconds)), key="burn_rate_chart")
    if members:
        _members(members, at_s)


def _spec(config: LoadedConfig, name: str) -> SLOSpec | None:
    try:
        return objective_spec(config, name)
    except KeyError:
        return None


def render(config_path: Path | None) -> None:
    """The objective page for ``config_path`` (None: explain how to pass one)."""
    go_on, at_s = page_start("Redline · one objective", config_path)
    if not go_on or config_path is None:
        return
    _body(str(config_path), at_s)
