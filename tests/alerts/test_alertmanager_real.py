"""Against a real Alertmanager (Debian's ``prometheus-alertmanager``): an alert Redline posts
appears in its API, is silenced by an Alertmanager silence, resolves; and two Redline agents
sending to a cluster of two Alertmanagers page the receiver once per incident."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from redline.alerts.alertmanager import AlertmanagerNotifier
from redline.alerts.state import AlertStateStore
from tests.alertmanager_server import serve_alertmanagers, wait_until
from tests.alerts.conftest import PAGE_BURN, FakeClock, Harness, Receiver, objective, report

OpenStore = Callable[[Path], AlertStateStore]


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as c:
        yield c


def alerts(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    """Alertmanager's view: every alert it holds that has not resolved."""
    answer = client.get(f"{url}/api/v2/alerts")
    answer.raise_for_status()
    body = answer.json()
    assert isinstance(body, list)
    return body


def notified(receiver: Receiver, status: str, slo: str) -> int:
    """How many webhook messages the receiver got for ``slo`` with ``status``."""
    return sum(
        1 for b in receiver.bodies() for a in b["alerts"] if a["status"] == status and a["labels"]["slo"] == slo
    )


def test_an_alert_appears_in_alertmanager_fires_and_resolves(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    clock = FakeClock(time.time())  # Alertmanager judges startsAt/endsAt by its own clock
    with serve_alertmanagers(tmp_path, f"{receiver.base_url}/hook") as (url,):
        am = AlertmanagerNotifier(url, client, clock=clock)
        harness = Harness(open_store(tmp_path / "a.db"), [am], clock)
        harness.process(report(objective(burn=PAGE_BURN)))
        (alert,) = alerts(client, url)
        assert alert["labels"] == {
            "alertname": "RedlineErrorBudgetBurn", "slo": "api-availability", "severity": "page",
            "tier": "page-1h-5m", "dimension": "users", "kind": "availability",
        }
        assert alert["status"]["state"] == "active"
        assert alert["annotations"]["long_burn_rate"] == "20"
        wait_until(lambda: notified(receiver, "firing", "api-availability") == 1)

        clock.now = time.time()
        harness.process(report(objective()))
        assert alerts(client, url) == []
        wait_until(lambda: notified(receiver, "resolved", "api-availability") == 1)
        resolved = next(a for b in receiver.bodies() for a in b["alerts"] if a["status"] == "resolved")
        assert resolved["annotations"]["summary"] == (
            "api-availability: resolved — the burn dropped below the threshold of 14.4×: now 0× over 1h and 0× over 5m"
        )
        assert notified(receiver, "firing", "api-availability") == 1


def test_an_alertmanager_silence_suppresses_the_alert(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    clock = FakeClock(time.time())
    with serve_alertmanagers(tmp_path, f"{receiver.base_url}/hook") as (url,):
        silence = {
            "matchers": [{"name": "slo", "value": "quiet", "isRegex": False, "isEqual": True}],
            "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2100-01-01T00:00:00Z",
            "createdBy": "test", "comment": "maintenance",
        }
        client.post(f"{url}/api/v2/silences", json=silence).raise_for_status()
        harness = Harness(open_store(tmp_path / "a.db"), [AlertmanagerNotifier(url, client, clock=clock)], clock)
        harness.process(report(objective("quiet", burn=PAGE_BURN), objective("loud", burn=PAGE_BURN)))
        states = {a["labels"]["slo"]: a["status"]["state"] for a in alerts(client, url)}
        assert states == {"quiet": "suppressed", "loud": "active"}
        wait_until(lambda: notified(receiver, "firing", "loud") == 1)
        assert notified(receiver, "firing", "quiet") == 0


def test_alertmanager_forgets_nothing_while_redline_re_posts_a_firing_alert(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client
) -> None:
    clock = FakeClock(time.time())
    with serve_alertmanagers(tmp_path, f"{receiver.base_url}/hook") as (url,):
        am = AlertmanagerNotifier(url, client, clock=clock, resend_interval_s=60.0)
        harness = Harness(open_store(tmp_path / "a.db"), [am], clock)
        harness.process(report(objective(burn=PAGE_BURN)))
        (first,) = alerts(client, url)
        clock.now += 120  # two resend intervals later the worker re-posts with a later endsAt
        harness.deliver()
        (later,) = alerts(client, url)
        assert later["endsAt"] > first["endsAt"]
        assert later["startsAt"] == first["startsAt"]


@pytest.mark.parametrize(("clustered", "pages"), [(True, 1), (False, 2)])
def test_two_agents_and_two_clustered_alertmanagers_page_once_per_incident(
    tmp_path: Path, open_store: OpenStore, receiver: Receiver, client: httpx.Client, clustered: bool, pages: int
) -> None:
    """Without ``--cluster.peer`` (the control) each Alertmanager pages: the test sees duplicates."""
    clock = FakeClock(time.time())
    with serve_alertmanagers(tmp_path, f"{receiver.base_url}/hook", count=2, cluster=clustered) as urls:
        agents = []
        for name in ("a", "b"):  # the same config: each agent posts to both Alertmanagers
            notifiers = [AlertmanagerNotifier(u, client, name=f"am#{i + 1}", clock=clock) for i, u in enumerate(urls)]
            agents.append(Harness(open_store(tmp_path / f"{name}.db"), notifiers, clock))
        for agent in agents:
            agent.process(report(objective(burn=PAGE_BURN)))
        for url in urls:
            assert [a["labels"]["slo"] for a in alerts(client, url)] == ["api-availability"]
        wait_until(lambda: notified(receiver, "firing", "api-availability") >= pages)

        clock.now = time.time()
        for agent in agents:
            agent.process(report(objective()))
        wait_until(lambda: notified(receiver, "resolved", "api-availability") >= pages)
        assert notified(receiver, "firing", "api-availability") == pages
        assert notified(receiver, "resolved", "api-availability") == pages
