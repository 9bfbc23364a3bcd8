"""``redline report --out FILE.html --pdf FILE.pdf``: one self-contained page (and the same as PDF), data as
text, figures as computed."""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pypdf import PdfReader

from redline.agent.cli import main
from redline.config import load_config
from redline.dashboard.data import evaluate_report
from redline.dashboard.report import sparkline_svg
from redline.dashboard.report_pdf import render_pdf
from redline.kernel.http_server import ThreadedHTTPServer, send_body
from tests.dashboard.fleet import AT_S
from tests.dashboard.hostile import BUDGET, payloads, write_hostile_fleet
from tests.dashboard.test_alerts_page import write_alerts


class Elements(HTMLParser):
    """Every start tag and its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_report_is_self_contained_and_shows_hostile_data_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_hostile_fleet(tmp_path, 9)
    write_alerts(tmp_path / "data")
    out = tmp_path / "report.html"

    assert main(["report", "--config", str(config), "--out", str(out), "--at", str(AT_S)]) == 0
    assert capsys.readouterr().out.startswith(f"{out}: report as of {AT_S} written")

    page = Elements()
    page.feed(out.read_text(encoding="utf-8"))
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "img", "link", "iframe", "object", "a"}  # nothing to fetch or follow
    assert not [attrs for _, attrs in page.tags if any(k in ("src", "href") for k in attrs)]
    assert "svg" in tags and "polyline" in tags
    text = "".join(page.text)
    for payload in payloads(9):  # label values and team names arrive as text
        assert payload.replace("\\", "\\\\") in text or payload in text

    engine = {o.name: o for o in evaluate_report(load_config(config), AT_S * 1000).report.objectives}
    availability = engine["api-availability"]
    assert f"{availability.sli:.3%}" in text and f"{1 - availability.budget_remaining:.1%}" in text
    assert "$5,040 of $5,000" in text and BUDGET in text
    assert re.search(r"api-availability\s*page\s*firing", text)  # the incident from the alert database
    assert "15.1×" in text


def test_a_sparkline_scales_budget_into_the_box_with_a_rule_at_zero() -> None:
    svg = sparkline_svg([1.0, 0.5, None, 0.0], width=100, height=20)
    points = re.search(r'points="([^"]+)"', svg)
    assert points is not None
    assert points.group(1) == "1.0,2.0 33.7,10.0 99.0,18.0"  # 1 at the top, 0 at the bottom; x by index
    assert 'y1="18.0"' in svg  # the zero rule
    assert "no data" in sparkline_svg([None, 1.0])


def _pdf_text(path: Path) -> tuple[str, int]:
    """The PDF's extracted text (words rejoined where a narrow cell broke them), and how many
    line segments its pages draw (the sparklines are vector paths)."""
    reader = PdfReader(path)
    text = " ".join(page.extract_text() for page in reader.pages)
    segments = sum(len(re.findall(rb"\sl\s", page.get_contents().get_data())) for page in reader.pages)  # type: ignore[union-attr]
    return re.sub(r"\s+", " ", text), segments


def test_the_pdf_report_holds_the_html_reports_figures_and_its_charts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_hostile_fleet(tmp_path, 9)
    write_alerts(tmp_path / "data")
    pdf = tmp_path / "report.pdf"

    assert main(["report", "--config", str(config), "--pdf", str(pdf), "--at", str(AT_S)]) == 0

    assert capsys.readouterr().out.startswith(f"{pdf}: report as of {AT_S} written (")
    assert pdf.read_bytes().startswith(b"%PDF-")
    text, segments = _pdf_text(pdf)
    engine = {o.name: o for o in evaluate_report(load_config(config), AT_S * 1000).report.objectives}
    availability = engine["api-availability"]
    for figure in (f"{availability.sli:.3%}", f"{1 - availability.budget_remaining:.1%}", "$5,040 of $5,000",
                   "forecast $156,240", "15.1×", "What breaks first"):
        assert figure in text, figure
    for heading in ("users", "data", "model", "cost", "Incidents", "Spend"):
        assert re.search(rf"\b{heading}\b", text), heading
    assert re.search(r"api-availability page firing", text)
    assert segments >= 5 * 20  # a budget sparkline per objective: a polyline of up to 30 points each


def test_the_pdf_fetches_nothing_even_for_a_page_that_names_a_url() -> None:
    requests: list[str] = []

    class Count(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            send_body(self, 200, "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>')

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadedHTTPServer("pixel", "127.0.0.1", 0)
    server.start(Count)
    try:
        url = f"http://127.0.0.1:{server.port}"
        page = f'<html><body><p>figures</p><img src="{url}/p.svg"><link rel="stylesheet" href="{url}/s.css">'
        assert render_pdf(page).startswith(b"%PDF-")
    finally:
        server.shutdown()
    assert requests == []


def test_without_weasyprint_the_pdf_is_refused_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_hostile_fleet(tmp_path, 2)
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as when the extra is not installed

    code = main(["report", "--config", str(config), "--out", str(tmp_path / "r.html"), "--pdf",
                 str(tmp_path / "r.pdf"), "--at", str(AT_S)])

    assert code == 2
    err = capsys.readouterr().err
    assert "needs WeasyPrint" in err and "pip install 'redline[pdf]'" in err
    assert not (tmp_path / "r.pdf").exists() and not (tmp_path / "r.html").exists()  # nothing half done


def test_a_report_with_nowhere_to_go_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_hostile_fleet(tmp_path, 2)

    assert main(["report", "--config", str(config)]) == 2
    assert "give --out FILE.html, --pdf FILE.pdf or both" in capsys.readouterr().err
