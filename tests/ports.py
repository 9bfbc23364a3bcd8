"""One way for tests to pick a port for a server started in a child process.

A port the OS hands out for ``bind(("127.0.0.1", 0))`` lies in the ephemeral range, which is
also where every outgoing connection of the parallel test workers takes its local port: between
choosing such a port and the child binding it, a client socket elsewhere may hold it. Ports are
therefore drawn from below the ephemeral range (``/proc/sys/net/ipv4/ip_local_port_range``), at
random so that parallel workers rarely meet, and checked free when chosen.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["free_port"]

_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _below_ephemeral() -> tuple[int, int]:
    try:
        low = int(_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return 10_000, max(10_001, low - 1)


def free_port() -> int:
    """A port on 127.0.0.1 outside the ephemeral range that was free a moment ago."""
    first, last = _below_ephemeral()
    for _ in range(200):
        port = random.randint(first, last)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on 127.0.0.1 between {first} and {last}")
