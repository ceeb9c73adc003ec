"""Check a saved document against the JSON Schema poolctl ships for it, before rendering.

``render`` draws whatever it is given: a document with the right ``schema`` but a field
missing or of the wrong type would fail deep inside a renderer (an internal error). The
shipped schemas (``poolctl/schemas/``) say exactly what a document holds, so a document is
checked against them on load and the first problem is reported in one line.

jsonschema is a test dependency only; this is the small part of JSON Schema (2020-12) the
shipped schemas use. ``KEYWORDS`` lists it: a test fails if a schema uses any other
keyword, so a schema can never hold a rule this check silently skips.
"""

from __future__ import annotations

import functools
import json
import math
import re
from importlib.resources import files
from typing import Any

# The file of each document schema, as its ``$ref`` names it too.
SCHEMA_FILES = {"poolctl.run/1": "run-1.schema.json", "poolctl.compare/1": "compare-1.schema.json"}
# Keywords that only annotate (no rule to check).
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description"})
# Keywords that hold a rule, each checked below.
KEYWORDS = frozenset(
    {
        "type", "const", "enum", "minimum", "exclusiveMinimum", "pattern", "items",
        "minItems", "maxItems", "properties", "additionalProperties", "required",
        "propertyNames", "if", "then", "else", "allOf", "oneOf", "$ref",
    }
)  # fmt: skip
_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    # As JSON Schema counts: 2.0 is an integer.
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and math.isfinite(v) and v.is_integer())
    ),
}


# Where a value is: the root, or (where its parent is, its key or index). Built as
# tuples, formatted only for the one error shown (the check visits every value).
Where = tuple[Any, ...]
ROOT: Where = ()


class Invalid(Exception):  # noqa: N818 (a finding, raised to stop at the first)
    """Where a document breaks its schema (``$.events[3].kind``) and how."""

    def __init__(self, where: Where, problem: str) -> None:
        super().__init__(f"{_shown(where)}: {problem}")


def _shown(where: Where) -> str:
    parts = []
    while where:
        where, step = where
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return "$" + "".join(reversed(parts))


@functools.cache
def schema(file: str) -> dict[str, Any]:
    """One shipped schema, by its file name."""
    text = (files("poolctl") / "schemas" / file).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def problem(document: dict[str, Any]) -> str | None:
    """The first way ``document`` breaks its schema (by its ``schema`` field), or None."""
    root = schema(SCHEMA_FILES[document["schema"]])
    try:
        _check(document, root, root, ROOT)
    except Invalid as exc:
        return str(exc)
    return None


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _key(value: Any) -> tuple[str, Any] | None:
    """A set key under JSON equality for a scalar (true is not 1); None for the rest."""
    if value is None or isinstance(value, bool | str):
        return type(value).__name__, value
    if isinstance(value, int | float):
        return "number", value
    return None


_enums: dict[int, frozenset[tuple[str, Any]] | None] = {}


def _in_enum(value: Any, options: list[Any]) -> bool:
    """``value`` is one of ``options``: a set look-up (an event's kind is one of ~60)."""
    keys = _enums.get(id(options), ())
    if keys == ():
        found = [_key(option) for option in options]
        keys = _enums[id(options)] = None if None in found else frozenset(found)  # type: ignore[arg-type]
    key = _key(value)
    if keys is not None and key is not None:
        return key in keys
    return any(_same(value, option) for option in options)


def _valid(value: Any, rule: Any, root: dict[str, Any]) -> bool:
    try:
        _check(value, rule, root, ROOT)
    except Invalid:
        return False
    return True


def _check(value: Any, rule: Any, root: dict[str, Any], where: Where) -> None:
    """Raise ``Invalid`` at the first rule of ``rule`` that ``value`` breaks."""
    if rule is True:
        return
    if rule is False:
        raise Invalid(where, "not allowed here")
    if "$ref" in rule:
        ref = rule["$ref"]
        if ref.startswith("#/$defs/"):
            _check(value, root["$defs"][ref.removeprefix("#/$defs/")], root, where)
        else:
            other = schema(ref)
            _check(value, other, other, where)
    if "type" in rule:
        types = rule["type"] if isinstance(rule["type"], list) else [rule["type"]]
        if not any(_TYPES[t](value) for t in types):
            raise Invalid(where, f"expected {' or '.join(types)}, not {_json_type(value)}")
    if "const" in rule and not _same(value, rule["const"]):
        raise Invalid(where, f"expected {json.dumps(rule['const'])}")
    if "enum" in rule and not _in_enum(value, rule["enum"]):
        raise Invalid(where, f"expected one of {', '.join(map(json.dumps, rule['enum']))}")
    if _TYPES["number"](value):
        if "minimum" in rule and value < rule["minimum"]:
            raise Invalid(where, f"expected at least {rule['minimum']}")
        if "exclusiveMinimum" in rule and value <= rule["exclusiveMinimum"]:
            raise Invalid(where, f"expected more than {rule['exclusiveMinimum']}")
    if isinstance(value, str) and "pattern" in rule and not re.search(rule["pattern"], value):
        raise Invalid(where, f"does not match {rule['pattern']}")
    if isinstance(value, list):
        if len(value) < rule.get("minItems", 0):
            raise Invalid(where, f"expected at least {rule['minItems']} items")
        if "maxItems" in rule and len(value) > rule["maxItems"]:
            raise Invalid(where, f"expected at most {rule['maxItems']} items")
        if "items" in rule:
            for index, item in enumerate(value):
                _check(item, rule["items"], root, (where, index))
    if isinstance(value, dict):
        _check_object(value, rule, root, where)
    for part in rule.get("allOf", ()):
        _check(value, part, root, where)
    if "oneOf" in rule and sum(_valid(value, part, root) for part in rule["oneOf"]) != 1:
        raise Invalid(where, "matches none of the forms allowed here")
    if "if" in rule:
        branch = rule.get("then" if _valid(value, rule["if"], root) else "else", True)
        _check(value, branch, root, where)


def _check_object(value: dict[str, Any], rule: Any, root: dict[str, Any], where: Where) -> None:
    for key in rule.get("required", ()):
        if key not in value:
            raise Invalid(where, f"missing {key!r}")
    properties = rule.get("properties", {})
    for key, item in value.items():
        inner = (where, key)
        if "propertyNames" in rule:
            _check(key, rule["propertyNames"], root, inner)
        if key in properties:
            _check(item, properties[key], root, inner)
        elif "additionalProperties" in rule:
            _check(item, rule["additionalProperties"], root, inner)


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__
