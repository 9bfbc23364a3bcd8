"""Label matchers in Alertmanager's syntax: ``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``.

A value may be quoted (``severity="page"``, with ``\\"`` and ``\\\\`` escapes); a regex is anchored
at both ends, as Alertmanager anchors it; a label the alert lacks reads as the empty string, so
``team=""`` matches an alert without ``team``. ``{a="b", c=~"d.*"}`` (a braced list) is read too.
An invalid matcher is a ``ValueError`` naming it and saying what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["Matcher", "matches_all", "parse_matcher", "parse_matchers"]

Op = Literal["=", "!=", "=~", "!~"]
_NAME_RE: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_MATCHER_RE: Final = re.compile(r"^\s*(?P<name>[^=!~\s]+)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*$", re.S)


@dataclass(frozen=True)
class Matcher:
    """One label matcher; ``str()`` gives it back in Alertmanager's syntax, value quoted."""

    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problem = _problem(self.name, self.op, self.value)
        if problem is not None:
            raise ValueError(f"invalid matcher {str(self)!r}: {problem}")
        if self.op in ("=~", "!~"):
            object.__setattr__(self, "_regex", re.compile(f"(?:{self.value})\\Z", re.S))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label is the empty string)."""
        value = labels.get(self.name, "")
        if self._regex is not None:
            found = self._regex.match(value) is not None
            return found if self.op == "=~" else not found
        return (value == self.value) if self.op == "=" else (value != self.value)

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def _problem(name: str, op: Op, value: str) -> str | None:
    """What is wrong with a matcher, or ``None``."""
    if not _NAME_RE.fullmatch(name):
        return f"{name!r} is not a label name"
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            return f"bad regular expression: {exc}"
    return None


def _unquote(raw: str, text: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        body, out, i = raw[1:-1], [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                out.append(body[i + 1])
                i += 2
                continue
            if ch == '"':
                raise ValueError(f"invalid matcher {text!r}: unescaped quote inside the value")
            out.append(ch)
            i += 1
        return "".join(out)
    if raw.startswith('"') or raw.endswith('"'):
        raise ValueError(f"invalid matcher {text!r}: unbalanced quotes")
    return raw


def parse_matcher(text: str) -> Matcher:
    """One matcher from ``name<op>value``; ``ValueError`` naming ``text`` when it is not one."""
    match = _MATCHER_RE.match(text)
    if match is None:
        raise ValueError(f"invalid matcher {text!r}: expected name=value, name!=value, name=~regex or name!~regex")
    op: Op = match["op"]  # type: ignore[assignment]  # the regex allows only these four
    value = _unquote(match["value"], text)
    problem = _problem(match["name"], op, value)
    if problem is not None:
        raise ValueError(f"invalid matcher {text!r}: {problem}")
    return Matcher(match["name"], op, value)


def _split(body: str) -> list[str]:
    """Split a braced list on commas outside quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in body:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """Matchers from several texts, each one matcher or a braced list ``{a="b", c=~"d"}``."""
    out: list[Matcher] = []
    for text in texts:
        stripped = text.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            out.extend(parse_matcher(part) for part in _split(stripped[1:-1]))
        else:
            out.append(parse_matcher(text))
    return tuple(out)


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher matches ``labels`` (an empty list matches nothing: a silence needs one)."""
    return bool(matchers) and all(m.matches(labels) for m in matchers)
