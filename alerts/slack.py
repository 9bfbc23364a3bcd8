"""A Slack incoming-webhook notifier: one Block Kit message per group of incidents (or of changes, in order).

The message says, per incident: objective and dimension, severity and tier, both windows' burn
rates against the threshold, budget left, time to breach, owner, and buttons to the
objective's dashboard page and runbook. A resolve says the burn dropped below the threshold and
what it is now. Every value from data goes in ``plain_text``, so no label can inject markup or
a mention. Slack accepts about one message a second per webhook (``min_interval_s`` 1.0); its
error bodies (``channel_not_found`` …) are judged permanent by ``redline.alerts.classify``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from redline.alerts.http_send import post_once, protect_url
from redline.alerts.message import MessageFacts, facts, headline
from redline.alerts.notifiers import Notification, Notifier

__all__ = ["SlackNotifier", "slack_message"]


def _text(text: str, limit: int = 3000) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit] or " ", "emoji": False}


def _incident_blocks(f: MessageFacts, status_first: bool = False) -> list[dict[str, Any]]:
    if f.status == "resolved":
        burn = (f"Burn dropped below the threshold {f.threshold}; now {f.long_burn_rate} over {f.long_window} "
                f"and {f.short_burn_rate} over {f.short_window}")
    else:
        burn = (f"Burning {f.long_burn_rate} over {f.long_window} and {f.short_burn_rate} over {f.short_window} "
                f"(threshold {f.threshold})")
    status = f"{f.status.upper()} · " if status_first else ""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _text(f"{status}{f.objective} ({f.dimension}) · {f.severity} · tier {f.tier}")},
        {"type": "section", "fields": [
            _text(burn, 2000), _text(f"Budget left: {f.budget_remaining}"),
            _text(f"Time to breach: {f.time_to_breach}"), _text(f"Owner: {f.owner}"),
        ]},
    ]
    buttons = [
        {"type": "button", "text": _text(label, 75), "url": url}
        for label, url in (("Dashboard", f.dashboard_url), ("Runbook", f.runbook_url))
        if url.startswith(("http://", "https://"))
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def slack_message(notifications: Sequence[Notification]) -> dict[str, Any]:
    """The webhook body: a fallback ``text`` and the ``blocks``, one incident's change after another
    in the order given. A message mixing triggers and resolves (a backlog after an outage) says
    how many of each in its title and each change's status first."""
    all_facts = [facts(n) for n in notifications]
    first = all_facts[0]
    prefix = "[TEST] " if first.test else ""
    mixed = len({f.status for f in all_facts}) > 1
    if len(all_facts) == 1:
        title = headline(first)
    elif mixed:
        firing = sum(f.status == "firing" for f in all_facts)
        title = f"{prefix}{len(all_facts)} changes: {firing} firing, {len(all_facts) - firing} resolved"
    else:
        title = f"{prefix}{first.status.upper()} {first.severity}: {len(all_facts)} objectives"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _text(title, 150)}]
    for i, f in enumerate(all_facts):
        if i:
            blocks.append({"type": "divider"})
        blocks.extend(_incident_blocks(f, status_first=mixed))
    return {"text": "\n".join(headline(f) for f in all_facts)[:3000], "blocks": blocks}


class SlackNotifier(Notifier):
    """POSTs Block Kit messages to an incoming-webhook ``url`` (a secret from the environment)."""

    def __init__(
        self,
        url: str,
        client: httpx.Client,
        *,
        name: str = "slack",
        timeout_s: float | None = None,
        clock: Callable[[], float] = time.time,
        min_interval_s: float = 1.0,
        max_batch: int = 10,
    ) -> None:
        self.name = name
        self.min_interval_s = min_interval_s
        self.max_batch = max_batch
        self._url = url
        protect_url(url)
        self._client = client
        self._timeout_s = timeout_s
        self._clock = clock

    def __repr__(self) -> str:
        return f"SlackNotifier(name={self.name!r})"

    def send(self, notifications: Sequence[Notification]) -> None:
        """Post one message; raises ``DeliveryFailed`` with the verdict."""
        post_once(
            self._client, self._url, content=json.dumps(slack_message(notifications)).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "Redline"},
            name=self.name, timeout_s=self._timeout_s, clock=self._clock, slack=True,
        )
