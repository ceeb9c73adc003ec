"""Claims that hold only on some interpreters: ``[expect.only_on]`` in a scenario file.

    [expect.only_on]
    output_mentions = { python = "cpython", why = "PyPy does not count references" }

``python`` names an implementation (``cpython``, ``pypy``), a first version (``3.12+``),
or both (``cpython 3.12+``). Elsewhere the claim is not applicable: its check is still
shown, with what was observed, but it neither passes nor fails the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy"}
_CONDITION = re.compile(r"(?:(cpython|pypy)\s*)?(?:(\d+)\.(\d+)\+)?")
FORMS = "'cpython', 'pypy', '3.12+' or 'cpython 3.12+'"


@dataclass(frozen=True)
class Condition:
    """Where a claim holds: an implementation, a first version, or both."""

    implementation: str | None
    since: tuple[int, int] | None

    def holds(self, python: dict[str, Any]) -> bool:
        """Whether the interpreter (a document's ``python`` section) meets it."""
        if self.implementation and python.get("implementation") != self.implementation:
            return False
        version = tuple(int(n) for n in python["version"].split(".")[:2])
        return self.since is None or version >= self.since

    def __str__(self) -> str:
        since = f"{self.since[0]}.{self.since[1]}+" if self.since else ""
        return " ".join(p for p in (self.implementation, since) if p)


def parse(text: str) -> Condition | None:
    """The condition written as ``text``, or None when it is not one of ``FORMS``."""
    match = _CONDITION.fullmatch(text.strip())
    if match is None or not text.strip():
        return None
    name, major, minor = match.groups()
    since = (int(major), int(minor)) if major else None
    return Condition(IMPLEMENTATIONS[name] if name else None, since)


def not_applicable(expect: dict[str, Any], python: dict[str, Any] | None) -> dict[str, str]:
    """The claims of ``expect`` that do not hold on ``python``, each with why, in words."""
    if python is None:
        return {}
    reasons = {}
    for key, rule in expect.get("only_on", {}).items():
        condition = parse(rule["python"])
        if condition is not None and not condition.holds(python):
            reasons[key] = f"only on {condition}: {rule['why']}"
    return reasons
