"""Damaged store files: what they covered, and the quarantine folder they are moved to.

``data_dir/quarantine/`` holds each damaged file under ``<ns>-<batches|segments>-<name>``
(``ns`` = when it was moved, so the same day damaged twice keeps both) and beside it
``<that name>.json``: where it was, what kind of file, the time range it covered when known,
why it failed and when it was moved. Nothing reads the quarantined data back; it is kept for an
operator (or a later salvage) and never deleted by Redline.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from redline.kernel.errors import StoreError
from redline.store.segments import CorruptFileError, FileKind, file_identity, fsync_dir, write_atomically

__all__ = ["QUARANTINE_DIR", "CorruptFile", "list_quarantined", "move_to_quarantine", "range_text"]

QUARANTINE_DIR: Final = "quarantine"

_log = logging.getLogger("redline.store")


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def range_text(start_ms: int | None, end_ms: int | None, written_ns: int | None = None) -> str:
    """The time range a damaged file covered, in words: ``2023-11-15T00:00:00.000Z .. ...``."""
    if start_ms is not None and end_ms is not None:
        return f"{_iso(start_ms)} .. {_iso(end_ms)}"
    if written_ns is not None:
        return f"time range unknown, written {_iso(written_ns // 1_000_000)}"
    return "time range unknown"


def _written_ns(name: str) -> int | None:
    """The write time in a batch file name (``<ns>-<pid>.parquet``)."""
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() and len(head) >= 19 else None


@dataclass(frozen=True)
class CorruptFile:
    """One damaged store file: where it was found, what it covered, why, and where it went."""

    path: str
    kind: FileKind
    reason: str
    start_ms: int | None = None
    end_ms: int | None = None
    written_ns: int | None = None
    """For a batch, when it was written (from its name): a hint when its range is unknown."""
    quarantined_to: str | None = None
    quarantined_at: float | None = None

    @classmethod
    def from_error(cls, error: CorruptFileError) -> CorruptFile:
        path = Path(str(error.path))
        written = _written_ns(path.name) if error.kind == "batch" else None
        return cls(str(path), error.kind, error.reason, error.start_ms, error.end_ms, written)

    def range_text(self) -> str:
        """What it covered, in words."""
        return range_text(self.start_ms, self.end_ms, self.written_ns)

    def to_json(self) -> dict[str, Any]:
        """``{path, kind, start, end, reason, quarantined_to, ...}``; times in Unix seconds (or null)."""
        return {
            "path": self.path,
            "kind": self.kind,
            "start": None if self.start_ms is None else self.start_ms / 1000,
            "end": None if self.end_ms is None else self.end_ms / 1000,
            "written": None if self.written_ns is None else self.written_ns / 1e9,
            "reason": self.reason,
            "quarantined_to": self.quarantined_to,
            "quarantined_at": self.quarantined_at,
        }


def move_to_quarantine(data_dir: Path, error: CorruptFileError) -> CorruptFile | None:
    """Move the damaged file to ``data_dir/quarantine/`` with its description beside it, and log
    one line naming it and its range. The caller holds the store's compaction locks.

    Returns None when the file is gone or was replaced since it was read (nothing to move).
    Raises ``StoreError`` when the move cannot be made (the file then stays where it is).
    """
    found = CorruptFile.from_error(error)
    source = Path(found.path)
    if error.identity is not None and file_identity(source) != error.identity:
        return None  # gone, or a compaction wrote a new file at that path: not the damaged one
    folder = data_dir / QUARANTINE_DIR
    now_ns = time.time_ns()
    target = folder / f"{now_ns:020d}-{source.parent.name}-{source.name}"
    moved = CorruptFile(
        found.path, found.kind, found.reason, found.start_ms, found.end_ms, found.written_ns,
        str(target), now_ns / 1e9,
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot move the damaged file {source} to {folder}: {exc}", path=source) from exc
    body = json.dumps(moved.to_json(), indent=2).encode()

    def describe(fh: IO[bytes]) -> None:
        fh.write(body)

    try:
        write_atomically(target.with_name(target.name + ".json"), describe)
        fsync_dir(source.parent)
    except (StoreError, OSError) as exc:  # the move is done; the description is a convenience
        _log.warning("store: %s quarantined, but its description could not be written: %s", source, exc)
    _log.error(
        "store: damaged %s file %s (covering %s) moved to %s: %s",
        found.kind, source, found.range_text(), target, found.reason,
    )
    return moved


def list_quarantined(data_dir: Path) -> list[CorruptFile]:
    """Every file in ``data_dir/quarantine/`` with its description, oldest first. A file without
    a readable description is listed with what its name says."""
    folder = data_dir / QUARANTINE_DIR
    if not folder.is_dir():
        return []
    out: list[CorruptFile] = []
    for target in sorted(p for p in folder.iterdir() if p.suffix != ".json" and ".tmp-" not in p.name):
        try:
            doc = json.loads(target.with_name(target.name + ".json").read_text(encoding="utf-8"))
            out.append(
                CorruptFile(
                    path=str(doc["path"]),
                    kind=doc["kind"],
                    reason=str(doc["reason"]),
                    start_ms=None if doc.get("start") is None else round(doc["start"] * 1000),
                    end_ms=None if doc.get("end") is None else round(doc["end"] * 1000),
                    written_ns=None if doc.get("written") is None else round(doc["written"] * 1e9),
                    quarantined_to=str(target),
                    quarantined_at=doc.get("quarantined_at"),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            head, _, rest = target.name.partition("-")
            kind_dir, _, name = rest.partition("-")
            kind: FileKind = "segment" if kind_dir == "segments" else "batch"
            moved_at = int(head) / 1e9 if head.isdigit() else None
            out.append(CorruptFile(name or target.name, kind, "no description", quarantined_to=str(target),
                                   quarantined_at=moved_at))
    return out
