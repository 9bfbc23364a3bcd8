"""Give the memory a compaction freed back to the operating system.

A compaction allocates its merge (about 100 bytes a row, up to ``max_merge_rows`` rows) and frees
it at the end; the allocators keep what was freed for reuse. glibc's malloc keeps it in each
thread's arena (an agent runs collects, compaction and its HTTP server on many threads, so the
arenas add up) and Arrow's pool keeps its pages too. Without a release the process's resident
memory settles at the sum of every arena's high-water mark, which grows with uptime as the merges
move between threads; with it, the resident memory follows what is in use. Both calls only
return pages nothing uses: they change no data, and where they are not available (not glibc)
nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

import pyarrow as pa

__all__ = ["release_free_memory"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (returns free pages of every arena to the OS), or None elsewhere."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> None:
    """Return the free pages of the C heap and of Arrow's memory pool to the operating system."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
