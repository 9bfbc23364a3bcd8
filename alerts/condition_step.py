"""How a condition alert (``redline.alerts.conditions``) moves an alert record: open, repeat, resolve.

The same transitions as a burn-rate alert's, without tiers: opening owes "firing" (the record
starts when the condition began holding), a firing alert owes "firing" again once its repeat
interval passed since it was last notified, and a condition the data shows stopped owes
"resolved" with the alert's resolved summary. A condition that cannot be judged (``holds`` is
``None``) keeps the alert as it is.
"""

from __future__ import annotations

from dataclasses import replace

from redline.alerts.conditions import ActiveCondition
from redline.alerts.notifiers import AlertStatus, fingerprint
from redline.alerts.state import AlertRecord

__all__ = ["step_condition"]


def step_condition(
    record: AlertRecord | None, active: ActiveCondition, now: float, repeat_interval_s: float | None
) -> tuple[AlertRecord, AlertStatus | None, bool] | None:
    """The record to write, what it owes and whether that is a repeat, or ``None`` when nothing changes."""
    alert = active.alert
    previous = record.state if record is not None else "inactive"
    annotations = dict(alert.annotations)
    owe: AlertStatus | None = None
    repeating = False
    if active.firing:
        if record is None or previous != "firing":
            labels = dict(alert.labels)
            new = AlertRecord(
                alert.key, alert.slo, alert.severity, "firing", fingerprint(labels), labels, annotations,
                started_at=active.since if active.since is not None else now,
            )
            owe = "firing"
        else:
            new = replace(record, annotations=annotations)
            last = record.last_notified_at if record.last_notified_at is not None else record.started_at
            repeat = alert.repeat_interval_s if alert.repeat_interval_s is not None else repeat_interval_s
            if repeat is not None and last is not None and now - last >= repeat:
                owe, repeating = "firing", True
            elif new.annotations == record.annotations:
                return None
    elif record is not None and previous == "firing" and alert.holds is not None:
        new = replace(record, state="resolved", resolved_at=now,
                      annotations={**record.annotations, "summary": alert.resolved_summary})
        owe = "resolved"
    else:
        return None
    return replace(new, updated_at=now), owe, repeating
