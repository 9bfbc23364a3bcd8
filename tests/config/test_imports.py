"""``redline.config`` is for the dashboard and tools too: importing it must not drag in the
agent's runtime (APScheduler), Streamlit, the agent or the dashboard."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("apscheduler", "streamlit", "redline.agent", "redline.dashboard")


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
