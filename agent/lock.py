"""One agent per data directory: ``data_dir/LOCK``, held with ``flock`` and naming its holder's PID.

Two agents on one directory would both compact it and both page for the same alerts. The lock
is an ``flock`` on an open file, so the kernel releases it when its holder dies, even by
SIGKILL: a stale ``LOCK`` file never blocks a restart, and nothing has to guess whether a PID
written in it still runs. The PID inside is only for the message a second agent prints.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from redline.kernel.errors import RedlineError

__all__ = ["DataDirLock", "DataDirLocked"]

LOCK_NAME = "LOCK"


class DataDirLocked(RedlineError):
    """Another process holds ``data_dir/LOCK``; ``pid`` is the one written in it (None if unreadable)."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(f"{data_dir} is in use by another Redline agent ({holder} holds {data_dir / LOCK_NAME})")
        self.data_dir, self.pid = data_dir, pid


class DataDirLock:
    """``acquire()`` takes the lock or raises ``DataDirLocked``; ``release()`` lets it go.

    The file is left in place on release (removing it would race with a new holder that
    opened it meanwhile); its content is the PID of the latest holder.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock without waiting; ``DataDirLocked`` names the holder's PID when it is taken.

        ``OSError`` when the directory or the file cannot be created (the caller words it).
        """
        if self._fd is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DataDirLocked(self.data_dir, _read_pid(self.path)) from exc
            raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # a full disk must not stop the agent from starting: the flock is what counts
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
