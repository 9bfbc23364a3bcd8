"""The dependency rule of docs/architecture.md, read from the source: imports point one way.

Every ``import redline.X`` / ``from redline.X import`` in a part's modules is read with ``ast``
(function-level imports included), and each part may import only the parts the rule allows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# part -> (folder, the parts it may import besides itself)
ALLOWED: dict[str, tuple[Path, set[str]]] = {
    "kernel": (ROOT / "redline" / "kernel", set()),
    "store": (ROOT / "redline" / "store", {"kernel"}),
    "collectors": (ROOT / "collectors", {"kernel"}),
    "slo": (ROOT / "slo", {"kernel"}),
    "config": (ROOT / "redline" / "config", {"kernel", "slo", "collectors"}),
    "alerts": (ROOT / "alerts", {"kernel", "slo"}),
    "dashboard": (ROOT / "dashboard", {"kernel", "slo", "store", "config"}),
    "demo": (ROOT / "redline" / "demo", {"kernel"}),
}


def redline_imports(folder: Path) -> dict[str, set[str]]:
    """For each module file in ``folder``, the Redline parts it imports (``redline.slo.x`` -> ``slo``)."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        parts: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                dotted = name.split(".")
                if dotted[0] == "redline" and len(dotted) > 1:
                    parts.add(dotted[1])
        found[str(path.relative_to(ROOT))] = parts
    return found


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_a_part_imports_only_what_the_dependency_rule_allows(part: str) -> None:
    folder, allowed = ALLOWED[part]
    if not folder.is_dir():
        pytest.skip(f"{folder} does not exist")
    wrong = {
        module: sorted(imported - allowed - {part})
        for module, imported in redline_imports(folder).items()
        if imported - allowed - {part}
    }
    assert wrong == {}


def test_no_module_imports_a_part_by_its_bare_folder_name() -> None:
    bare = {"agent", "collectors", "slo", "alerts", "dashboard", "store"}
    offenders = []
    for folder in [ROOT / name for name in ("agent", "collectors", "slo", "alerts", "dashboard", "tests", "bench")] + [
        ROOT / "redline" / "kernel", ROOT / "redline" / "store", ROOT / "redline" / "demo"
    ]:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    if node.module.split(".")[0] in bare:
                        offenders.append(f"{path.relative_to(ROOT)}: from {node.module}")
                elif isinstance(node, ast.Import):
                    offenders += [f"{path.relative_to(ROOT)}: import {a.name}" for a in node.names
                                  if a.name.split(".")[0] in bare]
    assert offenders == []
