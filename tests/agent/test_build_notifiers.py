"""The agent builds its notifiers from the loaded config's ``alerting`` section."""

from __future__ import annotations

from pathlib import Path

import httpx

from redline.agent.runtime import build_notifiers
from redline.config import load_config
from tests.config.test_load import GOOD, write


def test_a_webhook_notifier_takes_its_timeout_from_the_config(tmp_path: Path) -> None:
    text = GOOD + "alerting:\n  notifiers: [{name: oncall, kind: webhook, url_env: HOOK, timeout: 3s, retries: 1}]\n"
    loaded = load_config(write(tmp_path, text))
    with httpx.Client() as client:
        (notifier,) = build_notifiers(loaded, {"HOOK": "http://127.0.0.1:9/hook"}, client)
    assert notifier._timeout_s == 3.0  # type: ignore[attr-defined]


