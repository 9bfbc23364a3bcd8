"""``redline collect`` prints exact figures: integer millisecond timestamps, values that round-trip."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from redline.agent.cli import main
from tests.collectors.http_target import send, serve

# Values %g would round (0.1 + 0.2, a 17-digit counter, a tiny ratio) and millisecond timestamps
# %g would print as 1.76468e+12.
BODY = (
    "# TYPE ratio gauge\n"
    "ratio 0.30000000000000004 1764680000123\n"
    "# TYPE big_total counter\n"
    "big_total 12345678901234567 1764680000999\n"
    "# TYPE tiny gauge\n"
    "tiny 1.2345678901234567e-300 1764680000001\n"
    "# TYPE odd gauge\n"
    "odd NaN 1764680000002\n"
)


def _respond(handler: BaseHTTPRequestHandler) -> None:
    send(handler, 200, BODY.encode(), "text/plain; version=0.0.4")


def _config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(f"sources:\n  - {{name: exact, kind: prometheus_scrape, url: '{url}/metrics'}}\n")
    return cfg


def test_collect_json_has_integer_millisecond_timestamps_and_round_trip_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(_respond) as url:
        assert main(["collect", "--config", str(_config(tmp_path, url)), "--source", "exact", "--json"]) == 0
    samples = {s["metric"]: s for s in json.loads(capsys.readouterr().out)["samples"]}
    assert samples["ratio"]["timestamp_ms"] == 1764680000123
    assert isinstance(samples["ratio"]["timestamp_ms"], int)
    assert samples["ratio"]["value"] == 0.1 + 0.2
    assert samples["big_total"]["value"] == float("12345678901234567")
    assert samples["tiny"]["value"] == 1.2345678901234567e-300
    assert samples["odd"]["value"] == "NaN"


def test_collect_text_prints_each_sample_as_the_exposition_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(_respond) as url:
        assert main(["collect", "--config", str(_config(tmp_path, url)), "--source", "exact"]) == 0
    lines = {line.split("{")[0].strip(): line.strip() for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines["ratio"] == 'ratio{source="exact"} 0.30000000000000004 1764680000123  # 2025-12-02T12:53:20.123Z'
    value, ts = lines["big_total"].split("  #")[0].split()[1:]
    assert (float(value), int(ts)) == (12345678901234567.0, 1764680000999)
    tiny, tiny_ts = lines["tiny"].split()[1:3]
    assert (float(tiny), tiny, tiny_ts) == (1.2345678901234567e-300, repr(1.2345678901234567e-300), "1764680000001")
    assert lines["odd"].split()[1:3] == ["NaN", "1764680000002"]
