"""A collector's side effects come from the ``CollectorContext`` it is given, and the agent gives its own.

Real HTTP servers on 127.0.0.1; the environment is a dict that ``os.environ`` never sees; the clock
is fixed only where an age must be exact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from redline.agent.runtime import Agent
from redline.collectors.base import CollectorContext
from redline.collectors.freshness import FreshnessCollector, FreshnessConfig
from redline.config import LoadedConfig, parse_config
from tests.collectors.context import context
from tests.collectors.http_target import send, serve

TOKEN_VAR = "REDLINE_TEST_INJECTED_TOKEN"
TOKEN = "t0ken-only-in-the-injected-env"
NEWEST_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the document's end_date
NOW_S = NEWEST_S + 1234.5


@contextmanager
def _guarded_document() -> Iterator[tuple[str, list[str | None]]]:
    """A JSON endpoint that answers only ``Bearer TOKEN``; yields its URL and the Authorization headers seen."""
    seen: list[str | None] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        auth = handler.headers.get("Authorization")
        seen.append(auth)
        if auth != f"Bearer {TOKEN}":
            send(handler, 401, b'{"error": "unauthorized"}', "application/json")
            return
        send(handler, 200, json.dumps({"end_date": "2026-01-01T00:00:00Z"}).encode(), "application/json")

    with serve(respond) as base:
        yield f"{base}/runs", seen


@pytest.fixture(autouse=True)
def _token_not_in_the_process_environment() -> None:
    assert TOKEN_VAR not in os.environ


def test_the_agent_hands_its_env_and_clock_to_its_collectors(tmp_path: Path) -> None:
    with _guarded_document() as (url, seen):
        text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
sources:
  - {{name: runs, kind: freshness, url: "{url}", field: $.end_date, bearer_token_env: {TOKEN_VAR}}}
"""
        path = tmp_path / "redline.yaml"
        path.write_text(text)
        agent = Agent(LoadedConfig(parse_config(text, path), path), env={TOKEN_VAR: TOKEN}, clock=lambda: NOW_S,
                      serve_metrics=False)
        try:
            result = agent.collectors["runs"].collect()
        finally:
            agent.shutdown()
    assert result.health.ok, result.health.error
    assert seen == [f"Bearer {TOKEN}"]
    ages = result.samples.filter(result.samples["metric"] == "redline_data_age_seconds")
    assert ages["value"].to_list() == [NOW_S - NEWEST_S]
    assert ages["timestamp"].to_list() == [int(NOW_S * 1000)]


def _runs_config(url: str) -> FreshnessConfig:
    return FreshnessConfig.model_validate(
        {"name": "runs", "kind": "freshness", "url": url, "field": "$.end_date", "bearer_token_env": TOKEN_VAR}
    )


def test_a_token_only_in_the_process_environment_is_not_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_VAR, TOKEN)
    with _guarded_document() as (url, seen), httpx.Client() as client:
        result = FreshnessCollector(_runs_config(url), context(lambda: NOW_S, env={}, http=client)).collect()
    assert seen == []
    assert result.health.error == (
        f"source 'runs' ({url}, field $.end_date): environment variable {TOKEN_VAR} (named by bearer_token_env) "
        f"is not set (nor {TOKEN_VAR}_FILE)"
    )


def test_a_token_in_the_file_the_injected_env_names_authenticates(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    env = {f"{TOKEN_VAR}_FILE": str(token_file)}
    with _guarded_document() as (url, seen), httpx.Client() as client:
        result = FreshnessCollector(_runs_config(url), context(lambda: NOW_S, env=env, http=client)).collect()
    assert result.health.ok, result.health.error
    assert seen == [f"Bearer {TOKEN}"]


def test_every_request_goes_through_the_injected_client() -> None:
    marks: list[str | None] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        marks.append(handler.headers.get("X-Client"))
        send(handler, 200, json.dumps({"end_date": "2026-01-01T00:00:00Z"}).encode(), "application/json")

    with serve(respond) as base, httpx.Client(headers={"X-Client": "the-injected-one"}) as client:
        config = FreshnessConfig.model_validate({"name": "runs", "kind": "freshness", "url": f"{base}/runs",
                                                 "field": "$.end_date"})
        result = FreshnessCollector(config, context(lambda: NOW_S, http=client)).collect()
    assert result.health.ok, result.health.error
    assert marks == ["the-injected-one"]


def test_the_context_repr_shows_no_environment_value() -> None:
    with httpx.Client() as client:
        shown = repr(CollectorContext(clock=lambda: NOW_S, env={TOKEN_VAR: TOKEN}, http=client))
    assert TOKEN not in shown and TOKEN_VAR not in shown
    assert "env=<1 variables>" in shown
