"""What-if page: what if we relaxed this target?

For one objective: compliance, budget remaining, time to breach and status as configured and
under another objective (percent) and, for latency, another threshold — over the same stored
history (``slo.whatif``); the compliance curve at every bucket bound with the tightest bound
that still meets the objective; and whether the last 30 days would have paged or ticketed under
each (the alert policy replayed every 5 minutes, ``slo.backtest.compare``).

Shareable state lives in the URL: ``?objective=`` (name), ``?target=`` (percent),
``?threshold=`` (``300ms``, ``0.3s``, or milliseconds) and ``?at=`` (the CLI's times; absent: now), as on the
overview. Without ``?target=``/``?threshold=`` it opens on one step looser than configured.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Final

import polars as pl
import streamlit as st

from redline.config import load_config
from redline.dashboard.charts import compliance_curve_chart
from redline.dashboard.data import format_time_to_breach, objective_spec, what_if_and_history
from redline.dashboard.palette import readable
from redline.dashboard.text import markdown
from redline.dashboard.views.common import TTL_S, page_start, snapshot
from redline.kernel.errors import ConfigError, StoreError
from redline.kernel.units import parse_duration
from redline.slo.backtest import BacktestComparison, BacktestReport
from redline.slo.results import ObjectiveResult
from redline.slo.spec import SLOSpec
from redline.slo.whatif import WhatIfResult

__all__ = ["history_table", "render", "tightest_threshold"]

HISTORY_DAYS: Final = 30.0
HISTORY_STEP_S: Final = 300.0


def _at_ms(at_s: int | None) -> int:
    return (int(time.time()) if at_s is None else at_s) * 1000


# Cached on ``at_s`` (None: now), as the overview is, so a live page reruns it once per TTL.
@st.cache_data(ttl=TTL_S, max_entries=32, show_spinner="Evaluating the alternative and replaying the last 30 days…")
def _what_if(
    config_path: str, name: str, at_s: int | None, threshold_s: float | None, target: float
) -> tuple[WhatIfResult, BacktestComparison]:
    return what_if_and_history(
        load_config(Path(config_path)), name, _at_ms(at_s), threshold_s=threshold_s, objective=target,
        days=HISTORY_DAYS, step_s=HISTORY_STEP_S,
    )


def _nearest(config_path: str, at_s: int | None, names: list[str]) -> str | None:
    """The objective nearest to breaking (the overview's evaluation, cached), when none is asked for."""
    try:
        ranked = snapshot(config_path, at_s).report.objectives
    except (ConfigError, StoreError):
        return None
    return next((o.name for o in ranked if not o.is_guardrail and o.name.split("{")[0] in names), None)


TARGET_LADDER: Final = (99.999, 99.99, 99.95, 99.9, 99.5, 99.0, 98.0, 95.0, 90.0, 80.0, 50.0)
"""Targets people choose, strictest first: one step looser is the next one down."""


def one_step_looser(objective: float) -> float:
    """The next target down the ladder (99.9 → 99.5); below the ladder, half the objective."""
    return next((t for t in TARGET_LADDER if t < objective - 1e-9), objective / 2)


def _query_threshold() -> float | None:
    """``?threshold=`` as the CLI reads ``--threshold`` (``300ms``, ``0.3s``); a bare number is
    milliseconds, as the page shows it. A value that is neither is named and ignored."""
    raw = st.query_params.get("threshold")
    if raw is None:
        return None
    try:
        value = float(raw) / 1000
    except ValueError:
        try:
            value = parse_duration(raw)
        except ValueError:
            value = math.nan
    if not (math.isfinite(value) and value > 0):
        given = f"?threshold={raw!r}"
        st.warning(markdown("{given!c} is not a duration such as 300ms; using the default.", given=given))
        return None
    return value


def _query_target() -> float | None:
    """``?target=`` as a percentage as written (``99.5`` or ``99.5%``), strictly between 0 and 100."""
    raw = st.query_params.get("target")
    if raw is None:
        return None
    try:
        value = float(raw.strip().removesuffix("%"))
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value < 100):
        st.warning(markdown("{given!c} is not a percentage between 0 and 100; using the default.",
                            given=f"?target={raw!r}"))
        return None
    return value


def direction(spec: SLOSpec, target: float, threshold_s: float | None) -> str:
    """How the alternative compares with the objective as configured: ``looser``, ``stricter``,
    ``looser target, stricter threshold`` (and the reverse), or ``as configured``."""
    moves = []
    if not math.isclose(target, spec.objective):
        moves.append(("target", "looser" if target < spec.objective else "stricter"))
    current = spec.sli.latency.threshold if spec.sli.latency is not None else None
    if threshold_s is not None and current is not None and not math.isclose(threshold_s, current):
        moves.append(("threshold", "looser" if threshold_s > current else "stricter"))
    kinds = {m for _, m in moves}
    if not moves:
        return "as configured"
    if len(kinds) == 1:
        return kinds.pop()
    return ", ".join(f"{m} {what}" for what, m in moves)


def tightest_threshold(result: WhatIfResult, target: float) -> tuple[float, float] | None:
    """The smallest bucket bound whose compliance meets ``target`` (a ratio): (seconds, compliance)."""
    return next(((p.threshold_s, p.sli) for p in result.curve if p.sli is not None and p.sli >= target), None)


def history_table(history: BacktestComparison) -> pl.DataFrame:
    """Pages, tickets and the first page's detection delay, as configured and as altered."""
    def row(label: str, report: BacktestReport) -> dict[str, object]:
        (summary,) = report.summary
        pages = [e for e in report.episodes if e.severity == "page"]
        delay = pages[0].detection_delay_s if pages else None
        return {
            "settings": label, "pages": summary.pages, "tickets": summary.tickets, "status": summary.status,
            "first page detected after": format_time_to_breach(delay) if delay is not None else "—",
        }

    return pl.DataFrame([row(history.labels[0], history.a), row(history.labels[1], history.b)])


def _percent(value: float | None, digits: int = 2) -> str:
    return "no data" if value is None or not math.isfinite(value) else f"{value:.{digits}%}"


def _column(title: str, o: ObjectiveResult, base: ObjectiveResult | None) -> None:
    st.markdown(markdown("**{title}** — objective {target} over {window}", title=title, target=o.target_text(),
                         window=o.window))
    delta = None
    if base is not None and o.budget_remaining is not None and base.budget_remaining is not None:
        delta = f"{(o.budget_remaining - base.budget_remaining) * 100:+.1f} pts"
    st.metric("budget remaining", _percent(o.budget_remaining, 1), delta)
    st.metric("compliance (SLI)", _percent(o.value, 3))
    ttb = "no data" if o.status == "no_data" else format_time_to_breach(o.time_to_breach_seconds)
    st.metric("time to breach", ttb, o.status, delta_color="off", delta_arrow="off")
    st.caption(markdown("{reason}", reason=o.reason))


def _controls(spec: SLOSpec) -> tuple[float, float | None]:
    """The alternative target (percent) and threshold (seconds, latency only), kept in the URL;
    without them, one step looser than configured (99.9 → 99.5, 250 ms → 500 ms)."""
    left, right = st.columns(2)
    target = left.number_input(
        "Objective (%)", min_value=0.001, max_value=99.999, value=_query_target() or one_step_looser(spec.objective),
        step=0.1, format="%.3f",
    )
    threshold_s = None
    if spec.sli.latency is not None:
        shown = (_query_threshold() or spec.sli.latency.threshold * 2) * 1000
        threshold_s = right.number_input(
            "Latency threshold (ms)", min_value=0.001, value=shown, step=10.0, format="%g",
            help="A threshold between bucket bounds is interpolated inside its bucket (marked approximate)",
        ) / 1000
    wanted = {"target": f"{target:g}"} | ({"threshold": f"{threshold_s * 1000:g}ms"} if threshold_s is not None else {})
    for key, value in wanted.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value
    return target, threshold_s


def _body(config_path: str, at_s: int | None) -> None:
    try:
        config = load_config(Path(config_path))
    except ConfigError as exc:
        st.error(markdown("The config cannot be used: {error}", error=exc))
        return
    names = [s.name for s in config.config.slos]
    if not names:
        st.info(markdown("No objectives are configured in {path!c} (`slos:` is empty).", path=config_path))
        return
    wanted = st.query_params.get("objective") or _nearest(config_path, at_s, names)
    choices = names if wanted is None or wanted in names else [wanted, *names]  # a grouped member by URL
    name = st.selectbox("Objective", choices, index=choices.index(wanted) if wanted in choices else 0)
    if name is None:
        return
    if st.query_params.get("objective") != name:
        st.query_params["objective"] = name
    try:
        spec = objective_spec(config, name)
    except KeyError:
        st.error(markdown("No objective named {name!c} in {path!c}.", name=name, path=config_path))
        return
    target, threshold_s = _controls(spec)
    try:
        result, history = _what_if(config_path, name, at_s, threshold_s, target)
    except (ValueError, StoreError) as exc:
        st.error(markdown("What-if for {name}: {error}", name=name, error=exc))
        return
    current, alternative = st.columns(2, border=True)
    with current:
        _column("As configured", result.current, None)
    with alternative:
        _column(f"Alternative ({direction(spec, target, threshold_s)})", result.alternative, result.current)
        if result.approximate:
            st.caption("Approximate: the threshold lies between bucket bounds and is interpolated inside its bucket.")
    bounds = [p.threshold_s for p in result.curve]
    if result.curve and spec.sli.latency is not None:
        thresholds = {"current": spec.sli.latency.threshold}
        if threshold_s is not None:
            thresholds["alternative"] = threshold_s
        st.altair_chart(
            readable(compliance_curve_chart([(p.threshold_s, p.sli) for p in result.curve], target / 100, thresholds)),
            key="compliance_curve",
        )
        tightest = tightest_threshold(result, target / 100)
        if tightest is None:
            st.markdown(markdown("No bucket bound meets **{target:g}%** over the {window} window.", target=target,
                                 window=result.current.window))
        else:
            st.markdown(markdown(
                "The tightest bucket bound that meets **{target:g}%** over the window is **{bound:g} ms** "
                "(compliance {sli:.3%}).", target=target, bound=tightest[0] * 1000, sli=tightest[1],
            ))
    st.subheader(markdown("Would the last {days:g} days have paged?", days=HISTORY_DAYS))
    st.dataframe(history_table(history), hide_index=True, key="history")
    if threshold_s is not None and bounds and not any(math.isclose(threshold_s, b) for b in bounds):
        st.info(markdown(
            "The replay counts requests by bucket, so an alternative threshold of {threshold:g} ms (between "
            "bounds) has no history of its own: pick a bucket bound ({bounds} ms) to replay it.",
            threshold=threshold_s * 1000, bounds=", ".join(f"{b * 1000:g}" for b in bounds),
        ))
    st.caption(markdown(
        "The alert policy replayed every {minutes:g} minutes over the stored history "
        "(`redline backtest --compare-objective` does the same from the command line).",
        minutes=HISTORY_STEP_S / 60,
    ))


def render(config_path: Path | None) -> None:
    """The what-if page for ``config_path`` (None: explain how to pass one)."""
    go_on, at_s = page_start("Redline · what if we relaxed this target?", config_path)
    if not go_on:
        return
    _body(str(config_path), at_s)
