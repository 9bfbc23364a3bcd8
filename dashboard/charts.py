"""Altair charts for one objective: budget burn-down, burn rates against the alert thresholds, and
the what-if compliance curve.

Charts that need threshold lines are Altair layers (``st.line_chart`` cannot draw them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import altair as alt
import polars as pl

from redline.dashboard.palette import BLUE, GREY, ORANGE, RED
from redline.kernel.money import format_money
from redline.slo.tiers import default_tiers

__all__ = [
    "budget_chart",
    "burn_down_chart",
    "burn_rate_chart",
    "burn_thresholds",
    "compliance_curve_chart",
    "sli_chart",
    "spend_chart",
    "vega_lite_json",
]



_ALTAIR_VIEW_DEFAULT: Final = {"view": {"continuousWidth": 300, "continuousHeight": 300}}


def vega_lite_json(chart: Any) -> str:
    """``chart``'s Vega-Lite spec as JSON text, data inline, without Altair's default view size
    (Streamlit sizes the chart): what a page caches, since building and validating an Altair chart
    costs more than the rest of a rerun. ``st.vega_lite_chart(json.loads(...))`` draws it."""
    spec = chart.to_dict()
    if spec.get("config") == _ALTAIR_VIEW_DEFAULT:
        del spec["config"]
    return json.dumps(spec)


def burn_thresholds(window_seconds: float) -> list[tuple[float, str, str]]:
    """The multiwindow alert factors for an objective window: (factor, severity, label), pages first.

    For a 30-day window these are the SRE workbook's 14.4× and 6× (page), 3× and 1× (ticket);
    other windows take their period's tiers (``slo.tiers.default_tiers``), as the alerts do.
    """
    out: list[tuple[float, str, str]] = []
    for c in default_tiers(window_seconds):
        factor = round(c.factor(window_seconds), 4)
        out.append((factor, c.severity, f"{c.severity} {factor:g}× ({c.long_window} & {c.short_window})"))
    return out


_SEVERITY_COLOURS: Final = {"page": RED, "ticket": ORANGE}


def burn_rate_chart(burn_rates: Mapping[str, float | None], window_seconds: float) -> Any:
    """Bars of the burn rate per window, with rules at the page and ticket factors.

    For a 30-day objective the rules sit at 14.4× and 6× (page), 3× and 1× (ticket).
    Windows without data are shown as absent bars, not zero.
    """
    windows = list(burn_rates)
    bars = pl.DataFrame(
        {"window": windows, "burn_rate": [burn_rates[w] for w in windows]},
        schema={"window": pl.String, "burn_rate": pl.Float64},
    )
    thresholds = burn_thresholds(window_seconds)
    rules = [{"threshold": f, "severity": s, "label": label} for f, s, label in thresholds]
    colour = alt.Color(
        "severity:N",
        scale=alt.Scale(domain=list(_SEVERITY_COLOURS), range=list(_SEVERITY_COLOURS.values())),
        legend=alt.Legend(title="alert threshold", orient="top"),
    )
    bar_layer = (
        alt.Chart(bars)
        .mark_bar(color=BLUE)
        .encode(
            x=alt.X("window:N", sort=windows, title="window"),
            # symlog keeps 0 drawable and spreads 1×, 3×, 6× and 14.4× apart next to a 50× bar.
            y=alt.Y(
                "burn_rate:Q", title="burn rate (× budget pace)", scale=alt.Scale(type="symlog"),
                axis=alt.Axis(values=[0, 1, 3, 6, 10, 14.4, 30, 100, 300, 1000], format="~r"),
            ),
            tooltip=[alt.Tooltip("window:N"), alt.Tooltip("burn_rate:Q", format=".2f")],
        )
    )
    value_layer = (  # each bar's value on it, so no hover is needed to read it
        alt.Chart(bars.filter(pl.col("burn_rate").is_not_null()).with_columns(
            label=pl.col("burn_rate").map_elements(lambda v: f"{v:.3g}×", return_dtype=pl.String)
        ))
        .mark_text(dy=-6, fontSize=11, color=BLUE)
        .encode(x=alt.X("window:N", sort=windows), y="burn_rate:Q", text="label:N")
    )
    rule_data = alt.Data(values=rules)  # type: ignore[no-untyped-call]
    rule_layer = (
        alt.Chart(rule_data)
        .mark_rule(strokeDash=[6, 3], strokeWidth=1.5)
        .encode(y="threshold:Q", color=colour, tooltip=["label:N"])
    )
    text_layer = (
        alt.Chart(rule_data)
        .mark_text(align="right", dx=-4, dy=-5, fontSize=11, fontWeight="bold")
        .encode(y="threshold:Q", x=alt.value("width"), text="label:N", color=colour)
    )
    return alt.layer(bar_layer, value_layer, rule_layer, text_layer).properties(
        height=340, title="Burn rate per window"
    )


def burn_down_chart(frame: pl.DataFrame, objective: str) -> Any:
    """Budget remaining over time (``BURN_DOWN_SCHEMA`` rows), with a rule at 0 (budget spent)."""
    line = (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=18), interpolate="monotone")
        .encode(
            x=alt.X(
                "timestamp:T", title="time (UTC)", scale=alt.Scale(type="utc"),
                axis=alt.Axis(format="%b %d %H:%M", labelAngle=0),
            ),
            y=alt.Y("budget_remaining:Q", title="error budget remaining", axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("utcyearmonthdatehoursminutes(timestamp):T", title="time (UTC)"),
                alt.Tooltip("budget_remaining:Q", format=".1%"),
            ],
        )
    )
    zero_data = alt.Data(values=[{"y": 0.0}])  # type: ignore[no-untyped-call]
    zero = alt.Chart(zero_data).mark_rule(color=RED).encode(y="y:Q")
    return alt.layer(line, zero).properties(height=340, title=f"Error budget burn-down: {objective}")


def compliance_curve_chart(
    points: Sequence[tuple[float, float | None]], target: float, thresholds: Mapping[str, float]
) -> Any:
    """Compliance over the window against the latency threshold (one point per bucket bound), with
    a rule at the ``target`` ratio and one per named threshold (``{"current": 0.25, ...}``, seconds)."""
    curve = pl.DataFrame(
        {"threshold_ms": [t * 1000 for t, _ in points], "sli": [s for _, s in points]},
        schema={"threshold_ms": pl.Float64, "sli": pl.Float64},
    )
    x = alt.X("threshold_ms:Q", title="latency threshold (ms)", scale=alt.Scale(type="log"))
    line = (
        alt.Chart(curve)
        .mark_line(point=alt.OverlayMarkDef(size=30))
        .encode(
            x=x,
            y=alt.Y("sli:Q", title="compliance over the window", axis=alt.Axis(format="%"),
                    scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("threshold_ms:Q", title="threshold (ms)"), alt.Tooltip("sli:Q", format=".3%")],
        )
    )
    target_data = alt.Data(values=[{"y": target, "label": f"objective {target:.3%}"}])  # type: ignore[no-untyped-call]
    target_rule = alt.Chart(target_data).mark_rule(color=RED, strokeDash=[6, 3]).encode(
        y="y:Q", tooltip=["label:N"]
    )
    marks = [{"x": t * 1000, "which": f"{name} {t * 1000:g} ms"} for name, t in thresholds.items()]
    marks_data = alt.Data(values=marks)  # type: ignore[no-untyped-call]
    threshold_rules = alt.Chart(marks_data).mark_rule(strokeWidth=1.5).encode(
        x=alt.X("x:Q", scale=alt.Scale(type="log")),
        color=alt.Color("which:N", legend=alt.Legend(title="threshold", orient="top")),
        tooltip=["which:N"],
    )
    return alt.layer(line, target_rule, threshold_rules).properties(
        height=340, title="Compliance by latency threshold"
    )


def spend_chart(
    frame: pl.DataFrame, limit: float, forecast: tuple[int, float, int, float] | None, currency: str | None
) -> Any:
    """Spend so far this period (``SPEND_SCHEMA`` rows), a rule at the ``limit``, and the run-rate
    forecast as a dashed line from (now, spend) to (period end, forecast) in ms and currency."""
    x = alt.X(
        "timestamp:T", title="time (UTC)", scale=alt.Scale(type="utc"), axis=alt.Axis(format="%b %d", labelAngle=0)
    )
    y_title = f"spent this period ({currency})" if currency else "spent this period"
    legend = alt.Color(
        "series:N", title=None, legend=alt.Legend(orient="top"),
        scale=alt.Scale(domain=["spent", "run-rate forecast", "limit"], range=[BLUE, ORANGE, RED]),
    )
    actual = alt.Chart(frame.with_columns(series=pl.lit("spent"))).mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x=x, y=alt.Y("spend:Q", title=y_title), color=legend,
        tooltip=[alt.Tooltip("utcyearmonthdatehoursminutes(timestamp):T", title="time (UTC)"),
                 alt.Tooltip("spend:Q", title="spent", format=",.2f")],
    )
    layers = [actual]
    if forecast is not None:
        t0, v0, t1, v1 = forecast
        line = pl.DataFrame(
            {"timestamp": [t0, t1], "spend": [v0, v1], "series": ["run-rate forecast"] * 2}
        ).with_columns(pl.col("timestamp").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))
        layers.append(alt.Chart(line).mark_line(strokeDash=[6, 3]).encode(
            x=x, y="spend:Q", color=legend, tooltip=[alt.Tooltip("spend:Q", title="forecast", format=",.2f")],
        ))
    limit_label = f"limit {format_money(limit, currency)}"
    limit_data = alt.Data(values=[{"y": limit, "label": limit_label, "series": "limit"}])  # type: ignore[no-untyped-call]
    layers.append(alt.Chart(limit_data).mark_rule().encode(y="y:Q", color=legend, tooltip=["label:N"]))
    layers.append(
        alt.Chart(limit_data).mark_text(align="left", dx=4, dy=-6, color=RED, fontWeight="bold")
        .encode(y="y:Q", x=alt.value(0), text="label:N")
    )
    return alt.layer(*layers).properties(height=300, title="Spend this period, with the run-rate forecast")


def sli_chart(frame: pl.DataFrame, target: float, window: str) -> Any:
    """The SLI over the window (``OBJECTIVE_HISTORY_SCHEMA`` rows) against the ``target`` ratio,
    on an axis zoomed to where the line and the target are, the target rule labelled."""
    values = [v for v in frame.get_column("sli").to_list() if v is not None]
    low = min([*values, target])
    pad = max((1.0 - low) * 0.15, 1e-5)
    x = alt.X("timestamp:T", title="time (UTC)", scale=alt.Scale(type="utc"), axis=alt.Axis(labelAngle=0))
    line = (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=18), color=BLUE)
        .encode(
            x=x,
            y=alt.Y(
                "sli:Q", title=f"SLI over {window}", axis=alt.Axis(format=".3~%"),
                scale=alt.Scale(domain=[max(low - pad, 0.0), 1.0], clamp=True),
            ),
            tooltip=[
                alt.Tooltip("utcyearmonthdatehoursminutes(timestamp):T", title="time (UTC)"),
                alt.Tooltip("sli:Q", title="SLI", format=".4%"),
            ],
        )
    )
    label = f"target {target * 100:g}%"
    target_data = alt.Data(values=[{"y": target, "label": label}])  # type: ignore[no-untyped-call]
    rule = alt.Chart(target_data).mark_rule(color=RED, strokeDash=[6, 3]).encode(y="y:Q", tooltip=["label:N"])
    text = (
        alt.Chart(target_data)
        .mark_text(align="left", dx=4, dy=-6, color=RED, fontWeight="bold")
        .encode(y="y:Q", x=alt.value(0), text="label:N")
    )
    return alt.layer(line, rule, text).properties(height=300, title=f"SLI over {window} against the target")


def budget_chart(
    frame: pl.DataFrame, *, window_ms: int, at_ms: int, remaining: float | None, breach_in_s: float | None
) -> Any:
    """Budget remaining over time against the ideal line (the whole budget spent evenly over one
    window, from the first point) and the projection from now at the current burn, toward zero,
    drawn as far ahead as the chart reaches back (at least an hour); the legend names the lines."""
    rows: list[dict[str, Any]] = [
        {"timestamp": t, "budget": b, "line": "budget remaining"}
        for t, b in zip(
            frame.get_column("timestamp").dt.epoch("ms").to_list(), frame.get_column("budget_remaining").to_list(),
            strict=True,
        )
        if b is not None
    ]
    span_ms = 3_600_000
    if rows:
        start = rows[0]["timestamp"]
        span_ms = max(at_ms - start, span_ms)
        rows += [
            {"timestamp": start, "budget": 1.0, "line": "ideal (even spend)"},
            {"timestamp": at_ms, "budget": 1.0 - (at_ms - start) / window_ms, "line": "ideal (even spend)"},
        ]
    if remaining is not None and breach_in_s is not None and math.isfinite(breach_in_s) and remaining > 0:
        ahead_ms = min(breach_in_s * 1000, span_ms)
        end_budget = remaining * (1 - ahead_ms / (breach_in_s * 1000)) if breach_in_s > 0 else 0.0
        rows += [
            {"timestamp": at_ms, "budget": remaining, "line": "projection at the current burn"},
            {"timestamp": at_ms + int(ahead_ms), "budget": end_budget, "line": "projection at the current burn"},
        ]
    data = pl.DataFrame(rows, schema={"timestamp": pl.Int64, "budget": pl.Float64, "line": pl.String}).with_columns(
        pl.col("timestamp").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    )
    lines = ["budget remaining", "ideal (even spend)", "projection at the current burn"]
    chart = (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=14))
        .encode(
            x=alt.X("timestamp:T", title="time (UTC)", scale=alt.Scale(type="utc"), axis=alt.Axis(labelAngle=0)),
            y=alt.Y("budget:Q", title="error budget remaining", axis=alt.Axis(format="%")),
            color=alt.Color(
                "line:N", scale=alt.Scale(domain=lines, range=[BLUE, GREY, ORANGE]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            strokeDash=alt.StrokeDash(
                "line:N", scale=alt.Scale(domain=lines, range=[[1, 0], [4, 4], [6, 3]]), legend=None
            ),
            tooltip=[
                alt.Tooltip("line:N"),
                alt.Tooltip("utcyearmonthdatehoursminutes(timestamp):T", title="time (UTC)"),
                alt.Tooltip("budget:Q", format=".1%"),
            ],
        )
    )
    zero_data = alt.Data(values=[{"y": 0.0}])  # type: ignore[no-untyped-call]
    zero = alt.Chart(zero_data).mark_rule(color=RED).encode(y="y:Q")
    return alt.layer(chart, zero).properties(height=300, title="Error budget: burn-down, ideal and projection")
