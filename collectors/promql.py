"""The PromQL collector: instant (and, once, range) queries over the Prometheus HTTP API.

Works against anything that speaks ``/api/v1/query`` and ``/api/v1/query_range``: Prometheus,
Thanos, Mimir/Cortex (``tenant`` → ``X-Scope-OrgID``), VictoriaMetrics. Queries are POSTed
form-encoded, so long expressions never hit a URL length limit.

Each entry of ``queries`` is stored under its ``record`` name: every result series keeps its
labels, ``__name__`` is replaced by ``record``, and ``source`` plus the configured labels are
added (a result label ``source`` becomes ``exported_source``). On the first collection a query
with ``lookback`` set is run as a range query over ``[now - lookback, now]`` at ``step``
(default: the interval) to backfill history; afterwards it is an instant query at the collection
time, once per interval. A backfill longer than ``MAX_POINTS_PER_REQUEST`` steps is split into
several range requests; ``body_size_limit`` bounds each response (a 6 h backfill of 1,000 series at
1 m is about 8 MB of JSON), and ``timeout`` bounds the whole collection.

Emitted metrics (one per configured query):

| metric | type | labels | unit |
|---|---|---|---|
| `<record>` | as returned (counters stay counters) | result labels but `__name__`; `source`; `labels` | query's |

Objectives from a PromQL backend
--------------------------------

A query returning counters feeds Redline's ratio SLI exactly as scraped counters do, because the
engine computes increases (with reset handling) on the recorded samples::

    sources:
      - name: prom
        kind: promql
        url: http://prometheus:9090
        interval: 30s
        lookback: 6h
        queries:
          - record: api_requests_total
            query: sum by (code) (http_requests_total{job="api"})
    slos:
      - name: api-availability
        objective: 99.9
        sli:
          ratio:
            errors: api_requests_total{code=~"5.."}
            total: api_requests_total

Record counters, not ``rate()``: Redline takes the increase itself. A ``sum`` of counters drops
when one summed instance restarts, which reads as a reset of the sum (as ``increase(sum(...))``
would in Prometheus); where instances restart often, record the per-instance counters
(``http_requests_total{job="api"}``, no ``sum``) and let the selector aggregate.

Errors
------

Every error names the source and its URL; a failed query also names its ``record`` and
expression and carries the server's ``errorType`` and ``error`` text (400 ``bad_data``, 422
``execution``, 503 ``timeout``). An HTML page from a proxy, a refused port or a timeout is an
error of every query. One failing query does not drop the others' samples: the health is
``ok=False`` naming the failed queries, and the good queries' samples are kept. Server
``warnings`` (a partial response) and queries that return no series are ``problems`` on an
``ok`` health. A collection over one of the source's limits (``collectors.limits``) fails whole,
keeping no sample: ``sample_limit`` counts the samples the instant queries answer and, for a
lookback backfill, the series it reads (its points are bounded by ``body_size_limit`` per request);
the label limits look at every series as stored. Secrets (bearer token, basic-auth password)
come from environment variables named in the config and never appear in errors or reprs; a
variable that is not set is a health error on every collection, and no request is sent.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Self

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from redline.collectors.base import (
    CollectorContext,
    CollectResult,
    Row,
    SeriesLimitSettings,
    bearer_header,
    check_label_names,
    collect_safely,
    samples_from_rows,
)
from redline.collectors.http_fetch import HttpURL, fetch_body, shown_url
from redline.collectors.limits import frame_limit_error
from redline.kernel.config_types import DurationSeconds
from redline.kernel.errors import ConfigError, SourceError
from redline.kernel.labels import format_labels
from redline.kernel.secrets import Secrets, secret_from_env
from redline.kernel.units import format_duration

__all__ = [
    "MAX_POINTS_PER_REQUEST",
    "PromQLBasicAuth",
    "PromQLCollector",
    "PromQLConfig",
    "PromQLQuery",
    "parse_answer",
]

MAX_POINTS_PER_REQUEST = 10_000
"""Points per series per range request; Prometheus refuses more than 11,000, so longer
backfills are split into several requests."""

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ERROR_STATUSES = (400, 422, 500, 503)
"""Statuses whose body is the API's JSON error (``errorType``/``error``) rather than a proxy's page."""
_RESERVED_HEADERS = frozenset({"authorization", "x-scope-orgid"})


class PromQLQuery(BaseModel):
    """One query and the metric name its result is stored under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    query: str = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    """Added to every series the query answers with (over a result label of the same name)."""

    _label_names = field_validator("labels")(check_label_names)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is blank")
        return value.strip()


class PromQLBasicAuth(BaseModel):
    """HTTP basic auth; the password is read from the named environment variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1)
    password_env: str = Field(pattern=_ENV_NAME)


class PromQLConfig(SeriesLimitSettings):
    """A PromQL HTTP API backend: ``kind: promql``."""

    kind: Literal["promql"]
    url: HttpURL
    """Base URL of the API (``http://127.0.0.1:9090``, Mimir's ``http://mimir/prometheus``)."""
    queries: list[PromQLQuery] = Field(default_factory=list)
    """Recorded each collection; may be empty when the source only answers objectives' query SLIs."""
    bearer_token_env: str | None = Field(default=None, pattern=_ENV_NAME)
    basic_auth: PromQLBasicAuth | None = None
    tenant: str | None = Field(default=None, min_length=1)
    """Sent as ``X-Scope-OrgID`` (Mimir, Cortex, Loki-style multi-tenancy)."""
    lookback: DurationSeconds | None = None
    """Backfill this much history with a range query on the first collection."""
    step: DurationSeconds | None = None
    """Resolution of the backfill; unset: the interval."""
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def step_s(self) -> float:
        """The range-query step in force."""
        return self.step if self.step is not None else self.interval

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(
                    f"{name!r} is set from bearer_token_env, basic_auth or tenant, not from headers "
                    "(secrets never go in the config file)"
                )
        return value

    @model_validator(mode="after")
    def _one_auth(self) -> Self:
        if self.bearer_token_env is not None and self.basic_auth is not None:
            raise ValueError("give at most one of bearer_token_env and basic_auth")
        if self.step is not None and self.step < 0.001:
            raise ValueError("step must be at least 1ms")
        return self


@dataclass(frozen=True)
class _Answer:
    rows: list[Row]
    problems: list[str]
    series: int = 1
    """How many series the rows belong to (what ``sample_limit`` counts of a backfill)."""


def _request_headers(config: PromQLConfig, env: Mapping[str, str]) -> tuple[Secrets, str | None]:
    """The headers every request carries (a ``Secrets``: its repr never shows the credentials), or
    the reason none can be sent (a secret is unset)."""
    headers = Secrets(config.headers)
    if config.tenant is not None:
        headers["X-Scope-OrgID"] = config.tenant
    try:
        if config.bearer_token_env is not None:
            headers |= bearer_header(config.bearer_token_env, env)
        if config.basic_auth is not None:
            password = secret_from_env(config.basic_auth.password_env, env, where="basic_auth.password_env")
            pair = f"{config.basic_auth.username}:{password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    except ConfigError as exc:
        return Secrets(), str(exc)
    return headers, None


def _shown_query(query: PromQLQuery) -> str:
    text = " ".join(query.query.split())
    labels = f"{{{format_labels(query.labels)}}}" if query.labels else ""
    return f"query {query.record!r}{labels} ({text if len(text) <= 200 else text[:197] + '...'})"


def _point(pair: Any) -> tuple[int, float]:
    """``[unix_seconds, "value"]`` → (ms, value); ``ValueError`` when it is not that."""
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], int | float):
        raise ValueError(f"expected [timestamp, \"value\"], got {str(pair)[:80]}")
    if isinstance(pair[0], bool) or not isinstance(pair[1], str):
        raise ValueError(f"expected [timestamp, \"value\"], got {str(pair)[:80]}")
    ts = float(pair[0])
    if not math.isfinite(ts):
        raise ValueError(f"timestamp {pair[0]!r} is not finite")
    return round(ts * 1000), float(pair[1])  # float() reads "NaN", "+Inf", "-Inf" as Prometheus writes them


def parse_answer(status: int, body: Any, record: str) -> _Answer:
    """Read one API answer into rows stored under ``record``; ``SourceError`` for a failed query."""
    if not isinstance(body, dict):
        raise SourceError(f"expected a JSON object with 'status' and 'data', got {type(body).__name__}")
    if body.get("status") == "error" or status >= 400:
        kind = body.get("errorType") or "error"
        text = body.get("error") or "(no error text)"
        raise SourceError(f"HTTP {status} {kind}: {text}")
    if body.get("status") != "success":
        raise SourceError(f"expected status 'success' or 'error', got {body.get('status')!r}")
    problems = [f"server warning: {w}" for w in body.get("warnings") or ()]
    problems += [f"server info: {w}" for w in body.get("infos") or ()]
    data = body.get("data")
    if not isinstance(data, dict):
        raise SourceError("answer has no 'data' object")
    kind, result = data.get("resultType"), data.get("result")
    rows: list[Row] = []
    if kind == "scalar":
        try:
            ts_ms, value = _point(result)
        except ValueError as exc:
            raise SourceError(f"bad scalar result: {exc}") from None
        return _Answer([(record, {}, ts_ms, value)], problems)
    if kind == "string":
        raise SourceError("the query returns a string, which has no numeric value to store")
    if kind not in ("vector", "matrix") or not isinstance(result, list):
        raise SourceError(f"unknown resultType {kind!r}")
    seen: set[str] = set()
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
            problems.append(f"series without a 'metric' object skipped: {str(item)[:80]}")
            continue
        labels = {str(k): str(v) for k, v in item["metric"].items() if k != "__name__"}
        key = format_labels(labels)
        if key in seen:
            problems.append(f"two result series have labels {{{key}}} once __name__ is replaced; the second is skipped")
            continue
        seen.add(key)
        if "histogram" in item or "histograms" in item:
            problems.append(f"native histogram series {{{key}}} skipped: record a float expression instead")
            continue
        points = [item.get("value")] if kind == "vector" else item.get("values")
        if not isinstance(points, list):
            problems.append(f"series {{{key}}} has no {'value' if kind == 'vector' else 'values'}; skipped")
            continue
        for pair in points:
            try:
                ts_ms, value = _point(pair)
            except ValueError as exc:
                problems.append(f"series {{{key}}}: point skipped: {exc}")
                continue
            rows.append((record, labels, ts_ms, value))
    return _Answer(rows, problems, len(seen))


class PromQLCollector:
    """Runs every configured query once per ``collect()`` and stores each result under its record.

    The context's ``env`` is where the ``*_env`` secrets are read (at construction); its clock
    gives the evaluation time (seconds since the epoch). ``timeout`` bounds the whole collection:
    queries still waiting when it is spent fail with that reason. Not thread-safe: the scheduler
    runs one collect per source at a time.
    """

    def __init__(
        self,
        config: PromQLConfig,
        context: CollectorContext,
        *,
        planned: Callable[[int], Sequence[PromQLQuery]] | None = None,
    ) -> None:
        self.name = config.name
        self._planned = planned
        """More instant queries for each collection time (ms): the query SLIs this source answers."""
        self.config = config
        self._client = context.http
        self._clock = context.clock
        base = config.url.rstrip("/")
        self._query_url = f"{base}/api/v1/query"
        self._range_url = f"{base}/api/v1/query_range"
        self._where = f"source {config.name!r} ({shown_url(config.url)})"
        self._headers, self._setup_error = _request_headers(config, context.env)
        self._backfilled: set[int] = set()
        """Indexes of queries whose lookback range has been read (a failed backfill is retried)."""

    def __repr__(self) -> str:
        return f"PromQLCollector(name={self.name!r}, url={shown_url(self.config.url)!r})"

    def collect(self) -> CollectResult:
        """Run the queries once. Never raises: every failure is on ``result.health``."""
        return collect_safely(self.name, self._where, self._clock, self._run)

    def _run(self, now_ms: int) -> tuple[pl.DataFrame, list[str], str | None]:
        """The samples of the queries that answered, their problems, and the error naming the
        queries that failed outright (the source is then not ok, but the others' samples are kept)."""
        if self._setup_error is not None:
            raise SourceError(self._setup_error)
        deadline = time.monotonic() + self.config.timeout_s
        rows: list[Row] = []
        problems: list[str] = []
        failed: list[str] = []
        counted = 0
        """What sample_limit counts: an instant answer's samples, a backfill's series."""
        backfilled: list[int] = []
        planned = list(self._planned(now_ms)) if self._planned is not None else []
        queries = [*self.config.queries, *planned]
        for index, query in enumerate(queries):
            shown = _shown_query(query)
            try:
                if self.config.lookback is not None and index < len(self.config.queries) and (
                    index not in self._backfilled
                ):
                    answer = self._range(query, now_ms, deadline)
                    backfilled.append(index)
                    counted += answer.series
                else:
                    answer = self._ask(self._query_url, query, {"time": _seconds(now_ms)}, deadline)
                    counted += len(answer.rows)
            except SourceError as exc:
                failed.append(f"{shown}: {exc}")
                continue
            if not answer.rows:
                problems.append(f"{shown} returned no series")
            problems.extend(f"{shown}: {p}" for p in answer.problems)
            rows.extend((m, {**labels, **query.labels}, t, v) for m, labels, t, v in answer.rows)
        if failed and not rows:
            raise SourceError("; ".join(failed + problems))
        # Over a limit the collection fails whole, as a Prometheus scrape does; a backfill is tried again.
        limits = self.config.limits
        over = limits.samples_error(counted, "samples and backfilled series" if backfilled else "samples")
        if over is not None:
            raise SourceError(over)
        samples = samples_from_rows(rows, self.config.series_labels())
        over = frame_limit_error(samples, replace(limits, sample_limit=0))
        if over is not None:
            raise SourceError(over)
        self._backfilled.update(backfilled)
        error = f"{len(failed)} of {len(queries)} queries failed: " + "; ".join(failed) if failed else None
        return samples, problems, error

    def _range(self, query: PromQLQuery, now_ms: int, deadline: float) -> _Answer:
        """The lookback as range queries of at most ``MAX_POINTS_PER_REQUEST`` points each,
        ending at ``now`` (so the grid is ``now - k * step``)."""
        assert self.config.lookback is not None
        step_ms = round(self.config.step_s * 1000)
        end_ms = now_ms
        start_ms = now_ms - (round(self.config.lookback * 1000) // step_ms) * step_ms
        rows: list[Row] = []
        problems: list[str] = []
        series = 0
        chunk_start = start_ms
        while chunk_start <= end_ms:
            chunk_end = min(chunk_start + (MAX_POINTS_PER_REQUEST - 1) * step_ms, end_ms)
            params = {
                "start": _seconds(chunk_start),
                "end": _seconds(chunk_end),
                "step": _seconds(step_ms),
            }
            answer = self._ask(self._range_url, query, params, deadline)
            rows.extend(answer.rows)
            problems.extend(answer.problems)
            series = max(series, answer.series)
            chunk_start = chunk_end + step_ms
        return _Answer(rows, problems, series)

    def _ask(self, url: str, query: PromQLQuery, params: Mapping[str, str], deadline: float) -> _Answer:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SourceError(f"not run: the source's timeout ({format_duration(self.config.timeout_s)}) was spent")
        # The server-side timeout makes the backend abandon the evaluation when we stop waiting
        # (a duration string: the API documents `timeout=<duration>`).
        data = {"query": query.query, **params, "timeout": f"{max(1, int(left * 1000))}ms"}
        fetched = fetch_body(
            self._client,
            url,
            method="POST",
            data=data,
            headers=self._headers,
            timeout_s=left,
            max_bytes=self.config.read_limit,
            accept_status=_ERROR_STATUSES,
        )
        return parse_answer(fetched.status, fetched.json(), query.record)


def _seconds(ms: int) -> str:
    """Milliseconds as the API's decimal seconds (``1700000000.250``)."""
    return f"{ms // 1000}.{ms % 1000:03d}"
