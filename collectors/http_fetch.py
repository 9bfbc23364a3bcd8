"""Fetching a body over HTTP for a collector: total timeout, size limit, errors as ``SourceError``.

Every collector that talks HTTP (scrape, PromQL API, OpenCost, a JSON freshness endpoint) goes
through here, so a down target, a timeout, an oversized or non-JSON body reads the same way on
every source's health.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator

from redline.kernel.errors import SourceError
from redline.kernel.units import format_duration

if TYPE_CHECKING:
    import httpx

__all__ = ["FetchedBody", "HttpURL", "fetch_body", "shown_url"]


def _check_http_url(value: str) -> str:
    import httpx  # here, not at the top: importing a collector module (a config load) must not import httpx

    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value


HttpURL = Annotated[str, AfterValidator(_check_http_url)]
"""A config field holding an http:// or https:// URL with a host, checked at load."""


@dataclass(frozen=True)
class FetchedBody:
    """A whole response body and what the server said it was."""

    status: int
    content_type: str
    body: bytes

    @property
    def media_type(self) -> str:
        """The content type without parameters, lower-cased (``text/html``)."""
        return self.content_type.split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body decoded as JSON; an HTML page (a proxy's login or error page) or any other
        non-JSON body raises ``SourceError`` naming what arrived instead."""
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            start = self.body[:80].decode("utf-8", errors="replace").strip()
            kind = self.media_type or "an untyped body"
            raise SourceError(
                f"expected JSON but got {kind} (HTTP {self.status}; a proxy or login page?): {start!r}"
            ) from None


def shown_url(url: str) -> str:
    """The URL without credentials, for error messages."""
    import httpx

    parsed = httpx.URL(url)
    if parsed.userinfo:
        return str(parsed.copy_with(username=None, password=None))
    return url


def fetch_body(
    client: httpx.Client,
    url: str,
    *,
    timeout_s: float,
    max_bytes: int,
    method: str = "GET",
    params: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    accept_status: Collection[int] = (),
) -> FetchedBody:
    """Fetch ``url``, streaming the body up to ``max_bytes`` (the source's ``body_size_limit``, counted
    after decompression, as Prometheus does) and ``timeout_s`` in total.

    A 2xx answer, or one whose status is in ``accept_status`` (e.g. the PromQL API's 400/422
    with a JSON error body), is returned; anything else raises ``SourceError`` saying what
    happened (HTTP status, timeout, refused connection, body too large). Never names credentials.
    """
    import httpx

    deadline = time.monotonic() + timeout_s
    try:
        with client.stream(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            timeout=timeout_s,
            follow_redirects=True,
        ) as response:
            status = response.status_code
            if not (200 <= status < 300 or status in accept_status):
                raise SourceError(f"HTTP {status} {response.reason_phrase}".rstrip())
            declared = response.headers.get("content-length")
            # A compressed body's length says nothing of its size once decoded, which is what counts.
            identity = response.headers.get("content-encoding", "identity").strip().lower() == "identity"
            if identity and declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise SourceError(f"body_size_limit {max_bytes} exceeded: {int(declared)} bytes (Content-Length)")
            chunks: list[bytes] = []
            size = 0
            # iter_bytes decodes gzip, so the limit is on the decoded body and bounds a compressed bomb.
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SourceError(f"body_size_limit {max_bytes} exceeded: more than {max_bytes} bytes read")
                chunks.append(chunk)
                # httpx's timeout is per read; a server trickling bytes is cut at the total.
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("exceeded the total timeout")
            return FetchedBody(status, response.headers.get("content-type", ""), b"".join(chunks))
    except httpx.TimeoutException:
        raise SourceError(f"timed out after {format_duration(timeout_s)}") from None
    except httpx.ConnectError as exc:
        raise SourceError(f"cannot connect: {exc}") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"{type(exc).__name__}: {exc}") from None
