"""Redline: error budgets, burn-rate alerts and cost guardrails for AI services and data pipelines.

One import namespace. ``redline.kernel`` and ``redline.store`` live in this folder; the parts in
the repository's top-level folders are mapped in at build time (``pyproject.toml``):
``redline.agent``, ``redline.collectors``, ``redline.slo``, ``redline.alerts``,
``redline.dashboard``; the simulated fleet of ``make demo`` is ``redline.demo``.
"""

__version__ = "0.1.0"
