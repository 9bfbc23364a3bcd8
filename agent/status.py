"""``redline status``: evaluate every objective at one instant from the store, and print it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redline.agent.group_overflow import expand_and_report, overflow_json
from redline.agent.store_verify import store_corrupt_files, store_status_lines
from redline.checkpoints.resume import resume
from redline.config import LoadedConfig
from redline.slo.groups import GroupOverflow
from redline.slo.ranking import format_age
from redline.slo.results import StatusReport
from redline.slo.spec import SLOSpec
from redline.store.embedded import SampleStore
from redline.store.quarantine import CorruptFile

__all__ = ["StatusWithStore", "compute_status", "render_json", "render_text"]


@dataclass(frozen=True)
class StatusWithStore(StatusReport):
    """The report plus the store's damaged files: ``status --json`` gains a ``store`` object,
    ``{"corrupt_files": [{path, kind, start, end, reason, quarantined_to, ...}]}``."""

    corrupt_files: tuple[CorruptFile, ...] = ()
    group_overflows: tuple[GroupOverflow, ...] = ()
    """Grouped objectives capped at ``max_groups`` (``group_overflows`` in ``--json``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "store": {"corrupt_files": [c.to_json() for c in self.corrupt_files]},
            "group_overflows": [overflow_json(o) for o in self.group_overflows],
        }


def compute_status(loaded: LoadedConfig, at_s: float) -> StatusReport:
    """Read what the objectives need from the store and evaluate at ``at_s``: the agent's
    checkpoint plus the samples since, or every sample of the window when it does not fit
    (``redline.checkpoints.resume``). Read-only: a damaged file is skipped and listed (with what
    is already in quarantine), never moved; the checkpoint is never written here."""
    cfg = loaded.config
    store = SampleStore(loaded.data_dir, retention_seconds=cfg.agent.retention, quarantine=False)
    slos: list[SLOSpec] = list(cfg.slos)
    overflows: list[GroupOverflow] = []
    if any(s.group_by for s in cfg.slos):
        slos, overflows = expand_and_report(cfg.slos, store.series())
    at_ms = int(at_s * 1000)
    report = resume(store, slos, cfg.guardrails, at_ms).evaluator.evaluate(at_ms)
    return StatusWithStore(
        report.at, report.dimensions, report.objectives, tuple(store_corrupt_files(store)), tuple(overflows)
    )


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return "now" if seconds <= 0 else format_age(seconds)


def _pct(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def render_json(report: StatusReport) -> str:
    """The ``status --json`` document (see the README contract)."""
    return json.dumps(report.to_json(), indent=2)


def render_text(report: StatusReport, dimension: str | None = None) -> str:
    """A plain table: dimensions, then objectives, nearest to breaking first. Each objective's
    ``target`` and ``value`` are in its unit (a ratio as a percentage, a guardrail's in currency)
    and ``used`` is ``budget_used_ratio``: the same figures as ``--json`` and ``/metrics``."""
    at = datetime.fromtimestamp(report.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"Redline status at {at}", "", "What breaks first:"]
    for d in report.dimensions:
        if dimension and d.name != dimension:
            continue
        lines.append(
            f"  {d.name:<6} {d.status:<9} {_human(d.time_to_breach_seconds):>9}  {d.reason}"
        )
    width = max([28, *(len(o.name) for o in report.objectives)])
    lines += ["", f"  {'objective':<{width}} {'dim':<6} {'target':>8} {'value':>9} {'used':>7} "
              f"{'burn 1h':>8} {'breach in':>9}  status"]
    for o in report.objectives:
        if dimension and o.dimension != dimension:
            continue
        burn = o.burn_rates.get("1h")
        lines.append(
            f"  {o.name:<{width}} {o.dimension:<6} {o.target_text():>8} {o.value_text():>9} "
            f"{_pct(o.budget_used_ratio, 1):>7} {('-' if burn is None else f'{burn:.2f}x'):>8} "
            f"{_human(o.time_to_breach_seconds):>9}  {o.status}"
        )
    if isinstance(report, StatusWithStore):
        lines += store_status_lines(list(report.corrupt_files))
        if report.group_overflows:
            lines += ["", "Grouped objectives over max_groups (members not created):"]
            lines += [f"  {o.found - o.max_groups} dropped: {o}" for o in report.group_overflows]
    return "\n".join(lines)
