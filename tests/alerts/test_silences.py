"""Matchers (Alertmanager syntax), silences and acknowledgements as the alert manager applies them,
on a real alerts.sqlite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from redline.alerts.alert_policy import AlertPolicy
from redline.alerts.hysteresis_store import HysteresisStore
from redline.alerts.matchers import Matcher, parse_matcher, parse_matchers
from redline.alerts.silences import SilenceStore
from redline.alerts.state import AlertStateStore
from redline.alerts.suppression import Suppressor
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, Harness, objective, report
from tests.alerts.test_alert_policy import Recorder

LABELS = {"alertname": "RedlineErrorBudgetBurn", "slo": "api-availability", "severity": "page", "team": "ml-infra"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ('severity="page"', True),
        ("severity=page", True),
        ('severity!="page"', False),
        ('team=~"ml-.*"', True),
        ('team=~"ml"', False),  # anchored at both ends, as Alertmanager
        ('team!~"web-.*"', True),
        ('owner=""', True),  # a missing label is the empty string
        ('owner=~".+"', False),
        (r'alertname="Redline\"ErrorBudgetBurn"', False),
    ],
)
def test_matchers_follow_alertmanager_semantics(text: str, matches: bool) -> None:
    assert parse_matcher(text).matches(LABELS) is matches


def test_a_braced_list_and_quoted_commas_parse_into_matchers() -> None:
    assert parse_matchers(['{slo="a,b", severity=~"page|ticket"}', "team!=web"]) == (
        Matcher("slo", "=", "a,b"), Matcher("severity", "=~", "page|ticket"), Matcher("team", "!=", "web")
    )
    assert str(Matcher("summary", "=", 'say "hi"')) == r'summary="say \"hi\""'


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("severity", "expected name=value, name!=value, name=~regex or name!~regex"),
        ("2sev=page", "'2sev' is not a label name"),
        ('team=~"ml-(.*"', "bad regular expression: missing ), unterminated subpattern at position 3"),
        ('team="ml', "unbalanced quotes"),
    ],
)
def test_an_invalid_matcher_is_an_error_naming_it(text: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_matcher(text)
    assert str(info.value) == f"invalid matcher {text!r}: {why}"


class Agent:
    def __init__(self, path: Path) -> None:
        self.clock = FakeClock()
        self.recorder = Recorder()
        self.state, self.hyst, self.silences = AlertStateStore(path), HysteresisStore(path), SilenceStore(path)
        self.harness = Harness(  # the outbox delivered at each tick, on the fake clock
            self.state, [self.recorder], self.clock, repeat_interval_s=3600.0,
            alert_policy=AlertPolicy(store=self.hyst), suppressor=Suppressor(self.silences),
        )
        self.manager = self.harness.manager

    def tick(self, burn: dict[str, float | None] | None, at: float) -> None:
        self.clock.now = at
        self.harness.process(report(objective(burn=burn), at=at))

    def close(self) -> None:
        for s in (self.state, self.hyst, self.silences):
            s.close()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    a = Agent(tmp_path / "alerts.sqlite")
    yield a
    a.close()


def silence(agent: Agent, *matchers: str, start: float = T0, end: float = T0 + 1800) -> str:
    return agent.silences.add(parse_matchers(matchers), starts_at=start, ends_at=end, by="alice", now=start).id


def test_a_silenced_page_is_not_sent_and_is_sent_once_the_silence_ends_while_it_fires(agent: Agent) -> None:
    silence(agent, 'slo="api-availability"', 'severity="page"')
    agent.tick(PAGE_BURN, T0)
    agent.tick(PAGE_BURN, T0 + 900)
    assert agent.recorder.sent == []
    agent.tick(PAGE_BURN, T0 + 1800)  # the silence ended: the page goes out now, not at the next repeat
    assert [(n.status, n.starts_at) for n in agent.recorder.sent] == [("firing", T0)]
    agent.tick(PAGE_BURN, T0 + 1860)
    assert len(agent.recorder.sent) == 1


def test_an_incident_that_resolves_under_its_silence_is_never_told(agent: Agent) -> None:
    silence(agent, 'team!="web"')  # the alert has no team label: "" != "web"
    agent.tick(PAGE_BURN, T0)
    agent.tick(None, T0 + 600)
    agent.tick(None, T0 + 2400)
    assert agent.recorder.sent == []


def test_a_silence_for_another_objective_mutes_nothing(agent: Agent) -> None:
    silence(agent, 'slo="api-latency"')
    agent.tick(PAGE_BURN, T0)
    assert [n.status for n in agent.recorder.sent] == ["firing"]


def test_an_expired_silence_mutes_nothing_and_records_who_expired_it(agent: Agent) -> None:
    sid = silence(agent, 'severity="page"')
    expired = agent.silences.expire(sid, by="bob", now=T0 - 1)
    agent.tick(PAGE_BURN, T0)
    assert [n.status for n in agent.recorder.sent] == ["firing"]
    assert (expired.expired_by, expired.ends_at, expired.state(T0)) == ("bob", T0 - 1, "expired")


def test_acknowledging_an_incident_stops_its_repeats_but_not_its_resolve(agent: Agent) -> None:
    agent.tick(PAGE_BURN, T0)
    agent.silences.acknowledge("api-availability/page", T0, by="carol", now=T0 + 60)
    agent.tick(PAGE_BURN, T0 + 3600)  # a repeat is due: held back
    agent.tick(PAGE_BURN, T0 + 7200)
    agent.tick(None, T0 + 7500)
    assert [n.status for n in agent.recorder.sent] == ["firing", "resolved"]


def test_a_new_incident_of_an_acknowledged_alert_pages_and_repeats(agent: Agent) -> None:
    agent.tick(PAGE_BURN, T0)
    agent.silences.acknowledge("api-availability/page", T0, by="carol", now=T0 + 60)
    agent.tick(None, T0 + 600)
    agent.tick(PAGE_BURN, T0 + 1200)
    agent.tick(PAGE_BURN, T0 + 1200 + 3600)
    assert [n.status for n in agent.recorder.sent] == ["firing", "resolved", "firing", "firing"]


def test_silences_survive_reopening_the_database(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite"
    store = SilenceStore(path)
    sid = store.add(parse_matchers(['team=~"ml-.*"']), starts_at=T0, ends_at=T0 + 60, by="alice", now=T0,
                    comment="maintenance").id
    store.close()
    again = SilenceStore(path)
    (s,) = again.silences()
    again.close()
    assert (s.id, s.matchers, s.created_by, s.comment, s.active(T0 + 59), s.active(T0 + 60)) == (
        sid, (Matcher("team", "=~", "ml-.*"),), "alice", "maintenance", True, False
    )
    with AlertStateStore(path) as state:  # the file is still a Redline alert database
        assert state.records() == []


def test_a_file_that_is_not_an_alert_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    import sqlite3

    from redline.kernel.errors import StoreError

    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE mine (x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a Redline alert database"):
        SilenceStore(path).silences()
    assert path.read_bytes() == before




def test_a_muted_page_whose_burn_changed_is_sent_when_its_silence_ends(agent: Agent) -> None:
    silence(agent, 'slo="api-availability"')
    agent.tick(PAGE_BURN, T0)
    agent.tick({**PAGE_BURN, "1h": 30.0}, T0 + 1800)  # fresh annotations: the record changes this tick
    assert [(n.status, n.annotations["burn_rate_1h"]) for n in agent.recorder.sent] == [("firing", "30")]


def test_a_silence_damaged_by_hand_is_skipped_and_the_others_still_apply(
    agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlite3

    good = silence(agent, 'slo="api-availability"')
    conn = sqlite3.connect(agent.state.path)
    conn.execute("INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, created_at, comment) "
                 "VALUES ('bad', '[\"team=~(\"]', 0, 9e12, 'x', 0, '')")
    conn.commit()
    conn.close()
    agent.tick(PAGE_BURN, T0)
    assert agent.recorder.sent == []  # still silenced by the good one
    assert [s.id for s in agent.silences.silences()] == [good]
    assert "silence bad in" in caplog.text and "is unreadable and ignored: invalid matcher 'team=~('" in caplog.text


def test_a_database_of_the_first_release_is_migrated_in_place_keeping_who_acknowledged(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "alerts.sqlite"
    with AlertStateStore(path) as state:
        state.records()
    conn = sqlite3.connect(path)  # the tables as the first release wrote them: acks.by, no expired_*
    conn.execute("CREATE TABLE acks (key TEXT NOT NULL, started_at REAL NOT NULL, by TEXT NOT NULL, "
                 "at REAL NOT NULL, comment TEXT NOT NULL, PRIMARY KEY (key, started_at))")
    conn.execute("INSERT INTO acks VALUES ('api-availability/page', 100.0, 'carol', 160.0, 'old')")
    conn.execute("CREATE TABLE silences (id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at REAL NOT NULL, "
                 "ends_at REAL NOT NULL, created_at REAL NOT NULL, comment TEXT NOT NULL)")
    conn.execute("""INSERT INTO silences VALUES ('s1', '["team=\\"web\\""]', 0, 9e12, 0, 'kept')""")
    conn.commit()
    conn.close()
    store = SilenceStore(path)
    store.acknowledge("api-latency/page", 200.0, by="dave", now=260.0)
    store.expire("s1", by="erin", now=300.0)
    acks, (old,) = store.acknowledgements(), store.silences()
    store.close()
    assert [(a.key, a.started_at, a.acked_by, a.comment) for a in acks] == [
        ("api-availability/page", 100.0, "carol", "old"), ("api-latency/page", 200.0, "dave", "")
    ]
    assert (old.id, old.comment, old.created_by, old.expired_by, old.ends_at) == (
        "s1", "kept", "unknown", "erin", 300.0
    )
    columns = [r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(acks)")]
    assert columns == ["key", "started_at", "acked_by", "at", "comment"]


def test_a_silence_of_a_grouped_objective_mutes_every_member_and_nothing_else() -> None:
    from redline.alerts.silences import silence_matchers

    (plain,) = silence_matchers([], "api-availability")
    (grouped, severity) = silence_matchers(['severity="page"'], "tenant-availability", grouped=True)
    assert (str(plain), str(severity)) == ('slo="api-availability"', 'severity="page"')
    member = {"slo": 'tenant-availability{tenant="acme"}', "severity": "page"}
    assert grouped.matches(member) and grouped.matches({"slo": "tenant-availability"})
    assert not grouped.matches({"slo": "tenant-availability-eu"}) and not plain.matches(member)
