"""An evaluator's whole state as bytes, so a restart, ``status`` and the dashboard resume it.

Pure: bytes in, bytes out (the store writes and verifies the file, ``redline.store.checkpoint_file``).

``snapshot`` pickles the ``Evaluator`` (protocol 5) with its numpy arrays *out of band*: the head
holds the object graph and every large array is a separate buffer, so that ``restore`` rebuilds
the arrays as views of those buffers (a memory map of the file: nothing is copied, and only
what an evaluation touches is read). The head also records, per objective and guardrail, the
fingerprint of its definition (``fingerprints``), the instant the state was current at
(``through_ms``: every sample up to then is in it) and the engine's format.

A checkpoint holds one or more parts (``slo.evaluator_parts``), each an evaluator and the names it
answers for. An objective is only resumed for the same definition: ``changed`` names those whose
fingerprint differs (a changed target, selector or window; an objective added or removed), and
the caller rebuilds those from raw samples, in a part of their own.

Unpickling only resolves classes of Redline, numpy, pydantic and a few standard modules
(``_Unpickler.find_class``), so a file that is not ours cannot run code through an arbitrary
import.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from redline.slo.evaluation import Evaluator
from redline.slo.evaluator_parts import EvaluatorParts, Part
from redline.slo.spec import GuardrailSpec, SLOSpec

__all__ = ["FORMAT", "Restored", "changed", "fingerprints", "restore", "snapshot"]

FORMAT = 1
"""Bumped whenever the evaluator's state changes shape: an older checkpoint is then rebuilt."""

_ALLOWED_ROOTS = frozenset({
    "redline", "numpy", "pydantic", "pydantic_core", "builtins", "collections", "copyreg", "datetime",
    "zoneinfo", "re", "enum", "functools", "_codecs", "decimal", "pathlib", "typing",
})


def fingerprints(slos: Sequence[SLOSpec], guardrails: Sequence[GuardrailSpec] = ()) -> dict[str, str]:
    """Per objective and guardrail name, a hash of its whole definition (as validated)."""
    out: dict[str, str] = {}
    for kind, specs in (("slo", slos), ("guardrail", guardrails)):
        for spec in specs:
            text = f"{kind}\n{type(spec).__name__}\n{spec.model_dump_json()}"
            out[spec.name] = hashlib.sha256(text.encode()).hexdigest()
    return out


def changed(recorded: dict[str, str], wanted: dict[str, str]) -> list[str]:
    """Names whose definition differs between a checkpoint and now (added and removed included)."""
    return sorted(n for n in recorded.keys() | wanted.keys() if recorded.get(n) != wanted.get(n))


@dataclass(frozen=True)
class Restored:
    """A checkpoint's parts, the definitions they were built for, and when they were current."""

    parts: tuple[Part, ...]
    fingerprints: dict[str, str]
    through_ms: int


def snapshot(
    evaluator: Evaluator | EvaluatorParts, prints: dict[str, str], through_ms: int, *, copy: bool = False
) -> tuple[bytes, list[memoryview]]:
    """The head and the out-of-band buffers of ``evaluator``'s state, current at ``through_ms``,
    built for the definitions ``prints``.

    Without ``copy`` the buffers are views of the evaluator's live arrays: write them before the
    evaluator changes. With ``copy`` they are copies (taken while the caller holds its lock), so
    the file can be written after the lock is released."""
    parts = evaluator.parts if isinstance(evaluator, EvaluatorParts) else [Part(evaluator, frozenset(evaluator.names))]
    buffers: list[memoryview] = []

    def keep(buffer: pickle.PickleBuffer) -> bool:
        raw = buffer.raw()
        buffers.append(memoryview(bytes(raw)) if copy else raw)
        return False

    state = pickle.dumps([p.evaluator for p in parts], protocol=5, buffer_callback=keep)
    head = pickle.dumps({
        "format": FORMAT, "fingerprints": prints, "through_ms": through_ms,
        "names": [sorted(p.names) for p in parts], "state": state,
    })
    return head, buffers


_CALLABLES: Final = frozenset({
    ("copyreg", "_reconstructor"), ("_codecs", "encode"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
})
"""The functions (not classes) an evaluator's pickle calls to rebuild itself."""


def _attribute(obj: object, name: str) -> Any:
    """``getattr`` as a pickle uses it (a bound method, an enum member), never for a dunder name:
    ``object.__subclasses__`` and friends are how a crafted pickle would reach ``os.system``."""
    if name.startswith("__"):
        raise pickle.UnpicklingError(f"a checkpoint may not read the attribute {name!r}")
    return getattr(obj, name)


class _Unpickler(pickle.Unpickler):
    """Resolves only what a Redline evaluator is made of: classes of the allowed modules, the few
    functions in ``_CALLABLES``, and a ``getattr`` that refuses dunder names. Any other function
    (``builtins.eval``, ``os.system``) is refused, so a crafted file cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".", 1)[0] not in _ALLOWED_ROOTS:
            raise pickle.UnpicklingError(f"a checkpoint may not refer to {module}.{name}")
        if (module, name) == ("builtins", "getattr"):
            return _attribute
        found = super().find_class(module, name)
        if isinstance(found, type) or (module, name) in _CALLABLES:
            return found
        raise pickle.UnpicklingError(f"a checkpoint may not call {module}.{name}")


def restore(head: bytes, buffers: Sequence[memoryview]) -> Restored:
    """The evaluator a ``snapshot`` holds. ``ValueError`` when the bytes are not a checkpoint of
    this engine's format (an older Redline's, or damaged in a way the file check cannot see)."""
    try:
        meta = _Unpickler(io.BytesIO(head)).load()
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise ValueError(f"checkpoint format {found!r}, this engine reads {FORMAT}")
        evaluators = _Unpickler(io.BytesIO(meta["state"]), buffers=buffers).load()
        names = [frozenset(n) for n in meta["names"]]
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, KeyError, TypeError) as exc:
        raise ValueError(f"not a checkpoint this engine can read: {type(exc).__name__}: {exc}") from exc
    if not isinstance(evaluators, list) or not all(isinstance(e, Evaluator) for e in evaluators):
        raise ValueError("the checkpoint does not hold evaluators")
    if len(evaluators) != len(names):
        raise ValueError(f"the checkpoint holds {len(evaluators)} evaluators but names {len(names)} parts")
    parts = tuple(Part(e, n) for e, n in zip(evaluators, names, strict=True))
    return Restored(parts, dict(meta["fingerprints"]), int(meta["through_ms"]))
