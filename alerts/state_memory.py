"""The alert database kept in memory while ``alerts.sqlite`` cannot be written.

When the file cannot be written (a full disk, a read-only file or mount, garbage written over
it), ``redline.alerts.state.AlertStateStore`` goes on with an in-memory SQLite database of the
same schema: evaluation, transitions, the outbox's intents and their delivery all go on there,
unchanged. It starts as a copy of what the file holds (SQLite's backup API, from the connection
still open on it); when even that cannot be read (garbage over the pages), from the alert records
last read, which is what the state machine needs not to re-page or lose a resolve. Once the file
can be written again, the whole in-memory database is copied back into it in one transaction.

Pure SQLite plumbing: no clock, no logging; errors are ``sqlite3.Error``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["memory_copy", "write_back"]


def memory_copy(
    source: sqlite3.Connection | None, schema: Sequence[str], insert: str, rows: Iterable[Sequence[Any]]
) -> tuple[sqlite3.Connection, bool]:
    """An in-memory database with ``schema``: a copy of ``source`` when it can be read whole,
    else holding only ``rows`` (the alert records, written by ``insert``). Returns it and
    whether it is a whole copy."""
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    if source is not None:
        try:
            source.backup(memory)
            if memory.execute("PRAGMA quick_check").fetchone()[0] == "ok":
                _apply(memory, schema)
                return memory, True
        except sqlite3.Error:
            pass
        memory.close()
        memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    _apply(memory, schema)
    memory.execute("BEGIN")
    memory.executemany(insert, rows)
    memory.execute("COMMIT")
    return memory, False


def _apply(conn: sqlite3.Connection, schema: Sequence[str]) -> None:
    conn.execute("BEGIN")
    for statement in schema:
        if statement.strip():
            conn.execute(statement)
    conn.execute("COMMIT")


def write_back(memory: sqlite3.Connection, target: sqlite3.Connection) -> None:
    """Make ``target`` (the file, open and checked) hold exactly what ``memory`` holds."""
    memory.backup(target)
    target.execute("PRAGMA journal_mode = WAL")
