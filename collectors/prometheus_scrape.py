"""The Prometheus/OpenMetrics scrape collector: GET a ``/metrics`` page and parse it.

Every error (refused, timeout, non-2xx, body over the size limit, nothing parseable) lands on
the result's health with the source name and the URL; ``collect()`` never raises. A scrape over
one of the source's limits (``collectors.limits``) fails whole, as in Prometheus: no sample of it
is kept and the error names the limit and the value.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import polars as pl

from redline.collectors.base import CollectorContext, CollectResult, SeriesLimitSettings, collect_safely
from redline.collectors.exposition import ExpositionParser, ParsedExposition
from redline.collectors.http_fetch import HttpURL, fetch_body, shown_url
from redline.kernel.errors import SourceError

if TYPE_CHECKING:
    import httpx

__all__ = ["ACCEPT", "PrometheusScrapeCollector", "PrometheusScrapeConfig", "scrape_exposition"]

logger = logging.getLogger(__name__)

ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.9,"
    "text/plain;version=0.0.4;q=0.5,"
    "*/*;q=0.1"
)
"""Prefer OpenMetrics, then text 0.0.4, as Prometheus does."""



class PrometheusScrapeConfig(SeriesLimitSettings):
    """One scrape target: ``kind: prometheus_scrape``."""

    kind: Literal["prometheus_scrape"]
    url: HttpURL


def _decode_lines(body: bytes, problems: list[str]) -> str:
    """The body with every line that is not valid UTF-8 blanked (so line numbers hold) and reported."""
    lines = body.split(b"\n")
    for i, raw in enumerate(lines):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if len(problems) < 50:
                shown = raw[:120].decode("utf-8", errors="replace")
                problems.append(f"line {i + 1}: not valid UTF-8 at byte {exc.start + 1}, line skipped: {shown!r}")
            lines[i] = b""
    return b"\n".join(lines).decode("utf-8")


def scrape_exposition(
    client: httpx.Client,
    url: str,
    parser: ExpositionParser,
    *,
    timeout_s: float,
    max_bytes: int,
    now_ms: int,
    expected: str | None = None,
    accept: str = ACCEPT,
) -> tuple[ParsedExposition, list[str]]:
    """Fetch one /metrics page and parse it: (the exposition, its problems).

    Lines that are not valid UTF-8 are blanked and reported (the rest lands); OpenMetrics or text
    0.0.4 follows the media type (by a final ``# EOF`` when the type says neither); samples without
    a timestamp get ``now_ms``. With ``expected`` (what the page should be), a ``text/html`` answer
    is a ``SourceError`` (a proxy or login page). ``accept`` is the Accept header (OpenMetrics
    preferred by default). Errors of the fetch are ``fetch_body``'s; an exposition over the parser's
    limits is a ``SourceError`` naming the limit.
    """
    fetched = fetch_body(client, url, timeout_s=timeout_s, max_bytes=max_bytes, headers={"Accept": accept})
    if expected is not None and fetched.media_type == "text/html":
        start = fetched.body[:80].decode("utf-8", errors="replace").strip()
        raise SourceError(f"expected {expected} but got text/html (a proxy or login page?): {start!r}")
    problems: list[str] = []
    try:
        text = fetched.body.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_lines(fetched.body, problems)
    openmetrics = {"application/openmetrics-text": True, "text/plain": False}.get(fetched.media_type)
    parsed = parser.parse(text, default_timestamp_ms=now_ms, openmetrics=openmetrics)
    if parsed.over_limit is not None:
        raise SourceError(parsed.over_limit)
    problems.extend(parsed.problems)
    return parsed, problems


class PrometheusScrapeCollector:
    """Scrapes one target per ``collect()``; labels every series with ``source`` and config labels.

    The context's clock gives the scrape time (seconds since the epoch) stamped on samples without an
    explicit timestamp. Not thread-safe: the scheduler runs one collect per source at a time.
    """

    def __init__(self, config: PrometheusScrapeConfig, context: CollectorContext) -> None:
        self.name = config.name
        self.config = config
        self._client = context.http
        self._clock = context.clock
        self._where = f"source {config.name!r} ({shown_url(config.url)})"
        self._parser = ExpositionParser(config.series_labels(), limits=config.limits)

    def collect(self) -> CollectResult:
        """Scrape once. Never raises: every failure is on ``result.health``."""
        return collect_safely(self.name, self._where, self._clock, self._scrape, empty_is_error=False)

    def _scrape(self, scrape_ms: int) -> tuple[pl.DataFrame, list[str]]:
        cfg = self.config
        parsed, problems = scrape_exposition(
            self._client, cfg.url, self._parser, timeout_s=cfg.timeout_s, max_bytes=cfg.read_limit, now_ms=scrape_ms
        )
        return parsed.samples, problems
