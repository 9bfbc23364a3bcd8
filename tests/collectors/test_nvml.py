from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pynvml
import yaml

from redline.collectors.nvml import NvmlCollector, NvmlConfig
from redline.config import RedlineConfig
from redline.kernel.labels import format_labels
from tests.collectors.context import context

NOW = 1_767_225_600.5  # 2026-01-01T00:00:00.5Z


def clock() -> float:
    return NOW


def config(**extra: object) -> NvmlConfig:
    return NvmlConfig.model_validate({"name": "gpu-node", "kind": "nvml", "host": "node-a", **extra})


@dataclass
class _Utilization:
    gpu: int
    memory: int


@dataclass
class _Memory:
    total: int
    free: int
    used: int


@dataclass
class _Device:
    uuid: str
    name: str
    utilization: _Utilization | None
    memory: _Memory
    milliwatts: int
    celsius: int


@dataclass
class FakeNvml:
    """A stand-in for the ``pynvml`` module, because no GPU or driver exists on this machine: the same
    function names and constants, raising the real ``pynvml.NVMLError`` subclasses, returning values
    shaped as NVML returns them (bytes for memory, milliwatts for power, percent for utilisation)."""

    devices: list[_Device]
    lost: set[int] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    NVMLError = pynvml.NVMLError
    NVMLError_NotSupported = pynvml.NVMLError_NotSupported
    NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU

    def nvmlInit(self) -> None:
        self.calls.append("init")

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if index in self.lost:
            raise pynvml.NVMLError_GpuIsLost()
        return index

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return self.devices[handle].uuid

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return self.devices[handle].name.encode()  # older nvidia-ml-py returns bytes

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> _Utilization:
        rates = self.devices[handle].utilization
        if rates is None:
            raise pynvml.NVMLError_NotSupported()
        return rates

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> _Memory:
        return self.devices[handle].memory

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        return self.devices[handle].milliwatts

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self.devices[handle].celsius


H100 = _Device(
    "GPU-5fd4b6a1-9a3c-2f1e-8c7d-0a1b2c3d4e5f",
    "NVIDIA H100 80GB HBM3",
    _Utilization(gpu=87, memory=41),
    _Memory(total=85_520_809_984, free=5_307_039_744, used=80_213_770_240),
    312_457,
    64,
)
A100_MIG = _Device(
    "GPU-2c2f45e8-0886-e3cc-02be-a4181a13fc9b",
    "NVIDIA A100 80GB PCIe",
    None,  # MIG mode: utilisation rates are not supported
    _Memory(total=85_899_345_920, free=64_424_509_440, used=21_474_836_480),
    68_000,
    41,
)


def _values(result: Any) -> dict[tuple[str, str], float]:
    return {(m, labels): v for m, labels, v in result.samples.select("metric", "labels", "value").iter_rows()}


def test_real_pynvml_on_this_gpu_less_machine_reports_nvml_unavailable_without_raising() -> None:
    result = NvmlCollector(config(), context(clock)).collect()

    assert not result.health.ok
    assert result.health.error == (
        "source 'gpu-node' (NVML on node-a): NVML unavailable: NVML Shared Library Not Found"
        " — no NVIDIA driver on this host?"
    )
    assert result.samples.height == 0


def test_readings_are_converted_to_ratio_bytes_and_watts_per_device_with_uuid_and_name() -> None:
    fake = FakeNvml([H100])
    result = NvmlCollector(config(labels={"team": "ml"}), context(clock), nvml=fake).collect()

    assert result.health.ok, result.health.error
    assert result.health.problems == ()
    gpu = format_labels(
        {"gpu": "0", "uuid": H100.uuid, "name": "NVIDIA H100 80GB HBM3", "host": "node-a",
         "source": "gpu-node", "team": "ml"}
    )
    assert _values(result) == {
        ("redline_gpu_utilization_ratio", gpu): 0.87,
        ("redline_gpu_memory_used_bytes", gpu): 80_213_770_240.0,
        ("redline_gpu_memory_total_bytes", gpu): 85_520_809_984.0,
        ("redline_gpu_power_watts", gpu): 312.457,
        ("redline_gpu_temperature_celsius", gpu): 64.0,
        ("redline_gpu_count", format_labels({"host": "node-a", "source": "gpu-node", "team": "ml"})): 1.0,
    }
    assert result.samples["timestamp"].unique().to_list() == [1_767_225_600_500]
    assert fake.calls == ["init", "shutdown"]


def test_unsupported_utilisation_on_a_mig_gpu_is_a_missing_sample_and_a_problem_not_zero() -> None:
    result = NvmlCollector(config(temperature=False), context(clock), nvml=FakeNvml([H100, A100_MIG])).collect()

    assert result.health.ok
    assert result.health.problems == (
        f"GPU 1 ({A100_MIG.uuid}) on node-a: utilization not supported (NVML: Not Supported); no sample",
    )
    values = _values(result)
    mig = format_labels(
        {"gpu": "1", "uuid": A100_MIG.uuid, "name": A100_MIG.name, "host": "node-a", "source": "gpu-node"}
    )
    assert ("redline_gpu_utilization_ratio", mig) not in values
    assert values[("redline_gpu_power_watts", mig)] == 68.0
    assert values[("redline_gpu_memory_used_bytes", mig)] == 21_474_836_480.0
    assert values[("redline_gpu_count", format_labels({"host": "node-a", "source": "gpu-node"}))] == 2.0
    assert not any(m == "redline_gpu_temperature_celsius" for m, _ in values)


def test_a_gpu_lost_between_reads_is_absent_from_the_next_read_and_reported() -> None:
    fake = FakeNvml([H100, A100_MIG])
    collector = NvmlCollector(config(temperature=False), context(clock), nvml=fake)
    collector.collect()
    fake.lost = {1}

    result = collector.collect()

    assert result.health.ok
    assert result.health.problems == (
        "GPU 1 on node-a: cannot be opened (NVML: GPU is lost); skipped",
        f"GPU 1 ({A100_MIG.uuid}) on node-a was in the previous read but is missing from this one;"
        " its series go stale (no zeros written)",
    )
    assert {labels for _, labels in _values(result)} >= {
        format_labels({"gpu": "0", "uuid": H100.uuid, "name": H100.name, "host": "node-a", "source": "gpu-node"})
    }
    assert not result.samples.filter(result.samples["labels"].str.contains(A100_MIG.uuid)).height
    assert fake.calls == ["init", "shutdown", "init", "shutdown"]


def test_no_gpu_enumerated_is_an_error_not_a_zero_count() -> None:
    fake = FakeNvml([])
    result = NvmlCollector(config(), context(clock), nvml=fake).collect()

    assert result.health.error == "source 'gpu-node' (NVML on node-a): NVML reports no GPU on this host"
    assert result.samples.height == 0
    assert fake.calls == ["init", "shutdown"]


def test_host_label_defaults_to_this_machines_hostname() -> None:
    cfg = NvmlConfig.model_validate({"name": "gpu-node", "kind": "nvml"})
    result = NvmlCollector(cfg, context(clock), nvml=FakeNvml([H100])).collect()

    assert f'host="{socket.gethostname()}"' in result.samples["labels"][0]


def test_the_example_config_nvml_entry_and_skeleton_validate() -> None:
    example = yaml.safe_load((Path(__file__).parents[2] / "examples" / "sources-gpu.yaml").read_text())
    entries = [s for s in example["sources"] if s["kind"] == "nvml"]

    assert [NvmlConfig.model_validate(s).name for s in entries] == ["gpu-local"]
    # Everything but the sources (whose kinds the registry adds) loads as the agent would load it.
    loaded = RedlineConfig.model_validate({**example, "sources": []})
    assert [s.name for s in loaded.slos] == ["inference-gpu-band"]
