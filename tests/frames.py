"""Sample frames for tests: one series as a ``SAMPLE_SCHEMA`` frame, and UTC instants in ms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA

__all__ = ["series_frame", "utc_ms"]


def series_frame(metric: str, labels: str, ts: np.ndarray[Any, Any], values: np.ndarray[Any, Any]) -> pl.DataFrame:
    """One series (``labels`` in canonical text) at timestamps ``ts`` (ms) with ``values``."""
    n = len(ts)
    return pl.DataFrame(
        {"metric": [metric] * n, "labels": [labels] * n, "timestamp": ts, "value": values}, schema=SAMPLE_SCHEMA
    )


def utc_ms(*args: int) -> int:
    """``datetime(*args)`` in UTC as Unix milliseconds."""
    return round(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]
