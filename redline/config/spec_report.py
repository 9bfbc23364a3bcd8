"""What ``redline check`` says it understood from each spec file: per objective its SLI kind,
target, window and whether it pages and tickets; then the notes (what was read but not applied,
with the reason), each at its line."""

from __future__ import annotations

from collections.abc import Sequence

from redline.config.spec_files import FileReport
from redline.kernel.units import format_duration
from redline.slo.calendar import EPOCH_START
from redline.slo.spec import SLOSpec

__all__ = ["describe_objective", "render_spec_reports"]


def _percent(value: float) -> str:
    return f"{value:.10g}%"


def _window(spec: SLOSpec) -> str:
    if spec.calendar is not None:
        week = f" from {spec.calendar.week_start}" if spec.calendar.period == "week" else ""
        if spec.calendar.length_seconds is not None:
            week = f" from {spec.calendar.start or EPOCH_START}"
        return f"calendar {spec.calendar.period}{week} ({spec.calendar.timezone})"
    return f"{format_duration(spec.window)} rolling"


def _alerts(spec: SLOSpec) -> str:
    a = spec.alerting

    def on(role: str) -> bool:
        tiers = a.tiers
        has_tier = tiers is None or any(t.severity == role and not t.disable for t in tiers)
        return has_tier and not getattr(a, role).disable

    roles = [f"{role} {'on' if on(role) else 'off'}" for role in ("page", "ticket")]
    extra = f", {len(a.tiers)} custom tier{'' if len(a.tiers) == 1 else 's'}" if a.tiers is not None else ""
    named = f" as {a.name}" if a.name else ""
    return f"alerts{named}: {', '.join(roles)}{extra}"


def describe_objective(spec: SLOSpec) -> str:
    """``name: availability (query on prom), 99.9% over 30d rolling; alerts: page on, ticket off``."""
    kind = spec.kind + (f" (query on {spec.sli.query.source})" if spec.sli.query is not None else "")
    return f"{spec.name}: {kind}, {_percent(spec.objective)} over {_window(spec)}; {_alerts(spec)}"


def render_spec_reports(reports: Sequence[FileReport]) -> list[str]:
    """The lines ``redline check`` prints for the spec files: a header per file, then its
    objectives and notes, indented."""
    lines: list[str] = []
    for report in reports:
        count = len(report.objectives)
        formats = ", ".join(report.formats) or "no objects"
        lines.append(f"{report.path} ({formats}): {count} objective{'' if count == 1 else 's'}")
        lines += [f"  {describe_objective(spec)}" for spec in report.objectives]
        lines += [f"  note: {note}" for note in report.notes]
    return lines
