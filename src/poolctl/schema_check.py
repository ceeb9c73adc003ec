"""Check values against the JSON Schemas poolctl ships (``poolctl/schemas/``), without a
JSON Schema library at run time.

Two callers, one checker. The observer checks each event read from the (untrusted) event
channel: 50,000 of them in a 10,000-task run, so "is it valid" must cost a dict look-up
and a few ``type`` tests. ``render`` checks a whole saved document and reports the first
problem with its path (``$.events[3].kind: expected ...``), so that a renderer never meets
a document of the wrong shape. A schema is compiled once into a ``Checker`` that answers
both: ``valid`` is a tree of plain predicates; ``problem`` walks the same rules in order
and runs only for a value ``valid`` refused, so a valid document is checked at the speed
of ``valid``.

Only the keywords the shipped schemas use are understood (``KEYWORDS``); any other raises
at compile time, so a schema can never hold a rule this check silently skips. One
deliberate difference from jsonschema: types are Python's exact types, as the code that
trusts the checked values uses them: 2.0 is not an integer, NaN and infinities are not
numbers, ``True`` is not 1.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from importlib.resources import files
from typing import Any

Valid = Callable[[Any], bool]
# Where a value is: the root, or (where its parent is, its key or index). Built as
# tuples, formatted only for the one problem shown (a document has millions of values).
Where = tuple[Any, ...]
ROOT: Where = ()
# A problem found: where, and what is wrong there.
Found = tuple[Where, str]
Explain = Callable[[Any, Where], Found | None]

# Each document schema's file, as a ``$ref`` names it too.
SCHEMA_FILES = {"poolctl.run/1": "run-1.schema.json", "poolctl.compare/1": "compare-1.schema.json"}
# Keywords that only annotate (no rule to check).
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description"})
# Keywords that hold a rule; ``then`` and ``else`` are read with their ``if``.
KEYWORDS = frozenset(
    {
        "type", "const", "enum", "minimum", "exclusiveMinimum", "pattern", "items",
        "minItems", "maxItems", "properties", "additionalProperties", "required",
        "propertyNames", "if", "then", "else", "allOf", "oneOf", "$ref",
    }
)  # fmt: skip

# Each JSON type as the Python types json.loads makes for it (``number``: finite floats).
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "integer": (int,),
    "number": (int, float),
}
_NUMBERS = (int, float)


class Checker:
    """One compiled (sub-)schema: ``valid`` fast, ``explain`` the first problem."""

    __slots__ = ("cases", "explain", "valid")

    def __init__(self, valid: Valid, explain: Explain, cases: frozenset[str] = frozenset()):
        self.valid = valid
        self.explain = explain
        # The values an if/then/else chain dispatches on (the event kinds), when it does.
        self.cases = cases

    def problem(self, value: Any) -> str | None:
        """The first way ``value`` breaks the schema (``$.a[0].b: expected ...``), or None."""
        if self.valid(value):
            return None
        found = self.explain(value, ROOT)
        if found is None:  # a bug here, not in the value
            raise AssertionError("schema_check: valid and explain disagree")
        where, what = found
        return f"{_shown(where)}: {what}"


def _shown(where: Where) -> str:
    parts = []
    while where:
        where, step = where
        parts.append(f"[{step}]" if type(step) is int else f".{step}")
    return "$" + "".join(reversed(parts))


@functools.cache
def schema(file: str) -> dict[str, Any]:
    """One shipped schema, by its file name."""
    text = (files("poolctl") / "schemas" / file).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def checker(file: str, definition: str | None = None) -> Checker:
    """The compiled check of a shipped schema, or of one of its ``$defs``."""
    root = schema(file)
    return _Compiler(root).node(root["$defs"][definition] if definition else root)


def compile_schema(rule: Any) -> Checker:
    """The check of a schema given as a value (its ``$ref``s into its own ``$defs``)."""
    return _Compiler(rule if isinstance(rule, dict) else {}).node(rule)


def problem(document: dict[str, Any]) -> str | None:
    """The first way ``document`` breaks its schema (by its ``schema`` field), or None."""
    return checker(SCHEMA_FILES[document["schema"]]).problem(document)


def _json_type(value: Any) -> str:
    if type(value) is float and not math.isfinite(value):
        return json.dumps(value)  # NaN, Infinity
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if type(value) in _PYTHON_TYPES[name]:
            return name
    return type(value).__name__


def _key(value: Any) -> tuple[type, Any]:
    """JSON equality as a set key: true is not 1 (the shipped consts are strings, true
    and null)."""
    return (float if type(value) is int else type(value)), value


def _leaf(test: Valid, why: Callable[[Any], str]) -> Checker:
    """A rule on the value itself, and what to say when it fails."""
    return Checker(test, lambda v, where: None if test(v) else (where, why(v)))


def _all(parts: list[Checker]) -> Checker:
    """Every part, its problems in the order given."""
    if len(parts) == 1:
        return parts[0]
    tests = tuple(part.valid for part in parts)
    if len(tests) == 2:
        first, second = tests
        valid: Valid = lambda v: first(v) and second(v)  # noqa: E731
    else:

        def valid(v: Any) -> bool:
            for test in tests:  # noqa: SIM110 (a loop: all() over a generator is slower)
                if not test(v):
                    return False
            return True

    def explain(v: Any, where: Where) -> Found | None:
        for part in parts:
            if not part.valid(v):
                return part.explain(v, where)
        return None

    return Checker(valid, explain, frozenset().union(*(p.cases for p in parts)))


_TRUE = Checker(lambda v: True, lambda v, where: None)
_FALSE = Checker(lambda v: False, lambda v, where: (where, "not allowed here"))


class _Compiler:
    """Compiles the nodes of one schema file; each ``$defs`` entry once."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.defs: dict[str, Checker] = {}

    def node(self, rule: Any) -> Checker:
        if rule is True:
            return _TRUE
        if rule is False:
            return _FALSE
        unknown = set(rule) - KEYWORDS - ANNOTATIONS
        if unknown:
            raise ValueError(f"schema_check cannot check {sorted(unknown)}")
        # In the order the problems are reported.
        parts = [
            *self._ref(rule),
            *_scalar(rule),
            *self._array(rule),
            *self._object(rule),
            *(self.node(part) for part in rule.get("allOf", ())),
            *self._one_of(rule),
            *self._branch(rule),
        ]
        if set(rule) - ANNOTATIONS == {"type", "required", "properties", "additionalProperties"}:
            return _object_of(rule, parts)
        return _all(parts) if parts else _TRUE

    def _ref(self, rule: dict[str, Any]) -> list[Checker]:
        if "$ref" not in rule:
            return []
        ref: str = rule["$ref"]
        if not ref.startswith("#/$defs/"):
            return [checker(ref)]
        name = ref.removeprefix("#/$defs/")
        if name not in self.defs:
            self.defs[name] = self.node(self.root["$defs"][name])
        return [self.defs[name]]

    def _array(self, rule: dict[str, Any]) -> list[Checker]:
        parts = []
        if "minItems" in rule:
            least = rule["minItems"]
            parts.append(
                _leaf(
                    lambda v: type(v) is not list or len(v) >= least,
                    lambda v: f"expected at least {least} items",
                )
            )
        if "maxItems" in rule:
            most = rule["maxItems"]
            parts.append(
                _leaf(
                    lambda v: type(v) is not list or len(v) <= most,
                    lambda v: f"expected at most {most} items",
                )
            )
        if "items" in rule:
            item = self.node(rule["items"])
            test = item.valid

            def explain(v: Any, where: Where) -> Found | None:
                for index, x in enumerate(v):
                    if not test(x):
                        return item.explain(x, (where, index))
                return None

            parts.append(Checker(lambda v: type(v) is not list or all(map(test, v)), explain))
        return parts

    def _object(self, rule: dict[str, Any]) -> list[Checker]:
        parts = []
        if "required" in rule:
            needed = rule["required"]
            keys = frozenset(needed)

            def missing(v: Any) -> str:
                return f"missing {next(key for key in needed if key not in v)!r}"

            parts.append(_leaf(lambda v: type(v) is not dict or keys <= v.keys(), missing))
        names = self.node(rule["propertyNames"]) if "propertyNames" in rule else None
        if "properties" in rule or "additionalProperties" in rule or names:
            parts.append(self._members(rule, names))
        return parts

    def _members(self, rule: dict[str, Any], names: Checker | None) -> Checker:
        """Each member by its own schema (or ``additionalProperties``'s), and its name."""
        known = {key: self.node(sub) for key, sub in rule.get("properties", {}).items()}
        other = self.node(rule.get("additionalProperties", True))
        tests = {key: sub.valid for key, sub in known.items()}
        other_test = other.valid
        name_test = names.valid if names else None

        def explain(v: Any, where: Where) -> Found | None:
            for key, x in v.items():
                inner = (where, key)
                if names and not names.valid(key):
                    return names.explain(key, inner)
                sub = known.get(key, other)
                if not sub.valid(x):
                    return sub.explain(x, inner)
            return None

        if other is _TRUE and names is None:
            # Only the named members have a rule: look them up, skip the rest.
            pairs = tuple(tests.items())

            def valid(v: Any) -> bool:
                if type(v) is not dict:
                    return True
                for key, test in pairs:  # noqa: SIM110 (a loop: all() over a generator is slower)
                    if key in v and not test(v[key]):
                        return False
                return True

            return Checker(valid, explain)

        def valid(v: Any) -> bool:
            if type(v) is not dict:
                return True
            get = tests.get
            for key, x in v.items():
                if not get(key, other_test)(x):
                    return False
                if name_test is not None and not name_test(key):
                    return False
            return True

        return Checker(valid, explain)

    def _one_of(self, rule: dict[str, Any]) -> list[Checker]:
        if "oneOf" not in rule:
            return []
        tests = [self.node(part).valid for part in rule["oneOf"]]
        return [
            _leaf(
                lambda v: sum(test(v) for test in tests) == 1,
                lambda v: "matches none of the forms allowed here",
            )
        ]

    def _branch(self, rule: dict[str, Any]) -> list[Checker]:
        """``if``/``then``/``else``; a chain of them on one property's value (the event
        kinds) becomes one dict look-up instead of a test per link."""
        if "if" not in rule:
            return []
        table = self._dispatch(rule)
        if table is not None:
            return [table]
        condition = self.node(rule["if"]).valid
        then = self.node(rule.get("then", True))
        otherwise = self.node(rule.get("else", True))
        return [
            Checker(
                lambda v: then.valid(v) if condition(v) else otherwise.valid(v),
                lambda v, where: (then if condition(v) else otherwise).explain(v, where),
            )
        ]

    def _dispatch(self, rule: dict[str, Any]) -> Checker | None:
        """The chain from ``rule`` as a table, when every ``if`` is ``{"properties":
        {name: {"const"|"enum": strings}}}`` on one name; else None."""
        name = None
        cases: dict[str, Checker] = {}
        first: Checker | None = None
        link: Any = rule
        while isinstance(link, dict) and "if" in link:
            values = _case_values(link["if"])
            if values is None or (name is not None and values[0] != name):
                return None
            name = values[0]
            then = self.node(link.get("then", True))
            first = first or then  # an ``if`` holds where the property is absent
            for value in values[1]:
                cases.setdefault(value, then)
            link = link.get("else", True)
            if isinstance(link, dict) and set(link) - {"if", "then", "else"} - ANNOTATIONS:
                break  # the chain ends in a schema of its own
        if name is None or first is None or len(cases) < 2:
            return None
        last = self.node(link)
        on, when_absent = name, first

        def chosen(v: Any) -> Checker:
            if type(v) is not dict or on not in v:
                return when_absent
            value = v[on]
            return cases.get(value, last) if type(value) is str else last

        return Checker(
            lambda v: chosen(v).valid(v),
            lambda v, where: chosen(v).explain(v, where),
            frozenset(cases),
        )


def _case_values(condition: Any) -> tuple[str, list[str]] | None:
    """``(name, values)`` of an ``if`` that tests one property against strings only."""
    if not isinstance(condition, dict) or set(condition) != {"properties"}:
        return None
    (name, test), *more = condition["properties"].items() or [(None, None)]
    if more or not isinstance(test, dict) or len(test) != 1:
        return None
    values = [test["const"]] if "const" in test else test.get("enum")
    if not isinstance(values, list) or not all(type(v) is str for v in values):
        return None
    return name, values


def _scalar(rule: dict[str, Any]) -> list[Checker]:
    """``type``, ``const``, ``enum``, the bounds and ``pattern``: rules on the value
    itself, in the order their problems are reported."""
    parts = []
    if "type" in rule:
        names = [rule["type"]] if isinstance(rule["type"], str) else rule["type"]
        allowed = frozenset(t for name in names for t in _PYTHON_TYPES[name])
        finite = "number" in names  # an integer type alone takes no float at all

        def of_type(v: Any) -> bool:
            return type(v) in allowed

        def of_type_finite(v: Any) -> bool:
            return type(v) in allowed and (type(v) is not float or math.isfinite(v))

        test = of_type_finite if float in allowed and finite else of_type
        expected = " or ".join(names)
        parts.append(_leaf(test, lambda v: f"expected {expected}, not {_json_type(v)}"))
    if "const" in rule:
        const = _key(rule["const"])
        shown = json.dumps(rule["const"])
        text = rule["const"]
        if type(text) is str:  # most consts: a string compares as itself, no key built
            parts.append(
                _leaf(lambda v: v == text and type(v) is str, lambda v: f"expected {shown}")
            )
        else:
            parts.append(_leaf(lambda v: _key(v) == const, lambda v: f"expected {shown}"))
    if "enum" in rule:
        options = frozenset(map(_key, rule["enum"]))
        listed = ", ".join(map(json.dumps, rule["enum"]))
        if all(type(option) is str for option in rule["enum"]):
            strings = frozenset(rule["enum"])
            parts.append(
                _leaf(
                    lambda v: type(v) is str and v in strings,
                    lambda v: f"expected one of {listed}",
                )
            )
        else:
            parts.append(
                _leaf(lambda v: _member(v, options), lambda v: f"expected one of {listed}")
            )
    if "minimum" in rule:
        least = rule["minimum"]
        parts.append(
            _leaf(
                lambda v: type(v) not in _NUMBERS or v >= least,
                lambda v: f"expected at least {least}",
            )
        )
    if "exclusiveMinimum" in rule:
        above = rule["exclusiveMinimum"]
        parts.append(
            _leaf(
                lambda v: type(v) not in _NUMBERS or v > above,
                lambda v: f"expected more than {above}",
            )
        )
    if "pattern" in rule:
        search = re.compile(rule["pattern"]).search
        pattern = rule["pattern"]
        parts.append(
            _leaf(
                lambda v: type(v) is not str or search(v) is not None,
                lambda v: f"does not match {pattern}",
            )
        )
    if len(parts) == 2 and set(rule) - ANNOTATIONS == {"type", "minimum"}:
        return [_typed_minimum(rule, parts)]
    return parts


def _object_of(rule: dict[str, Any], parts: list[Checker]) -> Checker:
    """``{"type": "object", "required": [...], "properties": {...}, "additionalProperties":
    ...}``, each event kind's shape, as one test (its parts: type, required, members)."""
    whole = _all(parts)
    if rule["type"] != "object":
        return whole
    keys = frozenset(rule["required"])
    members = parts[-1].valid

    def valid(v: Any) -> bool:
        return type(v) is dict and keys <= v.keys() and members(v)

    return Checker(valid, whole.explain, whole.cases)


def _typed_minimum(rule: dict[str, Any], parts: list[Checker]) -> Checker:
    """``{"type": ..., "minimum": n}``, most of the fields of an event, as one test."""
    names = [rule["type"]] if isinstance(rule["type"], str) else rule["type"]
    allowed = frozenset(t for name in names for t in _PYTHON_TYPES[name])
    least = rule["minimum"]

    def valid(v: Any) -> bool:
        kind = type(v)
        if kind is int:
            return int in allowed and v >= least
        if kind is float:  # only a number's, and then finite
            return float in allowed and math.isfinite(v) and v >= least
        return kind in allowed

    return Checker(valid, _all(parts).explain)


def _member(value: Any, options: frozenset[tuple[type, Any]]) -> bool:
    try:
        return _key(value) in options
    except TypeError:  # a list or an object: no option is one
        return False
