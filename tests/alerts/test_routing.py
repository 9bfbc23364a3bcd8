"""Routes by labels: first match, continue, several notifiers, the default; from the config too."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from redline.agent.delivery_wiring import build_delivery
from redline.alerts.routing import Route, Router
from redline.config import load_config
from redline.kernel.errors import ConfigError
from tests.config.test_load import GOOD, write

ROUTER = Router(
    (
        Route(("pagerduty",), {"severity": "page"}, continue_=True),
        Route(("slack-data",), {"dimension": "data"}),
        Route(("slack-ml", "email"), match_re={"team": re.compile("ml|gpu")}),
        Route(("slack-users",), {"severity": "page"}),
    ),
    default=("log",),
)


@pytest.mark.parametrize(
    ("labels", "notifiers"),
    [
        ({"severity": "page", "dimension": "data"}, ("pagerduty", "slack-data")),
        ({"severity": "page", "dimension": "users"}, ("pagerduty", "slack-users")),
        ({"severity": "ticket", "dimension": "data"}, ("slack-data",)),
        ({"severity": "ticket", "team": "gpu"}, ("slack-ml", "email")),
        ({"severity": "ticket", "team": "gpus"}, ("log",)),  # a regex matches the whole value
        ({"severity": "ticket"}, ("log",)),
    ],
)
def test_an_alert_goes_to_the_first_matching_route_and_on_only_when_it_says_continue(
    labels: dict[str, str], notifiers: tuple[str, ...]
) -> None:
    assert ROUTER.route(labels) == notifiers


def test_a_meta_alert_about_a_notifier_goes_out_through_the_other_routes() -> None:
    labels = {"severity": "page", "dimension": "data"}
    assert ROUTER.route(labels, exclude={"pagerduty"}) == ("slack-data",)


CONFIG = GOOD + """\
alerting:
  notifiers:
    - {name: pager, kind: pagerduty, routing_key_env: PD_KEY, rate_limit: 2}
    - {name: am, kind: alertmanager, urls: ["http://127.0.0.1:9093", "http://127.0.0.1:9095"]}
    - {name: chat, kind: slack, url_env: CHAT_URL, group_wait: 30s}
  routes:
    - {match: {severity: page}, notifiers: [pager, am], continue: true}
    - {match_re: {team: "ml|data"}, notifiers: [chat]}
  default_notifiers: [am]
"""


def test_the_config_builds_notifiers_routes_and_their_limits(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, CONFIG))
    with httpx.Client() as client:
        delivery = build_delivery(loaded, {"PD_KEY": "k", "CHAT_URL": "http://127.0.0.1:9/x"}, client)
    assert [n.name for n in delivery.notifiers] == ["pager", "am#1", "am#2", "chat"]
    assert [(n.name, n.min_interval_s) for n in delivery.notifiers] == [
        ("pager", 0.5), ("am#1", 0.0), ("am#2", 0.0), ("chat", 1.0)
    ]
    assert delivery.settings["chat"].group_wait_s == 30.0
    assert delivery.router.route({"severity": "page", "team": "ml"}) == ("pager", "am#1", "am#2", "chat")
    assert delivery.router.route({"severity": "ticket"}) == ("am#1", "am#2")


def test_a_route_naming_an_unknown_notifier_or_a_bad_regex_fails_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"routes\[1\]\.notifiers: no notifier named 'pagr'"):
        load_config(write(tmp_path, CONFIG.replace("notifiers: [chat]", "notifiers: [pagr]")))
    with pytest.raises(ConfigError, match=r"match_re\.team: 'ml\|\(' is not a regular expression"):
        load_config(write(tmp_path, CONFIG.replace('"ml|data"', '"ml|("')))
