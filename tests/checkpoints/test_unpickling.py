"""A checkpoint file is read with a restricted unpickler: a crafted one cannot call a function
that is not one of the evaluator's own reconstructors, nor reach dunder attributes."""

from __future__ import annotations

import builtins
import os
import pickle

import pytest

from redline.slo.checkpoint import restore


class _Call:
    """Pickles as a call of ``fn(*args)``: what a crafted checkpoint would hold."""

    def __init__(self, fn: object, *args: object) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.fn, self.args


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        (_Call(builtins.eval, "1 + 1"), "may not call builtins.eval"),
        (_Call(os.system, "true"), "may not refer to posix.system"),
        (_Call(getattr, object, "__subclasses__"), "may not read the attribute '__subclasses__'"),
    ],
)
def test_a_crafted_checkpoint_calls_nothing(payload: _Call, refused: str) -> None:
    head = pickle.dumps({"format": payload}, protocol=5)
    with pytest.raises(ValueError, match=refused):
        restore(head, [])
