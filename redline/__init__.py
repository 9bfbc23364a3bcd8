"""Redline: error budgets, burn-rate alerts and cost guardrails for AI services and data pipelines.

One import namespace. ``redline.kernel``, ``redline.store``, ``redline.config`` and
``redline.demo`` live in this folder; the parts in the repository's top-level folders are linked
in (``redline/agent -> ../agent``, and ``collectors``, ``slo``, ``alerts``, ``dashboard``), and
the wheel is built from this folder alone, following the links. ``docs/architecture.md`` has
the map.
"""

__version__ = "0.1.0"
