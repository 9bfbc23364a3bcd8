"""``redline report --out FILE.html``: one self-contained page for the monthly review.

Per dimension: its objectives (target, SLI, budget used, status, a burn-down sparkline), the
incidents the agent recorded in the period, and the cost guardrails (spend against budget, cost
per 1k). Nothing is fetched when the page is opened: no scripts, no stylesheets, no images but
inline SVG, and every value from data or config goes through ``html.escape``.

The sparklines are a polyline of at most 60 points: drawn here as SVG rather than through a
plotting library, which would add a heavy dependency (and a browser or a renderer) for a line.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from typing import Final

import polars as pl

from redline.config import LoadedConfig
from redline.dashboard.alerts_view import incidents_table, read_alerts
from redline.dashboard.data import evaluate_report, format_time_to_breach, objective_history
from redline.kernel.money import format_money
from redline.slo.ranking import rank_objectives
from redline.slo.results import ObjectiveResult

__all__ = ["DIMENSIONS", "render_report", "sparkline_svg"]

DIMENSIONS: Final = ("users", "data", "model", "cost")
_STATUS_COLOUR: Final = {"breached": "#b71c1c", "warning": "#e65100", "ok": "#1b5e20"}
_STYLE: Final = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0 } .muted { color: #666 } table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; vertical-align: middle }
td.num { text-align: right; font-variant-numeric: tabular-nums } .status { font-weight: 600 }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}%}"


def sparkline_svg(values: list[float | None], *, width: int = 160, height: int = 32) -> str:
    """Budget remaining (1 = whole budget) as an inline SVG polyline, with a rule at 0."""
    points = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if len(points) < 2:
        return '<svg width="160" height="32" role="img" aria-label="no data"></svg>'
    low = min(0.0, *(v for _, v in points))
    high = max(1.0, *(v for _, v in points))
    last = max(len(values) - 1, 1)

    def y(v: float) -> float:
        return round(height - 2 - (v - low) / (high - low) * (height - 4), 1)

    line = " ".join(f"{round(i / last * (width - 2) + 1, 1)},{y(v)}" for i, v in points)
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="budget remaining over the window">'
        f'<line x1="0" x2="{width}" y1="{y(0.0)}" y2="{y(0.0)}" stroke="#d62728" stroke-width="1"/>'
        f'<polyline fill="none" stroke="#4c78a8" stroke-width="1.5" points="{line}"/></svg>'
    )


def _objectives(config: LoadedConfig, at_ms: int, objectives: list[ObjectiveResult]) -> str:
    rows = []
    for o in objectives:
        try:
            budget = objective_history(config, o.name, at_ms, points=30).get_column("budget_remaining").to_list()
        except KeyError:
            budget = []
        used = None if o.budget_remaining is None else 1 - o.budget_remaining
        colour = _STATUS_COLOUR.get(o.status, "#555")
        rows.append(
            f"<tr><td>{_e(o.name)}</td><td>{_e(o.target_text())} over {_e(o.window)}</td>"
            f'<td class="num">{_pct(o.sli, 3)}</td><td class="num">{_pct(used, 1)}</td>'
            f'<td class="status" style="color:{colour}">{_e(o.status.replace("_", " "))}</td>'
            f"<td>{_e(format_time_to_breach(o.time_to_breach_seconds))}</td><td>{sparkline_svg(budget)}</td></tr>"
        )
    head = (
        "<tr><th>objective</th><th>target</th><th>SLI</th><th>budget used</th><th>status</th>"
        "<th>time to breach</th><th>budget over the window</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _guardrails(guardrails: list[ObjectiveResult]) -> str:
    rows = []
    for g in guardrails:
        d = dict(g.details or {})
        cur = d.get("currency")
        if g.kind == "budget":
            figure = f"{format_money(d.get('spent'), cur)} of {format_money(d.get('limit'), cur)}"
            forecast = f"forecast {format_money(d.get('forecast'), cur)}"
        else:
            figure = f"{format_money(d.get('cost_per_1k'), cur)} per 1k (max {format_money(d.get('max'), cur)})"
            forecast = ""
        colour = _STATUS_COLOUR.get(g.status, "#555")
        rows.append(
            f"<tr><td>{_e(g.name)}</td><td>{_e(figure)}</td><td>{_e(forecast)}</td>"
            f'<td class="status" style="color:{colour}">{_e(g.status.replace("_", " "))}</td>'
            f"<td>{_e(g.reason)}</td></tr>"
        )
    head = "<tr><th>guardrail</th><th>spend</th><th></th><th>status</th><th>why</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _incidents(config: LoadedConfig, start_ms: int, names: set[str]) -> str:
    view = read_alerts(config.data_dir)
    if view is None:
        return '<p class="muted">No alert database: no incidents recorded.</p>'
    frames = [incidents_table(view, firing=True), incidents_table(view, firing=False)]
    found = pl.concat(frames).filter(
        pl.col("objective").is_in(sorted(names))
        & (pl.col("started").dt.epoch("ms") >= start_ms)
    )
    if found.is_empty():
        return '<p class="muted">No incidents in the period.</p>'
    def burn(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f}×"

    def when(value: datetime | None) -> str:
        return "" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"

    rows = "".join(
        f"<tr><td>{_e(r['objective'])}</td><td>{_e(r['tier'])}</td><td>{_e(r['state'])}</td>"
        f"<td>{when(r['started'])}</td><td>{when(r['resolved'])}</td>"
        f'<td class="num">{burn(r["burn 1h"])}</td></tr>'
        for r in found.to_dicts()
    )
    head = "<tr><th>objective</th><th>tier</th><th>state</th><th>started</th><th>resolved</th><th>burn 1h</th></tr>"
    return f"<table>{head}{rows}</table>"


def render_report(config: LoadedConfig, at_ms: int, *, period_s: float = 30 * 86400) -> str:
    """The report as one HTML document, at ``at_ms``, incidents from ``period_s`` before it."""
    report = evaluate_report(config, at_ms).report
    ranked = rank_objectives(report.objectives)
    at = datetime.fromtimestamp(at_ms / 1000, UTC)
    start_ms = at_ms - int(period_s * 1000)
    sections = []
    for dim in DIMENSIONS:
        members = [o for o in ranked if o.dimension == dim]
        if not members:
            continue
        slos = [o for o in members if not o.is_guardrail]
        guardrails = [o for o in members if o.is_guardrail]
        parts = [f"<h2>{_e(dim)}</h2>"]
        if slos:
            parts.append(_objectives(config, at_ms, slos))
            parts.append("<h3>Incidents</h3>" + _incidents(config, start_ms, {o.name.split("{")[0] for o in slos}))
        if guardrails:
            parts.append("<h3>Spend</h3>" + _guardrails(guardrails))
        sections.append("".join(parts))
    top = next((o for o in ranked if o.status != "no_data"), None)
    answer = (
        f"<p><b>What breaks first:</b> {_e(top.dimension)}: {_e(top.name)} — {_e(top.reason)}</p>" if top else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>Redline report {at:%Y-%m-%d}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Redline report</h1><p class=\"muted\">As of {at:%Y-%m-%d %H:%M} UTC · incidents since "
        f"{datetime.fromtimestamp(start_ms / 1000, UTC):%Y-%m-%d} · config {_e(config.path)}</p>"
        f"{answer}{''.join(sections)}</body></html>\n"
    )
