"""Turns status reports into alert transitions and notifications.

Per objective and severity (alert key ``<slo>/<severity>``) the policy says whether the alert
condition holds; the state machine then moves

    inactive/resolved ──holds──► pending ──holds for for_seconds──► firing ──not holds──► resolved
                      └──holds, for_seconds = 0───────────────────►┘   │
    pending ──not holds──► inactive                                   └─holds, repeat_interval_s
                                                                          since last notified: re-send

Entering firing owes a "firing" notification to every notifier its route names
(``alerts.routing``), entering resolved owes a "resolved" one, exactly once each; a firing
alert owes a repeat every ``repeat_interval_s``. Owed notifications are intents in the outbox
(``alerts.outbox_sql``), written in the same transaction as the transition, with the
incident's dedup key and a snapshot of what the message says; ``process()`` never waits on a
network call. The outbox's workers (``alerts.delivery``) send them, one queue per notifier.

A resolve says what is true at the resolve: its annotations carry the burn rates now (below the
threshold), not the ones that fired.

An objective evaluated with an ``error`` keeps its alerts as they are (a failed evaluation is
not evidence that the burn stopped); an objective absent from the report (removed from the
config) resolves its firing alerts; an objective with status ``no_data`` never fires.

Missing data is no evidence: a pending or firing alert is resolved only when the data shows
every condition of its severity no longer holding (a known burn rate of the condition at or
below its factor). An objective that reads ``no_data``, or whose burn rates for the condition
are unknown (data lost, quarantined, or no traffic in the window), keeps its alert as it is.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from redline.alerts.alert_policy import AlertPolicy, spec_name
from redline.alerts.condition_step import step_condition
from redline.alerts.conditions import ConditionPolicy, about_notifier
from redline.alerts.identity import describe
from redline.alerts.message import resolved_annotations
from redline.alerts.notifiers import AlertStatus, Notification, Notifier, dedup_key, fingerprint
from redline.alerts.outbox_sql import NewIntent
from redline.alerts.policy import LEVEL_KINDS, Firing, burn_rate, evaluate_policy
from redline.alerts.routing import Router
from redline.alerts.state import AlertRecord, AlertState, AlertStateStore
from redline.alerts.suppression import Suppressor
from redline.kernel.errors import StoreError
from redline.slo.ranking import BurnRateCondition, Severity
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.spec import SLOSpec
from redline.slo.tiers import default_tiers

__all__ = ["AlertEvent", "AlertManager", "alert_key"]

_log = logging.getLogger(__name__)


def alert_key(slo: str, severity: str) -> str:
    """The key an alert is stored under: ``<slo>/<severity>``."""
    return f"{slo}/{severity}"


@dataclass(frozen=True)
class AlertEvent:
    """What happened to one alert in one ``process()`` call: a transition, and what it owes."""

    key: str
    slo: str
    severity: str
    previous: AlertState
    current: AlertState
    at: float
    firing: Firing | None
    """The strongest condition that holds (highest factor), or ``None``."""
    owed_to: tuple[str, ...] = ()
    """The notifiers an intent was written for (sent later by the outbox)."""


def _fmt(value: float) -> str:
    return f"{value:.4g}"


class AlertManager:
    """Evaluates the policy on each report, persists transitions and the intents they owe.

    ``notifiers`` is a ``Router`` or the notifier names (then every alert goes to each).
    ``for_seconds`` > 0 keeps an alert pending that long before it fires; ``repeat_interval_s``
    (``None`` to disable) re-sends "firing" while an alert stays firing. ``specs`` supply
    runbook URLs, descriptions and extra labels by objective name. ``generator_url`` may hold
    ``{slo}``. ``on_commit`` is called after intents were written (the outbox's ``wake``);
    ``on_dropped(name, count)`` hears of repeats dropped from a full queue. A firing alert's
    stored figures (what a repeat or an Alertmanager re-post says) are refreshed at most every
    ``refresh_interval_s``; the resolve always says the figures of its own tick. Thread safe:
    concurrent ``process()`` calls run one after the other.
    """

    def __init__(
        self,
        state: AlertStateStore,
        notifiers: Router | Sequence[str | Notifier],
        policy: Sequence[BurnRateCondition] | None = None,
        clock: Callable[[], float] = time.time,
        *,
        for_seconds: float = 0.0,
        repeat_interval_s: float | None = 4 * 3600.0,
        specs: Sequence[SLOSpec] = (),
        external_url: str = "",
        generator_url: str = "",
        logger: logging.Logger | None = None,
        on_commit: Callable[[], None] | None = None,
        on_dropped: Callable[[str, int], None] | None = None,
        queue_size: int = 10_000,
        refresh_interval_s: float = 300.0,
        alert_policy: AlertPolicy | None = None,
        suppressor: Suppressor | None = None,
        conditions: ConditionPolicy | None = None,
    ) -> None:
        if isinstance(notifiers, Router):
            router = notifiers
            names = list(dict.fromkeys([*router.default, *(n for r in router.routes for n in r.notifiers)]))
        else:
            names = [n if isinstance(n, str) else n.name for n in notifiers]
            router = Router.everyone(names)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"notifier names must be unique; repeated: {', '.join(duplicates)}")
        if for_seconds < 0:
            raise ValueError(f"for_seconds must be >= 0, got {for_seconds}")
        if repeat_interval_s is not None and repeat_interval_s <= 0:
            raise ValueError(f"repeat_interval_s must be > 0 or None, got {repeat_interval_s}")
        self._state = state
        self._router = router
        self._on_commit = on_commit
        self._on_dropped = on_dropped
        self._queue_size = queue_size
        self._refresh_interval_s = refresh_interval_s
        # None: each objective's default tiers, from its period (slo.tiers.default_tiers)
        self._policy = None if policy is None else tuple(policy)
        self._severities: tuple[Severity, ...] = (
            ("page", "ticket") if self._policy is None else tuple(dict.fromkeys(c.severity for c in self._policy))
        )
        self._clock = clock
        self._for_seconds = for_seconds
        self._repeat_interval_s = repeat_interval_s
        self._specs: Mapping[str, SLOSpec] = {s.name: s for s in specs}
        self._external_url = external_url
        self._generator_url = generator_url
        self._log = logger if logger is not None else _log
        self._lock = threading.Lock()
        self._alert_policy = alert_policy
        """Per-objective tiers, ``for:``/resolve delay and inhibition (``redline.alerts.alert_policy``);
        ``None``: ``policy`` for every objective, as it stands."""
        self._suppressor = suppressor
        self._keys: dict[str, tuple[tuple[tuple[tuple[str, str], str], ...], tuple[str, ...]]] = {}
        """Each objective's ((objective, severity), alert key) pairs and its alert keys, worked out once."""
        self._settled: dict[str, int] = {}
        """Objectives found steady (``_steady``) against the records and due time of ``_active_for``,
        with how many of their alerts are pending or firing: while those stand, and their tiers stay
        as they were, one lookup says so again."""
        self._settled_active = 0
        """How many pending or firing alerts this tick's settled objectives hold: all of them, and
        no alert can have lost its objective (``process`` then looks at no record one by one)."""
        self._active_for: tuple[Mapping[str, AlertRecord], float, frozenset[str], frozenset[str], float] | None = None
        """The records last looked at, when their first repeat or refresh falls due, the firing keys
        with nothing due, the pending or firing keys, and the time it was worked out for
        (``_active``)."""
        self._conditions = conditions
        """Guardrail, dark-objective, meta and watchdog alerts (``redline.alerts.conditions``)."""
        """Silences and acknowledgements (``redline.alerts.suppression``), applied to what is owed."""

    def route(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """The notifiers an alert with ``labels`` goes to; a meta-alert about a notifier goes
        through the other routes (never to the notifier it says is broken)."""
        about = about_notifier(labels)
        return self._router.route(labels, exclude=() if about is None else (about,))

    @property
    def router(self) -> Router:
        """Who gets what: a meta-alert about a notifier routes with ``router.route(labels, exclude=...)``."""
        return self._router

    def notify_on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each commit that wrote intents (the outbox's ``wake``)."""
        self._on_commit = callback

    # -- evaluation ---------------------------------------------------------------------------

    def process(self, report: StatusReport) -> list[AlertEvent]:
        """Evaluate every objective of ``report``, apply transitions, write the intents they owe.

        Returns one event per alert that changed state, by key. Nothing is sent here. Raises
        ``StoreError`` if the alert state cannot be written (then no intent is written either).
        """
        with self._lock:
            now = self._clock()
            events: dict[str, AlertEvent] = {}
            records = self._state.records_by_key()
            changes: list[tuple[AlertRecord, AlertStatus | None, bool]] = []
            seen: set[str] = set()
            names: set[str] = set()
            open_keys: frozenset[str] | None = None
            if self._alert_policy is not None:
                open_keys = self._active(records, now)[1]  # once per tick: forgets stale settled objectives
                self._settled_active = 0
            for objective in report.objectives:
                if objective.name in names:
                    self._log.error(
                        "objective %s appears twice in the report; the first one counts", objective.name
                    )
                    continue
                names.add(objective.name)
                try:
                    if self._alert_policy is not None:
                        moved = self._alert_policy.firings_if_moved(objective, now)
                        if moved is None:  # no tier moved: most objectives, calm or firing
                            if self._steady(objective, records, now, seen):
                                continue
                            moved = self._alert_policy.current_firings(objective)
                        self._settled.pop(objective.name, None)  # its open severities may move
                        firings = moved
                    else:
                        firings = evaluate_policy(objective, self._policy_for(objective))
                    failed = objective.error is not None
                except ValueError as exc:  # e.g. a non-positive window: keep its alerts as they are
                    self._log.error("objective %s: cannot evaluate the alert policy: %s", objective.name, exc)
                    firings, failed = [], True
                for severity in self._severities:
                    key = alert_key(objective.name, severity)
                    seen.add(key)
                    if failed:
                        continue
                    matching = [f for f in firings if f.severity == severity]
                    strongest = max(matching, key=lambda f: f.factor) if matching else None
                    record = records.get(key)
                    if (
                        strongest is None
                        and record is not None
                        and record.state in ("pending", "firing")
                        and not self._shows_stopped(objective, severity)
                    ):
                        continue  # missing data is no evidence: a pending or firing alert stays
                    event = self._step(record, key, objective, severity, strongest, now, changes)
                    if event is not None:
                        events[key] = event
            if self._conditions is not None:  # alerts that are not burn rates: their own keys
                for active in self._conditions.alerts(report, now):
                    key, seen_before = active.alert.key, records.get(active.alert.key)
                    seen.add(key)
                    change = step_condition(seen_before, active, now, self._repeat_interval_s)
                    if change is not None:
                        changes.append(change)
                        was: AlertState = seen_before.state if seen_before is not None else "inactive"
                        if change[0].state != was:
                            events[key] = AlertEvent(key, change[0].slo, change[0].severity, was,
                                                     change[0].state, now, None)
            every_active_seen = open_keys is not None and self._settled_active == len(open_keys)
            for key in () if every_active_seen else sorted(records.keys() - seen):  # those still open
                record = records[key]
                if record.state in ("pending", "firing"):
                    event = self._step(record, key, None, record.severity, None, now, changes)
                    if event is not None:
                        events[key] = event
            self._commit_policies()
            if self._suppressor is not None:  # silences and acks: the one place notifications are held back
                changes = self._suppressor.decide(changes, records, now)
            # Every transition of this evaluation, and the intents it owes, land in one
            # transaction; the outbox sends them after the commit.
            writes: list[tuple[AlertRecord, tuple[NewIntent, ...]]] = []
            for record, owe, repeat in changes:
                intents: tuple[NewIntent, ...] = ()
                if owe is not None:
                    notification = self.notification(record, owe)
                    intents = tuple(NewIntent(n, notification, repeat) for n in self.route(record.labels))
                    if record.key in events:
                        events[record.key] = replace(events[record.key], owed_to=tuple(i.notifier for i in intents))
                writes.append((record, intents))
            dropped = self._state.save_many(writes, queue_size=self._queue_size)
            if len(self._keys) > 2 * len(names):  # objectives removed from the config
                self._keys = {n: k for n, k in self._keys.items() if n in names}
            for event in events.values():
                self._log.info("alert %s: %s -> %s", event.key, event.previous, event.current)
            for name, count in dropped.items():
                self._log.warning("%d repeat notifications to %s dropped: its queue is full", count, name)
                if self._on_dropped is not None:
                    self._on_dropped(name, count)
            if any(intents for _, intents in writes) and self._on_commit is not None:
                self._on_commit()
            return [events[k] for k in sorted(events)]

    def _steady(self, objective: ObjectiveResult, records: Mapping[str, AlertRecord], now: float,
                seen: set[str]) -> bool:
        """Whether none of ``objective``'s alerts has anything to do at ``now``, its tiers being as
        they were (each open severity's alert firing with no repeat or refresh due, every other
        one at rest); its keys are then ``seen``. A firing tick then costs what a calm one does."""
        assert self._alert_policy is not None
        if objective.error is not None:
            return False
        name = objective.name
        keys = self._keys.get(name)
        if keys is None:
            pairs = tuple(((name, s), alert_key(name, s)) for s in self._severities)
            keys = self._keys[name] = (pairs, tuple(k for _, k in pairs))
        held = self._settled.get(name)
        if held is None:  # once per version of the records, not once per tick
            firing, active = self._active(records, now)
            opened = self._alert_policy.opened
            for pair, key in keys[0]:
                if (key not in firing) if pair in opened else (key in active):
                    return False
            held = self._settled[name] = sum(key in active for key in keys[1])
        self._settled_active += held
        seen.update(keys[1])
        return True

    def _active(self, records: Mapping[str, AlertRecord], now: float) -> tuple[frozenset[str], frozenset[str]]:
        """The keys of ``records`` firing with nothing due at ``now``, and of those pending or
        firing. Worked out once per version of the records (with when the first repeat or refresh
        falls due), and again only once per tick at or past that time."""
        cached = self._active_for
        if cached is None or cached[0] is not records or (cached[1] <= now and cached[4] != now):
            firing = [r for r in records.values() if r.state == "firing"]
            due_at = min((self._due_at(r) for r in firing), default=math.inf)
            quiet = frozenset(r.key for r in firing if now < self._due_at(r))
            active = frozenset(k for k, r in records.items() if r.state in ("pending", "firing"))
            cached = self._active_for = (records, due_at, quiet, active, now)
            self._settled = {}
        return cached[2], cached[3]

    def _due_at(self, record: AlertRecord) -> float:
        """When a firing alert next owes a repeat or fresh figures."""
        last = record.last_notified_at if record.last_notified_at is not None else record.started_at
        repeat = self._repeat_interval_s
        repeat_at = last + repeat if repeat is not None and last is not None else math.inf
        return min(repeat_at, record.updated_at + self._refresh_interval_s)

    def _commit_policies(self) -> None:
        """Persist the tiers' and conditions' states, tiers first (a crash between re-pages at most
        once); a file that stops taking writes sends them on in memory with the alert state."""
        for policy in (self._alert_policy, self._conditions):
            if policy is None:
                continue
            try:
                policy.commit()
            except StoreError as exc:
                if not self._state.fall_back(exc):
                    raise
                policy.commit()

    def _policy_for(self, objective: ObjectiveResult) -> Sequence[BurnRateCondition]:
        """The policy given, else the default tiers of the objective's period (ValueError if it has none)."""
        return self._policy if self._policy is not None else default_tiers(objective.window_seconds)

    def _shows_stopped(self, objective: ObjectiveResult, severity: str) -> bool:
        """Whether the data shows no condition of ``severity`` holding: for each, a known burn
        rate (long or short window) at or below its factor. ``no_data`` shows nothing."""
        if objective.status == "no_data":
            return False
        if objective.status == "low_traffic":
            return True  # there is data: a handful of events, not judged (as before)
        try:
            policy = (
                self._alert_policy.tiers(objective) if self._alert_policy is not None else self._policy_for(objective)
            )
        except ValueError:
            return False
        for condition in policy:
            if condition.severity != severity:
                continue
            if objective.kind in LEVEL_KINDS:
                if severity != "ticket":
                    continue  # a level never pages
                factor = 1.0
            else:
                factor = condition.factor(objective.window_seconds)
            known = (burn_rate(objective.burn_rates, w) for w in (condition.long_window, condition.short_window))
            if not any(rate is not None and rate <= factor for rate in known):
                return False
        return True

    def _step(
        self,
        record: AlertRecord | None,
        key: str,
        objective: ObjectiveResult | None,
        severity: str,
        firing: Firing | None,
        now: float,
        changes: list[tuple[AlertRecord, AlertStatus | None, bool]],
    ) -> AlertEvent | None:
        """Work out one transition and append it, with what it owes (and whether only as a
        repeat), to ``changes``.

        Returns the event when the state changed.
        """
        previous: AlertState = record.state if record is not None else "inactive"
        owe: AlertStatus | None = None
        repeating = False
        if firing is not None and objective is not None and record is not None and previous == "firing":
            # Still firing: no re-page; a repeat when due; fresh figures at most every
            # ``refresh_interval_s`` (a tick with every alert firing costs about what a calm one does).
            last = record.last_notified_at if record.last_notified_at is not None else record.started_at
            repeat = self._repeat_interval_s
            due = repeat is not None and last is not None and now - last >= repeat
            if not due and now - record.updated_at < self._refresh_interval_s:
                return None
            new = replace(record, annotations=self._describe(objective, firing)[1])
            if due:
                owe, repeating = "firing", True
            elif new.annotations == record.annotations:
                return None  # nothing new to persist
        elif firing is not None and objective is not None:
            labels, annotations = self._describe(objective, firing)
            if record is None or previous in ("inactive", "resolved"):
                base = AlertRecord(key, objective.name, severity, "inactive", fingerprint(labels), labels)
                if self._for_seconds > 0:
                    new = replace(base, state="pending", annotations=annotations, pending_since=now)
                else:
                    new = replace(base, state="firing", annotations=annotations, started_at=now)
                    owe = "firing"
            else:  # pending
                assert record.pending_since is not None
                if now - record.pending_since >= self._for_seconds:
                    new = replace(
                        record, state="firing", annotations=annotations, started_at=now, resolved_at=None
                    )
                    owe = "firing"
                else:
                    new = replace(record, annotations=annotations)
        elif record is not None and previous == "firing":
            annotations = resolved_annotations(record.slo, record.annotations, objective)
            new = replace(record, state="resolved", resolved_at=now, annotations=annotations)
            owe = "resolved"
        elif record is not None and previous == "pending":
            new = replace(record, state="inactive", pending_since=None)
        else:
            return None
        changes.append((replace(new, updated_at=now), owe, repeating))
        if new.state == previous:
            return None
        slo = objective.name if objective is not None else new.slo
        return AlertEvent(key, slo, severity, previous, new.state, now, firing)

    def _describe(self, objective: ObjectiveResult, firing: Firing) -> tuple[dict[str, str], dict[str, str]]:
        """The labels and annotations of the alert ``firing`` raises on ``objective`` (``redline.alerts.identity``)."""
        return describe(objective, firing, self._specs.get(spec_name(objective.name)), self._external_url)

    # -- delivery -----------------------------------------------------------------------------

    def notification(self, record: AlertRecord, status: AlertStatus) -> Notification:
        """What a notification about ``record`` says now, with its incident's dedup key."""
        starts_at = record.started_at if record.started_at is not None else record.updated_at
        return Notification(
            status=status,
            key=record.key,
            labels=record.labels,
            annotations=record.annotations,
            starts_at=starts_at,
            ends_at=record.resolved_at if status == "resolved" else None,
            fingerprint=record.fingerprint,
            generator_url=self._generator_url.replace("{slo}", record.slo),
            external_url=self._external_url,
            dedup_key=dedup_key(record.key, starts_at),
        )

    def firing_for(self, notifier: str) -> list[Notification]:
        """The firing alerts routed to ``notifier`` with no intent pending for it (to re-post them)."""
        busy = {r[0] for r in self._state.query(
            "SELECT DISTINCT key FROM intents WHERE notifier = ? AND state = 'pending'", (notifier,)
        )}
        return [
            self.notification(r, "firing")
            for r in self._state.records()
            if r.state == "firing" and r.key not in busy and notifier in self.route(r.labels)
        ]
