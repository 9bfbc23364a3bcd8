"""The evaluator's checkpoint read path: checkpoint plus the raw tail, or a rebuild from raw samples.

Shared by the agent (cold start, the periodic checkpoint), ``redline status`` and the dashboard,
which may all import ``store`` and ``slo`` but not each other (``docs/architecture.md``)."""
