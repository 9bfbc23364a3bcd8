"""Turns status reports into alert transitions and notifications.

Per objective and severity (alert key ``<slo>/<severity>``) the policy says whether the alert
condition holds; the state machine then moves

    inactive/resolved ──holds──► pending ──holds for for_seconds──► firing ──not holds──► resolved
                      └──holds, for_seconds = 0───────────────────►┘   │
    pending ──not holds──► inactive                                   └─holds, repeat_interval_s
                                                                          since last notified: re-send

Entering firing owes a "firing" notification to every notifier, entering resolved owes a
"resolved" one, exactly once each; owed notifications are persisted with the transition and
delivered afterwards. A non-permanent failure stays owed and is retried on the next
``process()``; a permanent one is logged, recorded and dropped. Each notifier is delivered to
on its own thread, so one failing or slow notifier never stops the others nor the evaluation.

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
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from redline.alerts.alert_policy import AlertPolicy, spec_name
from redline.alerts.condition_step import step_condition
from redline.alerts.conditions import ConditionPolicy
from redline.alerts.identity import describe
from redline.alerts.messages import resolved_annotations
from redline.alerts.notifiers import AlertStatus, Notification, Notifier, fingerprint
from redline.alerts.policy import DEFAULT_POLICY, LEVEL_KINDS, Firing, burn_rate, evaluate_policy
from redline.alerts.state import AlertRecord, AlertState, AlertStateStore, OwedNotification
from redline.alerts.suppression import Suppressor
from redline.kernel.errors import NotifyError
from redline.slo.ranking import BurnRateCondition, Severity
from redline.slo.results import ObjectiveResult, StatusReport
from redline.slo.spec import SLOSpec

__all__ = ["AlertEvent", "AlertManager", "Delivery", "alert_key"]

_log = logging.getLogger(__name__)


def alert_key(slo: str, severity: str) -> str:
    """The key an alert is stored under: ``<slo>/<severity>``."""
    return f"{slo}/{severity}"


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one notification through one notifier."""

    notifier: str
    status: AlertStatus
    ok: bool
    error: str | None
    attempt: int
    permanent: bool = False


@dataclass(frozen=True)
class AlertEvent:
    """What happened to one alert in one ``process()`` call: a transition and/or deliveries."""

    key: str
    slo: str
    severity: str
    previous: AlertState
    current: AlertState
    at: float
    firing: Firing | None
    """The strongest condition that holds (highest factor), or ``None``."""
    deliveries: tuple[Delivery, ...] = ()


def _fmt(value: float) -> str:
    return f"{value:.4g}"


class AlertManager:
    """Evaluates the policy on each report, persists transitions and sends what they owe.

    ``for_seconds`` > 0 keeps an alert pending that long before it fires; ``repeat_interval_s``
    (``None`` to disable) re-sends "firing" while an alert stays firing. ``specs`` supply
    runbook URLs, descriptions and extra labels by objective name. ``generator_url`` may hold
    ``{slo}``. Thread safe: concurrent ``process()`` calls run one after the other.
    """

    def __init__(
        self,
        state: AlertStateStore,
        notifiers: Sequence[Notifier],
        policy: Sequence[BurnRateCondition] = DEFAULT_POLICY,
        clock: Callable[[], float] = time.time,
        *,
        for_seconds: float = 0.0,
        repeat_interval_s: float | None = 4 * 3600.0,
        specs: Sequence[SLOSpec] = (),
        external_url: str = "",
        generator_url: str = "",
        logger: logging.Logger | None = None,
        alert_policy: AlertPolicy | None = None,
        suppressor: Suppressor | None = None,
        conditions: ConditionPolicy | None = None,
    ) -> None:
        names = [n.name for n in notifiers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"notifier names must be unique; repeated: {', '.join(duplicates)}")
        if for_seconds < 0:
            raise ValueError(f"for_seconds must be >= 0, got {for_seconds}")
        if repeat_interval_s is not None and repeat_interval_s <= 0:
            raise ValueError(f"repeat_interval_s must be > 0 or None, got {repeat_interval_s}")
        self._state = state
        self._notifiers = {n.name: n for n in notifiers}
        self._policy = tuple(policy)
        self._severities: tuple[Severity, ...] = tuple(dict.fromkeys(c.severity for c in self._policy))
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
        self._conditions = conditions
        """Guardrail, dark-objective, meta and watchdog alerts (``redline.alerts.conditions``)."""
        """Silences and acknowledgements (``redline.alerts.suppression``), applied to what is owed."""

    # -- evaluation ---------------------------------------------------------------------------

    def process(self, report: StatusReport) -> list[AlertEvent]:
        """Evaluate every objective of ``report``, apply transitions, deliver owed notifications.

        Returns one event per alert that changed state or had a delivery attempt, by key.
        Raises ``StoreError`` if the alert state cannot be written (nothing is sent then).
        """
        with self._lock:
            now = self._clock()
            events: dict[str, AlertEvent] = {}
            records = {r.key: r for r in self._state.records()}
            changes: list[tuple[AlertRecord, AlertStatus | None]] = []
            seen: set[str] = set()
            names: set[str] = set()
            for objective in report.objectives:
                if objective.name in names:
                    self._log.error(
                        "objective %s appears twice in the report; the first one counts", objective.name
                    )
                    continue
                names.add(objective.name)
                try:
                    if self._alert_policy is not None:
                        firings = self._alert_policy.firings(objective, now)
                    else:
                        firings = evaluate_policy(objective, self._policy)
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
            for key, record in records.items():
                if key not in seen and record.state in ("pending", "firing"):
                    event = self._step(record, key, None, record.severity, None, now, changes)
                    if event is not None:
                        events[key] = event
            if self._alert_policy is not None:  # tier states first: a crash between re-pages at most once
                self._alert_policy.commit()
            if self._conditions is not None:
                self._conditions.commit()
            if self._suppressor is not None:  # silences and acks: the one place notifications are held back
                changes = self._suppressor.decide(changes, records, now)
            # Every transition of this evaluation, and what it owes, lands in one transaction
            # before anything is sent.
            self._state.save_many(changes, list(self._notifiers))
            for event in events.values():
                self._log.info("alert %s: %s -> %s", event.key, event.previous, event.current)
            for key, deliveries in self._deliver_owed(now).items():
                event = events.get(key)
                if event is None:
                    current = self._state.get(key)
                    state: AlertState = current.state if current is not None else "inactive"
                    slo, _, sev = key.rpartition("/")
                    event = AlertEvent(key, slo, sev, state, state, now, None)
                events[key] = replace(event, deliveries=tuple(deliveries))
            return [events[k] for k in sorted(events)]

    def _shows_stopped(self, objective: ObjectiveResult, severity: str) -> bool:
        """Whether the data shows no condition of ``severity`` holding: for each, a known burn
        rate (long or short window) at or below its factor. ``no_data`` shows nothing."""
        if objective.status == "no_data":
            return False
        if objective.status == "low_traffic":
            return True  # there is data: a handful of events, not judged (as before)
        conditions = self._alert_policy.tiers(objective) if self._alert_policy is not None else self._policy
        for condition in conditions:
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
        changes: list[tuple[AlertRecord, AlertStatus | None]],
    ) -> AlertEvent | None:
        """Work out one transition and append it, with what it owes, to ``changes``.

        Returns the event when the state changed.
        """
        previous: AlertState = record.state if record is not None else "inactive"
        owe: AlertStatus | None = None
        if firing is not None and objective is not None:
            labels, annotations = self._describe(objective, firing)
            if record is None or previous in ("inactive", "resolved"):
                base = AlertRecord(key, objective.name, severity, "inactive", fingerprint(labels), labels)
                if self._for_seconds > 0:
                    new = replace(base, state="pending", annotations=annotations, pending_since=now)
                else:
                    new = replace(base, state="firing", annotations=annotations, started_at=now)
                    owe = "firing"
            elif previous == "pending":
                assert record.pending_since is not None
                if now - record.pending_since >= self._for_seconds:
                    new = replace(
                        record, state="firing", annotations=annotations, started_at=now, resolved_at=None
                    )
                    owe = "firing"
                else:
                    new = replace(record, annotations=annotations)
            else:  # firing: no re-page, fresh annotations, repeat when due
                new = replace(record, annotations=annotations)
                last = record.last_notified_at if record.last_notified_at is not None else record.started_at
                repeat = self._repeat_interval_s
                if repeat is not None and last is not None and now - last >= repeat:
                    owe = "firing"
                elif new.annotations == record.annotations:
                    return None  # nothing new to persist
        elif record is not None and previous == "firing":
            annotations = resolved_annotations(record.slo, record.annotations, objective)
            new = replace(record, state="resolved", resolved_at=now, annotations=annotations)
            owe = "resolved"
        elif record is not None and previous == "pending":
            new = replace(record, state="inactive", pending_since=None)
        else:
            return None
        changes.append((replace(new, updated_at=now), owe))
        if new.state == previous:
            return None
        slo = objective.name if objective is not None else new.slo
        return AlertEvent(key, slo, severity, previous, new.state, now, firing)

    def _describe(self, objective: ObjectiveResult, firing: Firing) -> tuple[dict[str, str], dict[str, str]]:
        """The labels and annotations of the alert ``firing`` raises on ``objective`` (``redline.alerts.identity``)."""
        return describe(objective, firing, self._specs.get(spec_name(objective.name)))

    # -- delivery -----------------------------------------------------------------------------

    def _notification(self, record: AlertRecord, status: AlertStatus) -> Notification:
        return Notification(
            status=status,
            key=record.key,
            labels=record.labels,
            annotations=record.annotations,
            starts_at=record.started_at if record.started_at is not None else record.updated_at,
            ends_at=record.resolved_at if status == "resolved" else None,
            fingerprint=record.fingerprint,
            generator_url=self._generator_url.replace("{slo}", record.slo),
            external_url=self._external_url,
        )

    def _deliver_owed(self, now: float) -> dict[str, list[Delivery]]:
        by_notifier: dict[str, list[OwedNotification]] = {}
        for owed in self._state.owed():
            if owed.notifier in self._notifiers:
                by_notifier.setdefault(owed.notifier, []).append(owed)
        if not by_notifier:
            return {}
        if len(by_notifier) == 1:
            results = [self._deliver_to(name, items, now) for name, items in by_notifier.items()]
        else:
            with ThreadPoolExecutor(len(by_notifier), thread_name_prefix="redline-notify") as pool:
                futures = [pool.submit(self._deliver_to, n, items, now) for n, items in by_notifier.items()]
                results = [f.result() for f in futures]
        merged: dict[str, list[Delivery]] = {}
        for result in results:
            for key, delivery in result:
                merged.setdefault(key, []).append(delivery)
        return merged

    def _deliver_to(self, name: str, items: list[OwedNotification], now: float) -> list[tuple[str, Delivery]]:
        """Deliver one notifier's owed notifications in order; stop at its first transient failure.

        The ones after a transient failure stay owed for the next ``process()``: a receiver that
        is down is not hammered with every backlog item in one evaluation.
        """
        notifier = self._notifiers[name]
        done: list[tuple[str, Delivery]] = []
        for owed in items:
            record = self._state.get(owed.key)
            if record is None:
                continue
            error: str | None = None
            permanent = False
            try:
                notifier.send(self._notification(record, owed.status))
            except NotifyError as exc:
                error, permanent = str(exc), exc.permanent
            except Exception as exc:  # a broken notifier must not stop the others nor the evaluation
                error = f"notifier {name!r} failed unexpectedly: {type(exc).__name__}: {exc}"
                self._log.exception("alert %s: %s notification via %s failed", owed.key, owed.status, name)
            ok = error is None
            attempt = self._state.record_delivery(
                owed.key, name, owed.status, ok=ok, error=error, at=now, settle=ok or permanent
            )
            if ok:
                self._log.info("alert %s: %s notification sent via %s", owed.key, owed.status, name)
            elif permanent:
                self._log.error(
                    "alert %s: %s notification via %s failed permanently, dropped: %s",
                    owed.key, owed.status, name, error,
                )
            else:
                self._log.warning(
                    "alert %s: %s notification via %s failed (attempt %d), will retry next evaluation: %s",
                    owed.key, owed.status, name, attempt, error,
                )
            done.append((owed.key, Delivery(name, owed.status, ok, error, attempt, permanent)))
            if not ok and not permanent:
                break
        return done

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Shut every notifier down (cutting backoff waits short); undelivered notifications stay owed."""
        for notifier in self._notifiers.values():
            try:
                notifier.shutdown(timeout_s)
            except Exception:
                self._log.exception("notifier %s failed to shut down", notifier.name)
