"""Alert state, the outbox and the notification log, persisted in SQLite so a restart neither
re-pages nor forgets.

Tables:

- ``alerts``: one row per alert key (``<slo>/<severity>``): state (inactive, pending, firing,
  resolved), when it went pending, started, resolved, was last notified, its fingerprint and
  the labels and annotations its notifications carry.
- ``intents``: the outbox (``redline.alerts.outbox``): one row per notification owed to one
  notifier, with its dedup key and a snapshot of what it says, sent in order per notifier.
- ``notifications``: every delivery attempt (alert key, status, notifier, ok, error, attempt, at).

A transition and the intents it owes are written in one transaction, before anything is sent;
a delivery marks its intent sent in the same transaction that logs it. A crash between a
receiver's 2xx and that commit re-sends once with the same dedup key: delivery is at least once.

Thread safety: one connection, used by one thread at a time under a lock. The file is
opened lazily on first use; several stores (processes) may share one file (WAL mode).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, cast

from redline.alerts.notifiers import AlertStatus
from redline.alerts.outbox_sql import NewIntent, enqueue, migrate_owed
from redline.alerts.state_memory import memory_copy, write_back
from redline.kernel.errors import StoreError

_log = logging.getLogger(__name__)

__all__ = ["AlertRecord", "AlertState", "AlertStateStore", "NotificationLogEntry"]

AlertState = Literal["inactive", "pending", "firing", "resolved"]

_SCHEMA_VERSION: Final = 2
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY,
    slo TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('inactive', 'pending', 'firing', 'resolved')),
    fingerprint TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    pending_since REAL,
    started_at REAL,
    resolved_at REAL,
    last_notified_at REAL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    notifier TEXT NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT,
    attempts INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_key_at ON notifications (key, at);
CREATE TABLE IF NOT EXISTS intents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    notifier TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    dedup_key TEXT NOT NULL,
    repeat INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sent', 'dropped', 'given_up', 'failed')),
    tries INTEGER NOT NULL DEFAULT 0,
    first_try_at REAL,
    next_at REAL NOT NULL,
    last_error TEXT,
    done_at REAL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_queue ON intents (notifier, state, id);
CREATE TABLE IF NOT EXISTS alerts_version (id INTEGER PRIMARY KEY CHECK (id = 0), version INTEGER NOT NULL);
INSERT OR IGNORE INTO alerts_version (id, version) VALUES (0, 0)
"""
_VERSION_TRIGGERS: Final = tuple(
    f"CREATE TRIGGER IF NOT EXISTS alerts_version_{event.lower()} AFTER {event} ON alerts "
    "BEGIN UPDATE alerts_version SET version = version + 1; END"
    for event in ("INSERT", "UPDATE", "DELETE")
)
"""Every write to ``alerts``, by any connection, moves ``alerts_version``: whether any alert row
changed is then one read, and writes to the other tables (the tiers' save time) do not count."""
_ALL_SCHEMA: Final = (*_SCHEMA.split(";"), *_VERSION_TRIGGERS)
_MAGIC: Final = b"SQLite format 3\x00"
_COLUMNS: Final = (
    "key, slo, severity, state, fingerprint, labels, annotations, pending_since, started_at, "
    "resolved_at, last_notified_at, updated_at"
)
_INSERT: Final = f"INSERT OR REPLACE INTO alerts ({_COLUMNS}) VALUES ({', '.join('?' * 12)})"


@functools.lru_cache(maxsize=65_536)
def _decoded(text: str) -> Mapping[str, str]:
    """A stored label or annotation set, decoded once per distinct text (read-only: it is shared).

    Every evaluation reads every alert; with all of them firing, decoding the same JSON again
    each tick was half the tick.
    """
    return MappingProxyType(json.loads(text))


@dataclass(frozen=True)
class AlertRecord:
    """The persisted state of one alert (``key`` = ``<slo>/<severity>``); times are Unix seconds."""

    key: str
    slo: str
    severity: str
    state: AlertState
    fingerprint: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    pending_since: float | None = None
    started_at: float | None = None
    resolved_at: float | None = None
    last_notified_at: float | None = None
    updated_at: float = 0.0


def _row(r: AlertRecord) -> tuple[Any, ...]:
    """``r`` as the values of ``_INSERT``."""
    return (
        r.key, r.slo, r.severity, r.state, r.fingerprint, json.dumps(dict(r.labels), sort_keys=True),
        json.dumps(dict(r.annotations), sort_keys=True), r.pending_since, r.started_at, r.resolved_at,
        r.last_notified_at, r.updated_at,
    )


def _unwritable(exc: StoreError) -> bool:
    """Whether ``exc`` says the file cannot take a write (full, read-only, damaged), not that the
    write itself was wrong (a constraint)."""
    cause = exc.__cause__
    return isinstance(cause, sqlite3.Error) and not isinstance(cause, sqlite3.IntegrityError)


@dataclass(frozen=True)
class NotificationLogEntry:
    """One delivery attempt; ``attempts`` is the attempt number for this owed notification."""

    key: str
    status: AlertStatus
    notifier: str
    ok: bool
    error: str | None
    attempts: int
    at: float


class AlertStateStore:
    """SQLite-backed alert state and notification log at ``path`` (created on first use).

    Raises ``StoreError`` naming the file when it cannot be opened, is not a Redline alert
    database, or a write fails. A file that is not ours is never modified.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        """``(st_dev, st_ino)`` of the file the connection opened: a file deleted or replaced
        under the running agent no longer matches."""
        self._header_fd: int | None = None
        """The file, opened once with the connection, for ``check()`` to read its header: closing
        any other descriptor of it would drop SQLite's POSIX locks, which are per process."""
        self._records_cache: dict[str, tuple[tuple[Any, ...], AlertRecord]] = {}
        """Alert key → (row version, record): see ``records()``."""
        self._records_stamp: int | None = None
        self._records_list: list[AlertRecord] = []
        """What ``records()`` last returned, and the database's version when it read it."""
        self._records_by_key: tuple[int | None, Mapping[str, AlertRecord]] | None = None
        self._memory: str | None = None
        """Why the file cannot be written, while the connection is to an in-memory copy of it
        (``redline.alerts.state_memory``); ``None``: durable, on the file."""
        self._abandoned: list[sqlite3.Connection] = []
        """Connections to a file with garbage written over it: never closed while it is there
        (closing would checkpoint our WAL into a file that is not ours any more)."""
        self.generation = 0
        """Moves whenever the connection changes database (into memory and back): a table kept
        by another module on this connection (``redline.alerts.policy_db``) is then re-made."""

    # -- connection -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """The connection: to the file, or to the in-memory copy while the file cannot be written."""
        if self._conn is None:
            self._conn = self._open_file()
        return self._conn

    def _open_file(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"alert state {self.path}: cannot open: {exc}") from exc
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version > _SCHEMA_VERSION:
                raise StoreError(
                    f"alert state {self.path}: schema version {version} is newer than this Redline "
                    f"understands ({_SCHEMA_VERSION})"
                )
            if tables and version == 0 and not {"alerts", "owed", "notifications"} <= tables:
                raise StoreError(
                    f"alert state {self.path}: not a Redline alert database (tables {sorted(tables)})"
                )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("BEGIN IMMEDIATE")
            # Statement by statement: executescript() would commit the transaction half-way.
            for statement in _ALL_SCHEMA:
                if statement.strip():
                    conn.execute(statement)
            if "owed" in tables:
                migrate_owed(conn)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"alert state {self.path}: not usable as an SQLite database: {exc}") from exc
        except StoreError:
            conn.close()
            raise
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            stat = os.fstat(fd)
            self._identity, self._header_fd = (stat.st_dev, stat.st_ino), fd
        except OSError:
            self._identity = None
        return conn

    @contextmanager
    def _tx(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; rolled back (and re-raised as StoreError) on error.
        ``durable=False``: its commit does not wait for the disk (survives a kill, not a power cut)."""
        with self._lock:
            conn = self._connect()
            try:
                if not durable:
                    conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"alert state {self.path}: cannot start a write: {exc}") from exc
            try:
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException as exc:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    if isinstance(exc, sqlite3.Error):
                        raise StoreError(f"alert state {self.path}: write failed: {exc}") from exc
                    raise
            finally:
                if not durable:
                    with suppress(sqlite3.Error):
                        conn.execute("PRAGMA synchronous = FULL")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connect()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"alert state {self.path}: read failed: {exc}") from exc

    def close(self) -> None:
        """Close the connection; a later call reopens it. State kept in memory is written back
        first if the file can take it (logged if not: it is lost with the process)."""
        with self._lock:
            if self._memory is not None:
                try:
                    self._recover()
                except StoreError as exc:
                    _log.error("alert state kept in memory is lost on close: %s", exc)
                    self._memory = None
            self._close()

    def _close(self) -> None:
        self._records_stamp = None  # a new connection counts its changes afresh
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with suppress(sqlite3.Error):  # closing what broke must not hide why it broke
                conn.close()
        if self._header_fd is not None:  # after SQLite's own descriptors: see _header_fd
            fd, self._header_fd = self._header_fd, None
            os.close(fd)

    def check(self) -> None:
        """Prove the file can be read and written now; ``StoreError`` says why not.

        Cheap enough for every evaluation: a stat, the 16-byte header, and a one-page write
        transaction. SQLite alone notices none of these under an open connection: garbage
        written over the file (pages it has cached still read fine), the file deleted, or made
        read-only. A file deleted while running is restored from the open connection (SQLite's
        backup API), so the alert state survives the next restart.

        A file that cannot be written (full, read-only, garbage in it) does not stop the alerts:
        they go on in an in-memory copy (``redline.alerts.state_memory``; ``in_memory`` says
        why), and each later check tries to write that copy back, which ends it. The check
        raises ``StoreError`` for as long as the state is only in memory.
        """
        with self._lock:
            if self._memory is not None:
                self._recover()
                return
            try:
                self._check_file()
            except StoreError as exc:
                self._degrade(str(exc))
                raise

    @property
    def in_memory(self) -> str | None:
        """Why the alert state is kept in memory now (the file cannot be written), or ``None``."""
        return self._memory

    def _degrade(self, reason: str) -> None:
        """Go on in memory: a copy of the file as far as it reads, else the records last read."""
        if self._memory is not None:
            return
        source = self._conn
        try:
            garbage = self._header_fd is not None and os.pread(self._header_fd, 16, 0) != _MAGIC
        except OSError:
            garbage = False
        rows = [_row(record) for _, record in self._records_cache.values()]
        memory, whole = memory_copy(source, _ALL_SCHEMA, _INSERT, rows)
        if garbage and source is not None:
            self._abandoned.append(source)
            self._conn = None
        self._close()
        self._conn, self._memory, self.generation = memory, reason, self.generation + 1
        _log.error("alert state %s cannot be written (%s): alerts and their notifications go on in memory (%s) "
                   "and are written back once it can be", self.path, reason,
                   "a copy of the file" if whole else "from the alert records last read")

    def _recover(self) -> None:
        """Write the in-memory state back once the file can be written again; ``StoreError`` until then."""
        try:
            with open(self.path, "rb") as fh:  # a plain read of the header: no SQLite lock rides on it
                header = fh.read(16)
        except FileNotFoundError:
            header = None
        except OSError as exc:
            raise StoreError(f"alert state {self.path}: cannot read: {exc.strerror or exc}; kept in memory") from exc
        if header and header != _MAGIC:
            raise StoreError(f"alert state {self.path}: not an SQLite database (garbage in its header); "
                             "kept in memory until it is removed")
        if header is not None and not os.access(self.path, os.R_OK | os.W_OK):
            raise StoreError(f"alert state {self.path}: read-only: it cannot be written; kept in memory")
        for conn in self._abandoned:  # the garbage is gone: its WAL goes with it
            with suppress(sqlite3.Error):
                conn.close()
        self._abandoned = []
        memory = self._conn
        assert memory is not None
        self._conn = None
        try:
            self._conn = self._open_file()
            write_back(memory, self._conn)
            self._probe(self._conn)
        except (StoreError, sqlite3.Error) as exc:
            self._close()
            self._conn = memory
            raise StoreError(f"alert state {self.path}: cannot be written: {exc}; kept in memory") from exc
        memory.close()
        self._memory, self.generation, self._records_stamp = None, self.generation + 1, None
        _log.warning("alert state %s can be written again: the state kept in memory is written back", self.path)

    @staticmethod
    def _probe(conn: sqlite3.Connection) -> None:
        """One real write (it rewrites page 1); ``sqlite3.Error`` when the file cannot take it."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except sqlite3.Error:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    def _check_file(self) -> None:
        conn = self._connect()
        try:
            stat: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            stat = None
        except OSError as exc:
            raise StoreError(f"alert state {self.path}: cannot read: {exc.strerror or exc}") from exc
        if stat is None:
            self._restore(conn)
            conn = self._connect()
        elif (stat.st_dev, stat.st_ino) != self._identity:
            self._close()  # replaced by another file: open (and validate) the new one
            conn = self._connect()
        try:
            header = os.pread(self._header_fd, 16, 0) if self._header_fd is not None else b""
        except OSError as exc:
            raise StoreError(f"alert state {self.path}: cannot read: {exc.strerror or exc}") from exc
        if header != _MAGIC:
            raise StoreError(f"alert state {self.path}: not an SQLite database any more (garbage in its header)")
        if not os.access(self.path, os.R_OK | os.W_OK):
            raise StoreError(f"alert state {self.path}: read-only: it cannot be written")
        try:
            self._probe(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"alert state {self.path}: cannot be written: {exc}") from exc

    def _restore(self, conn: sqlite3.Connection) -> None:
        """Write the open (deleted) database back to ``path``; the connection is closed after."""
        partial = self.path.with_name(self.path.name + ".restoring")
        try:
            target = sqlite3.connect(partial)
            try:
                conn.backup(target)
                verdict = target.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                target.close()
        except (OSError, sqlite3.Error) as exc:
            partial.unlink(missing_ok=True)
            raise StoreError(f"alert state {self.path}: deleted while running and cannot be restored: {exc}") from exc
        self._close()  # before the copy is in place: closing removes the old -wal by name
        if verdict != "ok":
            partial.unlink(missing_ok=True)
            raise StoreError(f"alert state {self.path}: deleted while running; its open copy is damaged ({verdict})")
        try:
            os.replace(partial, self.path)
        except OSError as exc:
            raise StoreError(f"alert state {self.path}: deleted while running and cannot be restored: {exc}") from exc
        _log.warning("alert state %s was deleted while running; restored it from the open database", self.path)

    def __enter__(self) -> AlertStateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- alerts -----------------------------------------------------------------------------

    _COLUMNS: Final = _COLUMNS

    @staticmethod
    def _record(row: tuple[Any, ...]) -> AlertRecord:
        return AlertRecord(
            key=row[0],
            slo=row[1],
            severity=row[2],
            state=cast(AlertState, row[3]),
            fingerprint=row[4],
            labels=_decoded(row[5]),
            annotations=_decoded(row[6]),
            pending_since=row[7],
            started_at=row[8],
            resolved_at=row[9],
            last_notified_at=row[10],
            updated_at=row[11],
        )

    def get(self, key: str) -> AlertRecord | None:
        """The record for ``key``, or ``None`` if it never left inactive."""
        rows = self._read(f"SELECT {self._COLUMNS} FROM alerts WHERE key = ?", (key,))
        return self._record(rows[0]) if rows else None

    def records(self) -> list[AlertRecord]:
        """Every stored alert, by key.

        Every evaluation reads every alert, and most rows have not changed since the last read:
        a row's version is its ``(updated_at, last_notified_at)`` (every write sets one of them),
        so only the rows whose version moved are read in full and decoded again.
        """
        stamp = self._stamp()
        if stamp == self._records_stamp:
            return list(self._records_list)
        versions = self._read("SELECT key, updated_at, last_notified_at FROM alerts ORDER BY key")
        cache = self._records_cache
        stale = [key for key, *version in versions if key not in cache or cache[key][0] != tuple(version)]
        for start in range(0, len(stale), 500):
            chunk = stale[start : start + 500]
            rows = self._read(
                f"SELECT {self._COLUMNS} FROM alerts WHERE key IN ({', '.join('?' * len(chunk))})", chunk
            )
            for row in rows:
                cache[row[0]] = ((row[11], row[10]), self._record(row))
        self._records_cache = fresh = {key: cache[key] for key, *_ in versions if key in cache}
        self._records_list = [fresh[key][1] for key, *_ in versions if key in fresh]
        self._records_stamp = stamp
        return list(self._records_list)

    def records_by_key(self) -> Mapping[str, AlertRecord]:
        """Every stored alert by key, read-only; the same mapping while no alert row changed."""
        records = self.records()
        stamp, cached = self._records_stamp, self._records_by_key
        if stamp is None or cached is None or cached[0] != stamp:
            cached = self._records_by_key = (stamp, MappingProxyType({r.key: r for r in records}))
        return cached[1]

    def _stamp(self) -> int:
        """The alert rows' version (``alerts_version``, moved by every write to ``alerts``).
        Unchanged, no row can have changed (a steady tick then reads no alert rows at all)."""
        with self._lock:
            conn = self._connect()
            try:
                version: int = conn.execute("SELECT version FROM alerts_version").fetchone()[0]
                return version
            except sqlite3.Error as exc:
                raise StoreError(f"alert state {self.path}: read failed: {exc}") from exc

    def save(self, record: AlertRecord, *, intents: Sequence[NewIntent] = ()) -> dict[str, int]:
        """Write ``record`` and, in the same transaction, the intents it owes; return repeats dropped."""
        return self.save_many([(record, tuple(intents))])

    def save_many(
        self, changes: Sequence[tuple[AlertRecord, Sequence[NewIntent]]], *, queue_size: int = 10_000
    ) -> dict[str, int]:
        """Write every record and the intents each owes in one transaction; return repeats dropped
        by notifier.

        Nothing is sent here: the outbox's workers read the intents after the commit.
        """
        if not changes:
            return {}
        try:
            return self._save_many(changes, queue_size)
        except StoreError as exc:
            if not self.fall_back(exc):
                raise
            return self._save_many(changes, queue_size)

    def fall_back(self, exc: StoreError) -> bool:
        """After a write to the file failed with ``exc``: go on in memory if the file cannot take
        writes (full, read-only, damaged). Returns whether a retry now goes to memory."""
        if self._memory is not None or not _unwritable(exc):
            return False
        with self._lock:
            self._degrade(str(exc))
        return True

    def _save_many(
        self, changes: Sequence[tuple[AlertRecord, Sequence[NewIntent]]], queue_size: int
    ) -> dict[str, int]:
        with self._tx() as conn:
            before = conn.execute("SELECT version FROM alerts_version").fetchone()[0]
            conn.executemany(_INSERT, [_row(r) for r, _ in changes])
            dropped = enqueue(conn, [(r.key, i, r.updated_at) for r, intents in changes for i in intents], queue_size)
            after = conn.execute("SELECT version FROM alerts_version").fetchone()[0]
        self._write_through([r for r, _ in changes], before, after)
        return dropped

    def _write_through(self, written: Sequence[AlertRecord], before: int, after: int) -> None:
        """Put the records just written in the read cache, so the next ``records()`` reads and
        decodes none of them (a thousand refreshed alerts cost no re-read). Only when the cache
        was current before the write; otherwise the next read finds out what moved."""
        with self._lock:
            if self._records_stamp != before:
                return
            cache = dict(self._records_cache)
            for r in written:
                record = replace(r, labels=MappingProxyType(dict(r.labels)),
                                 annotations=MappingProxyType(dict(r.annotations)))
                cache[r.key] = ((r.updated_at, r.last_notified_at), record)
            self._records_list = [cache[key][1] for key in sorted(cache)]
            self._records_cache, self._records_stamp = cache, after

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction for the outbox and the policy's tables (``StoreError`` on
        failure); see ``_tx``."""
        with self._tx(durable) as conn:
            yield conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read for the outbox; ``StoreError`` on failure."""
        return self._read(sql, params)

    def pending_counts(self) -> dict[str, int]:
        """Intents waiting in the outbox, by notifier."""
        rows = self._read("SELECT notifier, count(*) FROM intents WHERE state = 'pending' GROUP BY notifier")
        return {r[0]: int(r[1]) for r in rows}

    def log_attempt(
        self, conn: sqlite3.Connection, key: str, notifier: str, status: AlertStatus,
        *, ok: bool, error: str | None, attempt: int, at: float,
    ) -> None:
        """Log one attempt inside the caller's transaction; a success sets ``last_notified_at``."""
        conn.execute(
            "INSERT INTO notifications (key, status, notifier, ok, error, attempts, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, status, notifier, int(ok), error, attempt, at),
        )
        if ok:
            conn.execute("UPDATE alerts SET last_notified_at = ? WHERE key = ?", (at, key))

    def prune(self, before: float) -> int:
        """Delete notification-log rows and finished intents older than ``before``; return log rows deleted."""
        with self._tx() as conn:
            conn.execute("DELETE FROM intents WHERE state != 'pending' AND done_at < ?", (before,))
            return conn.execute("DELETE FROM notifications WHERE at < ?", (before,)).rowcount

    def log(self, key: str | None = None, limit: int = 1000) -> list[NotificationLogEntry]:
        """The latest ``limit`` delivery attempts (for ``key`` when given), oldest first."""
        where, params = ("WHERE key = ?", [key]) if key is not None else ("", [])
        rows = self._read(
            f"SELECT key, status, notifier, ok, error, attempts, at FROM notifications {where} "
            "ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            NotificationLogEntry(r[0], cast(AlertStatus, r[1]), r[2], bool(r[3]), r[4], r[5], r[6])
            for r in reversed(rows)
        ]
