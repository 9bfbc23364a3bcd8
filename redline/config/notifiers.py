"""The config models of notifiers and routes (``alerting.notifiers``, ``alerting.routes``).

Secrets (webhook URLs, routing keys, signing secrets) are never in the file: a field ending in
``_env`` names the environment variable that holds one (or ``<VAR>_FILE``, see
``redline.kernel.secrets``). Delivery knobs common to every notifier: ``timeout`` per attempt,
``give_up_after`` (retrying transient failures until then), ``rate_limit`` (messages a second;
each kind has a default), ``group_wait`` and ``group_by`` (incidents opening within the window
that share those labels go out as one message where the receiver takes several).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from redline.kernel.config_types import DurationSeconds

__all__ = [
    "AlertmanagerNotifierConfig",
    "FileNotifierConfig",
    "LogNotifierConfig",
    "NotifierConfig",
    "PagerDutyNotifierConfig",
    "RouteConfig",
    "SlackNotifierConfig",
    "WebhookNotifierConfig",
]

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Notifier(_Strict):
    name: Annotated[str, Field(min_length=1, pattern=r"^[^#\s]+$")]
    timeout: DurationSeconds = 10.0
    give_up_after: DurationSeconds = 3600.0
    rate_limit: Annotated[float, Field(gt=0)] | None = None
    """Messages a second at most; ``None``: the kind's default (Slack 1, PagerDuty 100/60, else none)."""
    group_wait: DurationSeconds | None = None
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "severity"])


class WebhookNotifierConfig(_Notifier):
    """Posts Alertmanager's webhook JSON to the URL held in the environment variable ``url_env``;
    with ``hmac_secret_env``, signs the body (``X-Redline-Signature-256``)."""

    kind: Literal["webhook"]
    url_env: EnvName
    hmac_secret_env: EnvName | None = None
    retries: Annotated[int, Field(ge=0, le=10)] | None = None
    """Ignored (kept so older configs load): the outbox retries until ``give_up_after``."""


class AlertmanagerNotifierConfig(_Notifier):
    """Posts alerts to each Alertmanager of ``urls`` (``POST /api/v2/alerts``), re-posting firing
    ones every ``resend_interval``."""

    kind: Literal["alertmanager"]
    urls: Annotated[list[Annotated[str, Field(pattern=r"^https?://\S+$")]], Field(min_length=1)]
    resend_interval: DurationSeconds = 60.0


class PagerDutyNotifierConfig(_Notifier):
    """Sends PagerDuty Events API v2 triggers and resolves with the routing key in ``routing_key_env``."""

    kind: Literal["pagerduty"]
    routing_key_env: EnvName
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] = "https://events.pagerduty.com/v2/enqueue"
    source: str = "redline"


class SlackNotifierConfig(_Notifier):
    """Posts Block Kit messages to the Slack incoming webhook whose URL is in ``url_env``."""

    kind: Literal["slack"]
    url_env: EnvName


class LogNotifierConfig(_Notifier):
    """Writes one log line per notification."""

    kind: Literal["log"]


class FileNotifierConfig(_Notifier):
    """Appends one JSON line per notification to ``path``."""

    kind: Literal["file"]
    path: Path


NotifierConfig = Annotated[
    WebhookNotifierConfig
    | AlertmanagerNotifierConfig
    | PagerDutyNotifierConfig
    | SlackNotifierConfig
    | LogNotifierConfig
    | FileNotifierConfig,
    Field(discriminator="kind"),
]


class RouteConfig(_Strict):
    """Alerts whose labels match go to ``notifiers``; the first matching route wins unless it says ``continue``."""

    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    notifiers: Annotated[list[str], Field(min_length=1)]
    continue_: bool = Field(default=False, alias="continue")

    @field_validator("match_re")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"match_re.{label}: {pattern!r} is not a regular expression: {exc}") from exc
        return value
