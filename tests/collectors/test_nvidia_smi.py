"""The nvidia_smi collector on real-shaped nvidia-smi output.

No GPU exists here, so the CSV fixtures under tests/fixtures/gpu/ reproduce nvidia-smi's
``--query-gpu ... --format=csv`` layout (with and without header and units, ``[N/A]`` and
``[Not Supported]``), and the command path runs a real subprocess: a small executable named
``nvidia-smi`` written into tmp_path and found on the PATH given to the collector.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import polars as pl
import pytest
import yaml
from pydantic import ValidationError

from redline.collectors.gpu_metrics import MIB
from redline.collectors.nvidia_smi import DEFAULT_QUERY, NvidiaSmiCollector, NvidiaSmiConfig
from redline.kernel.labels import format_labels
from tests.collectors.context import context

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gpu"
NOW_MS = 1_768_472_700_000  # 2026-01-15T10:25:00Z
H100_0 = "GPU-3b2c9a41-6f0e-4d7b-91a8-5c2e7d0f1a36"
H100_1 = "GPU-a7e1d5c2-0b94-4e3f-8d21-6f9c3b8a2e05"


def clock() -> float:
    return NOW_MS / 1000


def config(**fields: object) -> NvidiaSmiConfig:
    return NvidiaSmiConfig.model_validate({"name": "smi", "kind": "nvidia_smi", "host": "node-a", **fields})


def _gpu(index: str, uuid: str, name: str = "NVIDIA H100 80GB HBM3", **extra: str) -> str:
    return format_labels({"gpu": index, "uuid": uuid, "name": name, "host": "node-a", "source": "smi", **extra})


def _rows(samples: pl.DataFrame) -> dict[tuple[str, str], tuple[int, float]]:
    return {(m, lab): (ts, v) for m, lab, ts, v in samples.select("metric", "labels", "timestamp", "value").iter_rows()}


def _fake_smi(tmp_path: Path, script: str) -> dict[str, str]:
    """Write an executable ``nvidia-smi`` into tmp_path/bin; the environment that finds it first."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "nvidia-smi"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}


def test_csv_file_with_header_and_units_maps_percent_mib_and_watts_at_the_file_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "gpu.csv"
    shutil.copy(FIXTURES / "nvidia-smi-header-units.csv", path)
    result = NvidiaSmiCollector(config(path=str(path), timezone="UTC"), context(clock)).collect()

    assert result.health.ok, result.health.error
    assert result.health.problems == ()
    t0, t1 = 1_768_472_625_123, 1_768_472_625_125  # 2026-01-15T10:23:45.123Z, .125Z
    assert _rows(result.samples) == {
        ("redline_gpu_utilization_ratio", _gpu("0", H100_0)): (t0, 0.95),
        ("redline_gpu_memory_used_bytes", _gpu("0", H100_0)): (t0, 7650.0 * MIB),
        ("redline_gpu_memory_total_bytes", _gpu("0", H100_0)): (t0, 81559.0 * MIB),
        ("redline_gpu_power_watts", _gpu("0", H100_0)): (t0, 81.25),
        ("redline_gpu_utilization_ratio", _gpu("1", H100_1)): (t1, 0.03),
        ("redline_gpu_memory_used_bytes", _gpu("1", H100_1)): (t1, 4.0 * MIB),
        ("redline_gpu_memory_total_bytes", _gpu("1", H100_1)): (t1, 81559.0 * MIB),
        ("redline_gpu_power_watts", _gpu("1", H100_1)): (t1, 69.87),
        ("redline_gpu_count", format_labels({"host": "node-a", "source": "smi"})): (t1, 2.0),
    }


def test_noheader_nounits_csv_uses_the_query_fields_and_reads_local_time_in_the_configured_zone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gpu.csv"
    shutil.copy(FIXTURES / "nvidia-smi-noheader-nounits.csv", path)
    result = NvidiaSmiCollector(config(path=str(path), timezone="Europe/Berlin"), context(clock)).collect()

    assert result.health.ok, result.health.error
    rows = _rows(result.samples)
    # 10:24:45.120 in Berlin in January (CET, UTC+1) is 09:24:45.120Z.
    assert rows[("redline_gpu_utilization_ratio", _gpu("0", H100_0))] == (1_768_469_085_120, 0.97)
    assert rows[("redline_gpu_memory_used_bytes", _gpu("0", H100_0))] == (1_768_469_085_120, 7702.0 * MIB)
    assert rows[("redline_gpu_power_watts", _gpu("1", H100_1))] == (1_768_469_085_122, 69.12)
    assert rows[("redline_gpu_utilization_ratio", _gpu("1", H100_1))] == (1_768_469_085_122, 0.0)


def test_not_supported_and_na_fields_are_missing_samples_with_problems_not_zeros(tmp_path: Path) -> None:
    path = tmp_path / "gpu.csv"
    shutil.copy(FIXTURES / "nvidia-smi-not-supported.csv", path)
    result = NvidiaSmiCollector(config(path=str(path), timezone="UTC"), context(clock)).collect()

    a100 = _gpu("0", "GPU-2c2f45e8-0886-e3cc-02be-a4181a13fc9b", "NVIDIA A100 80GB PCIe")
    gtx = _gpu("1", "GPU-77d1c0a5-3e2f-4b8c-9a61-0d4e5f6a7b8c", "NVIDIA GeForce GTX 1080")
    assert result.health.ok
    assert result.health.problems == (
        "GPU 0 (GPU-2c2f45e8-0886-e3cc-02be-a4181a13fc9b) on node-a: utilization.gpu is [N/A]; no sample",
        "GPU 1 (GPU-77d1c0a5-3e2f-4b8c-9a61-0d4e5f6a7b8c) on node-a: power.draw is [Not Supported]; no sample",
    )
    values = {key: v for key, (_, v) in _rows(result.samples).items()}
    assert values == {
        ("redline_gpu_memory_used_bytes", a100): 30133.0 * MIB,
        ("redline_gpu_memory_total_bytes", a100): 81920.0 * MIB,
        ("redline_gpu_power_watts", a100): 68.40,
        ("redline_gpu_utilization_ratio", gtx): 0.41,
        ("redline_gpu_memory_used_bytes", gtx): 2012.0 * MIB,
        ("redline_gpu_memory_total_bytes", gtx): 8192.0 * MIB,
        ("redline_gpu_count", format_labels({"host": "node-a", "source": "smi"})): 2.0,
    }


def test_a_gpu_that_disappears_between_reads_is_absent_from_the_next_collection_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "gpu.csv"
    shutil.copy(FIXTURES / "nvidia-smi-header-units.csv", path)
    collector = NvidiaSmiCollector(config(path=str(path), timezone="UTC"), context(clock))
    first = collector.collect()
    shutil.copy(FIXTURES / "nvidia-smi-gpu1-gone.csv", path)
    second = collector.collect()

    assert first.samples.filter(pl.col("labels").str.contains(H100_1)).height == 4
    assert second.health.ok
    assert second.health.problems == (
        f"GPU 1 ({H100_1}) on node-a was in the previous read but is missing from this one;"
        " its series go stale (no zeros written)",
    )
    assert second.samples.filter(pl.col("labels").str.contains(H100_1)).height == 0  # stale, not zero
    rows = _rows(second.samples)
    assert rows[("redline_gpu_power_watts", _gpu("0", H100_0))] == (1_768_472_685_118, 83.5)
    assert rows[("redline_gpu_count", format_labels({"host": "node-a", "source": "smi"}))] == (1_768_472_685_118, 1.0)


def test_a_line_with_the_wrong_number_of_fields_is_skipped_and_the_others_land(tmp_path: Path) -> None:
    path = tmp_path / "gpu.csv"
    lines = (FIXTURES / "nvidia-smi-header-units.csv").read_text().splitlines()
    path.write_text("\n".join([*lines[:2], "2026/01/15 10:23:45.124, 7, GPU-truncated", lines[2]]) + "\n")
    result = NvidiaSmiCollector(config(path=str(path), timezone="UTC"), context(clock)).collect()

    assert result.health.ok
    assert result.health.problems == (
        "line 3: 3 fields where 8 were expected, skipped: '2026/01/15 10:23:45.124, 7, GPU-truncated'",
    )
    assert result.samples.filter(pl.col("metric") == "redline_gpu_count")["value"].to_list() == [2.0]


def test_a_missing_file_is_an_error_naming_source_and_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"
    result = NvidiaSmiCollector(config(path=str(path)), context(clock)).collect()

    assert result.health.error == f"source 'smi' ({path}): file not found"
    assert result.samples.height == 0


def test_the_command_runs_as_a_real_subprocess_with_the_query_and_is_stamped_at_collection_time(
    tmp_path: Path,
) -> None:
    args_file = tmp_path / "args"
    env = _fake_smi(tmp_path, f'echo "$@" > {args_file}\ncat {FIXTURES / "nvidia-smi-header-units.csv"}\n')
    result = NvidiaSmiCollector(config(labels={"rack": "r7"}), context(clock, env=env)).collect()

    assert result.health.ok, result.health.error
    assert args_file.read_text() == f"--query-gpu={','.join(DEFAULT_QUERY)} --format=csv\n"
    rows = _rows(result.samples)
    assert rows[("redline_gpu_utilization_ratio", _gpu("0", H100_0, rack="r7"))] == (NOW_MS, 0.95)
    assert rows[("redline_gpu_power_watts", _gpu("1", H100_1, rack="r7"))] == (NOW_MS, 69.87)
    assert rows[("redline_gpu_count", format_labels({"host": "node-a", "source": "smi", "rack": "r7"}))] == (
        NOW_MS,
        2.0,
    )


def test_a_command_with_noheader_nounits_is_parsed_with_its_own_query_fields(tmp_path: Path) -> None:
    env = _fake_smi(tmp_path, "echo '0, GPU-abc, 12.5, 3, 250'\n")
    cfg = config(command=["nvidia-smi", "--query-gpu=index,uuid,power.draw,utilization.gpu,memory.used",
                          "--format=csv,noheader,nounits"])
    result = NvidiaSmiCollector(cfg, context(clock, env=env)).collect()

    gpu = format_labels({"gpu": "0", "uuid": "GPU-abc", "host": "node-a", "source": "smi"})
    assert {k: v for k, (_, v) in _rows(result.samples).items() if k[1] == gpu} == {
        ("redline_gpu_power_watts", gpu): 12.5,
        ("redline_gpu_utilization_ratio", gpu): 0.03,
        ("redline_gpu_memory_used_bytes", gpu): 250.0 * MIB,
    }


def test_command_not_found_is_a_clear_health_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = NvidiaSmiCollector(config(), context(clock, env={"PATH": str(empty)})).collect()

    assert result.health.error == (
        f"source 'smi' (command: nvidia-smi --query-gpu={','.join(DEFAULT_QUERY)} --format=csv): command not found:"
        " 'nvidia-smi' (is the NVIDIA driver installed and nvidia-smi on PATH?)"
    )


def test_a_blocking_command_is_killed_at_the_timeout(tmp_path: Path) -> None:
    env = _fake_smi(tmp_path, "sleep 60\n")
    result = NvidiaSmiCollector(config(interval="5s", timeout="300ms"), context(clock, env=env)).collect()

    assert result.health.error is not None
    assert result.health.error.endswith("--format=csv): timed out after 300ms; killed")
    assert result.samples.height == 0


def test_a_non_zero_exit_surfaces_the_commands_stderr(tmp_path: Path) -> None:
    env = _fake_smi(
        tmp_path,
        "echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\" >&2\nexit 9\n",
    )
    result = NvidiaSmiCollector(config(), context(clock, env=env)).collect()

    assert result.health.error is not None
    assert result.health.error.endswith(
        "--format=csv): exited with status 9: NVIDIA-SMI has failed because it couldn't communicate with the"
        " NVIDIA driver."
    )


def test_a_broken_source_leaves_another_one_unaffected(tmp_path: Path) -> None:
    good_env = _fake_smi(tmp_path, f'cat {FIXTURES / "nvidia-smi-header-units.csv"}\n')
    broken = NvidiaSmiCollector(config(name="smi-b", path=str(tmp_path / "nope.csv")), context(clock))
    good = NvidiaSmiCollector(config(), context(clock, env=good_env))

    bad_result, good_result = broken.collect(), good.collect()

    assert bad_result.health.error == f"source 'smi-b' ({tmp_path / 'nope.csv'}): file not found"
    assert good_result.health.ok and good_result.samples.height == 9


def test_header_only_output_is_reported_as_no_gpu_rows_not_zeros(tmp_path: Path) -> None:
    env = _fake_smi(tmp_path, "echo 'index, utilization.gpu [%]'\n")
    result = NvidiaSmiCollector(config(), context(clock, env=env)).collect()

    assert result.health.error is not None
    assert result.health.error.endswith("--format=csv): no GPU rows in the output")


def test_config_refuses_both_command_and_path_and_an_unknown_zone() -> None:
    with pytest.raises(ValidationError, match="set either command"):
        config(command=["nvidia-smi"], path="/var/lib/gpu.csv")
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        config(path="/var/lib/gpu.csv", timezone="Mars/Olympus")


def test_the_example_config_nvidia_smi_entries_validate() -> None:
    example = yaml.safe_load((Path(__file__).parents[2] / "examples" / "sources-gpu.yaml").read_text())
    command, dump = [NvidiaSmiConfig.model_validate(s) for s in example["sources"] if s["kind"] == "nvidia_smi"]

    assert command.query_fields() == [*DEFAULT_QUERY, "temperature.gpu"]
    assert (dump.path, dump.timezone) == ("/var/lib/gpu-stats/nvidia-smi.csv", "UTC")
