"""The dashboard in a real browser: ``streamlit run`` as the agent starts it, driven by Chromium."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from redline.config import load_config
from redline.dashboard.data import what_if
from redline.dashboard.launch import dashboard_command
from tests.dashboard.fleet import AT_S, write_fleet
from tests.ports import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
START_DEADLINE_S = 90.0
PAGE_TIMEOUT_MS = 90_000
SCREENSHOT = Path("/tmp/dashboard.png")
WHATIF_SCREENSHOT = Path("/tmp/dashboard-whatif.png")




@pytest.fixture
def dashboard_url(tmp_path: Path) -> Iterator[str]:
    config = write_fleet(tmp_path)
    port = free_port()
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


def test_the_browser_shows_the_objective_nearest_to_breaking_and_what_if_it_were_relaxed(
    dashboard_url: str, tmp_path: Path
) -> None:
    config_path = tmp_path / "redline.yaml"
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

            # The what-if page, from the selected objective's link (same objective, same instant):
            # relaxed to 99%, the budget it would leave is the engine's what-if figure.
            page.get_by_role("link", name="What if we relaxed api-availability?").click()
            page.wait_for_url("**/what-if?**objective=api-availability**")
            assert f"at={AT_S}" in page.url
            page.get_by_text("Would the last 30 days have paged?").wait_for()
            target = page.get_by_label("Objective (%)")
            target.fill("99")
            target.press("Enter")
            page.wait_for_url("**target=99**")
            page.wait_for_selector("[data-test-script-state=notRunning]")
            alternative = page.locator("[data-testid=stColumn]", has_text="Alternative")
            alternative.get_by_text("objective 99% over 30d").wait_for()
            relaxed = what_if(load_config(config_path), "api-availability", AT_S * 1000, objective=99.0).alternative
            assert relaxed.budget_remaining is not None
            alternative.get_by_text(f"{relaxed.budget_remaining:.1%}").wait_for()
            page.wait_for_selector("[data-test-script-state=notRunning]")  # the replay's table, below
            page.screenshot(path=str(WHATIF_SCREENSHOT), full_page=True)

            # A link straight to a page runs that page (no "Page not found" on the way).
            page.goto(f"{dashboard_url}/what-if?at={AT_S}&objective=pipeline-success")
            page.wait_for_selector("[data-test-connection-state=CONNECTED]")
            page.get_by_text("Would the last 30 days have paged?").wait_for()
            page.wait_for_selector("[data-test-script-state=notRunning]")
            assert page.get_by_text("Page not found").count() == 0
            page.get_by_text("objective 99% over 30d").first.wait_for()  # pipeline-success's own objective
        finally:
            browser.close()
