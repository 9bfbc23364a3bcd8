"""Rules for every published peer example Redline loads: `promtool check rules` accepts them all
(a MetricsQL query is left out with a comment, never written where Prometheus would reject it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from redline.slo.rules import render_rules_yaml, skipped_objectives
from redline.slo.spec import SLOSpec
from redline.slo.spec_formats import SpecGroup, import_documents
from redline.slo.spec_source import SpecDocument, SpecProblems
from tests.slo.peer_specs import PEER


def _loadable(path: Path, backend: str | None) -> list[SLOSpec]:
    docs = [SpecDocument(str(path), i, d) for i, d in enumerate(
        d for d in yaml.safe_load_all(path.read_text()) if d is not None)]
    try:
        result, _ = import_documents([SpecGroup(docs, backend=backend)])
    except SpecProblems:
        return []  # refused by name: tested with each format
    return result.specs


def test_promtool_accepts_the_rules_of_every_loadable_published_example(tmp_path: Path) -> None:
    specs: list[SLOSpec] = []
    for folder, backend in (("sloth/examples", "prom"), ("pyrra", None), ("slo-generator", "prom"),
                            ("openslo", "prom")):
        for path in sorted((PEER / folder).rglob("*.y*ml")):
            specs += [s.model_copy(update={"name": f"{s.name}-{len(specs) + k}"})
                      for k, s in enumerate(_loadable(path, backend))]
    assert len(specs) >= 40
    text = render_rules_yaml(specs)
    assert {n.rsplit("-", 1)[0] for n in skipped_objectives(specs) if "percentile" in n} == {
        "foo-bar-grpc-latency-percentile-90", "foo-bar-grpc-latency-percentile-99",  # MetricsQL
    }
    path = tmp_path / "rules.yml"
    path.write_text(text)
    done = subprocess.run(["/usr/bin/promtool", "check", "rules", str(path)], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stdout.decode()[-3000:] + done.stderr.decode()[-3000:]
