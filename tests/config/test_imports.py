"""``redline.config`` is for the dashboard and tools too: importing it must not drag in the
agent's runtime (APScheduler), Streamlit, the agent or the dashboard.

Nor what only a running collector or receiver needs (httpx, pyarrow, protobuf, OpenTelemetry's
messages, snappy) or only spec files need (the OpenSLO/Sloth/Pyrra importers): ``redline status``,
``check``, ``backtest`` and the dashboard load a config on every start, and these imports were most
of their start-up time (issue 10). Each test runs a fresh interpreter, so nothing another test
imported hides what is pulled in; a test fails when someone brings an eager import back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("apscheduler", "streamlit", "redline.agent", "redline.dashboard")
RUNTIME_ONLY = ("httpx", "pyarrow", "opentelemetry", "google.protobuf", "cramjam", "redline.slo.spec_formats")
"""Loaded when a collector collects, a receiver receives or a config names spec files; not by a config load."""


def _modules_after(script: str, *args: str) -> list[str]:
    """The modules a fresh interpreter holds after ``script`` (which prints ``sorted(sys.modules)`` as JSON last)."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def _among(loaded: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in loaded if any(m == f or m.startswith(f + ".") for f in names)]


def test_importing_the_config_loads_neither_the_agent_nor_streamlit() -> None:
    """A fresh interpreter, so nothing another test imported hides what ``redline.config`` pulls in."""
    script = (
        "import json, sys\n"
        "import redline.config\n"
        "from redline.config import load_config, RedlineConfig, SpecFile\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert "redline.config" in loaded
    pulled_in = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert pulled_in == []


def test_importing_the_config_loads_no_collector_runtime() -> None:
    loaded = _modules_after("import json, sys\nimport redline.config\nprint(json.dumps(sorted(sys.modules)))\n")
    assert "redline.collectors.registry" in loaded
    assert _among(loaded, RUNTIME_ONLY) == []


def test_loading_a_config_with_sources_and_receivers_loads_no_collector_runtime(tmp_path: Path) -> None:
    """Validating every source and receiver kind takes their config models only; httpx is the one
    exception (an ``http://`` URL is checked with httpx's own parser, so its verdict is the one a
    collection would meet), so it is not asserted here."""
    config = tmp_path / "redline.yaml"
    config.write_text(
        "sources:\n"
        "  - {name: api, kind: prometheus_scrape, url: 'http://127.0.0.1:9100/metrics'}\n"
        "  - {name: prom, kind: promql, url: 'http://127.0.0.1:9090', queries: [{record: up_ratio, query: up}]}\n"
        "  - {name: features, kind: freshness, path: 'data/*.parquet'}\n"
        "  - {name: bill, kind: focus, path: 'billing/*.csv'}\n"
        "  - {name: gpus, kind: nvidia_smi, path: 'smi.csv'}\n"
        "receivers:\n"
        "  - {kind: otlp}\n"
        "  - {kind: remote_write}\n"
    )
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from redline.config import load_config\n"
        "loaded = load_config(Path(sys.argv[1]))\n"
        "print(json.dumps([s.kind for s in loaded.config.sources] + [r.kind for r in loaded.config.receivers]))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(config)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    kinds, modules = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert kinds == ["prometheus_scrape", "promql", "freshness", "focus", "nvidia_smi", "otlp", "remote_write"]
    assert _among(modules, tuple(m for m in RUNTIME_ONLY if m != "httpx")) == []


def test_the_cli_loads_no_command_s_modules_to_parse_its_flags() -> None:
    """``redline status --help`` builds the whole parser: no collector runtime, no alert database."""
    script = (
        "import contextlib, io, json, sys\n"
        "from redline.agent.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    main(['status', '--help'])\n"
        "assert '--json' in out.getvalue(), out.getvalue()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = _modules_after(script)
    assert _among(loaded, (*RUNTIME_ONLY, "redline.alerts", "redline.agent.runtime", "redline.store")) == []
