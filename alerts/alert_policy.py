"""The live alert policy: each objective's tiers, their ``for:`` and resolve delay, and inhibition.

``AlertPolicy.firings(objective, now)`` replaces a bare ``evaluate_policy``: per tier of the
objective (``redline.slo.alert_tiers.objective_tiers``: its ``alerting.tiers`` or the defaults of
its period, minus disabled tiers and roles) it reads whether the condition holds, moves the
tier's ``redline.slo.hysteresis`` state, and returns one ``Firing`` per *open* severity: the
most severe firing one, and a less severe one only if it was already open before (see
``redline.slo.hysteresis.inhibited``). ``commit()`` persists the states, so a restart continues
pending and kept-firing tiers from their original start times.

Whether a condition holds is three-valued, as the state machine treats evidence: both burn
rates above the factor hold; a known rate at or below it (or a ``low_traffic`` objective: a
handful of failures is not judged) does not; ``no_data``, a failed evaluation or unknown rates
say nothing, and nothing moves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redline.alerts.hysteresis_store import HysteresisStore
from redline.alerts.policy import DEFAULT_POLICY, LEVEL_KINDS, Firing, burn_rate
from redline.slo.alert_tiers import SEVERITY_ORDER, objective_tiers, tier_name, with_resolve_delay
from redline.slo.hysteresis import INACTIVE, HoldState, inhibited, step
from redline.slo.ranking import BurnRateCondition
from redline.slo.results import ObjectiveResult
from redline.slo.spec import SLOSpec

__all__ = ["AlertPolicy", "condition_holds", "spec_name"]

_log = logging.getLogger(__name__)


def spec_name(objective_name: str) -> str:
    """The configured objective a result belongs to: ``api{model="a"}`` (a ``group_by`` member) → ``api``."""
    return objective_name.split("{", 1)[0]


def condition_holds(condition: BurnRateCondition, objective: ObjectiveResult) -> tuple[bool | None, float]:
    """Whether ``condition`` holds for ``objective`` (``None``: the data cannot say), and its factor."""
    factor = 1.0 if objective.kind in LEVEL_KINDS else condition.factor(objective.window_seconds)
    if objective.error is not None or objective.status == "no_data":
        return None, factor
    if objective.status == "low_traffic":
        return False, factor
    rates = [burn_rate(objective.burn_rates, w) for w in (condition.long_window, condition.short_window)]
    if any(r is not None and r <= factor for r in rates):
        return False, factor
    if any(r is None for r in rates):
        return None, factor
    return True, factor


class AlertPolicy:
    """Tiers, hysteresis and inhibition for every objective, with state in ``store`` (``None``:
    in memory only, as the backtest and tests without a database).

    ``specs`` give each objective its tiers; an objective without a spec (a guardrail) gets
    ``default`` with the default resolve delay. Not thread safe: the alert manager calls it under
    its own lock.
    """

    def __init__(
        self,
        specs: Sequence[SLOSpec] = (),
        store: HysteresisStore | None = None,
        default: Sequence[BurnRateCondition] = DEFAULT_POLICY,
    ) -> None:
        self._specs = {s.name: s for s in specs}
        self._store = store
        self._default = tuple(with_resolve_delay(c) for c in default)
        self._tiers: dict[tuple[str, str], HoldState] | None = None
        self._open: set[tuple[str, str]] = set()
        self._seen: set[str] = set()

    def tiers(self, objective: ObjectiveResult) -> tuple[BurnRateCondition, ...]:
        """The tiers that apply to ``objective`` (a level guardrail never pages)."""
        spec = self._specs.get(spec_name(objective.name))
        tiers = objective_tiers(spec) if spec is not None else self._default
        if objective.kind in LEVEL_KINDS:
            tiers = tuple(c for c in tiers if c.severity != "page")
        return tiers

    def _load(self) -> dict[tuple[str, str], HoldState]:
        if self._tiers is None:
            if self._store is not None:
                self._tiers, self._open = self._store.load()
            else:
                self._tiers = {}
        return self._tiers

    def firings(self, objective: ObjectiveResult, now: float) -> list[Firing]:
        """Step every tier of ``objective`` at ``now``; the firings of its open severities.

        Raises ``ValueError`` when a tier cannot be evaluated (a non-positive window).
        """
        states = self._load()
        self._seen.add(objective.name)
        firing: dict[str, list[Firing]] = {}
        for condition in self.tiers(objective):
            holds, factor = condition_holds(condition, objective)
            key = (objective.name, tier_name(condition))
            state = step(
                states.get(key, INACTIVE), holds, now, condition.for_seconds, condition.keep_firing_for_seconds
            )
            states[key] = state
            if state.firing:
                long_rate = burn_rate(objective.burn_rates, condition.long_window)
                short_rate = burn_rate(objective.burn_rates, condition.short_window)
                firing.setdefault(condition.severity, []).append(
                    Firing(
                        objective.name,
                        condition.severity,
                        condition,
                        factor,
                        long_rate if long_rate is not None else 0.0,
                        short_rate if short_rate is not None else 0.0,
                    )
                )
        out: list[Firing] = []
        more_severe_open = False
        for severity in SEVERITY_ORDER:
            pair = (objective.name, severity)
            now_open = inhibited(pair in self._open, severity in firing, more_severe_open)
            if now_open:
                self._open.add(pair)
                out.append(max(firing[severity], key=lambda f: f.factor))
            else:
                self._open.discard(pair)
            more_severe_open = more_severe_open or now_open
        return out

    def commit(self) -> None:
        """Forget objectives not evaluated since the last commit (removed from the config) and
        persist every tier's state. Raises ``StoreError`` when the database cannot be written."""
        states = self._load()
        for key in [k for k in states if k[0] not in self._seen]:
            del states[key]
        self._open = {p for p in self._open if p[0] in self._seen}
        self._seen = set()
        if self._store is not None:
            self._store.save(states, self._open)
