"""An older commit's ``slo`` modules, loaded from git into a temporary package, so that a benchmark
can run the previous engine beside this one and compare their figures and results.

Old commits import ``slo.<module>`` and ``store.types`` as top-level packages; both names are gone
(everything is ``redline.<part>`` now). The sources are rewritten on the way in: a module loaded
from the commit is imported from the temporary package, any other ``slo`` module from this working
tree's ``redline.slo``, and ``store.types`` from a small module re-exporting its names from
``redline.kernel``. ``ObjectiveResult``'s keyword arguments renamed since (``objective=`` →
``target=``, ``sli=`` → ``value=``: one meaning per figure) are renamed in the old sources too.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_STORE_TYPES = '''"""What ``store.types`` held, re-exported from ``redline.kernel`` for an old commit's modules."""
from redline.kernel.fields import SAMPLE_SCHEMA as SAMPLE_SCHEMA
from redline.kernel.labels import Selector as Selector, parse_labels as parse_labels
from redline.kernel.labels import parse_selector as parse_selector, format_labels as format_labels
from redline.kernel.units import format_duration as format_duration, parse_duration as parse_duration
'''


_RENAMED = {"objective=": "target=", "sli=": "value="}
_RENAMED_RESULT_KWARGS = re.compile(r"(^\s+|[(,]\s*)(objective=|sli=)(?!=)", re.MULTILINE)
"""A keyword argument (at a line's start or after ``(``/``,``) as the old engines pass them to ``ObjectiveResult``."""


def load_slo_modules(
    tmp: Path, rev: str, package: str, names: Sequence[str], entry: str
) -> tuple[ModuleType | None, str]:
    """Module ``entry`` of commit ``rev``, with those of ``names`` that exist there, as package
    ``package`` in ``tmp``; or None and why not."""
    root = Path(__file__).resolve().parent.parent
    pkg = tmp / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_store_types.py").write_text(_STORE_TYPES)
    sources: dict[str, str] = {}
    for name in names:
        try:
            shown = subprocess.run(
                ["git", "-C", str(root), "show", f"{rev}:slo/{name}.py"],
                capture_output=True, text=True, check=False, timeout=30,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"git show {rev[:7]}:slo/{name}.py failed ({exc})"
        if shown.returncode == 0:
            sources[name] = shown.stdout
    if entry not in sources:
        return None, f"git show {rev[:7]}:slo/{entry}.py failed"
    for name, source in sources.items():
        for other in sources:
            source = source.replace(f"from slo.{other} import", f"from {package}.{other} import")
        source = source.replace("from slo.", "from redline.slo.")
        source = source.replace("from store.types import", f"from {package}._store_types import")
        source = _RENAMED_RESULT_KWARGS.sub(lambda m: m.group(1) + _RENAMED[m.group(2)], source)
        (pkg / f"{name}.py").write_text(source)
    if str(tmp) not in sys.path:
        sys.path.insert(0, str(tmp))
    return importlib.import_module(f"{package}.{entry}"), f"commit {rev[:7]}"
