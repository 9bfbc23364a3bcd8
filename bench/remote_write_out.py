"""Remote write out throughput: ``.venv/bin/python -m bench.remote_write_out``.

``EVALUATIONS`` evaluations of ``SERIES`` computed series (about what 1,000 objectives give: an
SLI error ratio per window, burn rates, budget, objective) are queued on disk, then sent to a real
Prometheus (Debian's 2.42, ``--web.enable-remote-write-receiver``) by the queue's sender, with
``max_samples_per_send`` 2,000 (Redline's default) beside 500 (Prometheus 2.x's old default) as
the baseline in the same run. Printed: queueing (encode, fsync, rename) and sending, in samples/s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from redline.agent.remote_write_out import RemoteWriteQueue
from redline.config import RemoteWriteOutConfig
from tests.prometheus_server import serve_prometheus

SERIES = 20_000
EVALUATIONS = 10


def run(prometheus: str, root: Path, per_send: int, start_ms: int) -> tuple[float, float]:
    """Queue then send everything; (queued samples/s, sent samples/s)."""
    config = RemoteWriteOutConfig(
        name=f"bench-{per_send}",
        url=f"{prometheus}/api/v1/write",
        max_samples_per_send=per_send,
        buffer_max_bytes=2**30,
    )
    with httpx.Client() as client:
        queue = RemoteWriteQueue(config, root / config.name, client, {})
        points = [
            (f"slo:sli_error:ratio_rate{i % 7}m", {"slo": f"objective-{i // 7}", "batch": str(per_send)}, 0.001)
            for i in range(SERIES)
        ]
        started = time.perf_counter()
        for step in range(EVALUATIONS):
            queue.append(points, start_ms + step * 30_000)
        queued = time.perf_counter() - started
        started = time.perf_counter()
        sent = 0
        while queue.records():
            outcome = queue.send_once()
            assert not outcome.retry and not outcome.dropped, (outcome, queue.counts)
            sent += outcome.sent
        took = time.perf_counter() - started
    assert sent == SERIES * EVALUATIONS
    return sent / queued, sent / took


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "prom").mkdir()
        with serve_prometheus(
            root / "prom" / "data", root / "prom", extra_args=["--web.enable-remote-write-receiver"]
        ) as prometheus:
            now_ms = int(time.time() * 1000) - EVALUATIONS * 30_000
            ours = run(prometheus, root, 2000, now_ms)
            base = run(prometheus, root, 500, now_ms)
    total = SERIES * EVALUATIONS
    print(f"remote write out: {EVALUATIONS} evaluations x {SERIES:,} series ({total:,} samples) to Prometheus 2.42")
    print(f"  max_samples_per_send 2000 (Redline): queued {ours[0]:10,.0f} samples/s, sent {ours[1]:10,.0f} samples/s")
    print(f"  max_samples_per_send  500 (baseline): queued {base[0]:10,.0f} samples/s, sent {base[1]:10,.0f} samples/s")


if __name__ == "__main__":
    main()
