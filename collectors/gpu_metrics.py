"""The metric names every GPU source kind (``nvml``, ``dcgm``, ``nvidia_smi``) emits, and the rows they build.

| metric | type | labels | unit |
|---|---|---|---|
| ``redline_gpu_utilization_ratio`` | gauge | GPU labels (below) | ratio 0–1 |
| ``redline_gpu_memory_used_bytes`` | gauge | GPU labels | bytes |
| ``redline_gpu_memory_total_bytes`` | gauge | GPU labels | bytes |
| ``redline_gpu_power_watts`` | gauge | GPU labels | watts |
| ``redline_gpu_temperature_celsius`` | gauge | GPU labels | degrees Celsius |
| ``redline_gpu_count`` | gauge | host | physical GPUs seen in this read |

GPU labels: ``gpu`` (index), ``uuid``, ``name`` (model), ``host``; from DCGM also ``gpu_instance`` and
``mig_profile`` for a MIG instance and ``pod``, ``namespace``, ``container`` in Kubernetes mode.

Every sample also carries ``source`` and the source's configured labels. A reading the device
cannot give (unsupported on MIG, ``[N/A]``, a DCGM blank) is a missing sample plus a problem on the
source's health, never a zero. A GPU that disappears between two reads is simply absent from the
second one: its series go stale (an objective sees no new points) rather than drop to zero, and
the collection reports the disappearance as a problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from redline.collectors.base import Row

__all__ = [
    "GPU_COUNT",
    "GPU_MEMORY_TOTAL",
    "GPU_MEMORY_USED",
    "GPU_POWER",
    "GPU_TEMPERATURE",
    "GPU_UTILIZATION",
    "MIB",
    "DeviceTracker",
    "GpuReading",
    "gpu_rows",
]

GPU_UTILIZATION: Final = "redline_gpu_utilization_ratio"
GPU_MEMORY_USED: Final = "redline_gpu_memory_used_bytes"
GPU_MEMORY_TOTAL: Final = "redline_gpu_memory_total_bytes"
GPU_POWER: Final = "redline_gpu_power_watts"
GPU_TEMPERATURE: Final = "redline_gpu_temperature_celsius"
GPU_COUNT: Final = "redline_gpu_count"

MIB: Final = 1024 * 1024
"""Bytes in a MiB: nvidia-smi and DCGM report memory in MiB."""


@dataclass
class GpuReading:
    """What one read said about one GPU (or MIG instance); ``None`` is a value the device did not give."""

    labels: dict[str, str]
    """``gpu``, ``uuid``, ``name``, ``host`` and, from DCGM, MIG and Kubernetes labels; empty values are dropped."""
    utilization_ratio: float | None = None
    memory_used_bytes: float | None = None
    memory_total_bytes: float | None = None
    power_watts: float | None = None
    temperature_celsius: float | None = None

    def describe(self) -> str:
        """``GPU 0 (GPU-5fd4…) on host-a``, for problems."""
        text = f"GPU {self.labels.get('gpu', '?')}"
        if "gpu_instance" in self.labels:
            text += f" instance {self.labels['gpu_instance']}"
        if "uuid" in self.labels:
            text += f" ({self.labels['uuid']})"
        if "host" in self.labels:
            text += f" on {self.labels['host']}"
        return text


def gpu_rows(readings: Iterable[GpuReading], timestamp_ms: int, *, count: bool = True) -> list[Row]:
    """The samples of these readings under the common names, plus ``redline_gpu_count`` per host when
    ``count`` (distinct physical GPUs, so MIG instances of one GPU count once)."""
    rows: list[Row] = []
    per_host: dict[str, set[str]] = {}
    for reading in readings:
        labels = {k: v for k, v in reading.labels.items() if v != ""}
        for metric, value in (
            (GPU_UTILIZATION, reading.utilization_ratio),
            (GPU_MEMORY_USED, reading.memory_used_bytes),
            (GPU_MEMORY_TOTAL, reading.memory_total_bytes),
            (GPU_POWER, reading.power_watts),
            (GPU_TEMPERATURE, reading.temperature_celsius),
        ):
            if value is not None:
                rows.append((metric, labels, timestamp_ms, float(value)))
        physical = labels.get("uuid") or labels.get("gpu", "")
        per_host.setdefault(labels.get("host", ""), set()).add(physical)
    if count:
        for host, gpus in sorted(per_host.items()):
            rows.append((GPU_COUNT, {"host": host} if host else {}, timestamp_ms, float(len(gpus))))
    return rows


class DeviceTracker:
    """Remembers which GPUs the previous read saw, to report one that has gone (its series go stale)."""

    def __init__(self) -> None:
        self._previous: dict[tuple[tuple[str, str], ...], str] = {}

    def update(self, readings: Iterable[GpuReading]) -> list[str]:
        """Record this read's GPUs; a problem for each GPU of the previous read missing from this one."""
        current = {_identity(r.labels): r.describe() for r in readings}
        gone = [
            f"{shown} was in the previous read but is missing from this one; its series go stale (no zeros written)"
            for key, shown in self._previous.items()
            if key not in current
        ]
        self._previous = current
        return gone


_IDENTITY_LABELS: Final = ("host", "uuid", "gpu", "gpu_instance")


def _identity(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, labels[k]) for k in _IDENTITY_LABELS if labels.get(k))
