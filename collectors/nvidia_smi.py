"""The ``nvidia_smi`` source kind: run ``nvidia-smi --query-gpu=... --format=csv``, or read a CSV file a cron
job dumps, and map it to Redline's GPU metrics.

| metric | type | labels | unit | from |
|---|---|---|---|---|
| ``redline_gpu_utilization_ratio`` | gauge | gpu, uuid, name, host | ratio 0–1 | ``utilization.gpu`` [%] / 100 |
| ``redline_gpu_memory_used_bytes`` | gauge | gpu, uuid, name, host | bytes | ``memory.used`` [MiB] × 2²⁰ |
| ``redline_gpu_memory_total_bytes`` | gauge | gpu, uuid, name, host | bytes | ``memory.total`` [MiB] × 2²⁰ |
| ``redline_gpu_power_watts`` | gauge | gpu, uuid, name, host | watts | ``power.draw`` (or ``.average``/``.instant``) |
| ``redline_gpu_temperature_celsius`` | gauge | gpu, uuid, name, host | °C | ``temperature.gpu`` |
| ``redline_gpu_count`` | gauge | host | GPUs | rows in the output |

``gpu`` is ``index``. The output may have a header or not (``noheader``) and units or not
(``nounits``); fields are separated by ``", "``. Without a header the columns are the
``--query-gpu=`` fields of ``command`` (or ``columns``). ``[N/A]``, ``[Not Supported]`` and any other
``[...]`` value is a missing sample and a problem, never a zero.

Timestamps: a command's samples carry the collection time. A file's samples carry its
``timestamp`` column (nvidia-smi prints the host's local time: ``timezone`` names that zone,
default this machine's) or, without one, the file's modification time, so a dump that stops
updating goes stale instead of repeating. A GPU that vanishes from the output is absent from that
collection (its series go stale, no zeros) and reported as a problem.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
from datetime import datetime
from typing import Final, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
from pydantic import Field, field_validator, model_validator

from redline.collectors.base import (
    CollectorContext,
    CollectResult,
    Row,
    SourceSettings,
    collect_safely,
    samples_from_rows,
)
from redline.collectors.gpu_metrics import GPU_COUNT, MIB, DeviceTracker, GpuReading, gpu_rows
from redline.kernel.errors import SourceError
from redline.kernel.units import format_duration

__all__ = ["DEFAULT_QUERY", "NvidiaSmiCollector", "NvidiaSmiConfig", "parse_query_csv"]

DEFAULT_QUERY: Final = (
    "timestamp", "index", "uuid", "name", "utilization.gpu", "memory.used", "memory.total", "power.draw",
)

# field → (reading attribute, unit nvidia-smi prints, multiplier, divisor to Redline's unit); percent is
# divided by 100 rather than multiplied by 0.01, which would turn 95 % into 0.9500000000000001.
_VALUES: Final[dict[str, tuple[str, str | None, float, float]]] = {
    "utilization.gpu": ("utilization_ratio", "%", 1.0, 100.0),
    "memory.used": ("memory_used_bytes", "MiB", float(MIB), 1.0),
    "memory.total": ("memory_total_bytes", "MiB", float(MIB), 1.0),
    "power.draw": ("power_watts", "W", 1.0, 1.0),
    "power.draw.average": ("power_watts", "W", 1.0, 1.0),
    "power.draw.instant": ("power_watts", "W", 1.0, 1.0),
    "temperature.gpu": ("temperature_celsius", None, 1.0, 1.0),
}
_LABELS: Final = {"index": "gpu", "uuid": "uuid", "name": "name"}
_HEADER_CELL: Final = re.compile(r"([a-z][a-z_.]*)(?: \[([^\]]+)\])?")
_NUMBER: Final = re.compile(r"(-?\d+(?:\.\d+)?)(?: ?(\S+))?")
_TIME_FORMAT: Final = "%Y/%m/%d %H:%M:%S.%f"
_MAX_SHOWN: Final = 300


class NvidiaSmiConfig(SourceSettings):
    """GPUs through ``nvidia-smi --query-gpu`` CSV, from the command or a file: ``kind: nvidia_smi``."""

    kind: Literal["nvidia_smi"]
    command: list[str] = Field(
        default_factory=lambda: ["nvidia-smi", f"--query-gpu={','.join(DEFAULT_QUERY)}", "--format=csv"],
        min_length=1,
    )
    path: str | None = None
    """Read this CSV file (written by nvidia-smi, e.g. from cron) instead of running ``command``."""
    columns: list[str] | None = None
    """The fields of headerless output; unset: the ``--query-gpu=`` fields of ``command``."""
    host: str | None = None
    """The ``host`` label; unset: this machine's hostname."""
    timezone: str | None = None
    """The zone of a file's ``timestamp`` column (nvidia-smi prints local time); unset: this machine's zone."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                shown = f"unknown time zone {value!r} (expected an IANA name such as UTC, Europe/Berlin)"
                raise ValueError(shown) from None
        return value

    @model_validator(mode="after")
    def _command_or_path(self) -> Self:
        if self.path is not None and "command" in self.model_fields_set:
            raise ValueError("set either command (run nvidia-smi) or path (read its CSV output), not both")
        return self

    def query_fields(self) -> list[str] | None:
        """The fields of headerless output: ``columns``, else the ``--query-gpu=`` fields of the command
        (of the default command when only ``path`` is set)."""
        if self.columns is not None:
            return self.columns
        for arg in self.command:
            if arg.startswith("--query-gpu="):
                return [f.strip() for f in arg.removeprefix("--query-gpu=").split(",")]
        return None


def parse_query_csv(
    text: str,
    *,
    fields: list[str] | None,
    host: str,
    read_timestamps: bool,
    zone: ZoneInfo | None,
    default_ms: int,
    problems: list[str],
) -> tuple[list[GpuReading], list[int]]:
    """Readings (and per-reading timestamps in ms) from ``nvidia-smi --query-gpu`` CSV, with or without
    header and units. With ``read_timestamps`` a row's ``timestamp`` column, read in ``zone`` (``None``:
    this machine's local zone), stamps its samples; otherwise, and for output without one, ``default_ms``.
    Bad lines and unreadable values are appended to ``problems``; raises ``SourceError`` when no
    column layout can be known."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    units: list[str | None] = []
    if lines and all(_HEADER_CELL.fullmatch(c.strip()) for c in lines[0][1].split(",")):
        matches = [_HEADER_CELL.fullmatch(c.strip()) for c in lines[0][1].split(",")]
        fields = [m.group(1) for m in matches if m is not None]
        units = [m.group(2) for m in matches if m is not None]
        lines = lines[1:]
    elif fields is None:
        raise SourceError("output has no header and the fields are unknown: set columns, or --query-gpu= in command")
    readings: list[GpuReading] = []
    stamps: list[int] = []
    for number, line in lines:
        cells = [c.strip() for c in line.split(", ")]
        if len(cells) != len(fields):
            problems.append(f"line {number}: {len(cells)} fields where {len(fields)} were expected, skipped: {line!r}")
            continue
        reading = GpuReading({"host": host})
        for field, cell in zip(fields, cells, strict=True):
            if field in _LABELS and not cell.startswith("["):
                reading.labels[_LABELS[field]] = cell
        stamp = default_ms
        for i, (field, cell) in enumerate(zip(fields, cells, strict=True)):
            if field == "timestamp" and read_timestamps:
                try:
                    # a naive datetime's .timestamp() reads it as this machine's local time
                    stamp = int(datetime.strptime(cell, _TIME_FORMAT).replace(tzinfo=zone).timestamp() * 1000)
                except ValueError:
                    problems.append(f"line {number}: timestamp {cell!r} is not YYYY/MM/DD HH:MM:SS.mmm, row skipped")
                    break
            elif field in _VALUES:
                value = _value(field, cell, units[i] if units else None, reading, problems)
                if value is not None:
                    setattr(reading, _VALUES[field][0], value)
        else:
            readings.append(reading)
            stamps.append(stamp)
    return readings, stamps


def _value(field: str, cell: str, header_unit: str | None, reading: GpuReading, problems: list[str]) -> float | None:
    if cell.startswith("[") or cell.upper() == "N/A":
        problems.append(f"{reading.describe()}: {field} is {cell}; no sample")
        return None
    _, unit, multiplier, divisor = _VALUES[field]
    m = _NUMBER.fullmatch(cell)
    shown_unit = m.group(2) if m else None
    if m is None or (shown_unit is not None and shown_unit != unit) or (header_unit not in (None, unit)):
        problems.append(f"{reading.describe()}: {field} {cell!r} is not a number in {unit or 'plain units'}; no sample")
        return None
    return float(m.group(1)) * multiplier / divisor


class NvidiaSmiCollector:
    """Runs ``nvidia-smi`` (or reads its CSV file) once per ``collect()``; never raises.

    The context's ``env`` is the environment the command runs with (``PATH`` finds ``nvidia-smi``):
    the agent's. The command runs in its own process group, killed whole at the timeout.
    """

    def __init__(self, config: NvidiaSmiConfig, context: CollectorContext) -> None:
        self.name = config.name
        self.config = config
        self._clock = context.clock
        self._env = dict(context.env)
        self._host = config.host or socket.gethostname()
        self._zone = ZoneInfo(config.timezone) if config.timezone else None
        shown = config.path if config.path is not None else f"command: {shlex.join(config.command)}"
        self._where = f"source {config.name!r} ({shown})"
        self._tracker = DeviceTracker()

    def collect(self) -> CollectResult:
        """Read once. Never raises: every failure is on ``result.health``."""
        return collect_safely(self.name, self._where, self._clock, self._read)

    def _read(self, now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        problems: list[str] = []
        if self.config.path is not None:
            text, mtime_ms = self._read_file(self.config.path)
            readings, stamps = self._parse(text, True, mtime_ms, problems)
        else:
            readings, stamps = self._parse(self._run(), False, now_ms, problems)
        if not readings:
            if problems:
                return samples_from_rows((), {}), problems
            raise SourceError("no GPU rows in the output")
        problems.extend(self._tracker.update(readings))
        rows: list[Row] = []
        for reading, ms in zip(readings, stamps, strict=True):
            rows.extend(gpu_rows([reading], ms, count=False))
        rows.append((GPU_COUNT, {"host": self._host}, max(stamps), float(len(readings))))
        return samples_from_rows(rows, self.config.series_labels()), problems

    def _parse(
        self, text: str, read_timestamps: bool, default_ms: int, problems: list[str]
    ) -> tuple[list[GpuReading], list[int]]:
        return parse_query_csv(
            text, fields=self.config.query_fields(), host=self._host, read_timestamps=read_timestamps,
            zone=self._zone, default_ms=default_ms, problems=problems,
        )

    def _read_file(self, path: str) -> tuple[str, int]:
        try:
            with open(path, "rb") as f:
                mtime_ms = int(os.fstat(f.fileno()).st_mtime * 1000)
                limit = self.config.body_size_limit
                data = f.read(limit + 1 if limit else -1)
        except FileNotFoundError:
            raise SourceError("file not found") from None
        except OSError as exc:
            raise SourceError(f"cannot read: {exc.strerror or exc}") from None
        if len(data) > self.config.read_limit:
            raise SourceError(f"body_size_limit {limit} exceeded: more than {limit} bytes in the file")
        return data.decode("utf-8", errors="replace"), mtime_ms

    def _run(self) -> str:
        argv = self.config.command
        timeout_s = self.config.timeout_s
        try:
            proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                env=self._env, start_new_session=True,
            )
        except FileNotFoundError:
            raise SourceError(
                f"command not found: {argv[0]!r} (is the NVIDIA driver installed and nvidia-smi on PATH?)"
            ) from None
        except OSError as exc:
            raise SourceError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: a wrapper script's children too
            proc.communicate()
            raise SourceError(f"timed out after {format_duration(timeout_s)}; killed") from None
        if proc.returncode != 0:
            said = (err.strip() or out.strip()).decode("utf-8", errors="replace")
            said = said if len(said) <= _MAX_SHOWN else said[:_MAX_SHOWN] + "…"
            raise SourceError(f"exited with status {proc.returncode}: {said or '(no output)'}")
        if len(out) > self.config.read_limit:
            raise SourceError(f"body_size_limit {self.config.read_limit} exceeded: the output is {len(out)} bytes")
        return out.decode("utf-8", errors="replace")
