"""``redline alerts test`` and ``redline check`` on notifier secrets, through ``main()``."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.agent.cli import main
from tests.alerts.conftest import Receiver, receiver  # noqa: F401 - the fixture, a real receiver on 127.0.0.1
from tests.config.test_load import GOOD, write

SLACK_SECRET = "/services/T0SECRET/B0SECRET/xyzSECRET"


def config(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        GOOD
        + """\
alerting:
  external_url: http://redline.example:8501
  notifiers:
    - {name: chat, kind: slack, url_env: CHAT_URL}
    - {name: pager, kind: pagerduty, routing_key_env: PD_KEY, url_env_unused: 1}
""".replace(", url_env_unused: 1", "")
        + """\
    - {name: hook, kind: webhook, url_env: HOOK_URL}
  routes:
    - {match: {severity: page}, notifiers: [pager], continue: true}
    - {match: {severity: page}, notifiers: [chat]}
  default_notifiers: [hook]
""",
    )


def test_a_routing_key_missing_from_the_environment_fails_the_check_naming_it_and_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHAT_URL", f"http://127.0.0.1:9{SLACK_SECRET}")
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/hook-secret-value")
    monkeypatch.delenv("PD_KEY", raising=False)
    monkeypatch.delenv("PD_KEY_FILE", raising=False)
    cfg = config(tmp_path)
    assert main(["check", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"redline: error: environment variable PD_KEY (named by {cfg}: alerting.notifiers[1].routing_key_env) "
        "is not set (nor PD_KEY_FILE)\n"
    )
    assert "SECRET" not in err and "hook-secret-value" not in err


def test_alerts_test_sends_a_labelled_message_through_each_route_and_reports_each_result(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    receiver: Receiver,  # noqa: F811 - the imported fixture
) -> None:
    receiver.statuses = [202, (404, {}, b"no_service"), 200]  # pager, chat, hook: in route order
    monkeypatch.setenv("CHAT_URL", f"{receiver.base_url}{SLACK_SECRET}")
    monkeypatch.setenv("PD_KEY", "PDKEYSECRET")
    monkeypatch.setenv("HOOK_URL", f"{receiver.base_url}/hook")
    pd_url = f"routing_key_env: PD_KEY, url: {receiver.base_url}/pd"
    text = config(tmp_path).read_text().replace("routing_key_env: PD_KEY", pd_url)
    cfg = write(tmp_path, text)
    assert main(["alerts", "test", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "routes[0]  pager: ok (delivered)",
        "routes[1]  chat: FAILED (notifier 'chat': receiver answered HTTP 404: Slack says no_service)",
        "default    hook: ok (delivered)",
    ]
    assert [path for path, _, _ in receiver.requests] == ["/pd", SLACK_SECRET, "/hook"]
    pd_body = receiver.bodies()[0]
    assert pd_body["payload"]["summary"].startswith("[TEST] FIRING page: redline-test")
    assert pd_body["payload"]["custom_details"]["test"] is True
    assert "SECRET" not in out
    assert receiver.bodies()[2]["commonLabels"]["test"] == "true"
