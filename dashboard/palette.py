"""Colours for charts that stay readable in Streamlit's light and dark themes alike.

Streamlit shades its own axes, grid and legends for the theme, but a text mark without a colour
of its own (a bar's value label) is drawn in Vega's default near-black, which vanishes on the
dark theme's background. ``readable`` gives such marks a mid grey that reads on both backgrounds
(4.4:1 against white, 4.3:1 against the dark theme's #0e1117). It does not follow
``st.context.theme.type``: the browser reports the theme only after the first load, and reports
it wrongly while it changes, so a chart coloured by it would be unreadable exactly then.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["BLUE", "EITHER_THEME_INK", "GREY", "ORANGE", "RED", "readable"]

# Mid-tone colours that keep at least 3:1 contrast on Streamlit's light (#ffffff) and dark (#0e1117)
# backgrounds alike; every colour also has a word beside it (a legend, a label), never alone.
BLUE: Final = "#3d7fd9"
RED: Final = "#e0383e"
ORANGE: Final = "#d9730d"
GREY: Final = "#8a8f98"
EITHER_THEME_INK: Final = "#787878"
"""What a text mark without a colour of its own is drawn in (``readable``)."""


def readable(chart: Any) -> Any:
    """``chart`` (an Altair chart or layer) with its uncoloured text marks in ``EITHER_THEME_INK``."""
    return chart.configure_text(color=EITHER_THEME_INK)
