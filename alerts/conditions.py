"""Alerts that are not burn rates: guardrails, dark objectives, Redline's own health, the watchdog.

Each evaluation ``ConditionPolicy.alerts(report, now)`` says, for every such alert, whether its
condition holds (``None``: cannot say) and with what labels and words; the condition goes
through ``redline.slo.hysteresis`` (its ``for:``, persisted like the tiers' so a restart keeps the
start) and the alert manager opens, repeats and resolves it like any alert (same outbox, same
silences). Keys never collide with burn-rate alerts (``<slo>/page``, ``<slo>/ticket``):

| key | holds when | severity |
|---|---|---|
| ``<budget>/forecast`` | projected spend crosses the limit this period (date: ``crosses_at``), or is over | ticket |
| ``<guardrail>/over-max`` | a cost per 1k over its window is above its maximum | ticket |
| ``<slo>/breached`` | a freshness objective's budget is spent (stale data for longer than it allows) | ticket |
| ``<slo>/band`` | a GPU band objective with ``for:`` has a pool outside its band that long | ticket |
| ``<slo>/dark`` | the objective reads ``no_data`` for ``dark_after`` ("the SLI has gone dark") | ticket |
| ``redline/source-down/<source>`` | a source failed every collection for ``source_down_for`` | ticket |
| ``redline/component/<c>`` | store writes fail, the data directory is unwritable, a notifier is broken | page |
| ``redline/watchdog`` | always (``alertname="Watchdog"``), re-sent every ``watchdog_interval`` | none |

Meta-alerts read Redline's health through one small interface, ``SelfHealth`` (source errors and
the readiness reasons the agent already computes for ``/readyz``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from redline.alerts.hysteresis_store import HysteresisStore
from redline.slo.hysteresis import INACTIVE, HoldState, step
from redline.slo.ranking import format_age
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.spec import GuardrailSpec, SLOSpec

__all__ = [
    "NOTIFIER_LABEL",
    "ActiveCondition",
    "ConditionAlert",
    "ConditionPolicy",
    "SelfHealth",
    "objective_conditions",
    "objective_context",
]

_GUARDED = {"budget": "forecast", "cost_per_1k": "over-max", "freshness": "breached"}
"""The condition alert key of each guarded kind, after ``<name>/``."""
REDLINE = "redline"
"""The ``slo`` label of alerts about Redline itself."""
META_COMPONENTS = ("store_writes", "data_directory")
"""Readiness components a meta-alert watches, besides every ``notifier:<name>``."""
NOTIFIER_LABEL = "notifier"
"""On a meta-alert about a notifier, that notifier's name: the alert is routed around it
(``about_notifier``), so it goes out through the other routes."""


def about_notifier(labels: Mapping[str, str]) -> str | None:
    """The notifier a meta-alert with ``labels`` is about (``None``: not such an alert). Only
    Redline's own alerts qualify, so an objective's own ``notifier`` label never reroutes it."""
    return labels.get(NOTIFIER_LABEL) if labels.get("slo") == REDLINE else None


@dataclass(frozen=True)
class SelfHealth:
    """What Redline knows of itself: each source's last error (``None``: it answered) and the
    readiness reasons (component → why it is down; ``notifier:<name>`` for a broken notifier)."""

    sources: Mapping[str, str | None] = field(default_factory=dict)
    components_down: Mapping[str, str] = field(default_factory=dict)
    notifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConditionAlert:
    """One condition alert as the data says it stands now."""

    key: str
    slo: str
    severity: str
    holds: bool | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    resolved_summary: str
    for_seconds: float = 0.0
    repeat_interval_s: float | None = None
    """Re-send while firing this often (the watchdog); ``None``: the manager's repeat interval."""


@dataclass(frozen=True)
class ActiveCondition:
    """A condition alert after its ``for:``: ``firing`` says whether it fires now."""

    alert: ConditionAlert
    firing: bool
    since: float | None


def _labels(alertname: str, slo: str, severity: str, objective: ObjectiveResult | None) -> dict[str, str]:
    out = {"alertname": alertname, "slo": slo, "severity": severity}
    if objective is not None:
        out |= {"dimension": objective.dimension, "kind": objective.kind}
    return out


def _utc_day(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%d")


def _band(objective: ObjectiveResult, band_for_s: float) -> ConditionAlert:
    """A GPU band left (a pool outside it in the newest slice) for ``band_for_s``: a ticket."""
    name, details = objective.name, objective.details
    outside = details.get("outside") if details is not None else None
    holds = None if objective.error is not None or outside is None else bool(outside)
    where = "; ".join(
        f"{o['pool']} {o['side']} the band at {o['utilization'] * 100:.0f}%" for o in (outside or [])[:3]
    )
    band = f"{details['min'] * 100:.0f}–{details['max'] * 100:.0f}%" if details is not None else "its band"
    return ConditionAlert(
        f"{name}/band", name, "ticket", holds, _labels("RedlineGPUBandLeft", name, "ticket", objective),
        {"summary": f"{name}: GPU utilisation outside {band} for at least {format_age(band_for_s)}: {where}",
         "description": objective.reason},
        f"{name}: resolved — GPU utilisation is back inside {band}",
        for_seconds=band_for_s,
    )


def objective_conditions(
    objective: ObjectiveResult,
    dark_after_s: float,
    wanted: Callable[[str, bool | None], bool] | None = None,
    band_for_s: float | None = None,
) -> list[ConditionAlert]:
    """The guardrail, GPU band and dark-objective alerts of one objective (or guardrail) result.

    ``wanted(key, holds)`` may skip building the alerts a caller would drop (nothing holds and
    nothing was pending or firing): most objectives, most of the time. ``band_for_s``: the
    objective's GPU band ``for:`` (``None``: no band alert).
    """
    name, status = objective.name, objective.status
    known = objective.error is None and status != "no_data"
    out: list[ConditionAlert] = []
    dark = None if objective.error is not None else status == "no_data"
    if band_for_s is not None:
        out.append(_band(objective, band_for_s))
    if wanted is not None and not wanted(f"{name}/dark", dark) and (
        objective.kind not in _GUARDED or not wanted(f"{name}/{_GUARDED[objective.kind]}", status != "ok")
    ):
        return out
    if objective.kind == "budget":
        crosses = (objective.details or {}).get("crosses_at")
        holds = status == "breached" or (status == "warning" and crosses is not None)
        notes = {"summary": f"{name}: projected spend over budget: {objective.reason}", "description": objective.reason}
        if crosses is not None:
            notes |= {"crosses_at": dt.datetime.fromtimestamp(crosses, tz=dt.UTC).isoformat(),
                      "summary": f"{name}: projected to cross its budget on {_utc_day(crosses)}: {objective.reason}"}
        out.append(ConditionAlert(
            f"{name}/forecast", name, "ticket", holds if known else None,
            _labels("RedlineBudgetForecast", name, "ticket", objective), notes,
            f"{name}: resolved — projected spend is within the budget now: {objective.reason}",
        ))
    elif objective.kind == "cost_per_1k":
        out.append(ConditionAlert(
            f"{name}/over-max", name, "ticket", (status == "breached") if known else None,
            _labels("RedlineCostPer1kOverMax", name, "ticket", objective),
            {"summary": f"{name}: cost per 1k inferences over its maximum: {objective.reason}",
             "description": objective.reason},
            f"{name}: resolved — cost per 1k inferences is within its maximum now: {objective.reason}",
        ))
    elif objective.kind == "freshness":
        out.append(ConditionAlert(
            f"{name}/breached", name, "ticket", (status == "breached") if known else None,
            _labels("RedlineFreshnessBreached", name, "ticket", objective),
            {"summary": f"{name}: freshness objective breached: {objective.reason}", "description": objective.reason},
            f"{name}: resolved — the freshness objective is met again: {objective.reason}",
        ))
    out.append(ConditionAlert(
        f"{name}/dark", name, "ticket", dark,
        _labels("RedlineSLIDark", name, "ticket", objective),
        {"summary": f"{name}: the SLI has gone dark: no data for at least {format_age(dark_after_s)} "
                    f"({objective.reason})",
         "description": objective.reason},
        f"{name}: resolved — the SLI has data again",
        for_seconds=dark_after_s,
    ))
    return out


def self_conditions(health: SelfHealth, source_down_for_s: float) -> list[ConditionAlert]:
    """Meta-alerts about Redline: sources down, store writes failing, notifiers broken."""
    out: list[ConditionAlert] = []
    for source, error in sorted(health.sources.items()):
        out.append(ConditionAlert(
            f"{REDLINE}/source-down/{source}", REDLINE, "ticket", error is not None,
            {**_labels("RedlineSourceDown", REDLINE, "ticket", None), "source": source},
            {"summary": f"source {source} has been down for at least {format_age(source_down_for_s)}: {error}",
             "description": error or ""},
            f"source {source} answers again",
            for_seconds=source_down_for_s,
        ))
    for component in (*META_COMPONENTS, *(f"notifier:{n}" for n in health.notifiers)):
        reason = health.components_down.get(component)
        what = component.replace("notifier:", "notifier ")
        out.append(ConditionAlert(
            f"{REDLINE}/component/{component}", REDLINE, "page", reason is not None,
            {**_labels("RedlineComponentDown", REDLINE, "page", None), "component": component,
             **({NOTIFIER_LABEL: component.removeprefix("notifier:")} if component.startswith("notifier:") else {})},
            {"summary": f"Redline: {what} is broken: {reason}", "description": reason or ""},
            f"Redline: {what} works again",
        ))
    return out


def _with_context(alert: ConditionAlert, labels: Mapping[str, str], annotations: Mapping[str, str]) -> ConditionAlert:
    """``alert`` with its objective's labels (its own win) and annotations (the objective's win)."""
    return replace(alert, labels={**labels, **alert.labels}, annotations={**alert.annotations, **annotations})


def watchdog(interval_s: float) -> ConditionAlert:
    """The always-firing heartbeat (Alertmanager's ``Watchdog``): a receiver pages when it stops."""
    return ConditionAlert(
        f"{REDLINE}/watchdog", REDLINE, "none", True,
        {"alertname": "Watchdog", "slo": REDLINE, "severity": "none"},
        {"summary": f"Redline is alive: this heartbeat repeats every {format_age(interval_s)}; page when it stops",
         "description": "An always-firing alert, so the whole alerting pipeline is known to work."},
        "Redline's watchdog stopped (the agent is shutting down or was reconfigured)",
        repeat_interval_s=interval_s,
    )


class ConditionPolicy:
    """Every condition alert of an evaluation, through its ``for:``; state in ``store`` (``None``: memory).

    ``health`` is asked once per evaluation (``None``: no meta-alerts). Not thread safe: the alert
    manager calls it under its lock.
    """

    def __init__(
        self,
        store: HysteresisStore | None = None,
        *,
        health: Callable[[], SelfHealth] | None = None,
        dark_after_s: float = 900.0,
        source_down_for_s: float = 300.0,
        watchdog_interval_s: float | None = None,
        band_for_s: Mapping[str, float] | None = None,
        context: Mapping[str, tuple[Mapping[str, str], Mapping[str, str]]] | None = None,
    ) -> None:
        self._store = store
        self._health = health
        self._dark_after_s = dark_after_s
        self._source_down_for_s = source_down_for_s
        self._watchdog_interval_s = watchdog_interval_s
        self._context = dict(context or {})
        """Extra (labels, annotations) by configured name: an objective's team, owner, runbook URL."""
        self._band_for_s = dict(band_for_s or {})
        """GPU band objectives' ``for:`` by configured name (a ``group_by`` member uses its objective's)."""
        self._states: dict[tuple[str, str], HoldState] | None = None
        self._now: float | None = None

    def alerts(self, report: StatusReport, now: float) -> list[ActiveCondition]:
        """Step every condition at ``now``; the ones that are firing or stopped firing carry on."""
        if self._states is None:
            self._states = self._store.load()[0] if self._store is not None else {}
        self._now = now
        found: list[ConditionAlert] = []
        states = self._states

        def wanted(key: str, holds: bool | None) -> bool:
            return holds is True or (key, "condition") in states

        for objective in report.objectives:
            base = objective.name.partition("{")[0]
            band_for = self._band_for_s.get(base) if self._band_for_s else None
            alerts = objective_conditions(objective, self._dark_after_s, wanted, band_for)
            extra = self._context.get(base)
            if extra is not None and alerts:
                alerts = [_with_context(a, *extra) for a in alerts]
            found += alerts
        if self._health is not None:
            found += self_conditions(self._health(), self._source_down_for_s)
        if self._watchdog_interval_s is not None:
            found.append(watchdog(self._watchdog_interval_s))
        stepped: dict[tuple[str, str], HoldState] = {}
        out = []
        for alert in found:
            key = (alert.key, "condition")
            state = step(states.get(key, INACTIVE), alert.holds, now, alert.for_seconds, 0.0)
            if state.state != "inactive":
                stepped[key] = state
            if state.state != "inactive" or key in states:  # firing, or stopped: the manager resolves it
                out.append(ActiveCondition(alert, state.firing, state.active_since))
        self._states = stepped
        return out

    def commit(self) -> None:
        """Persist every condition's state (``StoreError`` when the database cannot be written)."""
        if self._store is not None and self._states is not None and self._now is not None:
            self._store.save(self._states, set(), self._now)


def objective_context(
    slos: Sequence[SLOSpec], guardrails: Sequence[GuardrailSpec]
) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Each configured objective's and guardrail's labels and annotations for its condition alerts:
    ``labels`` and ``alerting.labels`` (a team to route on), ``runbook_url`` and ``alerting.annotations``
    (an owner). Summaries stay the condition's own."""
    out: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for spec in slos:
        notes = {k: v for k, v in spec.alerting.annotations.items() if k != "summary"}
        if spec.runbook_url:
            notes.setdefault("runbook_url", spec.runbook_url)
        out[spec.name] = ({**spec.labels, **spec.alerting.labels}, notes)
    for guard in guardrails:
        out[guard.name] = (dict(guard.labels), {"runbook_url": guard.runbook_url} if guard.runbook_url else {})
    return out
