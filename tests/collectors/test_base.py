"""collect_safely: how a fetch's outcome becomes a source's health."""

from __future__ import annotations

import polars as pl

from redline.collectors.base import Fetched, collect_safely, samples_from_rows
from redline.kernel.errors import SourceError

WHERE = "source 'x' (http://127.0.0.1/metrics)"
ROWS = samples_from_rows([("up", {}, 1_000, 1.0), ("up", {"b": "1"}, 1_000, 0.0)], {"source": "x"})


def clock() -> float:
    return 1.0


def test_a_fetch_that_failed_in_part_is_not_ok_and_keeps_the_samples_it_read() -> None:
    def fetch(now_ms: int) -> Fetched:
        return ROWS, ["query b returned no series"], "1 of 3 queries failed: query c: HTTP 503"

    result = collect_safely("x", WHERE, clock, fetch)
    assert not result.health.ok
    assert result.health.error == f"{WHERE}: 1 of 3 queries failed: query c: HTTP 503"
    assert result.health.problems == ("query b returned no series",)
    assert result.health.samples == 2
    assert result.samples.equals(ROWS)


def test_a_third_element_of_none_is_a_healthy_collection() -> None:
    result = collect_safely("x", WHERE, clock, lambda now_ms: (ROWS, [], None))
    assert result.health.ok and result.health.error is None
    assert result.health.timestamp_ms == 1_000
    assert result.samples.height == 2


def test_a_raised_source_error_stores_nothing_and_names_the_source() -> None:
    def fetch(now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        raise SourceError("cannot connect: refused")

    result = collect_safely("x", WHERE, clock, fetch)
    assert result.health.error == f"{WHERE}: cannot connect: refused"
    assert result.samples.is_empty() and result.health.samples == 0
