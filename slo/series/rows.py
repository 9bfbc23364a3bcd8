"""Compressed rows (CSR): many short lists of ids as one pointer array and one flat array, and
the one expansion every ingest path needs — each row of a batch repeated once per entry of its
list (a series' sides, tracks, slice groups; a group's objectives).

For lists ``L``: ``ptr[i] = len(L[0]) + … + len(L[i-1])`` and ``flat[ptr[i]:ptr[i+1]] = L[i]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["csr", "csr_rows"]

I64 = npt.NDArray[np.int64]


def csr(lists: Sequence[Sequence[int]]) -> tuple[I64, I64]:
    """Lists of ids as compressed rows: pointer array (len(lists) + 1) and the flat ids."""
    ptr = np.concatenate([[0], np.cumsum([len(x) for x in lists], dtype=np.int64)]).astype(np.int64)
    return ptr, np.asarray([i for x in lists for i in x], dtype=np.int64)


def csr_rows(ptr: I64, rows: I64) -> tuple[I64, I64]:
    """Every entry of the lists ``rows`` (indices into ``ptr``, repeats allowed), in order:
    ``owner`` — the position in ``rows`` it belongs to — and ``entry`` — its index in the flat array.

    With ``entries_per_row[j] = ptr[rows[j] + 1] - ptr[rows[j]]``, row ``j`` yields
    ``entry = ptr[rows[j]] + 0, 1, …, entries_per_row[j] - 1``.
    """
    entries_per_row = ptr[rows + 1] - ptr[rows]
    owner = np.repeat(np.arange(len(rows)), entries_per_row)
    first_of_owner = np.repeat(np.cumsum(entries_per_row) - entries_per_row, entries_per_row)
    entry = ptr[rows[owner]] + (np.arange(len(owner)) - first_of_owner)
    return owner, entry
