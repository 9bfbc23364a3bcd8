"""The Alerts page's actions: creating and expiring a silence and acknowledging an incident, by a
user logged in with the dashboard's password (recorded as who did it), refused without one; and a
silence made on the page is honoured by the notifiers."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from redline.alerts.matchers import parse_matchers
from redline.alerts.silences import SilenceStore
from redline.dashboard.alerts_view import read_alerts
from redline.dashboard.passwords import hash_password
from redline.dashboard.text import literal
from redline.dashboard.views.alerts import NEEDS_LOGIN
from tests.alerts.conftest import PAGE_BURN
from tests.alerts.test_silences import Agent
from tests.dashboard.fleet import write_fleet
from tests.dashboard.test_alerts_page import FIRING, write_alerts

HASH_ENV = "REDLINE_TEST_ALERTS_HASH"
HOSTILE_MATCHER = 'team="![x](http://127.0.0.1:9/p.png) :red[alarm]"'
HOSTILE_COMMENT = "<img src=http://127.0.0.1:9/c.png> [a](javascript:alert(1)) $$\\href{x}{y}$$"


def _script() -> None:  # the app's gate, then the page, as dashboard/app.py runs them
    import os
    from pathlib import Path

    from redline.config import load_config
    from redline.dashboard.auth import require_user
    from redline.dashboard.views import alerts

    path = Path(os.environ["REDLINE_CONFIG"])
    require_user(load_config(path).config.dashboard.auth, os.environ)
    alerts.render(path)


def page(config: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("REDLINE_CONFIG", str(config))
    app = AppTest.from_function(_script, default_timeout=120)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def with_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(HASH_ENV, hash_password("s3cret"))
    config = write_fleet(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8") + f"dashboard:\n  auth:\n    password: {{hash_env: {HASH_ENV}}}\n",
        encoding="utf-8",
    )
    return config


def logged_in(config: Path, monkeypatch: pytest.MonkeyPatch, name: str = "alice") -> AppTest:
    app = page(config, monkeypatch)
    app.text_input[0].input("s3cret")
    app.text_input[1].input(name)
    app.button[0].click().run()  # the login form's submit
    assert not app.exception, [e.value for e in app.exception]
    return app


def silences(app: AppTest) -> pd.DataFrame:
    """The silences table (the one with matchers), empty when the page shows none."""
    return next((df.value for df in app.dataframe if "matchers" in df.value.columns), pd.DataFrame())


def button(app: AppTest, label: str) -> object:
    return next(b for b in app.button if b.label == label)


def create_silence(app: AppTest, *, slo: str, matchers: str, comment: str, duration: str = "2h") -> AppTest:
    app.selectbox(key="silence_slo").select(slo)
    app.text_area(key="silence_matchers").input(matchers)
    app.text_input(key="silence_duration").input(duration)
    app.text_input(key="silence_comment").input(comment)
    button(app, "Create silence").click().run()  # type: ignore[attr-defined]
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_a_logged_in_user_creates_a_silence_listed_as_text_with_who_made_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = logged_in(with_password(tmp_path, monkeypatch), monkeypatch)
    before = time.time()
    create_silence(app, slo="api-availability", matchers=f'severity="page"\n{HOSTILE_MATCHER}',
                   comment=HOSTILE_COMMENT, duration="90m")
    (stored,) = SilenceStore(tmp_path / "data" / "alerts.sqlite").silences()
    assert [str(m) for m in stored.matchers] == ['slo="api-availability"', 'severity="page"', HOSTILE_MATCHER]
    assert (stored.created_by, stored.comment, stored.ends_at - stored.starts_at) == (
        "alice (shared password)", HOSTILE_COMMENT, 5400.0
    )
    assert before <= stored.starts_at <= time.time()
    listed = silences(app)
    assert list(listed["matchers"]) == [f'slo="api-availability", severity="page", {HOSTILE_MATCHER}']
    assert list(listed["comment"]) == [HOSTILE_COMMENT]  # a cell: text as written
    assert (list(listed["created by"]), list(listed["state"])) == (["alice (shared password)"], ["active"])
    done, nothing = app.success
    assert nothing.value == "Nothing is firing."
    who = "alice \\(shared password\\)"
    assert done.value.startswith(f'Silence `{stored.id}` created by {who}: slo="api\\-availability"')
    assert 'team="\\!\\[x\\]\\(http' in done.value and "\\:red\\[alarm\\]" in done.value  # escaped: text


def test_an_invalid_matcher_is_an_error_naming_it_and_nothing_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = logged_in(with_password(tmp_path, monkeypatch), monkeypatch)
    create_silence(app, slo="(any objective)", matchers='severity="page"\nteam=~"ml-(.*"', comment="")
    assert [e.value for e in app.error] == [
        "Silence not created: " + literal(
            "invalid matcher 'team=~\"ml-(.*\"': "
            "bad regular expression: missing ), unterminated subpattern at position 3"
        )
    ]
    assert not (tmp_path / "data" / "alerts.sqlite").exists()  # nothing stored: not even the database


def test_a_logged_in_user_expires_a_silence_and_acknowledges_an_incident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = with_password(tmp_path, monkeypatch)
    write_alerts(tmp_path / "data")
    app = logged_in(config, monkeypatch, name="bob")
    create_silence(app, slo="(any objective)", matchers='team="web"', comment="deploy 42")
    silence_id = silences(app)["id"][0]

    app.selectbox(key="silence_expire_id").select(silence_id)
    button(app, "Expire silence").click().run()  # type: ignore[attr-defined]
    assert [s.value for s in app.success] == [f"Silence `{silence_id}` expired by bob \\(shared password\\)."]
    (expired,) = SilenceStore(tmp_path / "data" / "alerts.sqlite").silences()
    assert (expired.expired_by, expired.state(time.time())) == ("bob (shared password)", "expired")
    assert silences(app).empty  # expired ones only with the toggle
    app.toggle(key="silences_all").set_value(True).run()
    assert list(silences(app)["expired by"]) == ["bob (shared password)"]

    app.selectbox(key="ack_key").select(FIRING.key)
    app.text_input(key="ack_note").input("on it")
    button(app, "Acknowledge").click().run()  # type: ignore[attr-defined]
    (ack,) = SilenceStore(tmp_path / "data" / "alerts.sqlite").acknowledgements()
    assert (ack.key, ack.started_at, ack.acked_by, ack.comment) == (
        FIRING.key, FIRING.started_at, "bob (shared password)", "on it"
    )
    assert list(app.dataframe[0].value["acknowledged by"]) == ["bob (shared password)"]
    assert not [b for b in app.button if b.label == "Acknowledge"]  # nothing left to acknowledge


def test_without_authentication_the_actions_are_disabled_and_say_how_to_enable_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_fleet(tmp_path)
    write_alerts(tmp_path / "data")
    store = SilenceStore(tmp_path / "data" / "alerts.sqlite")
    made = store.add(parse_matchers(['team="web"']), starts_at=time.time(), ends_at=time.time() + 600, by="cli",
                     now=time.time())
    store.close()
    app = page(config, monkeypatch)
    assert [i.value for i in app.info] == [NEEDS_LOGIN]
    assert {b.label: b.disabled for b in app.button} == {
        "Acknowledge": True, "Create silence": True, "Expire silence": True,
    }
    assert all(w.disabled for w in [*app.text_input, *app.text_area, *app.selectbox])
    view = read_alerts(tmp_path / "data")
    assert view is not None and view.acks == ()
    assert [(s.id, s.expired_by) for s in view.silences] == [(made.id, None)]


def test_a_silence_created_on_the_page_is_honoured_by_the_notifiers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = logged_in(with_password(tmp_path, monkeypatch), monkeypatch)
    create_silence(app, slo="api-availability", matchers='severity="page"', comment="maintenance")
    path = tmp_path / "data" / "alerts.sqlite"
    agent = Agent(path)  # the alert manager and outbox of tests.alerts, on the page's database
    try:
        now = time.time()
        agent.tick(PAGE_BURN, now)  # the page fires under the page's silence: nothing sent
        agent.tick(PAGE_BURN, now + 60)
        assert agent.recorder.sent == []
        (silence,) = agent.silences.silences()
        agent.silences.expire(silence.id, by="carol", now=now + 120)
        agent.tick(PAGE_BURN, now + 120)  # expired: the held-back page goes out now
        assert [(n.status, n.labels["slo"]) for n in agent.recorder.sent] == [("firing", "api-availability")]
    finally:
        agent.close()
