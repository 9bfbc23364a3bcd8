"""Redline's Streamlit dashboard: ``streamlit run dashboard/app.py -- --config FILE``.

The config path comes from the command line. ``REDLINE_CONFIG`` is read only as a fallback,
here in the entry script and nowhere else, because Streamlit's ``AppTest`` cannot pass
script arguments: tests set the variable instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

# ``streamlit run`` puts this file's folder, not the import root, on sys.path; Redline is
# normally installed, but a plain checkout must work too: put the folder that holds
# ``redline/`` first (the checkout, or site-packages for a wheel), never the parts' own folders.
_ROOT = next((p for p in Path(__file__).resolve().parents if (p / "redline" / "__init__.py").is_file()), None)
if _ROOT is not None and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import streamlit as st  # noqa: E402

from redline.config.dashboard import DashboardAuth  # noqa: E402
from redline.dashboard.auth import require_user, signed_in_user  # noqa: E402
from redline.dashboard.views import alerts, cost, objective, overview, whatif  # noqa: E402
from redline.dashboard.views.common import loaded_config  # noqa: E402
from redline.kernel.errors import ConfigError  # noqa: E402

CONFIG_ENV = "REDLINE_CONFIG"


def config_path_from(argv: Sequence[str], environ: Mapping[str, str]) -> Path | None:
    """The config path from ``--config FILE`` in ``argv``, else from ``REDLINE_CONFIG``, else None."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--config", type=Path)
    known, _ = parser.parse_known_args(list(argv))
    if known.config is not None:
        return Path(known.config)
    fallback = environ.get(CONFIG_ENV)
    return Path(fallback) if fallback else None


def _auth(config_path: Path | None) -> DashboardAuth | None:
    """The login the config asks for, if any. A config that cannot be loaded holds no data to
    show: the page then says what is wrong with it. Parsed once per version of the file."""
    if config_path is None:
        return None
    try:
        return loaded_config(config_path).config.dashboard.auth
    except ConfigError:
        return None


def main() -> None:
    """Build the navigation and run the selected page."""
    st.set_page_config(page_title="Redline", page_icon="🟥", layout="wide")
    config_path = config_path_from(sys.argv[1:], os.environ)
    auth = _auth(config_path)

    def whatif_page() -> None:
        whatif.render(config_path)

    # The page modules live in views/, not pages/: Streamlit treats a pages/ folder beside the
    # entry script as file pages, and a direct link to a page of st.navigation then says "Page
    # not found" before running it. The default page is served at "/".
    whatif_nav = st.Page(whatif_page, title="What if", url_path="what-if", icon=":material/tune:")

    def overview_page() -> None:
        overview.render(config_path, whatif_nav)

    def cost_page() -> None:
        cost.render(config_path)

    def objective_page() -> None:
        objective.render(config_path)

    def alerts_page() -> None:
        alerts.render(config_path)

    # The navigation is built before the login gate, so a deep link (a notification's link to
    # /objective?slo=…) is still the page shown after logging in; its menu stays hidden until then.
    signed_in = auth is None or signed_in_user(auth) is not None
    page = st.navigation([
        st.Page(overview_page, title="Overview", default=True, icon=":material/monitor_heart:"),
        st.Page(objective_page, title="Objective", url_path=objective.URL_PATH, icon=":material/target:"),
        whatif_nav,
        st.Page(cost_page, title="Cost", url_path="spend", icon=":material/payments:"),
        st.Page(alerts_page, title="Alerts", url_path="alerts", icon=":material/notifications:"),
    ], position="sidebar" if signed_in else "hidden")
    require_user(auth, os.environ)
    page.run()


main()
