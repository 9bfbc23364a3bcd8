"""The dcgm collector against a real HTTP server on 127.0.0.1 serving dcgm-exporter pages.

No GPU exists here, so the pages are fixtures under tests/fixtures/gpu/ written in dcgm-exporter's
own layout (HELP/TYPE per field, its label names and order, its value formatting): 3.3.5 with
``Hostname``, 4.8.3 with ``hostname`` and the DCP profile, Kubernetes mode with pod labels, a MIG
GPU split in two instances, and DCGM's blank sentinels.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import polars as pl
import pytest
import yaml
from pydantic import ValidationError

from redline.collectors.dcgm import DcgmCollector, DcgmConfig
from redline.collectors.gpu_metrics import MIB
from redline.kernel.labels import format_labels
from tests.collectors.context import context
from tests.collectors.http_target import Respond, send, serve

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gpu"
NOW_MS = 1_767_225_600_000


def clock() -> float:
    return NOW_MS / 1000


def _page(name: str, content_type: str = "text/plain; version=0.0.4; charset=utf-8") -> Respond:
    body = (FIXTURES / name).read_bytes()

    def respond(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, body, content_type)

    return respond


def config(url: str, **extra: object) -> DcgmConfig:
    return DcgmConfig.model_validate({"name": "dcgm", "kind": "dcgm", "url": f"{url}/metrics", **extra})


def _values(samples: pl.DataFrame) -> dict[tuple[str, str], float]:
    return {(m, labels): v for m, labels, v in samples.select("metric", "labels", "value").iter_rows()}


def _gpu(**labels: str) -> str:
    return format_labels({**labels, "source": "dcgm"})


def test_legacy_exporter_with_Hostname_label_maps_util_percent_mib_and_watts(client: httpx.Client) -> None:
    with serve(_page("dcgm-3.3.5-hostname-legacy.prom")) as url:
        result = DcgmCollector(config(url), context(clock, http=client)).collect()

    assert result.health.ok, result.health.error
    assert result.health.problems == ()
    gpu0 = _gpu(gpu="0", uuid="GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52", name="NVIDIA A100-SXM4-80GB",
                host="dgx-a100-01")
    gpu1 = _gpu(gpu="1", uuid="GPU-08abd178-8a91-05c5-6a52-1ab4a05bcdaf", name="NVIDIA A100-SXM4-80GB",
                host="dgx-a100-01")
    assert _values(result.samples) == {
        ("redline_gpu_utilization_ratio", gpu0): 0.95,
        ("redline_gpu_memory_used_bytes", gpu0): 65432 * MIB,
        ("redline_gpu_memory_total_bytes", gpu0): (65432 + 15485) * MIB,
        ("redline_gpu_power_watts", gpu0): 287.408,
        ("redline_gpu_temperature_celsius", gpu0): 61.0,
        ("redline_gpu_utilization_ratio", gpu1): 0.12,
        ("redline_gpu_memory_used_bytes", gpu1): 1024 * MIB,
        ("redline_gpu_memory_total_bytes", gpu1): (1024 + 79893) * MIB,
        ("redline_gpu_power_watts", gpu1): 71.125,
        ("redline_gpu_temperature_celsius", gpu1): 38.0,
        ("redline_gpu_count", _gpu(host="dgx-a100-01")): 2.0,
    }
    assert result.samples["timestamp"].unique().to_list() == [NOW_MS]


def test_2026_exporter_with_hostname_label_prefers_gr_engine_active_over_gpu_util(client: httpx.Client) -> None:
    with serve(_page("dcgm-4.8.3-hostname.prom")) as url:
        result = DcgmCollector(config(url, labels={"cluster": "eu-1"}), context(clock, http=client)).collect()

    assert result.health.ok, result.health.error
    values = _values(result.samples)
    gpu0 = format_labels({"gpu": "0", "uuid": "GPU-3b2c9a41-6f0e-4d7b-91a8-5c2e7d0f1a36",
                          "name": "NVIDIA H100 80GB HBM3", "host": "gpu-node-7", "source": "dcgm", "cluster": "eu-1"})
    assert values[("redline_gpu_utilization_ratio", gpu0)] == 0.912345  # not GPU_UTIL's 100 %
    assert values[("redline_gpu_power_watts", gpu0)] == 612.932
    assert values[("redline_gpu_memory_total_bytes", gpu0)] == (76810 + 4193) * MIB
    count = format_labels({"host": "gpu-node-7", "source": "dcgm", "cluster": "eu-1"})
    assert values[("redline_gpu_count", count)] == 2.0
    assert not any(m.startswith("DCGM_") for m, _ in values)


def test_kubernetes_mode_keeps_pod_namespace_container_where_the_exporter_sets_them(client: httpx.Client) -> None:
    with serve(_page("dcgm-kubernetes.prom")) as url:
        result = DcgmCollector(config(url), context(clock, http=client)).collect()

    values = _values(result.samples)
    busy = _gpu(gpu="0", uuid="GPU-1e7f3c9a-2b4d-4a6e-9f10-7c3b5d8e2a41", name="Tesla T4",
                host="aks-gpupool-31415926-vmss000002", pod="triton-server-6d9f7b8c4-x2kqp", namespace="inference",
                container="triton")
    idle = _gpu(gpu="1", uuid="GPU-6c0a8e2f-9d3b-4f71-a5e4-1b2c3d4e5f60", name="Tesla T4",
                host="aks-gpupool-31415926-vmss000002")
    assert values[("redline_gpu_utilization_ratio", busy)] == 0.64
    assert values[("redline_gpu_memory_used_bytes", busy)] == 11214 * MIB
    assert values[("redline_gpu_utilization_ratio", idle)] == 0.0  # a real 0 % from the exporter
    assert values[("redline_gpu_power_watts", idle)] == 9.833
    assert values[("redline_gpu_count", _gpu(host="aks-gpupool-31415926-vmss000002"))] == 2.0


def test_mig_instances_are_separate_series_with_gr_engine_active_and_count_as_one_gpu(client: httpx.Client) -> None:
    with serve(_page("dcgm-mig.prom")) as url:
        result = DcgmCollector(config(url), context(clock, http=client)).collect()

    assert result.health.ok, result.health.error
    common = {"gpu": "0", "uuid": "GPU-2c2f45e8-0886-e3cc-02be-a4181a13fc9b", "name": "NVIDIA A100 80GB PCIe",
              "host": "k8s-dra-driver-cluster-worker", "mig_profile": "3g.40gb"}
    first, second = _gpu(**common, gpu_instance="1"), _gpu(**common, gpu_instance="2")
    assert _values(result.samples) == {
        ("redline_gpu_utilization_ratio", first): 0.733893,
        ("redline_gpu_memory_used_bytes", first): 30120 * MIB,
        ("redline_gpu_memory_total_bytes", first): (30120 + 10187) * MIB,
        ("redline_gpu_utilization_ratio", second): 0.029399,
        ("redline_gpu_memory_used_bytes", second): 13 * MIB,
        ("redline_gpu_memory_total_bytes", second): (13 + 40294) * MIB,
        ("redline_gpu_count", _gpu(host="k8s-dra-driver-cluster-worker")): 1.0,
    }


def test_keep_raw_also_stores_every_dcgm_series_with_source_labels(client: httpx.Client) -> None:
    with serve(_page("dcgm-mig.prom")) as url:
        result = DcgmCollector(config(url, keep_raw=True), context(clock, http=client)).collect()

    raw = result.samples.filter(result.samples["metric"] == "DCGM_FI_PROF_DRAM_ACTIVE")
    assert raw["value"].to_list() == [0.101322, 0.101322]
    assert raw["labels"][0] == format_labels(
        {"gpu": "0", "UUID": "GPU-2c2f45e8-0886-e3cc-02be-a4181a13fc9b", "pci_bus_id": "00000001:00:00.0",
         "device": "nvidia0", "modelName": "NVIDIA A100 80GB PCIe", "GPU_I_PROFILE": "3g.40gb", "GPU_I_ID": "1",
         "Hostname": "k8s-dra-driver-cluster-worker", "DCGM_FI_DRIVER_VERSION": "560.35.03", "source": "dcgm"}
    )
    assert result.samples.height == 7 + 10


def test_dcgm_blank_values_and_a_missing_fb_free_are_problems_not_samples(client: httpx.Client) -> None:
    with serve(_page("dcgm-blank-fields.prom")) as url:
        result = DcgmCollector(config(url), context(clock, http=client)).collect()

    gpu0 = _gpu(gpu="0", uuid="GPU-9f8e7d6c-5b4a-3c2d-1e0f-a1b2c3d4e5f6", name="GRID A100D-40C", host="vgpu-guest-3")
    gpu1 = _gpu(gpu="1", uuid="GPU-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d", name="GRID A100D-40C", host="vgpu-guest-3")
    assert result.health.ok
    assert result.health.problems == (
        "DCGM_FI_DEV_GPU_TEMP for GPU 0 (GPU-9f8e7d6c-5b4a-3c2d-1e0f-a1b2c3d4e5f6) on vgpu-guest-3: DCGM blank value"
        " 9.22337e+18 (not supported or not available); no sample",
        "DCGM_FI_DEV_GPU_TEMP for GPU 1 (GPU-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d) on vgpu-guest-3: DCGM blank value"
        " 9.22337e+18 (not supported or not available); no sample",
        "DCGM_FI_DEV_POWER_USAGE for GPU 0 (GPU-9f8e7d6c-5b4a-3c2d-1e0f-a1b2c3d4e5f6) on vgpu-guest-3: DCGM blank"
        " value 1.40737e+14 (not supported or not available); no sample",
        "GPU 1 (GPU-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d) on vgpu-guest-3: DCGM_FI_DEV_FB_USED without"
        " DCGM_FI_DEV_FB_FREE; no memory total",
    )
    assert _values(result.samples) == {
        ("redline_gpu_utilization_ratio", gpu0): 0.77,
        ("redline_gpu_memory_used_bytes", gpu0): 20480 * MIB,
        ("redline_gpu_memory_total_bytes", gpu0): (20480 + 20475) * MIB,
        ("redline_gpu_utilization_ratio", gpu1): 0.03,
        ("redline_gpu_memory_used_bytes", gpu1): 1024 * MIB,
        ("redline_gpu_power_watts", gpu1): 0.0,  # a real 0 W reading stays
        ("redline_gpu_count", _gpu(host="vgpu-guest-3")): 2.0,
    }


def test_a_gpu_gone_from_the_exporter_goes_stale_and_is_reported(client: httpx.Client) -> None:
    pages = [(FIXTURES / "dcgm-3.3.5-hostname-legacy.prom").read_bytes()]
    # The second scrape: the same exporter after GPU 1 fell off the bus (its lines are gone).
    pages.append(b"".join(line for line in pages[0].splitlines(keepends=True) if b'gpu="1"' not in line))

    def respond(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, pages.pop(0) if len(pages) > 1 else pages[0], "text/plain; version=0.0.4")

    with serve(respond) as url:
        collector = DcgmCollector(config(url), context(clock, http=client))
        first = collector.collect()
        second = collector.collect()

    assert first.health.problems == ()
    assert second.health.ok
    assert second.health.problems == (
        "GPU 1 (GPU-08abd178-8a91-05c5-6a52-1ab4a05bcdaf) on dgx-a100-01 was in the previous read but is missing"
        " from this one; its series go stale (no zeros written)",
    )
    assert not second.samples.filter(second.samples["labels"].str.contains('gpu="1"')).height
    assert second.samples.filter(second.samples["metric"] == "redline_gpu_count")["value"].to_list() == [1.0]


def test_html_from_a_proxy_is_an_error_naming_source_and_url(client: httpx.Client) -> None:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, b"<!DOCTYPE html><html><head><title>Sign in</title>", "text/html; charset=utf-8")

    with serve(respond) as url:
        result = DcgmCollector(config(url), context(clock, http=client)).collect()

    assert result.health.error == (
        f"source 'dcgm' ({url}/metrics): expected dcgm-exporter metrics but got text/html (a proxy or login page?):"
        " '<!DOCTYPE html><html><head><title>Sign in</title>'"
    )
    assert result.samples.height == 0


def test_a_page_without_dcgm_fields_is_an_error_not_an_empty_success(client: httpx.Client) -> None:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, b"# TYPE node_load1 gauge\nnode_load1 0.42\n", "text/plain; version=0.0.4")

    with serve(respond) as url:
        result = DcgmCollector(config(url), context(clock, http=client)).collect()

    assert result.health.error == (
        f"source 'dcgm' ({url}/metrics): no DCGM_FI_* series in the exposition (is this a dcgm-exporter endpoint?)"
    )
    assert result.samples.height == 0


def test_a_down_exporter_fails_its_own_source_only(client: httpx.Client) -> None:
    with serve(_page("dcgm-mig.prom")) as good_url:
        with serve(_page("dcgm-mig.prom")) as gone_url:
            pass  # stopped: nothing listens there any more
        broken = DcgmCollector(DcgmConfig.model_validate(
            {"name": "dcgm-b", "kind": "dcgm", "url": f"{gone_url}/metrics"}), context(clock, http=client))
        good = DcgmCollector(config(good_url), context(clock, http=client))
        bad_result, good_result = broken.collect(), good.collect()

    assert bad_result.health.error is not None
    assert bad_result.health.error.startswith(f"source 'dcgm-b' ({gone_url}/metrics): cannot connect:")
    assert good_result.health.ok and good_result.samples.height == 7


def test_config_rejects_a_url_that_is_not_http() -> None:
    with pytest.raises(ValidationError, match="expected an http:// or https:// URL"):
        DcgmConfig.model_validate({"name": "dcgm", "kind": "dcgm", "url": "file:///tmp/metrics"})


def test_the_example_config_dcgm_entry_validates() -> None:
    example = yaml.safe_load((Path(__file__).parents[2] / "examples" / "sources-gpu.yaml").read_text())
    (entry,) = [DcgmConfig.model_validate(s) for s in example["sources"] if s["kind"] == "dcgm"]

    assert (entry.url, entry.timeout_s, entry.series_labels()) == (
        "http://127.0.0.1:9400/metrics", 5.0, {"cluster": "inference-eu", "source": "gpu-dcgm"}
    )


def test_a_line_that_is_not_utf8_is_skipped_and_named_not_stored_with_replacement_characters(
    client: httpx.Client,
) -> None:
    good = (FIXTURES / "dcgm-3.3.5-hostname-legacy.prom").read_bytes()
    assert good.endswith(b"\n")
    bad_line = good.count(b"\n") + 1
    body = good + b'DCGM_FI_DEV_GPU_TEMP{gpu="9",modelName="A\xff"} 40\n'

    def respond(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, body, "text/plain; version=0.0.4; charset=utf-8")

    with serve(respond) as url:
        result = DcgmCollector(config(url), context(clock, http=client)).collect()
    with serve(_page("dcgm-3.3.5-hostname-legacy.prom")) as url:
        clean = DcgmCollector(config(url), context(clock, http=client)).collect()

    assert result.health.ok, result.health.error
    assert result.health.problems == (
        f"line {bad_line}: not valid UTF-8 at byte 42, line skipped: "
        "'DCGM_FI_DEV_GPU_TEMP{gpu=\"9\",modelName=\"A\ufffd\"} 40'",
    )
    assert _values(result.samples) == _values(clean.samples)
