"""``python -m redline.dashboard.serve run APP …``: Streamlit's own command line, in a process that
has already imported the dashboard's pages.

Streamlit runs every session's script in the server's process, so whatever the pages import
(polars, Altair, the config loader, the engine) is imported by the first visitor's run, about
1.5 s of their first paint. Importing it here, before the server starts, moves that cost to the
start, where nobody is waiting for a page yet.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str]) -> None:
    """Import the pages, then hand ``argv`` (``run APP_PATH --server.port …``) to Streamlit."""
    from streamlit.web import cli

    import redline.dashboard.views.alerts
    import redline.dashboard.views.cost
    import redline.dashboard.views.objective
    import redline.dashboard.views.overview
    import redline.dashboard.views.whatif  # noqa: F401  (imported for their import time only)

    sys.argv = ["streamlit", *argv]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
