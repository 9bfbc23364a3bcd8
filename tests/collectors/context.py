"""The ``CollectorContext`` a collector test hands in: a dict environment, its own clock, its HTTP client."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx

from redline.collectors.base import CollectorContext


def _no_request(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"this collector should make no HTTP request, but asked for {request.url}")


NO_HTTP = httpx.Client(transport=httpx.MockTransport(_no_request))
"""The client of a test whose collector reads files or runs a command: any request fails the test."""


def context(
    clock: Callable[[], float] = time.time, *, env: Mapping[str, str] | None = None, http: httpx.Client | None = None
) -> CollectorContext:
    """A context with ``clock``, ``env`` (default empty: nothing leaks in from the test's own
    environment) and ``http`` (default ``NO_HTTP``)."""
    return CollectorContext(clock=clock, env={} if env is None else env, http=NO_HTTP if http is None else http)
