"""The chart ink reads on Streamlit's light and dark backgrounds, and reaches every uncoloured
text mark of a chart (the burn-rate bars' value labels)."""

from __future__ import annotations

from redline.dashboard.charts import burn_rate_chart
from redline.dashboard.palette import BLUE, EITHER_THEME_INK, GREY, ORANGE, RED, readable


def luminance(hex_colour: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_ink_reads_on_both_themes_backgrounds() -> None:
    light, dark = contrast(EITHER_THEME_INK, "#ffffff"), contrast(EITHER_THEME_INK, "#0e1117")
    assert round(light, 2) == 4.42 and round(dark, 2) == 4.28
    assert round(contrast("#000000", "#0e1117"), 2) == 1.11  # Vega's default text colour on the dark theme


def test_uncoloured_text_marks_take_the_ink() -> None:
    spec = readable(burn_rate_chart({"5m": 40.0, "1h": 10.0}, 30 * 86400)).to_dict()
    assert spec["config"]["text"] == {"color": EITHER_THEME_INK}
    marks = [layer["mark"] for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    # the value labels: the bars' blue; the thresholds: by severity (an encoding, no mark colour)
    assert [m.get("color") for m in marks] == [BLUE, None]


def test_every_chart_colour_keeps_3_to_1_on_both_themes() -> None:
    worst = min(contrast(c, bg) for c in (BLUE, RED, ORANGE, GREY) for bg in ("#ffffff", "#0e1117"))
    assert round(worst, 2) == 3.25  # the grey on white
