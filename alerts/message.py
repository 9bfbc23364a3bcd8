"""What every message says, read once from a notification's labels and annotations.

The alert manager writes these annotations on every alert (``alerts.manager``); each notifier
renders the same ``MessageFacts``: the objective and its dimension, severity and tier, both
windows' burn rates against the threshold, the budget left, the time to breach, the
objective's dashboard page, the runbook and the owner. Values are text from data: notifiers put
them in JSON or in Slack's ``plain_text``/escaped ``mrkdwn``, never as markup of their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from redline.alerts.notifiers import Notification
from redline.alerts.policy import Firing, burn_rate
from redline.slo.results import ObjectiveResult

__all__ = [
    "ANNOTATION_KEYS",
    "MessageFacts",
    "condition_text",
    "dashboard_url",
    "facts",
    "figure_annotations",
    "firing_summary",
    "fmt_rate",
    "format_duration_s",
    "headline",
    "resolved_annotations",
    "resolved_summary",
]

ANNOTATION_KEYS: Final = (
    "summary", "description", "runbook_url", "owner", "dashboard_url", "tier", "threshold",
    "long_window", "long_burn_rate", "short_window", "short_burn_rate", "value", "unit", "target",
    "budget_used_ratio",
    "time_to_breach_seconds",
)
"""The annotations the manager writes and every notifier reads."""


def dashboard_url(external_url: str, slo: str) -> str:
    """The objective's page on the dashboard: ``<external_url>/objective?slo=<name>``."""
    return f"{external_url.rstrip('/')}/objective?slo={quote(slo, safe='')}"


def format_duration_s(seconds: float | None) -> str:
    """``2d 4h``, ``3h 20m``, ``12m``, ``45s``; ``n/a`` when unknown, ``now`` at 0."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    if seconds <= 0:
        return "now"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class MessageFacts:
    """The figures of one message, as text ready to show (``n/a`` where unknown)."""

    status: str
    objective: str
    dimension: str
    severity: str
    tier: str
    threshold: str
    long_window: str
    long_burn_rate: str
    short_window: str
    short_burn_rate: str
    budget_remaining: str
    time_to_breach: str
    dashboard_url: str
    runbook_url: str
    owner: str
    summary: str
    description: str
    test: bool

    def as_dict(self) -> dict[str, str | bool]:
        """The facts as a JSON object (PagerDuty's ``custom_details``, the file notifier)."""
        return dict(self.__dict__)


def _rate(text: str | None) -> str:
    value = _number(text)
    return "n/a" if value is None else f"{value:.4g}×"


def facts(n: Notification) -> MessageFacts:
    """The facts of ``n``; absent annotations read ``n/a`` (or empty for links)."""
    a: Mapping[str, str] = n.annotations
    used = _number(a.get("budget_used_ratio"))  # the one budget figure; a message shows what is left
    return MessageFacts(
        status=n.status,
        objective=n.slo,
        dimension=n.labels.get("dimension", "n/a"),
        severity=n.severity or "n/a",
        tier=n.labels.get("tier") or a.get("tier") or "n/a",
        threshold=_rate(a.get("threshold")),
        long_window=a.get("long_window", "n/a"),
        long_burn_rate=_rate(a.get("long_burn_rate")),
        short_window=a.get("short_window", "n/a"),
        short_burn_rate=_rate(a.get("short_burn_rate")),
        budget_remaining="n/a" if used is None else f"{(1.0 - used) * 100:.1f}%",
        time_to_breach=format_duration_s(_number(a.get("time_to_breach_seconds"))),
        dashboard_url=a.get("dashboard_url", ""),
        runbook_url=a.get("runbook_url", ""),
        owner=a.get("owner") or n.labels.get("owner") or n.labels.get("team") or "n/a",
        summary=a.get("summary", ""),
        description=a.get("description", ""),
        test=n.test,
    )


def headline(f: MessageFacts) -> str:
    """One line: ``[TEST] FIRING page: api-availability (users) burning 20× over 1h (threshold 14.4×)``.

    A resolve says the burn dropped below the threshold and what it is now.
    """
    prefix = "[TEST] " if f.test else ""
    if f.status == "resolved":
        return (
            f"{prefix}RESOLVED {f.severity}: {f.objective} ({f.dimension}) burn dropped below {f.threshold}; "
            f"now {f.long_burn_rate} over {f.long_window}, {f.short_burn_rate} over {f.short_window}"
        )
    return (
        f"{prefix}FIRING {f.severity}: {f.objective} ({f.dimension}) burning {f.long_burn_rate} over "
        f"{f.long_window} and {f.short_burn_rate} over {f.short_window} (threshold {f.threshold})"
    )


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
        for side in ("long", "short"):  # the two windows of the tier that fired, as they are now
            window = annotations.get(f"{side}_window", "")
            rate = burn_rate(objective.burn_rates, window) if window else None
            if rate is None:
                out.pop(f"{side}_burn_rate", None)
            else:
                out[f"{side}_burn_rate"] = fmt_rate(rate)
        out.update(figure_annotations(objective))
        if objective.time_to_breach_seconds is None:
            out.pop("time_to_breach_seconds", None)
    return out


def figure_annotations(objective: ObjectiveResult) -> dict[str, str]:
    """The objective's figures as every message carries them (one name, one meaning): ``value`` and
    ``target`` in its ``unit``, ``budget_used_ratio``, ``time_to_breach_seconds``."""
    out: dict[str, str] = {"unit": objective.unit, "target": fmt_rate(objective.target)}
    if objective.value is not None:
        out["value"] = fmt_rate(objective.value)
    if objective.budget_used_ratio is not None:
        out["budget_used_ratio"] = fmt_rate(objective.budget_used_ratio)
    if objective.time_to_breach_seconds is not None:
        out["time_to_breach_seconds"] = fmt_rate(objective.time_to_breach_seconds)
    return out
