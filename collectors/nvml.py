"""The ``nvml`` source kind: read this host's GPUs through NVML (``nvidia-ml-py``, module ``pynvml``).

| metric | type | labels | unit |
|---|---|---|---|
| ``redline_gpu_utilization_ratio`` | gauge | gpu, uuid, name, host | ratio 0–1 (NVML's % / 100) |
| ``redline_gpu_memory_used_bytes`` | gauge | gpu, uuid, name, host | bytes |
| ``redline_gpu_memory_total_bytes`` | gauge | gpu, uuid, name, host | bytes |
| ``redline_gpu_power_watts`` | gauge | gpu, uuid, name, host | watts (NVML's milliwatts / 1000) |
| ``redline_gpu_temperature_celsius`` | gauge | gpu, uuid, name, host | degrees Celsius |
| ``redline_gpu_count`` | gauge | host | GPUs NVML enumerates |

Each ``collect()`` runs ``nvmlInit`` … ``nvmlShutdown``, so a driver reload is picked up. Without a
driver (or without ``nvidia-ml-py``) the source's health says so; a field a device does not support
(utilisation on a MIG-enabled GPU) is a missing sample and a problem, never a zero. Samples carry
the collection time: NVML gives current values, not timestamps.
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Callable
from typing import Any, Literal

import polars as pl

from redline.collectors.base import CollectorContext, CollectResult, SourceSettings, collect_safely, samples_from_rows
from redline.collectors.gpu_metrics import DeviceTracker, GpuReading, gpu_rows
from redline.kernel.errors import SourceError

__all__ = ["NvmlCollector", "NvmlConfig"]


class NvmlConfig(SourceSettings):
    """This host's GPUs through NVML: ``kind: nvml``."""

    kind: Literal["nvml"]
    host: str | None = None
    """The ``host`` label; unset: this machine's hostname."""
    temperature: bool = True
    """Also read the GPU core temperature."""


def _text(value: object) -> str:
    """NVML strings arrive as ``str`` in recent nvidia-ml-py and as ``bytes`` in older ones."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


class NvmlCollector:
    """Reads every GPU NVML enumerates once per ``collect()``; never raises.

    ``nvml`` is the ``pynvml`` module (imported lazily on the first collection when not given), so a
    test can pass a stand-in with the same function names. Not thread-safe: one collect at a time.
    """

    def __init__(
        self,
        config: NvmlConfig,
        context: CollectorContext,
        *,
        nvml: Any = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self._clock = context.clock
        self._nvml = nvml
        self._host = config.host or socket.gethostname()
        self._where = f"source {config.name!r} (NVML on {self._host})"
        self._tracker = DeviceTracker()

    def collect(self) -> CollectResult:
        """Read once. Never raises: every failure is on ``result.health``."""
        return collect_safely(self.name, self._where, self._clock, self._read)

    def _module(self) -> Any:
        if self._nvml is None:
            try:
                self._nvml = importlib.import_module("pynvml")
            except ImportError as exc:
                raise SourceError(f"nvidia-ml-py is not installed (pip install 'redline[gpu]'): {exc}") from None
        return self._nvml

    def _read(self, now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        nvml = self._module()
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            raise SourceError(f"NVML unavailable: {exc} — no NVIDIA driver on this host?") from None
        problems: list[str] = []
        try:
            readings = self._devices(nvml, problems)
        finally:
            try:
                nvml.nvmlShutdown()
            except nvml.NVMLError as exc:
                problems.append(f"nvmlShutdown failed: {exc}")
        problems.extend(self._tracker.update(readings))
        rows = gpu_rows(readings, now_ms)
        return samples_from_rows(rows, self.config.series_labels()), problems

    def _devices(self, nvml: Any, problems: list[str]) -> list[GpuReading]:
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except nvml.NVMLError as exc:
            raise SourceError(f"NVML cannot count GPUs: {exc}") from None
        if count == 0:
            raise SourceError("NVML reports no GPU on this host")
        readings: list[GpuReading] = []
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
            except nvml.NVMLError as exc:
                problems.append(f"GPU {index} on {self._host}: cannot be opened (NVML: {exc}); skipped")
                continue
            readings.append(self._device(nvml, index, handle, problems))
        return readings

    def _device(self, nvml: Any, index: int, handle: Any, problems: list[str]) -> GpuReading:
        reading = GpuReading({"gpu": str(index), "host": self._host})

        def get(what: str, read: Callable[[], Any]) -> Any:
            try:
                return read()
            except nvml.NVMLError as exc:
                why = "not supported" if isinstance(exc, nvml.NVMLError_NotSupported) else "unavailable"
                problems.append(f"{reading.describe()}: {what} {why} (NVML: {exc}); no sample")
                return None

        uuid = get("UUID", lambda: nvml.nvmlDeviceGetUUID(handle))
        if uuid is not None:
            reading.labels["uuid"] = _text(uuid)
        name = get("name", lambda: nvml.nvmlDeviceGetName(handle))
        if name is not None:
            reading.labels["name"] = _text(name)
        rates = get("utilization", lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
        if rates is not None:
            reading.utilization_ratio = float(rates.gpu) / 100.0
        memory = get("memory info", lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
        if memory is not None:
            reading.memory_used_bytes = float(memory.used)
            reading.memory_total_bytes = float(memory.total)
        milliwatts = get("power usage", lambda: nvml.nvmlDeviceGetPowerUsage(handle))
        if milliwatts is not None:
            reading.power_watts = float(milliwatts) / 1000.0
        if self.config.temperature:
            celsius = get("temperature", lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
            if celsius is not None:
                reading.temperature_celsius = float(celsius)
        return reading
