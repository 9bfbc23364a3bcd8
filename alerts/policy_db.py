"""The alert policy's own tables in the alert database (``alerts.sqlite``): tier hysteresis,
silences and acknowledgements.

They live beside the alert state (``redline.alerts.state``) in one file, each in its own table,
through their own connection: the state machine's schema is its own, and a file first created
here (``redline silence add`` before the agent ever ran) is created as a Redline alert database
by ``AlertStateStore`` first, so the agent accepts it later, and a file that is not a Redline
alert database (no schema version, no ``alerts`` table) is refused, never modified. An existing
file is never opened through a second ``AlertStateStore``: its close would drop the POSIX locks
the agent's own connection holds on the file.

Thread safety: one connection, used under a lock. Raises ``StoreError`` naming the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from redline.alerts.state import AlertStateStore
from redline.kernel.errors import StoreError

__all__ = ["PolicyDatabase"]


class PolicyDatabase:
    """A connection to ``path`` (opened on first use) that makes sure ``schema`` exists; ``migrate``,
    when given, then brings tables an earlier Redline wrote up to it, in the same transaction.

    With ``state`` (the agent's own ``AlertStateStore`` of the same file) it uses that store's
    connection instead of one of its own: one connection for every table of the file, so while
    the file cannot be written these tables go on in the same in-memory copy as the alert
    state, and are written back with it.
    """

    def __init__(
        self,
        path: Path,
        schema: str,
        what: str,
        state: AlertStateStore | None = None,
        *,
        migrate: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._schema = schema
        self._migrate = migrate
        self._what = what
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._state = state
        self._generation: int | None = None
        """The state store's ``generation`` the schema was last made in."""

    @property
    def generation(self) -> int:
        """Moves when the database under this one changed (into memory and back); 0 on its own."""
        return self._state.generation if self._state is not None else 0

    def _shared_schema(self, conn: sqlite3.Connection) -> None:
        assert self._state is not None
        if self._generation != self._state.generation:
            for statement in self._schema.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if self._migrate is not None:
                self._migrate(conn)
            self._generation = self._state.generation

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        if not self.path.exists():
            # A new file is made a Redline alert database first. Only then: AlertStateStore closes a
            # descriptor of the file, which drops every POSIX lock this process holds on it.
            with AlertStateStore(self.path) as state:
                state.records()
        try:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{self._what} {self.path}: cannot open: {exc}", path=self.path) from exc
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version < 1 or "alerts" not in tables:  # AlertStateStore marks its files with a version
                conn.close()
                raise StoreError(f"{self._what} {self.path}: not a Redline alert database "
                                 f"(tables {sorted(tables)})", path=self.path)
            conn.execute("BEGIN IMMEDIATE")
            for statement in self._schema.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if self._migrate is not None:
                self._migrate(conn)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(
                f"{self._what} {self.path}: not usable as an SQLite database: {exc}", path=self.path
            ) from exc
        self._conn = conn
        return conn

    @contextmanager
    def tx(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back and raised as ``StoreError`` on an SQLite error.

        ``durable=False``: its commit does not wait for the disk (SQLite's ``synchronous =
        NORMAL`` in WAL mode): it survives the process being killed, not a power cut.
        """
        if self._state is not None:
            with self._state.transaction(durable) as conn:
                self._shared_schema(conn)
                yield conn
            return
        with self._lock:
            try:
                conn = self._connect()
                conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"{self._what} {self.path}: cannot start a write: {exc}", path=self.path) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise StoreError(f"{self._what} {self.path}: write failed: {exc}", path=self.path) from exc
            except BaseException:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query."""
        if self._state is not None:
            if self._generation != self._state.generation:
                with self.tx():
                    pass
            return self._state.query(sql, params)
        with self._lock:
            try:
                return self._connect().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self._what} {self.path}: read failed: {exc}", path=self.path) from exc

    def close(self) -> None:
        """Close the connection; a later call reopens it."""
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                with suppress(sqlite3.Error):
                    conn.close()
