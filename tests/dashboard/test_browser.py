"""The dashboard in a real browser: ``streamlit run`` as the agent starts it, driven by Chromium."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from redline.alerts.silences import SilenceStore
from redline.config import load_config
from redline.dashboard.data import evaluate_report, what_if
from redline.dashboard.launch import dashboard_command
from redline.dashboard.passwords import hash_password
from redline.dashboard.text import WORD_JOINER
from redline.kernel.http_server import ThreadedHTTPServer, send_body
from tests.dashboard.fleet import AT_S, write_fleet
from tests.dashboard.hostile import BUDGET, TENANT_OBJECTIVE, payloads, write_hostile_fleet
from tests.ports import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_DEADLINE_S = 90.0
PAGE_TIMEOUT_MS = 90_000
ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts" / "dashboard"
"""Screenshots of every page the browser tests load (``make clean`` removes ``build/``)."""
SCREENSHOT = ARTEFACTS / "overview.png"
WHATIF_SCREENSHOT = ARTEFACTS / "what-if.png"
PASSWORD_ENV = "REDLINE_TEST_BROWSER_PASSWORD_HASH"


@contextmanager
def running_dashboard(config: Path, workdir: Path) -> Iterator[str]:
    """``streamlit run`` on ``config`` as the agent starts it, healthy; yields its base URL."""
    port = free_port()
    log_path = workdir / "streamlit.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(dashboard_command(config, port=port), stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
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
                raise AssertionError(f"dashboard not healthy within {START_DEADLINE_S}s; see {log_path}")
            try:  # a short wait that also notices the process dying
                code = proc.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"streamlit exited with {code}: {log_path.read_text()}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@contextmanager
def chromium_page() -> Iterator[Page]:
    """A page of Debian's Chromium driven by Playwright, with generous timeouts for a busy machine."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def settled(page: Page, url: str) -> None:
    """Open ``url`` and wait until the app is connected and its script has finished."""
    page.goto(url)
    page.wait_for_selector("[data-test-connection-state=CONNECTED]")
    page.wait_for_selector("[data-test-script-state=notRunning]")


def no_exception_box(page: Page) -> None:
    """Streamlit shows an uncaught exception as an ``stException`` box: there must be none."""
    boxes = page.locator("[data-testid=stException]")
    assert boxes.count() == 0, boxes.first.inner_text()


@pytest.fixture
def dashboard_url(tmp_path: Path) -> Iterator[str]:
    with running_dashboard(write_fleet(tmp_path), tmp_path) as base:
        yield base


def test_the_browser_shows_the_objective_nearest_to_breaking_and_what_if_it_were_relaxed(
    dashboard_url: str, tmp_path: Path
) -> None:
    config_path = tmp_path / "redline.yaml"
    with chromium_page() as page:
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

        # A filter chosen on the page is written to the URL, so that the link reproduces the view.
        page.locator("[data-testid=stMultiSelect]", has_text="dimension").click()
        page.get_by_role("option", name="data", exact=True).click()
        page.keyboard.press("Escape")
        page.wait_for_url("**dimension=data**")
        page.wait_for_selector("[data-test-script-state=notRunning]")
        page.get_by_text("1 of 4 objectives pass the filters.").wait_for()
        assert f"at={AT_S}" in page.url and "objective=api-availability" in page.url
        settled(page, page.url)
        page.get_by_text("1 of 4 objectives pass the filters.").wait_for()
        assert page.locator("[data-testid=stMultiSelect]", has_text="dimension").inner_text().count("data") == 1
        no_exception_box(page)

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


WHERE = (
    "e => { let n = e, ids = []; while (n) { if (n.dataset && n.dataset.testid) ids.push(n.dataset.testid); "
    "n = n.parentElement; } return e.outerHTML + ' in ' + ids.join(' < '); }"
)
"""An element's HTML and the Streamlit elements it sits in, for a failure message."""


class RequestCounter:
    """A real HTTP server on 127.0.0.1 that answers everything 204 and keeps the paths asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._http = ThreadedHTTPServer("request-counter", "127.0.0.1", free_port())

    @property
    def port(self) -> int:
        return self._http.port

    def start(self) -> None:
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                paths.append(self.path)
                send_body(self, 204, "text/plain", b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._http.start(Handler)

    def shutdown(self) -> None:
        self._http.shutdown()


@pytest.fixture
def counter() -> Iterator[RequestCounter]:
    server = RequestCounter()
    server.start()
    try:
        yield server
    finally:
        server.shutdown()


def test_every_page_shows_its_figures_and_hostile_labels_reach_it_as_text_fetching_nothing(
    counter: RequestCounter, tmp_path: Path
) -> None:
    hostile = payloads(counter.port)
    top = f'{TENANT_OBJECTIVE}{{tenant="{hostile[0]}"}}'  # burns fastest: the page's answer
    local = f"127.0.0.1:{counter.port}"
    config = write_hostile_fleet(tmp_path, counter.port)
    engine = {o.name: o for o in evaluate_report(load_config(config), AT_S * 1000).report.objectives}
    requested: list[str] = []
    dialogs: list[str] = []
    with running_dashboard(config, tmp_path) as base, chromium_page() as page:
        page.on("request", lambda r: requested.append(r.url) if local in r.url else None)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pages = (  # each page, and figures the engine computed that it must show
            ("hostile-overview", f"{base}/?at={AT_S}", ["What breaks first?", engine[top].reason]),
            (
                "hostile-what-if",
                f"{base}/what-if?at={AT_S}&objective={quote(top)}",
                ["Would the last 30 days have paged?", "objective 99.9% over 30d"],
            ),
            ("hostile-cost", f"{base}/spend?at={AT_S}", [BUDGET, engine[BUDGET].reason]),
            (
                "hostile-objective",
                f"{base}/objective?at={AT_S}&slo={TENANT_OBJECTIVE}",
                ["Members, worst first (5)", engine[top].reason],
            ),
            ("hostile-alerts", f"{base}/alerts?at={AT_S}", ["No alerts yet: the agent has not written"]),
        )
        for name, url, figures in pages:
            settled(page, url)
            for figure in figures:
                page.get_by_text(figure).first.wait_for()
            no_exception_box(page)
            page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
            injected = page.locator(
                f'[src*="{local}"], [href*="{local}"], a[href^="javascript:"], .katex, '
                f'img[src^="http"]:not([src^="{base}"])'
            )
            assert injected.count() == 0, [injected.nth(i).evaluate(WHERE) for i in range(injected.count())]
            if name == "hostile-overview":
                # what a reader sees: the word joiners that keep URLs from becoming links are invisible
                text = page.locator("[data-testid=stMain]").inner_text().replace(WORD_JOINER, "")
                callout = page.locator("[data-testid=stAlertContainer]", has_text="What breaks first?")
                callout_text = callout.inner_text().replace(WORD_JOINER, "")
                assert top in callout_text  # the member's name, verbatim
                cards = page.locator("[data-testid=stMetric]", has_text="users").inner_text().replace(WORD_JOINER, "")
                assert f"breached · {top}" in cards
                for payload in hostile:  # the description of the selected member shows every payload as written
                    assert payload in text, payload
                assert "Runbook: javascript:alert(1)" in text  # not a link: only http(s) URLs become links
    assert dialogs == []
    assert requested == []
    assert counter.paths == []


def test_a_logged_in_user_creates_a_silence_whose_hostile_matcher_and_comment_are_listed_as_text(
    counter: RequestCounter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = payloads(counter.port)
    local = f"127.0.0.1:{counter.port}"
    config = write_hostile_fleet(tmp_path, counter.port)
    monkeypatch.setenv(PASSWORD_ENV, hash_password("s3cret"))  # the dashboard's process inherits it
    config.write_text(
        config.read_text(encoding="utf-8") + f"dashboard:\n  auth:\n    password: {{hash_env: {PASSWORD_ENV}}}\n",
        encoding="utf-8",
    )
    matcher = f'tenant="{hostile[0]}"'  # a Markdown image, as a label value
    comment = " ".join(hostile[1:])  # a raw <img>, a javascript: link, :red[…], LaTeX
    requested: list[str] = []
    dialogs: list[str] = []
    with running_dashboard(config, tmp_path) as base, chromium_page() as page:
        page.on("request", lambda r: requested.append(r.url) if local in r.url else None)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        settled(page, f"{base}/alerts")
        page.get_by_role("textbox", name="Password").fill("s3cret")
        page.get_by_role("textbox", name="Your name").fill("alice")
        page.get_by_role("button", name="Log in").click()
        # the deep link survives the login: its rerun shows the Alerts page, not the default one
        page.get_by_role("textbox", name="Label matchers").wait_for()
        assert page.url.split("?")[0].endswith("/alerts")
        page.get_by_role("textbox", name="Label matchers").fill(f'severity="page"\n{matcher}')
        page.get_by_role("textbox", name="Comment").fill(comment)
        page.get_by_role("button", name="Create silence").click()
        done = page.locator("[data-testid=stAlertContainer]", has_text="created by alice (shared password)")
        done.wait_for()
        page.wait_for_selector("[data-test-script-state=notRunning]")
        assert f'severity="page", {matcher}.' in done.inner_text().replace(WORD_JOINER, "")
        # listed: the table draws its cells on a canvas (text by construction); the expire form's
        # select box names the same silence as plain text
        page.locator("[data-testid=stDataFrame]").last.wait_for()
        chosen = page.get_by_role("combobox", name="Silence", exact=True).input_value()
        silence_id = SilenceStore(tmp_path / "data" / "alerts.sqlite").silences()[0].id
        assert f'{silence_id} · severity="page", {matcher} · {comment}' in chosen
        no_exception_box(page)
        page.screenshot(path=str(ARTEFACTS / "alerts-silence.png"), full_page=True)
        injected = page.locator(
            f'[src*="{local}"], [href*="{local}"], a[href^="javascript:"], .katex, '
            f'img[src^="http"]:not([src^="{base}"])'
        )
        assert injected.count() == 0, [injected.nth(i).evaluate(WHERE) for i in range(injected.count())]
    (silence,) = SilenceStore(tmp_path / "data" / "alerts.sqlite").silences()
    assert ([str(m) for m in silence.matchers], silence.comment, silence.created_by) == (
        ['severity="page"', matcher], comment, "alice (shared password)"
    )
    assert dialogs == []
    assert requested == []
    assert counter.paths == []
