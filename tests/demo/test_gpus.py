"""The demo's simulated dcgm-exporter, scraped over real HTTP by Redline's real ``dcgm`` collector."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redline.collectors.dcgm import DcgmCollector, DcgmConfig
from redline.collectors.gpu_metrics import MIB
from redline.demo.gpus import GPUS, DcgmExporter, dcgm_exposition, readings_at, redline_gpu_labels
from redline.demo.history import write_history
from redline.kernel.labels import format_labels
from tests.collectors.context import context

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gpu" / "dcgm-4.8.3-hostname.prom"
NOW_S = 1_767_225_600.0


@pytest.fixture
def exporter() -> Iterator[DcgmExporter]:
    server = DcgmExporter()
    server.start()
    try:
        yield server
    finally:
        server.shutdown()


def _collect(url: str) -> dict[tuple[str, str], float]:
    cfg = DcgmConfig.model_validate({"name": "gpu-dcgm", "kind": "dcgm", "url": url})
    with httpx.Client() as client:
        result = DcgmCollector(cfg, context(lambda: NOW_S, http=client)).collect()
    assert result.health.ok, result.health.error
    assert result.health.problems == ()
    return {(m, labels): v for m, labels, v in result.samples.select("metric", "labels", "value").iter_rows()}


def test_utilisation_follows_traffic_each_gpu_by_its_share_and_saturates_at_100() -> None:
    assert [r.utilization_pct for r in readings_at(50)] == [69, 56]  # 50 × 0.55 / 40, 50 × 0.45 / 40
    assert [r.utilization_pct for r in readings_at(150)] == [100, 100]  # the incident's 3x traffic
    assert [r.utilization_pct for r in readings_at(0)] == [0, 0]


def test_the_real_dcgm_collector_maps_the_simulated_exporter(exporter: DcgmExporter) -> None:
    exporter.record_rate(50)

    values = _collect(exporter.url)

    gpu0 = format_labels({**redline_gpu_labels(GPUS[0]), "source": "gpu-dcgm"})
    gpu1 = format_labels({**redline_gpu_labels(GPUS[1]), "source": "gpu-dcgm"})
    (reading0, reading1) = readings_at(50)
    assert values[("redline_gpu_utilization_ratio", gpu0)] == 0.69
    assert values[("redline_gpu_utilization_ratio", gpu1)] == 0.56
    assert values[("redline_gpu_memory_used_bytes", gpu0)] == reading0.fb_used_mib * MIB
    assert values[("redline_gpu_memory_total_bytes", gpu1)] == 23034 * MIB
    assert values[("redline_gpu_power_watts", gpu1)] == reading1.power_watts
    assert values[("redline_gpu_count", format_labels({"host": "demo-gpu-node-1", "source": "gpu-dcgm"}))] == 2.0


def test_the_history_writes_the_series_the_collector_makes_so_they_join(exporter: DcgmExporter, tmp_path: Path) -> None:
    exporter.record_rate(50)
    live = {labels for metric, labels in _collect(exporter.url) if metric == "redline_gpu_utilization_ratio"}

    stats = write_history(tmp_path / "h.om", end_s=NOW_S, duration_s=600, seed=1)

    written = {
        m.group(1) for m in re.finditer(r"^redline_gpu_utilization_ratio\{(.*)\} ", stats.path.read_text(), flags=re.M)
    }
    assert written == live
    baseline = re.findall(r'^redline_gpu_utilization_ratio\{gpu="0",.*\} ([\d.]+) ', stats.path.read_text(), re.M)
    assert min(map(float, baseline)) >= 0.6 and max(map(float, baseline)) <= 0.78  # 50 req/s ± 10% jitter


def test_the_exposition_has_dcgm_exporters_layout() -> None:
    ours = dcgm_exposition(readings_at(50))
    theirs = FIXTURE.read_text()

    def label_names(text: str, metric: str) -> list[str]:
        line = next(line for line in text.splitlines() if line.startswith(metric + "{"))
        return re.findall(r'(\w+)="', line)

    for metric in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_POWER_USAGE"):
        assert label_names(ours, metric) == label_names(theirs, metric)
        assert f"# TYPE {metric} gauge" in ours
    assert re.search(r"^DCGM_FI_DEV_POWER_USAGE\{[^}]*\} \d+\.\d{6}$", ours, re.M)  # six decimals, as theirs
    assert re.search(r'^DCGM_FI_DEV_GPU_UTIL\{gpu="0",[^}]*\} 69$', ours, re.M)  # integers bare


def test_an_unknown_path_is_404(exporter: DcgmExporter) -> None:
    assert httpx.get(exporter.url.replace("/metrics", "/"), timeout=5).status_code == 404
