"""The agent's last evaluation, written into the data directory after each evaluation so the
dashboard paints from it instead of evaluating every objective again (format:
``redline.dashboard.last_evaluation``).

Written whole (temp file, fsync, rename): a reader sees the previous evaluation or this one,
never half of one. A failed write is logged and the agent goes on: the dashboard then finds the
file stale and evaluates by itself.
"""

from __future__ import annotations

import logging
from typing import IO

from redline.config import LoadedConfig
from redline.dashboard.last_evaluation import FILE_NAME, LastEvaluation, config_fingerprint, encode
from redline.kernel.errors import StoreError
from redline.slo.results import StatusReport
from redline.store.embedded import SampleStore
from redline.store.segments import write_atomically

__all__ = ["LastEvaluationWriter"]

log = logging.getLogger("redline.agent")


class LastEvaluationWriter:
    """Writes ``<data_dir>/last-evaluation.json`` for one config (its fingerprint computed once)."""

    def __init__(self, loaded: LoadedConfig, store: SampleStore) -> None:
        self.path = loaded.data_dir / FILE_NAME
        self._loaded = loaded
        self._store = store
        self._fingerprint: str | None = None
        self._failing: str | None = None  # the last failure logged, so a full disk logs once

    def write(self, report: StatusReport) -> bool:
        """Write ``report`` (evaluated at its ``at``); False when it could not be written (logged
        once per distinct failure, never raised)."""
        if self._fingerprint is None:
            self._fingerprint = config_fingerprint(self._loaded)
        try:
            newest_ms = self._store.newest_timestamp_ms()
            data = encode(LastEvaluation(report, report.at, self._fingerprint, None, newest_ms))
            write_atomically(self.path, lambda fh: _put(fh, data))
        except (StoreError, ValueError) as exc:
            if str(exc) != self._failing:
                self._failing = str(exc)
                log.warning("the last evaluation for the dashboard was not written: %s", exc)
            return False
        self._failing = None
        return True


def _put(fh: IO[bytes], data: bytes) -> None:
    fh.write(data)
