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
    # alerts: read by dashboard/alerts_view.py only (the Alerts page), through the alerts package's store
    # checkpoints: the evaluator's checkpoint read path needs both store (the file) and slo (the
    # state); agent and dashboard share it, and neither may import the other
    "checkpoints": (ROOT / "redline" / "checkpoints", {"kernel", "store", "slo"}),
    "dashboard": (ROOT / "dashboard", {"kernel", "slo", "store", "config", "alerts", "checkpoints"}),
    "demo": (ROOT / "redline" / "demo", {"kernel"}),
    "agent": (
        ROOT / "agent",
        {"kernel", "store", "collectors", "slo", "config", "alerts", "dashboard", "demo", "checkpoints"},
    ),
}
PARTS = set(ALLOWED)


def imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports, absolute, dotted (function-level imports included):
    ``from redline import slo`` gives ``redline.slo``, a relative import is resolved against the
    package ``path`` lives in, as the package it is installed as (``redline.<part>...``)."""
    package = package_of(path)
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return found


def package_of(path: Path) -> str:
    """The dotted package a module file belongs to once installed (``slo/series/index.py`` ->
    ``redline.slo.series``)."""
    relative = path.relative_to(ROOT).parent.parts
    return ".".join(relative if relative[:1] == ("redline",) else ("redline", *relative))


def redline_imports(folder: Path) -> dict[str, set[str]]:
    """For each module file in ``folder``, the Redline parts it imports (``redline.slo.x`` -> ``slo``)."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        parts = {name.split(".")[1] for name in imported_modules(path)
                 if name.startswith("redline.") and name.split(".")[1] in PARTS}
        found[str(path.relative_to(ROOT))] = parts
    return found


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_a_part_imports_only_what_the_dependency_rule_allows(part: str) -> None:
    folder, allowed = ALLOWED[part]
    assert folder.is_dir(), f"{folder} is named by the rule but does not exist"
    wrong = {
        module: sorted(imported - allowed - {part})
        for module, imported in redline_imports(folder).items()
        if imported - allowed - {part}
    }
    assert wrong == {}


def test_no_module_imports_a_part_by_its_bare_folder_name() -> None:
    bare = {"agent", "collectors", "slo", "alerts", "dashboard", "store", "kernel", "config", "demo", "checkpoints"}
    folders = [ROOT / name for name in ("agent", "collectors", "slo", "alerts", "dashboard", "tests", "bench")]
    folders.append(ROOT / "redline")
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for folder in folders
        for path in folder.rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in bare
    ]
    assert offenders == []
