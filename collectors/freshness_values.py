"""Freshness from one value: a timestamp read as epoch or ISO 8601, a JSON field, a SQL query, dbt results.

Timestamps are accepted as (``to_epoch_seconds``):

- a number (or a string of digits) of seconds, milliseconds, microseconds or nanoseconds since
  the Unix epoch, told apart by magnitude: below 1e11 it is seconds (1e11 s is the year 5138),
  below 1e14 milliseconds (1e11 ms is March 1973, so no current timestamp is ambiguous),
  below 1e17 microseconds, otherwise nanoseconds;
- an ISO 8601 string, ``T`` or a space between date and time (so SQLite's
  ``YYYY-MM-DD HH:MM:SS`` and dbt's ``2024-01-15T10:00:00.123+00:00`` both read), with ``Z`` or
  an offset; a string without an offset is UTC;
- a ``datetime`` (naive means UTC) or a ``date`` (midnight UTC), as a database driver returns them.

Anything else is a ``SourceError`` naming the value.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from redline.kernel.errors import SourceError

__all__ = [
    "DbtResult",
    "field_value",
    "parse_field_path",
    "query_sqlalchemy",
    "query_sqlite",
    "read_dbt_sources",
    "shown_db_url",
    "to_epoch_seconds",
]

_DIGITS_RE = re.compile(r"[+-]?\d+(\.\d+)?")
_PATH_TOKEN_RE = re.compile(r"""\.?([^.\[\]'"]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]""")


def _from_number(value: float) -> float:
    magnitude = abs(value)
    if magnitude < 1e11:
        return float(value)
    if magnitude < 1e14:
        return value / 1e3
    if magnitude < 1e17:
        return value / 1e6
    return value / 1e9


def _from_datetime(value: datetime) -> float:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def to_epoch_seconds(value: object, what: str) -> float:
    """Unix seconds from a number, digits, an ISO 8601 string, a datetime or a date (see module doc).

    ``what`` names where the value came from (``field 'job.finished'``) in the ``SourceError``.
    """
    if isinstance(value, bool) or value is None:
        raise SourceError(f"{what} is {json.dumps(value)}, not a timestamp")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise SourceError(f"{what} is {value}, not a timestamp")
        return _from_number(value)
    if isinstance(value, datetime):
        return _from_datetime(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, str):
        text = value.strip()
        if _DIGITS_RE.fullmatch(text):
            return _from_number(float(text))
        try:
            return _from_datetime(datetime.fromisoformat(text))
        except ValueError:
            pass
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise SourceError(
        f"{what} holds {shown}, not a timestamp (expected epoch seconds/ms, or ISO 8601 such as 2024-01-15T10:00:00Z)"
    )


# ---------------------------------------------------------------------------------------------
# JSON fields


def parse_field_path(path: str) -> tuple[str | int, ...]:
    """``job.last_success.at``, ``jobs.0.end`` or JSONPath ``$.jobs[0]['end']`` → keys and indexes.

    Raises ``ValueError`` for a path that is empty or does not tokenise.
    """
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    tokens: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _PATH_TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read field path {path!r} at column {pos + 1}")
        name, index, single, double = m.groups()
        if index is not None:
            tokens.append(int(index))
        elif name is not None and name.isdigit():
            tokens.append(int(name))
        else:
            tokens.append(next(t for t in (name, single, double) if t is not None))
        pos = m.end()
    if not tokens:
        raise ValueError("field path is empty")
    return tuple(tokens)


def field_value(document: Any, path: tuple[str | int, ...], shown: str) -> Any:
    """The value at ``path``; ``SourceError`` saying which step is missing (``shown`` is the path as written)."""
    node = document
    for depth, key in enumerate(path):
        here = ".".join(str(k) for k in path[:depth]) or "the top level"
        if isinstance(key, int) and isinstance(node, list):
            if key >= len(node):
                raise SourceError(f"field {shown!r} not found: {here} has {len(node)} items, no index {key}")
            node = node[key]
        elif isinstance(node, dict) and str(key) in node:
            node = node[str(key)]
        elif isinstance(node, dict):
            keys = ", ".join(sorted(node)[:10]) or "none"
            raise SourceError(f"field {shown!r} not found: no key {str(key)!r} at {here} (keys: {keys})")
        else:
            raise SourceError(f"field {shown!r} not found: {here} is a {type(node).__name__}, not an object or list")
    return node


# ---------------------------------------------------------------------------------------------
# SQL


@dataclass(frozen=True)
class QueryRow:
    """What a freshness query returned: the newest timestamp, and a row count if it gave a second column."""

    newest: object
    rows: object | None


def _query_row(row: Any) -> QueryRow:
    if row is None:
        raise SourceError("query returned no row")
    values = tuple(row)
    if not values or values[0] is None:
        raise SourceError("query returned NULL (no data yet, or an empty table?)")
    return QueryRow(values[0], values[1] if len(values) > 1 else None)


def query_sqlite(database: Path, sql: str, timeout_s: float) -> QueryRow:
    """Run ``sql`` read-only (URI ``mode=ro``) on a SQLite file; a query running past ``timeout_s`` is interrupted."""
    deadline = time.monotonic() + timeout_s
    uri = f"file:{quote(str(database.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=timeout_s)
    except sqlite3.Error as exc:
        raise SourceError(f"cannot open the database: {exc}") from exc
    try:
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        row = connection.execute(sql).fetchone()
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise SourceError(f"query timed out after {timeout_s:g}s") from exc
        raise SourceError(f"query failed: {exc}") from exc
    except sqlite3.Error as exc:
        raise SourceError(f"query failed: {exc}") from exc
    finally:
        connection.close()
    return _query_row(row)


_URL_PASSWORD_RE = re.compile(r"(://[^:/@]*:)[^@]*@")


def shown_db_url(url: str) -> str:
    """A database URL with any password replaced by ``***``."""
    return _URL_PASSWORD_RE.sub(r"\1***@", url)


def query_sqlalchemy(url: str, password: str | None, sql: str) -> QueryRow:
    """Run ``sql`` through SQLAlchemy (optional package); ``SourceError`` naming it when it is not installed.

    The engine is created per call with no pool, so nothing stays open between collections. The
    timeout is the driver's (set it in the URL's query, e.g. ``?connect_timeout=5`` for PostgreSQL).
    """
    try:
        import sqlalchemy
    except ImportError:
        raise SourceError(
            "a SQLAlchemy URL needs the optional package 'sqlalchemy' (pip install sqlalchemy, "
            "plus the database's driver); for SQLite use database: PATH instead"
        ) from None
    try:
        target = sqlalchemy.make_url(url)
        if password is not None:
            target = target.set(password=password)
        engine = sqlalchemy.create_engine(target, poolclass=sqlalchemy.pool.NullPool)
    except (sqlalchemy.exc.ArgumentError, ImportError, ValueError) as exc:
        raise SourceError(f"cannot use the database URL: {type(exc).__name__}: {exc}") from None
    try:
        with engine.connect() as connection:
            row = connection.execute(sqlalchemy.text(sql)).first()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        # str(exc) carries the statement and driver message, never the URL's password.
        raise SourceError(f"query failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
    return _query_row(row)


# ---------------------------------------------------------------------------------------------
# dbt


@dataclass(frozen=True)
class DbtResult:
    """One ``results[]`` entry of dbt's ``sources.json`` with a ``max_loaded_at``."""

    unique_id: str
    status: str
    max_loaded_at_s: float


def read_dbt_sources(path: Path, max_bytes: int) -> tuple[list[DbtResult], list[str]]:
    """Every source freshness result with its newest load time, and problems for the rest.

    A ``runtime error`` entry (dbt could not query the source) has no ``max_loaded_at``: it is a
    problem naming its ``unique_id`` and dbt's error, not a sample. A file with no ``results``
    raises ``SourceError``.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(f"body_size_limit {max_bytes} exceeded: the file is {size} bytes")
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise SourceError("file not found (has `dbt source freshness` run?)") from None
    except OSError as exc:
        raise SourceError(f"cannot read the file: {exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"not JSON: {exc}") from None
    results = document.get("results") if isinstance(document, Mapping) else None
    if not isinstance(results, list) or not results:
        raise SourceError("no 'results' in the file (not the output of `dbt source freshness`?)")
    parsed: list[DbtResult] = []
    problems: list[str] = []
    for i, entry in enumerate(results):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("unique_id"), str):
            problems.append(f"results[{i}] has no unique_id, skipped")
            continue
        unique_id = entry["unique_id"]
        status = str(entry.get("status", ""))
        if entry.get("max_loaded_at") is None:
            error = str(entry.get("error") or "no max_loaded_at").splitlines()[0]
            problems.append(f"{unique_id}: status {status!r}, no max_loaded_at: {error}")
            continue
        try:
            loaded = to_epoch_seconds(entry["max_loaded_at"], f"{unique_id} max_loaded_at")
        except SourceError as exc:
            problems.append(f"{exc}, skipped")
            continue
        parsed.append(DbtResult(unique_id, status, loaded))
    return parsed, problems
