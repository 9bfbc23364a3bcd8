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
import math
from collections.abc import Sequence
from dataclasses import replace

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
    return objective_name.partition("{")[0]


def condition_holds(
    condition: BurnRateCondition, objective: ObjectiveResult, factor: float | None = None
) -> tuple[bool | None, float]:
    """Whether ``condition`` holds for ``objective`` (``None``: the data cannot say), and its factor
    (given, or worked out from the objective's window)."""
    if factor is None:
        factor = 1.0 if objective.kind in LEVEL_KINDS else condition.factor(objective.window_seconds)
    if objective.error is not None or objective.status == "no_data":
        return None, factor
    if objective.status == "low_traffic":
        return False, factor
    rates = objective.burn_rates
    long_rate, short_rate = rates.get(condition.long_window), rates.get(condition.short_window)
    if long_rate is None or short_rate is None or not (math.isfinite(long_rate) and math.isfinite(short_rate)):
        long_rate = burn_rate(rates, condition.long_window)  # keys of equal duration (60m = 1h)
        short_rate = burn_rate(rates, condition.short_window)
    if (long_rate is not None and long_rate <= factor) or (short_rate is not None and short_rate <= factor):
        return False, factor
    if long_rate is None or short_rate is None:
        return None, factor
    return True, factor


_Plan = tuple[tuple[BurnRateCondition, str, float], ...]
"""An objective's tiers: each condition, its name and its factor."""


def _holds(plan: _Plan, objective: ObjectiveResult) -> tuple[bool | None, ...]:
    """``condition_holds`` for each tier of ``plan``. Both finite rates are compared with the factor
    whatever the first comparison says (``&``, not ``and``), so a burning objective costs what a
    calm one does; the rest (keys of another spelling, unknown or non-finite rates) goes by
    ``condition_holds``."""
    if objective.error is not None or objective.status == "no_data":
        return (None,) * len(plan)
    if objective.status == "low_traffic":
        return (False,) * len(plan)
    rates = objective.burn_rates
    isfinite = math.isfinite
    out: list[bool | None] = []
    for condition, _, factor in plan:
        long_rate, short_rate = rates.get(condition.long_window), rates.get(condition.short_window)
        if long_rate is None or short_rate is None or not (isfinite(long_rate) & isfinite(short_rate)):
            out.append(condition_holds(condition, objective, factor)[0])
        else:
            out.append((long_rate > factor) & (short_rate > factor))
    return tuple(out)


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
        """Tiers that are pending or firing (an inactive tier has no entry); the ``last_held`` of a
        tier of a steady objective is in ``_held_at`` instead."""
        self._shape: dict[str, tuple[tuple[bool | None, ...], _Plan]] = {}
        """Objectives at rest, calm or firing: what each tier's condition said at their latest
        evaluation (with the tiers it was for), every tier that held firing and every other one
        inactive. The same answer
        again moves nothing but ``_held_at``: no state, no write, the same work calm or firing."""
        self._held_at: dict[str, float] = {}
        """When each objective of ``_shape`` was last evaluated: its holding tiers' ``last_held``."""
        self._changed: set[tuple[str, str]] = set()
        """Tiers whose state moved since the last commit (the only rows it may have to write)."""
        self._open: set[tuple[str, str]] = set()
        self._open_moved = True
        """Whether ``_open`` may differ from what the last commit saved (else the store need not compare them)."""
        self._seen: set[str] = set()
        self._last_seen: set[str] = set()
        """The objectives of the last commit; before it, whatever was loaded (so all are checked)."""
        self._now: float | None = None
        self._plans: dict[tuple[str, str, float], _Plan] = {}
        """(tier, its name, its factor) by (configured objective, kind, window): worked out once."""

    def tiers(self, objective: ObjectiveResult) -> tuple[BurnRateCondition, ...]:
        """The tiers that apply to ``objective`` (a level guardrail never pages)."""
        return tuple(c for c, _, _ in self._plan(objective))

    def _plan(self, objective: ObjectiveResult) -> _Plan:
        base = spec_name(objective.name)
        key = (base, objective.kind, objective.window_seconds)
        plan = self._plans.get(key)
        if plan is None:
            spec = self._specs.get(base)
            tiers = objective_tiers(spec) if spec is not None else self._default
            level = objective.kind in LEVEL_KINDS
            plan = tuple(
                (c, tier_name(c), 1.0 if level else c.factor(objective.window_seconds))
                for c in tiers if not (level and c.severity == "page")
            )
            self._plans[key] = plan
        return plan

    def _load(self) -> dict[tuple[str, str], HoldState]:
        if self._tiers is None:
            if self._store is not None:
                self._tiers, self._open = self._store.load()
                self._open_moved = True
                self._changed = set()
                self._last_seen = {k[0] for k in self._tiers} | {p[0] for p in self._open}
            else:
                self._tiers = {}
        return self._tiers

    def firings(self, objective: ObjectiveResult, now: float) -> list[Firing]:
        """Step every tier of ``objective`` at ``now``; the firings of its open severities.

        Raises ``ValueError`` when a tier cannot be evaluated (a non-positive window).
        """
        self._step_tiers(objective, now)
        return self.current_firings(objective)

    def firings_if_moved(self, objective: ObjectiveResult, now: float) -> list[Firing] | None:
        """``firings``, or ``None`` when no tier of ``objective`` moved but its last hold: its open
        severities are those of its last evaluation (``current_firings`` says them, with today's
        burn rates). The alert manager's steady case, as cheap as a calm objective.

        Raises ``ValueError`` when a tier cannot be evaluated (a non-positive window).
        """
        if not self._step_tiers(objective, now):
            return None
        return self.current_firings(objective)

    @property
    def opened(self) -> set[tuple[str, str]]:
        """The open ``(objective, severity)`` pairs (firing and not inhibited); read-only."""
        return self._open

    def _step_tiers(self, objective: ObjectiveResult, now: float) -> bool:
        """Step every tier of ``objective`` at ``now``; whether any moved but a steady hold."""
        states = self._load()
        name = objective.name
        self._seen.add(name)
        self._now = now
        plan = self._plan(objective)
        holds = _holds(plan, objective)
        shape = self._shape.get(name)
        if shape is not None and shape[0] == holds and shape[1] is plan:
            self._held_at[name] = now  # at rest: ``step`` would move only the holding tiers' last_held
            return False
        self._unshape(name)
        moved = False
        at_rest = True
        for (condition, tier, _), held in zip(plan, holds, strict=True):
            key = (name, tier)
            before = states.get(key, INACTIVE)
            if held is not True and before is INACTIVE:
                continue  # the usual case, kept cheap: nothing holds, nothing pending
            state = step(before, held, now, condition.for_seconds, condition.keep_firing_for_seconds)
            self._changed.add(key)
            moved = True
            if state.state == "inactive":
                states.pop(key, None)
                continue
            states[key] = state
            at_rest = at_rest and held is True and state.firing
        if at_rest:
            self._shape[name], self._held_at[name] = (holds, plan), now
        return moved

    def _unshape(self, name: str) -> None:
        """Take ``name`` out of the objectives at rest: its holding tiers' ``last_held`` back in their states."""
        shape = self._shape.pop(name, None)
        if shape is None:
            return
        at = self._held_at.pop(name)
        states = self._load()
        for (_, tier, _), held in zip(shape[1], shape[0], strict=True):
            if held is True:
                states[(name, tier)] = replace(states[(name, tier)], last_held=at)

    def _effective(self, key: tuple[str, str]) -> HoldState:
        """The state of tier ``key`` with its ``last_held`` as of now."""
        state = self._load()[key]
        at = self._held_at.get(key[0])
        return replace(state, last_held=at) if at is not None and state.last_held != at else state

    def current_firings(self, objective: ObjectiveResult) -> list[Firing]:
        """The firings of ``objective``'s open severities, from its tiers' states as last stepped."""
        states = self._load()
        firing: dict[str, tuple[BurnRateCondition, float]] = {}  # the strongest firing tier per severity
        for condition, name, factor in self._plan(objective):
            state = states.get((objective.name, name))
            if state is not None and state.firing:
                strongest = firing.get(condition.severity)
                if strongest is None or factor > strongest[1]:
                    firing[condition.severity] = (condition, factor)
        out: list[Firing] = []
        if not firing and not any((objective.name, severity) in self._open for severity in SEVERITY_ORDER):
            return out
        more_severe_open = False
        for severity in SEVERITY_ORDER:
            pair = (objective.name, severity)
            was_open = pair in self._open
            now_open = inhibited(was_open, severity in firing, more_severe_open)
            self._open_moved = self._open_moved or now_open != was_open
            if now_open:
                self._open.add(pair)
                condition, factor = firing[severity]
                long_rate = burn_rate(objective.burn_rates, condition.long_window)
                short_rate = burn_rate(objective.burn_rates, condition.short_window)
                out.append(Firing(
                    objective.name, condition.severity, condition, factor,
                    long_rate if long_rate is not None else 0.0, short_rate if short_rate is not None else 0.0,
                ))
            else:
                self._open.discard(pair)
            more_severe_open = more_severe_open or now_open
        return out

    def commit(self) -> None:
        """Forget objectives not evaluated since the last commit (removed from the config) and
        persist every tier's state that moved. Raises ``StoreError`` when the database cannot be
        written (the states stay in memory, and the next commit writes what moved since the last
        one that succeeded)."""
        states = self._load()
        if not self._last_seen <= self._seen:  # an objective gone since the last commit
            for name in self._last_seen - self._seen:
                self._unshape(name)
            for key in [k for k in states if k[0] not in self._seen]:
                del states[key]
                self._changed.add(key)
            self._open = {p for p in self._open if p[0] in self._seen}
            self._open_moved = True
        if self._store is not None and self._now is not None:
            everything = self._store.wants_everything()
            keys = states.keys() if everything else self._changed
            changed = {k: self._effective(k) for k in keys if k in states}
            self._store.save(changed, self._open, self._now, None if everything else self._changed,
                             opened_moved=self._open_moved)
        self._last_seen, self._seen = self._seen, set()  # after the save: a failed one can be retried
        self._changed = set()
        self._open_moved = False
