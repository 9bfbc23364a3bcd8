"""The agent's wiring of alert delivery: notifiers, routes and outbox workers from the config.

Every secret is resolved here from the environment the agent was given (never from the file),
so a missing variable fails ``redline check`` and start-up with a ``ConfigError`` naming the
variable and where the config names it, and never printing a value. An Alertmanager notifier
with several URLs becomes one notifier per URL (``<name>#1``, ``<name>#2`` …), each with its
own queue, so one Alertmanager down never holds the others back; a route naming ``<name>``
reaches all of them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from redline.alerts.alertmanager import AlertmanagerNotifier
from redline.alerts.delivery import DeliverySettings, DeliveryWorker, FiringProvider, Outbox
from redline.alerts.file_notifier import FileNotifier
from redline.alerts.health import HealthRegistry
from redline.alerts.log_notifier import LogNotifier
from redline.alerts.notifiers import Notifier
from redline.alerts.pagerduty import PagerDutyNotifier
from redline.alerts.routing import Route, Router
from redline.alerts.slack import SlackNotifier
from redline.alerts.state import AlertStateStore
from redline.alerts.webhook import WebhookNotifier
from redline.config import LoadedConfig
from redline.config.notifiers import (
    AlertmanagerNotifierConfig,
    FileNotifierConfig,
    LogNotifierConfig,
    NotifierConfig,
    PagerDutyNotifierConfig,
    SlackNotifierConfig,
    WebhookNotifierConfig,
)
from redline.kernel.secrets import secret_from_env

__all__ = ["Delivery", "build_delivery", "build_notifiers", "build_outbox", "build_router"]


@dataclass(frozen=True)
class Delivery:
    """The notifiers (with the config each came from), the router and their delivery settings."""

    notifiers: tuple[Notifier, ...]
    settings: Mapping[str, DeliverySettings]
    router: Router


def _settings(cfg: NotifierConfig) -> DeliverySettings:
    return DeliverySettings(
        give_up_after_s=cfg.give_up_after,
        group_wait_s=cfg.group_wait or 0.0,
        group_by=tuple(cfg.group_by),
    )


def _interval(cfg: NotifierConfig, default_s: float) -> float:
    return 1.0 / cfg.rate_limit if cfg.rate_limit is not None else default_s


def _build_one(
    cfg: NotifierConfig, where: str, env: Mapping[str, str], client: httpx.Client, root: str
) -> list[Notifier]:
    if isinstance(cfg, WebhookNotifierConfig):
        url = secret_from_env(cfg.url_env, env, where=f"{where}.url_env")
        key = None
        if cfg.hmac_secret_env:
            key = secret_from_env(cfg.hmac_secret_env, env, where=f"{where}.hmac_secret_env")
        return [WebhookNotifier(url, client, name=cfg.name, timeout_s=cfg.timeout, hmac_secret=key,
                                min_interval_s=_interval(cfg, 0.0))]
    if isinstance(cfg, PagerDutyNotifierConfig):
        routing_key = secret_from_env(cfg.routing_key_env, env, where=f"{where}.routing_key_env")
        return [PagerDutyNotifier(routing_key, client, name=cfg.name, url=cfg.url, timeout_s=cfg.timeout,
                                  source=cfg.source, min_interval_s=_interval(cfg, 0.6))]
    if isinstance(cfg, SlackNotifierConfig):
        url = secret_from_env(cfg.url_env, env, where=f"{where}.url_env")
        return [SlackNotifier(url, client, name=cfg.name, timeout_s=cfg.timeout, min_interval_s=_interval(cfg, 1.0))]
    if isinstance(cfg, AlertmanagerNotifierConfig):
        names = [cfg.name] if len(cfg.urls) == 1 else [f"{cfg.name}#{i + 1}" for i in range(len(cfg.urls))]
        return [
            AlertmanagerNotifier(url, client, name=name, timeout_s=cfg.timeout, resend_interval_s=cfg.resend_interval)
            for name, url in zip(names, cfg.urls, strict=True)
        ]
    if isinstance(cfg, FileNotifierConfig):
        path = cfg.path if cfg.path.is_absolute() else Path(root) / cfg.path
        return [FileNotifier(path, name=cfg.name)]
    assert isinstance(cfg, LogNotifierConfig)
    return [LogNotifier(logging.getLogger("redline.alerts"), name=cfg.name)]


def build_notifiers(loaded: LoadedConfig, env: Mapping[str, str], client: httpx.Client) -> list[Notifier]:
    """Notifiers from config; a secret's variable unset is a ``ConfigError`` naming it."""
    root = str(loaded.path.parent)
    out: list[Notifier] = []
    for i, cfg in enumerate(loaded.config.alerting.notifiers):
        out.extend(_build_one(cfg, f"{loaded.path}: alerting.notifiers[{i}]", env, client, root))
    return out


def _expand(names: list[str], built: Mapping[str, list[str]]) -> tuple[str, ...]:
    return tuple(n for name in names for n in built.get(name, [name]))


def build_router(loaded: LoadedConfig, notifiers: list[Notifier]) -> Router:
    """The routes of ``alerting.routes`` over the built notifiers (a name reaches each of its URLs)."""
    alerting = loaded.config.alerting
    built: dict[str, list[str]] = {}
    for n in notifiers:
        built.setdefault(n.name.split("#", 1)[0], []).append(n.name)
    routes = tuple(
        Route(
            _expand(r.notifiers, built), dict(r.match),
            {k: re.compile(v) for k, v in r.match_re.items()}, r.continue_,
        )
        for r in alerting.routes
    )
    default = (
        _expand(alerting.default_notifiers, built)
        if alerting.default_notifiers is not None
        else tuple(n.name for n in notifiers)
    )
    return Router(routes, default)


def build_delivery(loaded: LoadedConfig, env: Mapping[str, str], client: httpx.Client) -> Delivery:
    """Notifiers, router and per-notifier settings; raises ``ConfigError`` for a missing secret."""
    notifiers: list[Notifier] = []
    settings: dict[str, DeliverySettings] = {}
    root = str(loaded.path.parent)
    for i, cfg in enumerate(loaded.config.alerting.notifiers):
        for n in _build_one(cfg, f"{loaded.path}: alerting.notifiers[{i}]", env, client, root):
            notifiers.append(n)
            settings[n.name] = _settings(cfg)
    return Delivery(tuple(notifiers), settings, build_router(loaded, notifiers))


def build_outbox(
    delivery: Delivery,
    store: AlertStateStore,
    health: HealthRegistry,
    firing: FiringProvider,
    clock: Callable[[], float] = time.time,
) -> Outbox:
    """One worker per notifier, on ``store``'s intents, reporting to ``health``."""
    workers = [
        DeliveryWorker(store, n, health, delivery.settings[n.name], clock=clock, firing=firing)
        for n in delivery.notifiers
    ]
    return Outbox(workers, clock=clock)
