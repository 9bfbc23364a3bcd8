"""A slice group — throughput or GPU-band objectives reading the same series the same way (slice
length; for a band also the aggregate and the ``by`` labels) — and all groups' settings as arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from redline.kernel.labels import Selector
from redline.slo.spec import GPUBandSLI, ThroughputSLI

__all__ = ["AGGREGATE_CODES", "GroupColumns", "SliceGroup", "group_key"]

F64 = npt.NDArray[np.float64]

AGGREGATE_CODES = {"avg": 0, "max": 1, "min": 2}
"""A band's aggregate over the series of a pool, as a code for kernels handling many groups at once."""


@dataclass
class SliceGroup:
    """Throughput or GPU-band objectives reading the same series the same way."""

    kind: str  # "throughput" or "gpu"
    selector: Selector
    slice_ms: int
    aggregate: str = "avg"
    by: tuple[str, ...] = ()
    pools: dict[tuple[str, ...], int] = field(default_factory=dict)
    """Each distinct value tuple of the ``by`` labels (one pool when ``by`` is empty)."""
    last_final: tuple[int, F64] | None = None
    open: tuple[int, F64] | None = None
    """(slice, rate) or (slice, aggregate per pool) of the last final slice and of the open one."""

    def pool(self, labels: dict[str, str]) -> int:
        """The pool of a series with these labels (a new one for an unseen value tuple)."""
        return self.pools.setdefault(tuple(labels.get(name, "") for name in self.by), len(self.pools))

    def pool_name(self, pool: int) -> str:
        """``{host="h0"}``-style name of a pool; ``all GPUs`` without ``by`` labels."""
        if not self.by:
            return "all GPUs"
        key = next(k for k, v in self.pools.items() if v == pool)
        return "{" + ",".join(f'{n}="{v}"' for n, v in zip(self.by, key, strict=True)) + "}"

    def record(self, newest_slice: int, n_slices: int, summary: F64) -> None:
        """Keep the summaries (one row per slice, ending at ``newest_slice``) of the newest final
        slice, when one of the ``n_slices`` became final, and of the open one."""
        if n_slices > 1:
            self.last_final = (newest_slice - 1, summary[-2])
        self.open = (newest_slice, summary[-1])


def group_key(sli: ThroughputSLI | GPUBandSLI) -> tuple[tuple[object, ...], SliceGroup]:
    """The key objectives of one group share, and a new group for it."""
    slice_ms = round(sli.slice * 1000)
    if isinstance(sli, ThroughputSLI):
        return ("throughput", str(sli.counter), slice_ms), SliceGroup("throughput", sli.counter, slice_ms)
    key = ("gpu", str(sli.utilization), slice_ms, sli.aggregate, sli.by)
    return key, SliceGroup("gpu", sli.utilization, slice_ms, sli.aggregate, sli.by)


class GroupColumns:
    """The groups' settings as arrays (index: group), for kernels handling many groups at once, and
    the largest band value each has seen (values above 1 look like a percentage)."""

    def __init__(self, groups: list[SliceGroup]) -> None:
        self.slice_ms = np.asarray([g.slice_ms for g in groups], dtype=np.int64)
        self.is_band = np.asarray([g.kind == "gpu" for g in groups], dtype=np.bool_)
        self.aggregate = np.asarray([AGGREGATE_CODES[g.aggregate] for g in groups], dtype=np.int64)
        self.n_pools = np.ones(len(groups), dtype=np.int64)
        self.max_value = np.full(len(groups), -np.inf)

    def note_values(self, g: int, values: F64) -> None:
        """Band group ``g`` has seen ``values``."""
        self.max_value[g] = max(float(self.max_value[g]), float(values.max()))
