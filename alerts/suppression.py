"""The one place where silences and acknowledgements decide what is notified, for every notifier.

``Suppressor.decide`` takes what an evaluation is about to owe (alert records and their
notification) and returns what is really owed:

- a *firing* notice for an alert a silence mutes is held back, and the incident remembered as
  muted; once no silence mutes it and it still fires, its firing notice is owed then (at the
  next evaluation), so a silence that ends does not hide a page until the next repeat;
- a *resolved* notice is held back while muted, and for an incident whose firing notice never
  went out (nobody was told it started);
- a *repeat* of the firing notice of an acknowledged incident is held back (a new incident of the
  same alert is not acknowledged).

Alertmanager's semantics, applied before any notification is owed, so the outbox, the webhook,
Slack, PagerDuty and Alertmanager all see the same decision.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from redline.alerts.notifiers import AlertStatus
from redline.alerts.silences import SilenceStore
from redline.alerts.state import AlertRecord

__all__ = ["Suppressor"]

_log = logging.getLogger(__name__)

Change = tuple[AlertRecord, AlertStatus | None, bool]
"""An alert record to write, what it owes, and whether that is a repeat (which a full queue may drop)."""


class Suppressor:
    """Applies the silences and acknowledgements of ``store`` to an evaluation's notifications."""

    def __init__(self, store: SilenceStore, logger: logging.Logger | None = None) -> None:
        self._store = store
        self._log = logger if logger is not None else _log

    def decide(self, changes: Sequence[Change], records: Mapping[str, AlertRecord], now: float) -> list[Change]:
        """What ``changes`` really owe at ``now``; ``records`` are the alerts as they were before.

        Raises ``StoreError`` when the silences cannot be read or the muted incidents written.
        """
        silences = self._store.active(now)
        acked = {(a.key, a.started_at) for a in self._store.acknowledgements()}
        muted = self._store.muted()
        before = dict(muted)
        out: list[Change] = []
        seen: set[str] = set()

        def silence_for(record: AlertRecord) -> str | None:
            return next((s.id for s in silences if s.mutes(dict(record.labels), now)), None)

        for record, owe, repeating in changes:
            seen.add(record.key)
            decided = owe
            silence = silence_for(record)
            incident_muted = muted.get(record.key) == record.started_at
            if owe == "firing":
                previous = records.get(record.key)
                repeat = (previous is not None and previous.state == "firing"
                          and previous.started_at == record.started_at)
                if silence is not None:
                    decided = None
                    if (not repeat or incident_muted) and record.started_at is not None:
                        muted[record.key] = record.started_at
                    self._log.debug("alert %s: firing notice held back by silence %s", record.key, silence)
                elif repeat and (record.key, record.started_at) in acked:
                    decided = None
                    self._log.debug("alert %s: repeat held back, the incident is acknowledged", record.key)
                else:
                    muted.pop(record.key, None)
            elif owe == "resolved":
                if silence is not None or incident_muted:
                    decided = None
                    self._log.info("alert %s: resolved notice held back (%s)", record.key,
                                   f"silence {silence}" if silence else "its firing notice never went out")
                muted.pop(record.key, None)
            elif incident_muted and silence is None and record.state == "firing":
                decided = "firing"  # the silence ended while it still fires
                repeating = False
                del muted[record.key]
                self._log.info("alert %s: no longer silenced, firing notice owed", record.key)
            out.append((record, decided, repeating and decided == owe))
        for key, started_at in list(muted.items()):
            current = records.get(key)
            if key in seen or current is None or current.state != "firing" or current.started_at != started_at:
                if key not in seen and (current is None or current.state != "firing"):
                    del muted[key]  # resolved meanwhile without a change here: nothing to tell
                continue
            if silence_for(current) is None:
                out.append((current, "firing", False))  # the silence ended while it still fires
                del muted[key]
                self._log.info("alert %s: no longer silenced, firing notice owed", key)
        if muted != before:
            self._store.set_muted(muted)
        return out
