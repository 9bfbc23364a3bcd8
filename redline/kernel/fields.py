"""The sample frame: the columns every batch of samples has.

A batch of samples is a polars frame with exactly ``SAMPLE_SCHEMA``:

- ``metric``: the sample name as exposed (``http_requests_total``, ``x_bucket``)
- ``labels``: the canonical label string (``redline.kernel.labels.format_labels``), keys sorted,
  values escaped as in the exposition format and without braces: ``code="200",service="api"``
  (empty string for no labels)
- ``timestamp``: milliseconds since the Unix epoch, UTC
- ``value``: float64 (``NaN`` and ``±Inf`` allowed)

The canonical label string makes (metric, labels) a series key that compares by equality, so
selectors are matched once per distinct series, never per sample.
"""

from __future__ import annotations

from typing import Final

import polars as pl

__all__ = ["SAMPLE_SCHEMA", "empty_samples"]

SAMPLE_SCHEMA: Final = pl.Schema(
    {"metric": pl.String, "labels": pl.String, "timestamp": pl.Int64, "value": pl.Float64}
)


def empty_samples() -> pl.DataFrame:
    """An empty frame with the sample schema."""
    return pl.DataFrame(schema=SAMPLE_SCHEMA)
