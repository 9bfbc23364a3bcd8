"""The dashboard in a real browser: ``streamlit run`` as the agent starts it, driven by Chromium."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from dashboard.launch import dashboard_command
from tests.dashboard.fleet import AT_S, write_fleet

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
START_DEADLINE_S = 90.0
PAGE_TIMEOUT_MS = 90_000
SCREENSHOT = Path("/tmp/dashboard.png")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def dashboard_url(tmp_path: Path) -> Iterator[str]:
    config = write_fleet(tmp_path)
    port = _free_port()
    log = (tmp_path / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        dashboard_command(config, port=port), stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=2.0).text == "ok":
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"dashboard not healthy within {START_DEADLINE_S}s; see {log.name}")
            try:  # a short wait that also notices the process dying
                code = proc.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"streamlit exited with {code}: {(tmp_path / 'streamlit.log').read_text()}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def test_the_browser_shows_the_objective_nearest_to_breaking(dashboard_url: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(f"{dashboard_url}/?at={AT_S}&objective=api-availability")
            page.wait_for_selector("[data-test-connection-state=CONNECTED]")
            page.wait_for_selector("[data-test-script-state=notRunning]")
            callout = page.locator("[data-testid=stAlertContainer]", has_text="What breaks first?")
            callout.wait_for()
            text = callout.inner_text()
            assert "users is nearest to breaking: api-availability (99.9% over 30d) breaches in" in text
            page.locator("[data-testid=stVegaLiteChart]").nth(1).wait_for()
            assert "at=1767312000" in page.url
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
