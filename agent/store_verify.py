"""``redline store verify``: read every store file in full, say what is damaged and what time
range it covered; with ``--repair`` move the damaged files to ``data_dir/quarantine/``.

Also here: the store's part of ``redline status`` (damaged and quarantined files) and a
Prometheus collector for ``redline_store_corrupt_files_total``, for the agent's ``/metrics``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from redline.store.embedded import SampleStore
from redline.store.quarantine import CorruptFile, list_quarantined

__all__ = [
    "StoreIntegrityCollector",
    "VerifyReport",
    "render_verify_json",
    "render_verify_text",
    "store_corrupt_files",
    "store_status_lines",
    "verify_store",
]


@dataclass(frozen=True)
class VerifyReport:
    """What a walk of the data directory found."""

    data_dir: Path
    files_checked: int
    damaged: tuple[CorruptFile, ...]
    """Damaged files found by this walk (``quarantined_to`` set when ``--repair`` moved them)."""
    foreign: tuple[Path, ...]
    """Files in ``batches/``/``segments/`` the store did not write: ignored, never moved."""
    quarantined: tuple[CorruptFile, ...]
    """Everything in ``quarantine/`` after the walk (earlier repairs and the agent's moves included)."""
    problems: tuple[str, ...]
    """Files that could not be read for another reason (an I/O error): not judged damaged."""

    @property
    def clean(self) -> bool:
        return not self.damaged and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir),
            "files_checked": self.files_checked,
            "clean": self.clean,
            "damaged": [c.to_json() for c in self.damaged],
            "foreign": [str(p) for p in self.foreign],
            "quarantined": [c.to_json() for c in self.quarantined],
            "problems": list(self.problems),
        }


def verify_store(data_dir: Path, *, repair: bool) -> VerifyReport:
    """Read every batch and segment of ``data_dir`` in full (every checksum); quarantine the
    damaged ones when ``repair``."""
    store = SampleStore(data_dir, quarantine=repair)
    files = len(store.files())
    problems = store.check()
    damaged_paths = {c.path for c in store.corrupt}
    other = tuple(p for p in problems if not any(d in p for d in damaged_paths))
    return VerifyReport(
        data_dir, files, tuple(store.corrupt), tuple(store.foreign_files()), tuple(list_quarantined(data_dir)), other
    )


def render_verify_text(report: VerifyReport) -> str:
    lines: list[str] = []
    for c in report.damaged:
        lines.append(f"DAMAGED {c.kind} {c.path}")
        lines.append(f"  covered: {c.range_text()}")
        lines.append(f"  reason:  {c.reason}")
        lines.append(f"  moved to {c.quarantined_to}" if c.quarantined_to else "  left in place (--repair moves it)")
    lines += [f"UNREADABLE {p}" for p in report.problems]
    lines += [f"foreign (ignored, not a store file): {p}" for p in report.foreign]
    if report.quarantined:
        lines.append(f"{len(report.quarantined)} file(s) in quarantine:")
        lines += [f"  {c.quarantined_to}  ({c.kind} {c.path}, {c.range_text()})" for c in report.quarantined]
    verdict = "clean" if report.clean else f"{len(report.damaged) + len(report.problems)} damaged or unreadable"
    lines.append(f"{report.data_dir}: {report.files_checked} file(s) checked: {verdict}")
    return "\n".join(lines)


def render_verify_json(report: VerifyReport) -> str:
    return json.dumps(report.to_json(), indent=2)


def store_corrupt_files(store: SampleStore) -> list[CorruptFile]:
    """Damaged files a read of ``store`` met and left in place, then everything in quarantine."""
    quarantined = list_quarantined(store.data_dir)
    moved = {c.path for c in quarantined}
    return [*(c for c in store.corrupt if c.path not in moved), *quarantined]


def store_status_lines(files: list[CorruptFile]) -> list[str]:
    """The lines ``redline status`` ends with when the store holds damaged files."""
    if not files:
        return []
    lines = ["", f"Store: {len(files)} damaged file(s); their samples are missing from the figures above:"]
    for c in files:
        where = f"in quarantine at {c.quarantined_to}" if c.quarantined_to else "left in place"
        lines.append(f"  {c.kind} {c.path} ({c.range_text()}), {where}: {c.reason}")
    lines.append("  (`redline store verify --config FILE` checks every file; --repair quarantines)")
    return lines


class StoreIntegrityCollector(Collector):
    """``redline_store_corrupt_files_total`` (damaged files this process found) and
    ``redline_store_quarantined_files`` (files in ``quarantine/`` now), read at scrape time.

    Register it on the agent's registry: ``registry.register(StoreIntegrityCollector(store))``.
    """

    def __init__(self, store: SampleStore) -> None:
        self._store = store

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield CounterMetricFamily(
            "redline_store_corrupt_files",
            "Store files found damaged (failed a length, checksum or Parquet check).",
            value=self._store.corrupt_files_total,
        )
        yield GaugeMetricFamily(
            "redline_store_quarantined_files",
            "Files in the data directory's quarantine folder.",
            value=len(list_quarantined(self._store.data_dir)),
        )
