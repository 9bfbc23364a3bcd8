"""Which notifiers an alert goes to: routes matched on its labels, first match or continue.

A route matches when every ``match`` label equals and every ``match_re`` label fully matches
its regular expression (an absent label reads as ""). Routes are tried in order; the first
that matches sends to its notifiers and stops, unless it says ``continue``. An alert no route
matched goes to the default notifiers. Severity, dimension, owner or team are labels like any
other (``severity``, ``dimension``, ``team``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Route", "Router"]


@dataclass(frozen=True)
class Route:
    """Send alerts whose labels match to ``notifiers``; ``continue_`` keeps trying later routes."""

    notifiers: tuple[str, ...]
    match: Mapping[str, str] = field(default_factory=dict)
    match_re: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    continue_: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every matcher holds on ``labels``."""
        return all(labels.get(k, "") == v for k, v in self.match.items()) and all(
            p.fullmatch(labels.get(k, "")) is not None for k, p in self.match_re.items()
        )


@dataclass(frozen=True)
class Router:
    """Routes in order, and the default notifiers for an alert none matched."""

    routes: tuple[Route, ...] = ()
    default: tuple[str, ...] = ()

    def route(self, labels: Mapping[str, str], exclude: Collection[str] = ()) -> tuple[str, ...]:
        """The notifiers for an alert with ``labels``, each once, in route order, without ``exclude``.

        ``exclude`` is for a meta-alert about a notifier: it goes out through the other routes.
        """
        chosen: list[str] = []
        matched = False
        for route in self.routes:
            if route.matches(labels):
                matched = True
                chosen.extend(route.notifiers)
                if not route.continue_:
                    break
        if not matched:
            chosen.extend(self.default)
        return tuple(n for n in dict.fromkeys(chosen) if n not in exclude)

    @classmethod
    def everyone(cls, notifiers: Sequence[str]) -> Router:
        """No routes: every alert goes to every notifier."""
        return cls((), tuple(notifiers))
