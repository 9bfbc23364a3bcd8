"""Start-up cost of a ``redline`` command: Python plus the imports, before any work (issue 10).

Every ``redline status``, ``check``, ``backtest`` and the dashboard's config load pays it, so a
command that answers in 0.5 s still felt slow when the imports took seconds.

Run: ``python -m bench.startup [--baseline CHECKOUT] [--runs N]``. Each line is, over ``--runs``
fresh interpreters, the median CPU seconds (user + system: the steadier figure on a loaded shared
machine) and the best wall time of the whole process, this checkout beside the baseline's (e.g.
``/work/main``), alternated run by run, so both see the same machine. Each process runs with its
checkout as the working directory and first on ``sys.path``, so it imports that checkout's code.

Measured: ``import redline.config`` (what the dashboard and every command load), ``redline status
--help`` (the CLI with its whole parser), and the imports ``status --json`` needs before its work
(the CLI, ``agent.status`` and a config load with a source of each HTTP kind and both receivers).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
sources:
  - {name: api, kind: prometheus_scrape, url: 'http://127.0.0.1:9100/metrics'}
  - {name: prom, kind: promql, url: 'http://127.0.0.1:9090', queries: [{record: up_ratio, query: up}]}
  - {name: features, kind: freshness, path: 'data/*.parquet'}
receivers:
  - {kind: otlp}
"""

CASES: dict[str, list[str]] = {
    "import redline.config": ["-c", "import redline.config"],
    "redline status --help": [
        "-c",
        "import sys; from redline.agent.cli import main; sys.exit(main(['status', '--help']))",
    ],
    "status's imports + config load": [
        "-c",
        "import sys; from pathlib import Path; import redline.agent.cli, redline.agent.status; "
        "from redline.config import load_config; load_config(Path(sys.argv[1]))",
    ],
}


def _run(checkout: Path, args: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one fresh interpreter running ``args`` in ``checkout``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=checkout, check=True, capture_output=True, timeout=300)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. /work/main) to measure beside this one")
    parser.add_argument(
        "--runs", type=int, default=5, help="fresh interpreters per case and checkout (the best is shown)"
    )
    args = parser.parse_args()
    checkouts = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    with tempfile.TemporaryDirectory(prefix="redline-startup-") as tmp:
        config = Path(tmp) / "redline.yaml"
        config.write_text(CONFIG)
        heads = " ".join(f"{name + ' CPU / wall':>22}" for name in checkouts)
        print(f"{'case':34} {heads}   (s: CPU median, wall best of {args.runs})")
        for case, argv in CASES.items():
            cpu: dict[str, list[float]] = {name: [] for name in checkouts}
            wall = {name: float("inf") for name in checkouts}
            for _ in range(args.runs):  # alternated, so both checkouts see the same machine
                for name, checkout in checkouts.items():
                    used, took = _run(checkout, [*argv, str(config)])
                    cpu[name].append(used)
                    wall[name] = min(wall[name], took)
            cells = " ".join(f"{statistics.median(cpu[n]):>12.3f} / {wall[n]:>5.2f}" for n in checkouts)
            print(f"{case:34} {cells}", flush=True)


if __name__ == "__main__":
    main()
