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

from redline.alerts.message import condition_text, dashboard_url, figure_annotations, firing_summary, fmt_rate
from redline.alerts.notifiers import ALERTNAME
from redline.alerts.policy import Firing
from redline.slo.alert_tiers import tier_name
from redline.slo.results import ObjectiveResult
from redline.slo.spec import SLOSpec

__all__ = ["describe"]


def describe(
    objective: ObjectiveResult, firing: Firing, spec: SLOSpec | None, external_url: str = ""
) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations of the alert ``firing`` raises on ``objective`` (``spec``: its
    config; ``external_url``: the dashboard, for the objective's page)."""
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
    annotations.update(figure_annotations(objective))
    cond = firing.condition  # the figures every message shows (``alerts.message.facts``)
    annotations.update(
        tier=labels["tier"],
        threshold=fmt_rate(firing.factor),
        long_window=cond.long_window,
        long_burn_rate=fmt_rate(firing.long_burn_rate),
        short_window=cond.short_window,
        short_burn_rate=fmt_rate(firing.short_burn_rate),
    )
    if external_url:
        annotations["dashboard_url"] = dashboard_url(external_url, objective.name)
    owner = labels.get("owner") or labels.get("team")
    if owner:
        annotations["owner"] = owner
    if spec is not None:
        annotations.update(spec.alerting.annotations)
    if role is not None:
        annotations.update(role.annotations)
    return labels, annotations
