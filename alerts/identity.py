"""An alert's identity and context: the labels and annotations its notifications carry.

Labels identify the alert (so an Alertmanager groups, routes, silences and inhibits on them):
the objective's ``labels`` and ``alerting.labels``, the role's (``alerting.page.labels``), then
``alertname`` (``alerting.name``, default ``RedlineErrorBudgetBurn``), ``slo``, ``severity``,
``tier``, ``dimension`` and ``kind``, which a spec cannot override. Annotations give the
context to act on: a summary with both windows' burn rates against the threshold, the
objective's reason, its runbook URL, the budget left and the time to breach, then the
objective's and the role's ``annotations`` (an owner, a summary of its own), which win.
"""

from __future__ import annotations

from redline.alerts.messages import condition_text, firing_summary, fmt_rate
from redline.alerts.notifiers import ALERTNAME
from redline.alerts.policy import Firing
from redline.slo.alert_tiers import tier_name
from redline.slo.results import ObjectiveResult
from redline.slo.spec import SLOSpec

__all__ = ["describe"]


def describe(objective: ObjectiveResult, firing: Firing, spec: SLOSpec | None) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations of the alert ``firing`` raises on ``objective`` (``spec``: its config)."""
    role = getattr(spec.alerting, firing.severity) if spec is not None else None
    labels: dict[str, str] = {}
    if spec is not None:
        labels.update(spec.labels)
        labels.update(spec.alerting.labels)
    if role is not None:
        labels.update(role.labels)
    labels.update(
        alertname=(spec.alerting.name if spec is not None and spec.alerting.name else ALERTNAME),
        slo=objective.name,
        severity=firing.severity,
        tier=tier_name(firing.condition),
        dimension=objective.dimension,
        kind=objective.kind,
    )
    annotations = {
        "summary": firing_summary(objective.name, firing),
        "description": objective.reason,
    }
    if spec is not None and spec.runbook_url:
        annotations["runbook_url"] = spec.runbook_url
    annotations["condition"] = condition_text(firing)
    for window, rate in objective.burn_rates.items():
        if rate is not None:
            annotations[f"burn_rate_{window}"] = fmt_rate(rate)
    if objective.budget_remaining is not None:
        annotations["budget_remaining"] = fmt_rate(objective.budget_remaining)
    if objective.time_to_breach_seconds is not None:
        annotations["time_to_breach_seconds"] = fmt_rate(objective.time_to_breach_seconds)
    if spec is not None:
        annotations.update(spec.alerting.annotations)
    if role is not None:
        annotations.update(role.annotations)
    return labels, annotations
