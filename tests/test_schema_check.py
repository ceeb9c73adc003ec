"""schema_check: the one checker of the shipped schemas, for the channel's events (fast)
and for saved documents (the first problem, with its path)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

import schema_validation
from conftest import run_pipeline
from poolctl import schema_check
from poolctl.schema_check import compile_schema


def saved_run() -> dict[str, Any]:
    doc = run_pipeline("close-join", duration=0.05)
    loaded: dict[str, Any] = json.loads(json.dumps(doc))
    return loaded


def test_the_check_knows_every_keyword_of_the_schemas() -> None:
    """A keyword the check does not know would be a rule silently skipped."""
    found: set[str] = set()

    def walk(node: object, is_map: bool = False) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not is_map:
                    found.add(key)
                walk(value, is_map=not is_map and key in ("properties", "$defs"))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for file in schema_check.SCHEMA_FILES.values():
        walk(schema_check.schema(file))
        schema_check.checker(file)  # compiles: no keyword it cannot check
    assert found - schema_check.KEYWORDS - schema_check.ANNOTATIONS == set()


@pytest.mark.parametrize("word", ["format", "maximum", "anyOf", "uniqueItems"])
def test_an_unknown_keyword_is_refused_when_compiled(word: str) -> None:
    """Anywhere in a schema, even under a branch no value has reached yet."""
    with pytest.raises(ValueError, match=word):
        compile_schema({"properties": {"a": {"items": {word: 1}}}})
    with pytest.raises(ValueError, match=word):
        compile_schema({"if": {"type": "string"}, "else": {word: 1}})


def test_every_real_event_shape_passes_the_check() -> None:
    """The observer's own events (what the schema says they are) pass its own check."""
    event = schema_check.checker("run-1.schema.json", "event")
    killed = {"t": 0.5, "pid": 3, "role": "observer", "kind": "cleanup.killed"}
    assert event.valid({**killed, "processes": [{"pid": 4, "command": "x"}]})
    assert not event.valid({**killed, "processes": []})
    assert not event.valid({"t": 0.5, "pid": 3, "role": "main", "kind": "nope"})
    assert "cleanup.killed" in event.cases and "task.started" in event.cases
    assert "nope" not in event.cases


CASES: list[tuple[dict[str, Any], Any, str | None]] = [
    ({"type": "integer"}, 2, None),
    ({"type": "integer"}, 2.0, "$: expected integer, not number"),
    ({"type": "integer"}, True, "$: expected integer, not boolean"),
    ({"type": "number"}, math.nan, "$: expected number, not NaN"),
    ({"type": "number"}, math.inf, "$: expected number, not Infinity"),
    ({"type": ["string", "null"]}, 1, "$: expected string or null, not integer"),
    ({"type": "integer", "minimum": 1}, 0, "$: expected at least 1"),
    ({"type": "number", "minimum": 0}, math.nan, "$: expected number, not NaN"),
    ({"type": "number", "minimum": 0}, -1.5, "$: expected at least 0"),
    ({"type": ["integer", "null"], "minimum": 1}, None, None),
    ({"type": ["integer", "null"], "minimum": 1}, 2.0, "$: expected integer or null, not number"),
    ({"type": ["integer", "null"], "minimum": 1}, "1", "$: expected integer or null, not string"),
    ({"const": True}, 1, "$: expected true"),
    ({"const": "a"}, ["a"], '$: expected "a"'),
    ({"enum": ["a", None]}, None, None),
    ({"enum": ["a", None]}, {}, '$: expected one of "a", null'),
    ({"minimum": 1}, 0, "$: expected at least 1"),
    ({"minimum": 1}, "0", None),
    ({"exclusiveMinimum": 0}, 0.0, "$: expected more than 0"),
    ({"pattern": "^[0-9]+$"}, "12x", "$: does not match ^[0-9]+$"),
    ({"minItems": 1}, [], "$: expected at least 1 items"),
    ({"maxItems": 0}, [1], "$: expected at most 0 items"),
    ({"items": {"type": "string"}}, ["a", 2], "$[1]: expected string, not integer"),
    ({"required": ["a", "b"]}, {"a": 1}, "$: missing 'b'"),
    ({"properties": {"a": {"type": "string"}}}, {"a": 1, "b": 1},
     "$.a: expected string, not integer"),
    ({"additionalProperties": False}, {"a": 1}, "$.a: not allowed here"),
    ({"propertyNames": {"pattern": "^x"}}, {"xa": 1, "b": 1}, "$.b: does not match ^x"),
    ({"allOf": [{"type": "object"}, {"required": ["a"]}]}, {}, "$: missing 'a'"),
    ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 1,
     "$: matches none of the forms allowed here"),
    ({"oneOf": [{"type": "integer"}, {"type": "null"}]}, None, None),
    ({"if": {"type": "string"}, "then": {"pattern": "a"}, "else": {"minimum": 5}}, 4,
     "$: expected at least 5"),
    ({"if": {"type": "string"}, "then": {"pattern": "a"}}, "b", "$: does not match a"),
    ({"$defs": {"n": {"type": "null"}}, "items": {"$ref": "#/$defs/n"}}, [None, 0],
     "$[1]: expected null, not integer"),
    (True, object(), None),
    (False, None, "$: not allowed here"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "value", "expected"), CASES)
def test_each_keyword_says_where_and_what(rule: Any, value: Any, expected: str | None) -> None:
    """Exact Python types (2.0 is no integer, NaN no number, true no 1); the first problem,
    where it is; ``valid`` says the same, without looking for words."""
    checker = compile_schema(rule)
    assert checker.problem(value) == expected
    assert checker.valid(value) == (expected is None)


def test_a_chain_on_one_property_is_a_table_with_the_meaning_of_the_chain() -> None:
    """The if/then/else chain on ``kind`` dispatches by a look-up, yet means what the chain
    means: an absent kind takes the first link (its ``if`` holds), an unknown the last."""
    chain = {
        "if": {"properties": {"kind": {"const": "a"}}},
        "then": {"required": ["x"]},
        "else": {
            "if": {"properties": {"kind": {"enum": ["b", "c"]}}},
            "then": {"required": ["y"]},
            "else": {"required": ["z"]},
        },
    }
    checker = compile_schema(chain)
    assert checker.cases == {"a", "b", "c"}
    for value, expected in [
        ({"kind": "a", "x": 1}, None),
        ({"kind": "c"}, "$: missing 'y'"),
        ({"kind": "d"}, "$: missing 'z'"),
        ({"kind": ["a"]}, "$: missing 'z'"),
        ({}, "$: missing 'x'"),
        ("not an object", None),
    ]:
        assert checker.problem(value) == expected, value
        assert checker.valid(value) == (expected is None)


@pytest.mark.timeout(60)
def test_the_document_check_agrees_with_jsonschema(marker: str) -> None:
    """On real documents and spoiled ones, the same verdict as the reference validator."""
    doc = saved_run()
    variants: list[dict[str, Any]] = [doc]
    for key in ("outcome", "events", "python", "params"):
        copy = json.loads(json.dumps(doc))
        copy.pop(key)
        variants.append(copy)
    copy = json.loads(json.dumps(doc))
    copy["outcome"]["main"]["signal"] = 9
    variants.append(copy)
    copy = json.loads(json.dumps(doc))
    copy["events"][1]["kind"] = True
    variants.append(copy)
    # Each event of the run spoiled, a field at a time: the event check agrees too.
    event = schema_check.checker("run-1.schema.json", "event")
    for index, original in enumerate(doc["events"]):
        for name in original:
            for spoiled in (
                {**original, name: "x"},
                {k: v for k, v in original.items() if k != name},
            ):
                copy = {**doc, "events": [*doc["events"][:index], spoiled]}
                verdict = schema_validation.schema_errors(copy) == []
                assert (schema_check.problem(copy) is None) == verdict, (spoiled, verdict)
                assert event.valid(spoiled) == verdict
    for variant in variants:
        assert (schema_check.problem(variant) is None) == (
            schema_validation.schema_errors(variant) == []
        ), schema_check.problem(variant)
