"""The command line that starts the dashboard in its own process (used by ``redline dashboard``)."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["APP_PATH", "dashboard_command"]

APP_PATH = Path(__file__).resolve().parent / "app.py"


def dashboard_command(config_path: Path, *, port: int, address: str = "127.0.0.1") -> list[str]:
    """``streamlit run`` of the dashboard app for ``config_path``, headless, bound to ``address:port``.

    Binds to 127.0.0.1 unless told otherwise (left unset, Streamlit listens on every interface)
    and turns off usage statistics.
    """
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        "--server.headless", "true",
        "--server.address", address,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--", "--config", str(config_path),
    ]
