"""The built wheel holds one import root, ``redline``, and nothing else at top level.

Built from this checkout with setuptools (as ``pip wheel`` does), unpacked into a folder, and
imported by a fresh interpreter that sees only that folder and the venv's third-party packages
(``-S``: no ``.pth`` files, so not the editable install of this checkout either).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout's tracked-tree shape: a build in the checkout
    would reuse a stale ``build/`` (setuptools never empties it) and ship deleted modules."""
    source = tmp_path_factory.mktemp("source") / "redline"
    shutil.copytree(
        ROOT, source, symlinks=True,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "redline-*"),
    )
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), "."],
        cwd=source, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("redline-*.whl")
    return built


def source_modules() -> set[str]:
    """Every module file of the package as the wheel names it (``redline/slo/engine.py``)."""
    found = {f"redline/{p.relative_to(ROOT / 'redline')}" for p in (ROOT / "redline").rglob("*.py")
             if "__pycache__" not in p.parts}
    for part in ("agent", "collectors", "slo", "alerts", "dashboard"):
        found |= {f"redline/{part}/{p.relative_to(ROOT / part)}" for p in (ROOT / part).rglob("*.py")
                  if "__pycache__" not in p.parts}
    return found


def test_wheel_has_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"redline", "redline-0.1.0.dist-info"}
    for part in ("agent", "collectors", "slo", "alerts", "dashboard", "kernel", "store", "demo"):
        assert f"redline/{part}/__init__.py" in names
    assert "redline/dashboard/views/overview.py" in names
    assert "redline/demo/demo.yaml" in names  # `redline demo` from an installed wheel needs its config
    assert {n for n in names if n.endswith(".py")} == source_modules()
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheel) as zf:
        assert "redline = redline.agent.cli:main" in zf.read(entry).decode()


def run_installed(wheel: Path, tmp_path: Path, body: str) -> str:
    """Run ``body`` in a fresh interpreter (``-S``) that sees the unpacked wheel first and the venv's
    third-party packages; ``SITE`` in ``body`` is the unpacked wheel's folder. Returns its stdout."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    third_party = sysconfig.get_paths()["purelib"]
    probe = textwrap.dedent(f"""
        import sys
        SITE = {str(site)!r}
        sys.path[:] = [SITE] + [p for p in sys.path if p] + [{third_party!r}]
    """) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-S", "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout
    return done.stdout.strip()


def test_installed_wheel_imports_only_as_redline(wheel: Path, tmp_path: Path) -> None:
    out = run_installed(wheel, tmp_path, """
        import importlib
        import redline.slo.engine, redline.agent.cli, redline.kernel.errors, redline.store.embedded
        assert redline.slo.engine.__file__.startswith(SITE), redline.slo.engine.__file__
        for name in ("agent", "slo", "store", "alerts", "collectors", "dashboard"):
            try:
                importlib.import_module(name)
            except ModuleNotFoundError:
                continue
            raise SystemExit(f"import {name} worked: {sys.modules[name].__file__}")
        print("ok")
    """)
    assert out == "ok"


def test_the_installed_wheels_demo_finds_and_loads_its_config(wheel: Path, tmp_path: Path) -> None:
    out = run_installed(wheel, tmp_path, """
        from redline.agent.demo import EXAMPLE_CONFIG
        from redline.config import load_config
        assert str(EXAMPLE_CONFIG).startswith(SITE), EXAMPLE_CONFIG
        print(sorted(s.name for s in load_config(EXAMPLE_CONFIG).config.slos))
    """)
    assert out == str(
        ["api-availability", "api-latency", "features-freshness", "inference-gpu-band", "llm-time-to-first-token"]
    )
