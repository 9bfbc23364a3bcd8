"""The ``dcgm`` source kind: scrape NVIDIA's dcgm-exporter (``/metrics``, default port 9400) and map its
fields to Redline's GPU metrics.

| metric | type | labels | unit | from |
|---|---|---|---|---|
| ``redline_gpu_utilization_ratio`` | gauge | GPU labels | 0–1 | ``PROF_GR_ENGINE_ACTIVE``, else ``GPU_UTIL`` / 100 |
| ``redline_gpu_memory_used_bytes`` | gauge | GPU labels | bytes | ``FB_USED`` (MiB) × 2²⁰ |
| ``redline_gpu_memory_total_bytes`` | gauge | GPU labels | bytes | ``FB_TOTAL`` or ``FB_USED + FB_FREE``, MiB × 2²⁰ |
| ``redline_gpu_power_watts`` | gauge | GPU labels | watts | ``POWER_USAGE`` |
| ``redline_gpu_temperature_celsius`` | gauge | GPU labels | °C | ``GPU_TEMP`` |
| ``redline_gpu_count`` | gauge | host | GPUs | distinct ``UUID`` per host |
| ``DCGM_FI_*`` as exported | as exported | exporter's labels | exporter's | only with ``keep_raw: true`` |

Field names above drop the ``DCGM_FI_DEV_`` / ``DCGM_FI_`` prefix. ``PROF_GR_ENGINE_ACTIVE`` is preferred
whenever a device exports it (on MIG, ``GPU_UTIL`` is absent or 0); ``FB_TOTAL`` is used when exported.

GPU labels: ``gpu``, ``uuid`` (``UUID``), ``name`` (``modelName``), ``host`` (``hostname``, or ``Hostname``
before dcgm-exporter 4.8.3), ``gpu_instance``/``mig_profile`` (``GPU_I_ID``/``GPU_I_PROFILE``) on a MIG
instance, and ``pod``, ``namespace``, ``container`` when the exporter runs in Kubernetes mode.

DCGM writes a "blank" sentinel (≥ 2⁴⁷, or the int32 blanks 0x7ffffff0–0x7fffffff) for a value it
could not read: that is a missing sample and a problem, never a huge number or a zero. dcgm-exporter
4.9 renames these fields (and changes utilisation to a ratio and memory to bytes); those names are
not mapped yet, but ``keep_raw`` stores them as exported.

The series limits (``sample_limit``, ``label_limit``...) count the exposition as scraped, before the
mapping: a page over them fails whole, as a Prometheus scrape of it would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, Literal

import polars as pl

from redline.collectors.base import (
    CollectorContext,
    CollectResult,
    SeriesLimitSettings,
    collect_safely,
    samples_from_rows,
)
from redline.collectors.exposition import ExpositionParser
from redline.collectors.gpu_metrics import MIB, DeviceTracker, GpuReading, gpu_rows
from redline.collectors.http_fetch import HttpURL, shown_url
from redline.collectors.prometheus_scrape import scrape_exposition
from redline.kernel.errors import SourceError
from redline.kernel.labels import parse_labels

__all__ = ["DCGM_FIELDS", "DcgmCollector", "DcgmConfig"]

GPU_UTIL: Final = "DCGM_FI_DEV_GPU_UTIL"
GR_ENGINE_ACTIVE: Final = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
FB_USED: Final = "DCGM_FI_DEV_FB_USED"
FB_FREE: Final = "DCGM_FI_DEV_FB_FREE"
FB_TOTAL: Final = "DCGM_FI_DEV_FB_TOTAL"
POWER_USAGE: Final = "DCGM_FI_DEV_POWER_USAGE"
GPU_TEMP: Final = "DCGM_FI_DEV_GPU_TEMP"
DCGM_FIELDS: Final = (GPU_UTIL, GR_ENGINE_ACTIVE, FB_USED, FB_FREE, FB_TOTAL, POWER_USAGE, GPU_TEMP)
"""The dcgm-exporter fields mapped to Redline's GPU metrics."""

# exporter label → Redline label; the first of several exporter names present wins.
_LABELS: Final = (
    ("gpu", ("gpu",)),
    ("uuid", ("UUID",)),
    ("name", ("modelName",)),
    ("host", ("hostname", "Hostname")),
    ("gpu_instance", ("GPU_I_ID",)),
    ("mig_profile", ("GPU_I_PROFILE",)),
    ("pod", ("pod",)),
    ("namespace", ("namespace",)),
    ("container", ("container",)),
)
_FP64_BLANK: Final = 140737488355328.0  # DCGM_FP64_BLANK, 2**47; int64 blanks are larger still
_INT32_BLANKS: Final = (0x7FFFFFF0, 0x7FFFFFFF)

ACCEPT: Final = "text/plain;version=0.0.4;q=0.9,*/*;q=0.1"


class DcgmConfig(SeriesLimitSettings):
    """One dcgm-exporter endpoint: ``kind: dcgm``."""

    kind: Literal["dcgm"]
    url: HttpURL
    """The exporter's metrics URL, e.g. ``http://gpu-node-1:9400/metrics``."""
    keep_raw: bool = False
    """Also store every ``DCGM_FI_*`` series as exported (with ``source`` and the configured labels)."""


def _is_blank(value: float) -> bool:
    return math.isnan(value) or value >= _FP64_BLANK or _INT32_BLANKS[0] <= value <= _INT32_BLANKS[1]


class DcgmCollector:
    """Scrapes one dcgm-exporter per ``collect()``; never raises. Not thread-safe: one collect at a time."""

    def __init__(self, config: DcgmConfig, context: CollectorContext) -> None:
        self.name = config.name
        self.config = config
        self._client = context.http
        self._clock = context.clock
        self._where = f"source {config.name!r} ({shown_url(config.url)})"
        self._extra = config.series_labels()
        self._parser = ExpositionParser(self._extra, limits=config.limits)
        self._tracker = DeviceTracker()

    def collect(self) -> CollectResult:
        """Scrape once. Never raises: every failure is on ``result.health``."""
        return collect_safely(self.name, self._where, self._clock, self._scrape)

    def _scrape(self, now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        cfg = self.config
        parsed, problems = scrape_exposition(
            self._client, cfg.url, self._parser, timeout_s=cfg.timeout_s, max_bytes=cfg.read_limit, now_ms=now_ms,
            expected="dcgm-exporter metrics", accept=ACCEPT,
        )
        dcgm = parsed.samples.filter(pl.col("metric").str.starts_with("DCGM_FI_"))
        if dcgm.height == 0:
            raise SourceError("no DCGM_FI_* series in the exposition (is this a dcgm-exporter endpoint?)")
        readings = self._readings(dcgm.filter(pl.col("metric").is_in(DCGM_FIELDS)), problems)
        if not readings and not cfg.keep_raw:
            raise SourceError(f"none of {', '.join(DCGM_FIELDS)} in the exposition")
        problems.extend(self._tracker.update(readings))
        frames = [samples_from_rows(gpu_rows(readings, now_ms), self._extra)]
        if cfg.keep_raw:
            frames.append(dcgm)
        return pl.concat(frames), problems

    def _labels(self, canonical: str) -> dict[str, str]:
        exposed = parse_labels(canonical)

        def get(name: str) -> str:
            # A configured label of the same name pushed the exporter's aside to exported_<name>.
            return exposed.get(f"exported_{name}", "") if name in self._extra else exposed.get(name, "")

        labels: dict[str, str] = {}
        for ours, theirs in _LABELS:
            value = next((v for v in map(get, theirs) if v), "")
            if value:
                labels[ours] = value
        return labels

    def _readings(self, frame: pl.DataFrame, problems: list[str]) -> list[GpuReading]:
        fields: dict[tuple[tuple[str, str], ...], tuple[GpuReading, dict[str, float]]] = {}
        label_cache: dict[str, dict[str, str]] = {}
        for metric, canonical, value in frame.select("metric", "labels", "value").iter_rows():
            labels = label_cache.get(canonical)
            if labels is None:
                labels = label_cache[canonical] = self._labels(canonical)
            key = tuple(sorted(labels.items()))
            if key not in fields:
                fields[key] = (GpuReading(labels), {})
            reading, seen = fields[key]
            if _is_blank(value):
                problems.append(
                    f"{metric} for {reading.describe()}: DCGM blank value {value:.6g} (not supported or not "
                    "available); no sample"
                )
            else:
                seen[metric] = value
        for reading, seen in fields.values():
            self._fill(reading, seen, problems)
        return [reading for reading, _ in fields.values()]

    @staticmethod
    def _fill(reading: GpuReading, seen: Mapping[str, float], problems: list[str]) -> None:
        if GR_ENGINE_ACTIVE in seen:
            reading.utilization_ratio = seen[GR_ENGINE_ACTIVE]
        elif GPU_UTIL in seen:
            reading.utilization_ratio = seen[GPU_UTIL] / 100.0
        if FB_USED in seen:
            reading.memory_used_bytes = seen[FB_USED] * MIB
        if FB_TOTAL in seen:
            reading.memory_total_bytes = seen[FB_TOTAL] * MIB
        elif FB_USED in seen and FB_FREE in seen:
            reading.memory_total_bytes = (seen[FB_USED] + seen[FB_FREE]) * MIB
        elif FB_USED in seen or FB_FREE in seen:
            have, lack = (FB_USED, FB_FREE) if FB_USED in seen else (FB_FREE, FB_USED)
            problems.append(f"{reading.describe()}: {have} without {lack}; no memory total")
        if POWER_USAGE in seen:
            reading.power_watts = seen[POWER_USAGE]
        if GPU_TEMP in seen:
            reading.temperature_celsius = seen[GPU_TEMP]
