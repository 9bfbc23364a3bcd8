"""Real Alertmanagers on 127.0.0.1 for tests: one alone, or a cluster gossiping over ``--cluster.peer``.

``serve_alertmanagers(root, webhook_url, count)`` starts ``count`` Debian ``prometheus-alertmanager``
processes, each routing every alert to ``webhook_url`` (grouped by alertname, slo and severity;
1 s group wait and interval, resolves sent), peered with each other when ``count`` > 1, waits
for each ``/-/ready`` (with a deadline, failing early if one exits) and yields their base URLs.
Every process is stopped by its handle on exit.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import yaml

from tests import polling
from tests.ports import free_port
from tests.prometheus_server import running_until_exit

__all__ = ["ALERTMANAGER", "serve_alertmanagers"]

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def _config(webhook_url: str) -> dict[str, object]:
    return {
        "route": {
            "receiver": "hook",
            "group_by": ["alertname", "slo", "severity"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "hook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }


@contextmanager
def _one(root: Path, name: str, config: Path, port: int, cluster: list[str]) -> Iterator[str]:
    storage = root / name
    storage.mkdir(parents=True, exist_ok=True)
    log_path = root / f"{name}.log"
    args = [
        ALERTMANAGER, f"--config.file={config}", f"--storage.path={storage}",
        f"--web.listen-address=127.0.0.1:{port}", f"--web.external-url=http://127.0.0.1:{port}",
    ]
    if cluster:
        listen, *peers = cluster
        args += [
            f"--cluster.listen-address={listen}", f"--cluster.advertise-address={listen}",
            "--cluster.peer-timeout=2s", "--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s",
            "--cluster.settle-timeout=2s", *(f"--cluster.peer={p}" for p in peers),
        ]
    else:
        args.append("--cluster.listen-address=")
    with log_path.open("ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    with running_until_exit(proc, url, log_path, "alertmanager"):
        yield url


@contextmanager
def serve_alertmanagers(
    root: Path, webhook_url: str, count: int = 1, *, cluster: bool = True
) -> Iterator[list[str]]:
    """``count`` Alertmanagers sending to ``webhook_url``, clustered when more than one (unless
    ``cluster`` is false); yields base URLs."""
    config = root / "alertmanager.yml"
    config.write_text(yaml.safe_dump(_config(webhook_url)))
    ports = [free_port() for _ in range(count)]
    gossip = [f"127.0.0.1:{free_port()}" for _ in range(count)] if count > 1 and cluster else []
    with ExitStack() as stack:
        urls = []
        for i, port in enumerate(ports):
            peers = [gossip[i], *(g for j, g in enumerate(gossip) if j != i)] if gossip else []
            urls.append(stack.enter_context(_one(root, f"am{i}", config, port, peers)))
        yield urls


def wait_until(condition: object, timeout_s: float = 30.0, interval_s: float = 0.1) -> None:
    """Poll ``condition()`` until true; ``AssertionError`` after ``timeout_s`` (``tests.polling``)."""
    assert callable(condition)
    polling.wait_until(condition, "the Alertmanager condition", timeout_s, interval_s)
