"""The demo's GPUs: two simulated devices behind a dcgm-exporter look-alike serving ``/metrics``.

The exposition is dcgm-exporter's own (4.x, default counters, not Kubernetes mode): ``# HELP`` and
``# TYPE`` per field, the labels ``gpu``, ``UUID``, ``pci_bus_id``, ``device``, ``modelName``,
``hostname`` and ``DCGM_FI_DRIVER_VERSION``, integers printed bare and floats with six decimals,
as in ``tests/fixtures/gpu/dcgm-4.8.3-hostname.prom``. So the demo's ``gpu-dcgm`` source runs
Redline's real ``dcgm`` collector, which maps these fields to ``redline_gpu_*``.

Utilisation follows the inference API's traffic: each GPU serves its share of the requests
(``GpuDevice.share``) at ``REQUESTS_PER_GPU_S`` requests per second when 100% busy, so the
baseline (about 50 req/s) keeps both GPUs near 60% and the scripted incident (3x traffic)
saturates them, which the demo's GPU-band objective (40-90%) sees. Nothing here but the server
does I/O; the tally is thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Final

from redline.kernel.http_server import ThreadedHTTPServer, send_body

__all__ = [
    "DEFAULT_DCGM_PORT",
    "GPUS",
    "REQUESTS_PER_GPU_S",
    "DcgmExporter",
    "GpuDevice",
    "GpuReading",
    "GpuTally",
    "dcgm_exposition",
    "readings_at",
    "redline_gpu_labels",
]

logger = logging.getLogger(__name__)

DEFAULT_DCGM_PORT: Final = 9400
"""dcgm-exporter's default port."""

REQUESTS_PER_GPU_S: Final = 40.0
"""Inference requests per second that keep one demo GPU 100% busy."""

HOSTNAME: Final = "demo-gpu-node-1"
MODEL_NAME: Final = "NVIDIA L4"
DRIVER_VERSION: Final = "570.124.06"
FB_TOTAL_MIB: Final = 23034
IDLE_WATTS: Final = 16.0
MAX_WATTS: Final = 72.0


@dataclass(frozen=True)
class GpuDevice:
    """One simulated GPU and the share of the inference traffic it serves."""

    index: int
    uuid: str
    pci_bus_id: str
    share: float


GPUS: Final = (
    GpuDevice(0, "GPU-5f1c2a9e-7b3d-4e61-9a0c-2d8e4b6f1a73", "00000000:01:00.0", 0.55),
    GpuDevice(1, "GPU-c84e0b17-2f6a-4d95-b3e8-7a1d5c9f0e26", "00000000:02:00.0", 0.45),
)
"""The demo's two GPUs (the GPU rate card bills two): the first takes a little more traffic."""


@dataclass(frozen=True)
class GpuReading:
    """What dcgm-exporter would show for one GPU at one instant."""

    device: GpuDevice
    utilization_pct: int
    fb_used_mib: int
    power_watts: float
    temperature_c: int


def readings_at(request_rate_per_s: float) -> tuple[GpuReading, ...]:
    """Each GPU's reading while the API serves ``request_rate_per_s`` (a pure function of it)."""
    out = []
    for device in GPUS:
        busy = min(1.0, max(0.0, request_rate_per_s * device.share / REQUESTS_PER_GPU_S))
        out.append(
            GpuReading(
                device=device,
                utilization_pct=round(busy * 100),
                fb_used_mib=round(9000 + 11000 * busy),  # weights resident, activations with load
                power_watts=round(IDLE_WATTS + (MAX_WATTS - IDLE_WATTS) * busy, 3),
                temperature_c=round(38 + 40 * busy),
            )
        )
    return tuple(out)


class GpuTally:
    """The latest readings, set by the fleet's simulator and read by scrapes (thread-safe)."""

    def __init__(self, request_rate_per_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._readings = readings_at(request_rate_per_s)

    def record_rate(self, request_rate_per_s: float) -> None:
        """The API served ``request_rate_per_s`` over the last step: the GPUs were this busy."""
        readings = readings_at(request_rate_per_s)
        with self._lock:
            self._readings = readings

    def snapshot(self) -> tuple[GpuReading, ...]:
        """The current readings."""
        with self._lock:
            return self._readings


def _exporter_labels(device: GpuDevice) -> str:
    """The exporter's labels in its own order (not sorted); no value here needs escaping."""
    labels = {
        "gpu": str(device.index),
        "UUID": device.uuid,
        "pci_bus_id": device.pci_bus_id,
        "device": f"nvidia{device.index}",
        "modelName": MODEL_NAME,
        "hostname": HOSTNAME,
        "DCGM_FI_DRIVER_VERSION": DRIVER_VERSION,
    }
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def redline_gpu_labels(device: GpuDevice) -> Mapping[str, str]:
    """The labels Redline's ``dcgm`` collector gives this GPU's ``redline_gpu_*`` series."""
    return {"gpu": str(device.index), "uuid": device.uuid, "name": MODEL_NAME, "host": HOSTNAME}


_FIELDS: Final = (
    ("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W)."),
    ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB)."),
)


def _field_value(name: str, reading: GpuReading) -> str:
    """The value as dcgm-exporter prints it: integers bare, floats (power) with six decimals."""
    values = {
        "DCGM_FI_DEV_GPU_TEMP": str(reading.temperature_c),
        "DCGM_FI_DEV_POWER_USAGE": f"{reading.power_watts:.6f}",
        "DCGM_FI_DEV_GPU_UTIL": str(reading.utilization_pct),
        "DCGM_FI_DEV_FB_FREE": str(FB_TOTAL_MIB - reading.fb_used_mib),
        "DCGM_FI_DEV_FB_USED": str(reading.fb_used_mib),
    }
    return values[name]


def dcgm_exposition(readings: tuple[GpuReading, ...]) -> str:
    """The ``/metrics`` body dcgm-exporter serves for these readings (text format 0.0.4)."""
    lines: list[str] = []
    for name, help_text in _FIELDS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f"{name}{{{_exporter_labels(r.device)}}} {_field_value(name, r)}" for r in readings]
    return "\n".join(lines) + "\n"


class DcgmExporter:
    """Serves ``dcgm_exposition`` of a ``GpuTally`` at ``/metrics`` on 127.0.0.1."""

    name = "dcgm-exporter"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, tally: GpuTally | None = None) -> None:
        self.tally = tally if tally is not None else GpuTally()
        self._http = ThreadedHTTPServer("fleet-dcgm-exporter", host, port)

    @property
    def url(self) -> str:
        """The ``/metrics`` URL; only after ``start()``."""
        return f"http://{self._http.host}:{self._http.port}/metrics"

    def record_rate(self, request_rate_per_s: float) -> None:
        """Forward to the tally (the fleet simulator's GPU sink)."""
        self.tally.record_rate(request_rate_per_s)

    def start(self) -> None:
        """Bind and serve on a background thread; raises ``OSError`` if the port is taken."""
        tally = self.tally

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    send_body(self, 404, "text/plain; charset=utf-8", b"not found: try /metrics\n")
                    return
                body = dcgm_exposition(tally.snapshot()).encode()
                send_body(self, 200, "text/plain; version=0.0.4; charset=utf-8", body)

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("dcgm-exporter: " + format, *args)

        self._http.start(Handler)

    def shutdown(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        self._http.shutdown()
