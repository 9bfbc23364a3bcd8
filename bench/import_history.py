"""Import speed: `redline import` of a ~100 MB OpenMetrics history (~800k samples).

Baseline in the same run: prometheus_client's OpenMetrics parser reading the same file (the
straightforward way), which only parses and stores nothing.

Run: .venv/bin/python -m bench.import_history
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from redline.agent.importer import import_history
from redline.store.embedded import SampleStore

SERIES = 80
SAMPLES_PER_SERIES = 10_000
STEP_S = 15.0
PAD = "x" * 40  # long label values so a line is ~125 bytes, as in real histories


def write_history(path: Path) -> int:
    """Counters for SERIES series, SAMPLES_PER_SERIES each, grouped by family as promtool wants."""
    end = time.time() - 3600
    start = end - SAMPLES_PER_SERIES * STEP_S
    with path.open("w") as out:
        out.write("# TYPE bench_requests counter\n")
        for s in range(SERIES):
            labels = f'service="svc-{s % 8}",code="{200 + s % 5}",pod="pod-{s}-{PAD}",region="eu-west-1"'
            value = 0
            lines = []
            for i in range(SAMPLES_PER_SERIES):
                value += (i * 7 + s) % 13
                lines.append(f"bench_requests_total{{{labels}}} {value} {start + i * STEP_S:.3f}\n")
            out.write("".join(lines))
        out.write("# EOF\n")
    return SERIES * SAMPLES_PER_SERIES


def main() -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.om"
        n = write_history(path)
        size_mb = path.stat().st_size / 1e6

        t0 = time.perf_counter()
        stats = import_history(path, SampleStore(Path(tmp) / "data"))
        ours = time.perf_counter() - t0
        assert stats.samples_stored == n, stats.summary()

        t0 = time.perf_counter()
        text = path.read_text()
        baseline_n = sum(len(f.samples) for f in text_string_to_metric_families(text))
        base = time.perf_counter() - t0
        assert baseline_n == n

        print(f"import of {size_mb:.0f} MB OpenMetrics history, {n:,} samples")
        print(f"  {'method':<48} {'seconds':>8} {'samples/s':>12}")
        print(f"  {'redline import (parse + sort + store + compact)':<48} {ours:8.2f} {n / ours:12,.0f}")
        print(f"  {'prometheus_client OpenMetrics parser (parse only)':<48} {base:8.2f} {n / base:12,.0f}")
        print("  target: < 10 s")


if __name__ == "__main__":
    main()
