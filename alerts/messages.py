"""The words of a notification: what a firing alert says, and what its resolved notice says.

One place for every notifier (webhook, log, Slack, PagerDuty, Alertmanager): a resolved notice
says that the burn dropped below the threshold and what it is now, never the burn rate that
fired hours ago.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from redline.alerts.policy import Firing, burn_rate
from redline.slo.results import ObjectiveResult

__all__ = ["condition_text", "firing_summary", "fmt_rate", "resolved_annotations", "resolved_summary"]

_CONDITION_RE: Final = re.compile(r"^(?P<long>\S+)/(?P<short>\S+) > (?P<factor>[0-9.e+-]+)×$")


def fmt_rate(value: float) -> str:
    """A burn rate or factor as the messages print it: four significant digits."""
    return f"{value:.4g}"


def condition_text(firing: Firing) -> str:
    """The ``condition`` annotation: ``1h/5m > 14.4×``."""
    c = firing.condition
    return f"{c.long_window}/{c.short_window} > {fmt_rate(firing.factor)}×"


def firing_summary(name: str, firing: Firing) -> str:
    """``api is burning its error budget at 20× over 1h and 25× over 5m (threshold 14.4×)``."""
    c = firing.condition
    return (
        f"{name} is burning its error budget at {fmt_rate(firing.long_burn_rate)}× over {c.long_window} "
        f"and {fmt_rate(firing.short_burn_rate)}× over {c.short_window} (threshold {fmt_rate(firing.factor)}×)"
    )


def resolved_summary(name: str, condition: str | None, burn_rates: Mapping[str, float | None] | None) -> str:
    """The resolved notice: the burn is below the threshold, and what it is now.

    ``condition`` is the firing alert's ``condition`` annotation; ``burn_rates`` the objective's
    rates now (``None`` when the objective is gone from the config).
    """
    if burn_rates is None:
        return f"{name}: resolved — the objective is no longer configured"
    match = _CONDITION_RE.match(condition or "")
    if match is None:
        return f"{name}: resolved — the burn rate dropped below the alert threshold"
    now = []
    for window in (match["long"], match["short"]):
        rate = burn_rate(burn_rates, window)
        now.append(f"{fmt_rate(rate)}× over {window}" if rate is not None else f"unknown over {window}")
    return f"{name}: resolved — the burn dropped below the threshold of {match['factor']}×: now {now[0]} and {now[1]}"


def resolved_annotations(
    name: str, annotations: Mapping[str, str], objective: ObjectiveResult | None
) -> dict[str, str]:
    """The annotations of ``name``'s resolved notice: those it fired with, but the summary, the
    burn rates and the description as they are now (``objective``; ``None`` when removed)."""
    out = {k: v for k, v in annotations.items() if not k.startswith("burn_rate_")}
    out["summary"] = resolved_summary(
        name, annotations.get("condition"), objective.burn_rates if objective is not None else None
    )
    if objective is not None:
        for window, rate in objective.burn_rates.items():
            if rate is not None:
                out[f"burn_rate_{window}"] = fmt_rate(rate)
        out["description"] = objective.reason
        if objective.budget_remaining is not None:
            out["budget_remaining"] = fmt_rate(objective.budget_remaining)
    return out
