"""The Prometheus/OpenMetrics scrape collector: GET a ``/metrics`` page and parse it.

Every error (refused, timeout, non-2xx, body over the size limit, nothing parseable) lands on
the result's health with the source name and the URL; ``collect()`` never raises.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from collectors.base import CollectResult, SourceHealth
from collectors.exposition import ExpositionParser
from store.fields import DurationSeconds
from store.types import format_duration

__all__ = ["ACCEPT", "PrometheusScrapeCollector", "PrometheusScrapeConfig"]

logger = logging.getLogger(__name__)

ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.9,"
    "text/plain;version=0.0.4;q=0.5,"
    "*/*;q=0.1"
)
"""Prefer OpenMetrics, then text 0.0.4, as Prometheus does."""

_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class PrometheusScrapeConfig(BaseModel):
    """One scrape target: ``kind: prometheus_scrape``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["prometheus_scrape"]
    url: str
    interval: DurationSeconds = 15.0
    timeout: DurationSeconds | None = None
    """Unset: 10 s, or the interval when that is shorter (as Prometheus's scrape_timeout)."""
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("expected an http:// or https:// URL with a host")
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if _LABEL_NAME_RE.fullmatch(name) is None or name.startswith("__"):
                raise ValueError(f"{name!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting __)")
            if name == "source":
                raise ValueError("'source' is set by Redline to the source name; choose another label")
        return value

    @property
    def timeout_s(self) -> float:
        """The scrape timeout in force."""
        return self.timeout if self.timeout is not None else min(10.0, self.interval)

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> PrometheusScrapeConfig:
        if self.timeout is not None and self.timeout > self.interval:
            raise ValueError(
                f"timeout ({format_duration(self.timeout)}) must not exceed interval "
                f"({format_duration(self.interval)})"
            )
        return self


def _shown_url(url: str) -> str:
    """The URL without credentials, for error messages."""
    parsed = httpx.URL(url)
    if parsed.userinfo:
        return str(parsed.copy_with(username=None, password=None))
    return url


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


class _BodyTooLarge(Exception):
    pass


class PrometheusScrapeCollector:
    """Scrapes one target per ``collect()``; labels every series with ``source`` and config labels.

    The clock gives the scrape time (seconds since the epoch) stamped on samples without an
    explicit timestamp. Not thread-safe: the scheduler runs one collect per source at a time.
    """

    def __init__(
        self,
        config: PrometheusScrapeConfig,
        client: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = config.name
        self.config = config
        self._client = client
        self._clock = clock
        self._where = f"source {config.name!r} ({_shown_url(config.url)})"
        self._parser = ExpositionParser({**config.labels, "source": config.name})

    def collect(self) -> CollectResult:
        """Scrape once. Never raises: every failure is on ``result.health``."""
        scrape_ms = int(self._clock() * 1000)
        started = time.monotonic()
        try:
            return self._collect(scrape_ms, started)
        except Exception as exc:  # containment: a collector must never raise into the scheduler
            logger.exception("%s: unexpected error while scraping", self._where)
            return self._failed(scrape_ms, started, f"unexpected error: {type(exc).__name__}: {exc}")

    def _collect(self, scrape_ms: int, started: float) -> CollectResult:
        cfg = self.config
        try:
            body, content_type = self._fetch(started)
        except _BodyTooLarge:
            what = f"body exceeds max_body_bytes ({cfg.max_body_bytes} bytes); scrape dropped"
            return self._failed(scrape_ms, started, what)
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            return self._failed(scrape_ms, started, f"HTTP {status} {exc.response.reason_phrase}".rstrip())
        except httpx.TimeoutException:
            return self._failed(scrape_ms, started, f"timed out after {format_duration(cfg.timeout_s)}")
        except httpx.ConnectError as exc:
            return self._failed(scrape_ms, started, f"cannot connect: {exc}")
        except httpx.HTTPError as exc:
            return self._failed(scrape_ms, started, f"{type(exc).__name__}: {exc}")

        problems: list[str] = []
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_lines(body, problems)
        media = content_type.split(";", 1)[0].strip().lower()
        openmetrics = {"application/openmetrics-text": True, "text/plain": False}.get(media)
        parsed = self._parser.parse(text, default_timestamp_ms=scrape_ms, openmetrics=openmetrics)
        problems.extend(parsed.problems)
        samples = parsed.samples
        error = None
        if samples.height == 0 and problems:
            error = f"{self._where}: no sample could be parsed from the {len(body)}-byte body; {problems[0]}"
        health = SourceHealth(
            source=self.name,
            ok=error is None,
            error=error,
            duration_seconds=time.monotonic() - started,
            samples=samples.height,
            timestamp_ms=scrape_ms,
            problems=tuple(problems),
        )
        return CollectResult(health, samples)

    def _fetch(self, started: float) -> tuple[bytes, str]:
        """The body and content type; raises httpx errors, or ``_BodyTooLarge``."""
        cfg = self.config
        deadline = started + cfg.timeout_s
        chunks: list[bytes] = []
        size = 0
        with self._client.stream(
            "GET", cfg.url, headers={"Accept": ACCEPT}, timeout=cfg.timeout_s, follow_redirects=True
        ) as response:
            response.raise_for_status()
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > cfg.max_body_bytes:
                raise _BodyTooLarge
            # iter_bytes decodes gzip, so the limit also bounds a compressed bomb.
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cfg.max_body_bytes:
                    raise _BodyTooLarge
                chunks.append(chunk)
                # httpx's timeout is per read; a target trickling bytes is cut at the total.
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("scrape exceeded its total timeout")
            return b"".join(chunks), response.headers.get("content-type", "")

    def _failed(self, scrape_ms: int, started: float, what: str) -> CollectResult:
        health = SourceHealth(
            source=self.name,
            ok=False,
            error=f"{self._where}: {what}",
            duration_seconds=time.monotonic() - started,
            samples=0,
            timestamp_ms=scrape_ms,
        )
        return CollectResult(health)
