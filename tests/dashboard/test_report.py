"""``redline report --out FILE.html``: one self-contained page, data as text, figures as computed."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from redline.agent.cli import main
from redline.config import load_config
from redline.dashboard.data import evaluate_report
from redline.dashboard.report import sparkline_svg
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
