"""`make bench`: every benchmark, one after another, each in its own process (so each one's peak
memory is its own), printing its figures beside its baseline.

Run one alone with `python -m bench.<name>`; pass names to run a subset: `python -m bench parse store`.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "parse", "store", "evaluate", "guardrails", "backtest", "alerts", "import_history", "freshness", "focus",
    "query_sli", "compaction", "kill_compaction", "delivery", "hysteresis", "otlp", "ingest_server",
    "remote_write_out", "dashboard",
)


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        print(f"\n=== bench.{name} ===", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
