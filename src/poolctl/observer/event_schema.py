"""Check events against the published schema (schemas/run-1.schema.json), without a
JSON Schema library at run time.

The event definition is one if/then/else chain, a link per kind (or group of kinds). Each
link's ``then`` is compiled once into a plain predicate, and an event is checked by its
kind's predicate alone: a dict lookup and a few ``isinstance`` calls, which 50,000 events
of a 10,000-task run can afford. Only the keywords the schema uses are understood; any
other raises at compile time, so a schema change cannot be silently ignored here.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from importlib.resources import files
from typing import Any

Check = Callable[[Any], bool]

# Words that describe and check nothing.
_ANNOTATIONS = {"description", "$comment", "title"}

_TYPES: dict[str, Check] = {
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
    "string": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "integer": lambda v: type(v) is int,
    "number": lambda v: (type(v) is int) or (type(v) is float and math.isfinite(v)),
}


def check(event: dict[str, Any]) -> bool:
    """True when ``event`` (with ``t`` in seconds) is an event the schema allows."""
    shape = shapes().get(event.get("kind"))  # type: ignore[arg-type]
    return shape is not None and shape(event)


@functools.cache
def shapes() -> dict[str, Check]:
    """Each event kind's compiled check, from the schema the package ships."""
    schema = json.loads((files("poolctl") / "schemas" / "run-1.schema.json").read_text())
    found: dict[str, Check] = {}
    link = schema["$defs"]["event"]
    while link:
        kind = link["if"]["properties"]["kind"]
        compiled = compile_schema(link["then"])
        for name in kind["enum"] if "enum" in kind else [kind["const"]]:
            found[name] = compiled
        link = link["else"]
    return found


def compile_schema(schema: Any) -> Check:
    """A predicate for ``schema`` (the subset of JSON Schema the event shapes use)."""
    if schema is True:
        return lambda v: True
    if schema is False:
        return lambda v: False
    unknown = set(schema) - _ANNOTATIONS - set(_KEYWORDS)
    if unknown:
        raise ValueError(f"event_schema cannot check {sorted(unknown)}")
    checks = [make(schema[word], schema) for word, make in _KEYWORDS.items() if word in schema]
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


def _type(value: Any, _: dict[str, Any]) -> Check:
    names = [value] if isinstance(value, str) else value
    tests = [_TYPES[name] for name in names]
    return lambda v: any(t(v) for t in tests)


def _same(a: Any, b: Any) -> bool:
    """JSON equality for scalars: true is not 1, and 0 is not false."""
    return type(a) is type(b) and a == b


def _enum(value: list[Any], _: dict[str, Any]) -> Check:
    return lambda v: any(_same(v, option) for option in value)


def _const(value: Any, _: dict[str, Any]) -> Check:
    return lambda v: _same(v, value)


def _minimum(value: float, _: dict[str, Any]) -> Check:
    return lambda v: type(v) not in (int, float) or v >= value


def _exclusive_minimum(value: float, _: dict[str, Any]) -> Check:
    return lambda v: type(v) not in (int, float) or v > value


def _required(value: list[str], _: dict[str, Any]) -> Check:
    needed = frozenset(value)
    return lambda v: type(v) is not dict or needed.issubset(v)


def _properties(value: dict[str, Any], schema: dict[str, Any]) -> Check:
    known = {name: compile_schema(sub) for name, sub in value.items()}
    extra = compile_schema(schema.get("additionalProperties", True))

    def properties(v: Any) -> bool:
        if type(v) is not dict:
            return True
        for name, item in v.items():
            test = known.get(name, extra)
            if not test(item):
                return False
        return True

    return properties


def _additional(value: Any, schema: dict[str, Any]) -> Check:
    if "properties" in schema:
        return lambda v: True  # checked with the properties
    return _properties({}, schema)


def _items(value: Any, _: dict[str, Any]) -> Check:
    item = compile_schema(value)
    return lambda v: type(v) is not list or all(item(x) for x in v)


def _min_items(value: int, _: dict[str, Any]) -> Check:
    return lambda v: type(v) is not list or len(v) >= value


def _max_items(value: int, _: dict[str, Any]) -> Check:
    return lambda v: type(v) is not list or len(v) <= value


_KEYWORDS: dict[str, Callable[[Any, dict[str, Any]], Check]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "minimum": _minimum,
    "exclusiveMinimum": _exclusive_minimum,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional,
    "items": _items,
    "minItems": _min_items,
    "maxItems": _max_items,
}
