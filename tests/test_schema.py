"""The published JSON Schemas: valid, shipped in the package, in step with the code, met by
real documents and failed by broken ones."""

from __future__ import annotations

import copy
import importlib.metadata
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import code_facts
import schema_validation
from conftest import CliResult, built_documents, run_pipeline
from poolctl import document, interpreter, limits, outcome, pool_kinds, scenario, steps

ROOT = Path(__file__).resolve().parent.parent
RUN = "poolctl.run/1"
COMPARE = "poolctl.compare/1"


def run_schema() -> dict[str, Any]:
    return schema_validation.schemas()[RUN]


def event_shapes() -> list[dict[str, Any]]:
    """The ``then`` of each link of the event schema's if/then/else chain, in order."""
    shapes = []
    link: Any = run_schema()["$defs"]["event"]
    while link:
        shapes.append(link["then"])
        link = link["else"]
    return shapes


def event_shape(kind: str) -> dict[str, Any]:
    """The schema of the events of ``kind`` alone."""
    [shape] = [s for s in event_shapes() if s["properties"]["kind"] == {"const": kind}]
    return shape


@pytest.mark.parametrize("name", sorted(schema_validation.SCHEMA_FILES))
def test_the_schema_files_are_valid_schemas(name: str) -> None:
    """Each file is a draft 2020-12 schema, titled with the document's ``schema`` value."""
    schema = schema_validation.schemas()[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == schema_validation.SCHEMA_FILES[name]
    assert schema["title"] == name
    assert schema["properties"]["schema"] == {"const": name}


def test_the_compare_schema_embeds_run_documents_by_reference() -> None:
    """A compare document's ``runs`` are run documents: the run schema, by its ``$id``."""
    compare = schema_validation.schemas()[COMPARE]
    assert compare["properties"]["runs"]["items"] == {"$ref": run_schema()["$id"]}


def test_the_schemas_are_in_the_installed_package() -> None:
    """The package ships them (an installed wheel lists them; an editable install has them
    in place), and the wheel's build configuration leaves them in."""
    shipped = schema_validation.schema_dir()
    for file in schema_validation.SCHEMA_FILES.values():
        assert (shipped / file).is_file(), f"{file} is not in the installed package"
    listed = {str(path) for path in importlib.metadata.files("poolctl") or []}
    if any(path.startswith("poolctl/") and path.endswith(".py") for path in listed):
        for file in schema_validation.SCHEMA_FILES.values():
            assert f"poolctl/schemas/{file}" in listed  # a wheel's RECORD
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"
    ]["wheel"]
    assert "src/poolctl" in wheel["packages"]
    assert not any("schema" in pattern or "json" in pattern for pattern in wheel["exclude"])


def test_the_event_kinds_are_the_code_s() -> None:
    """The schema's event kinds are exactly those the subject and the observer make, and
    the chain that checks their details covers each kind once."""
    event = run_schema()["$defs"]["event"]
    assert set(event["properties"]["kind"]["enum"]) == code_facts.event_kinds()
    covered = []
    for shape in event_shapes():
        kind = shape["properties"]["kind"]
        covered += kind["enum"] if "enum" in kind else [kind["const"]]
    assert sorted(covered) == sorted(code_facts.event_kinds())


def test_the_closed_sets_are_the_code_s() -> None:
    """Steps, pool kinds, task states, start methods, signals and expectation keys: the
    schema's enums are the code's tables."""
    defs = run_schema()["$defs"]
    assert defs["step"]["properties"]["step"]["enum"] == list(steps.SCENARIO_STEPS)
    task_run = defs["outcome"]["properties"]["task_runs"]["items"]
    assert task_run["properties"]["status"]["enum"] == list(outcome.TASK_STATES)
    assert set(defs["params"]["properties"]["start_method"]["enum"]) == {
        *limits.START_METHODS,
        None,
    }
    [creating] = [
        s for s in event_shapes() if s["properties"]["kind"] == {"const": "pool.creating"}
    ]
    assert creating["properties"]["api"]["enum"] == list(pool_kinds.KINDS)
    [kill] = [
        s for s in event_shapes() if s["properties"]["kind"] == {"const": "kill-worker.called"}
    ]
    assert kill["properties"]["signal"]["enum"] == list(steps.SIGNALS)
    expect_keys = {*scenario._EXPECT_KEYS, "only_on"}
    assert set(defs["expectation"]["properties"]) == expect_keys


def test_the_outcome_s_fields_are_the_code_s() -> None:
    """The outcome schema names every field derive() returns, and requires them."""
    derived = outcome.derive([])
    schema = run_schema()["$defs"]["outcome"]
    assert set(schema["properties"]) == set(derived) == set(schema["required"])
    assert set(schema["properties"]["tasks"]["properties"]) == set(derived["tasks"])


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("close-join", {"workers": 2, "tasks": 3}),
        ("executor-worker-killed", {}),
        ("threadpool-terminate-join", {}),
        ("with-block", {}),
    ],
)
def test_real_runs_match(marker: str, name: str, options: dict[str, Any]) -> None:
    """Documents of real runs, of each kind of pool, match the run schema."""
    doc = run_pipeline(name, duration=0.1, **options)
    assert schema_validation.schema_errors(doc) == []


def test_a_real_compare_matches(cli: Callable[..., CliResult]) -> None:
    """A compare document with a hung run, and its embedded runs, match."""
    done = cli(
        "compare", "close-join", "worker-killed", "--duration", "0.1", "--timeout", "2", "--json"
    )
    [doc] = schema_validation.documents_in(done.stdout)
    assert doc["schema"] == COMPARE
    assert any(run["outcome"]["hung"] for run in doc["runs"])
    assert schema_validation.schema_errors(doc) == []


@pytest.fixture(scope="module")
def real_run() -> dict[str, Any]:
    """One real run's document, to break in various ways."""
    return run_pipeline("close-join", workers=1, duration=0.05)


def _without(doc: dict[str, Any], key: str) -> None:
    del doc[key]


BREAKAGES: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "a missing field": (lambda d: _without(d, "outcome"), "'outcome' is a required property"),
    "an unknown field": (lambda d: d.update(extra=1), "$: Additional properties"),
    "an unknown event kind": (
        lambda d: d["events"][0].update(kind="task.exploded"),
        "$.events[0].kind: 'task.exploded' is not one of",
    ),
    "a detail of another kind": (
        lambda d: next(e for e in d["events"] if e["kind"] == "task.started").update(seconds=1),
        "Additional properties are not allowed ('seconds' was unexpected)",
    ),
    "a missing detail": (
        lambda d: next(e for e in d["events"] if e["kind"] == "task.started").pop("worker"),
        "'worker' is a required property",
    ),
    "a task state": (
        lambda d: d["outcome"]["task_runs"][0].update(status="lost"),
        "$.outcome.task_runs[0].status: 'lost' is not one of",
    ),
    "a stream": (lambda d: d["output"][0].update(stream="stdin"), "$.output[0].stream"),
    "a time before launch": (lambda d: d["events"][0].update(t=-1.0), "$.events[0]"),
    "a step": (
        lambda d: d["scenario"]["steps"].append({"step": "explode"}),
        "$.scenario.steps[2].step",
    ),
    "a negative count of tasks kept": (
        lambda d: d["tasks_detail"].update(kept=-1),
        "$.tasks_detail.kept: -1 is less than the minimum of 0",
    ),
    "a bound of no tasks": (
        lambda d: d["tasks_detail"].update(bound=0),
        "$.tasks_detail.bound: 0 is less than the minimum of 1",
    ),
    "a tasks.counted event without its counts": (
        lambda d: d["events"].append(
            {"t": 1.0, "pid": 1, "role": "observer", "kind": "tasks.counted", "pool": 1}
        ),
        "'bound' is a required property",
    ),
    "a scenario's run with no verdict": (
        lambda d: d.update(matches=None),
        "$.matches: None is not of type 'boolean'",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_document_fails(real_run: dict[str, Any], breakage: str) -> None:
    """Each breakage is caught, and the message says where and what."""
    assert schema_validation.schema_errors(real_run) == []
    broken = copy.deepcopy(real_run)
    damage, expected = BREAKAGES[breakage]
    damage(broken)
    problems = schema_validation.schema_errors(broken)
    assert any(expected in problem for problem in problems), problems
    with pytest.raises(AssertionError, match="does not match src/poolctl/schemas/run-1"):
        schema_validation.check(broken, "a test")


def test_a_compare_document_with_a_broken_run_fails(real_run: dict[str, Any]) -> None:
    """The run schema is applied to each run a compare document embeds."""
    broken = copy.deepcopy(real_run)
    broken["outcome"]["hung"] = "no"
    doc = {
        "schema": COMPARE,
        "poolctl": real_run["poolctl"],
        "params": {
            "scenarios": ["close-join"],
            "start_method": None,
            "pythons": [],
            "workers": None,
            "tasks": None,
            "duration": None,
            "timeout": None,
            "repeat": 1,
            "jobs": 1,
        },
        "runs": [real_run, broken],
        "errors": [],
        "summary": {
            "rows": [],
            "runs": 2,
            "matched": 2,
            "mismatched": 0,
            "incomplete": 0,
            "hung": 0,
            "unobserved": 0,
            "skipped": 0,
        },
    }
    assert schema_validation.schema_errors({**doc, "runs": [real_run]}) == []
    problems = schema_validation.schema_errors(doc)
    assert problems == ["$.runs[1].outcome.hung: 'no' is not of type 'boolean'"]


def test_an_unknown_schema_fails() -> None:
    """A document that names no published schema is not waved through."""
    assert schema_validation.schema_errors({"schema": "poolctl.run/2"}) == [
        "$.schema: no published schema for 'poolctl.run/2'"
        " (known: poolctl.run/1, poolctl.compare/1)"
    ]


def test_documents_built_in_process_are_checked(real_run: dict[str, Any]) -> None:
    """conftest wraps the builders: a document that does not match is reported, naming
    the builder and the problem (taken here, so that this test itself passes)."""
    assert built_documents.failures() == []
    doc = document.build_trace(
        target={"argv": ["x.py"], "path": "x.py", "module": None, "name": "x.py"},
        timeout=1.0,
        interpreter=interpreter.current(),
        events=real_run["events"],
        output=real_run["output"],
        outcome={**real_run["outcome"], "hung": "maybe"},
        observation=real_run["observation"],
    )
    assert doc["outcome"]["hung"] == "maybe"  # the builder's result is left as it was
    [failure] = built_documents.failures()
    assert "the poolctl.run/1 document of build_trace() does not match" in failure
    assert "$.outcome.hung: 'maybe' is not of type 'boolean'" in failure


def test_cli_documents_are_checked() -> None:
    """run_cli's check finds the documents of --json and of --jsonl on stdout, and only
    them."""
    doc = {"schema": RUN, "x": 1}
    assert schema_validation.documents_in(json.dumps(doc, indent=2)) == [doc]
    jsonl = f"{json.dumps(doc)}\n{json.dumps({**doc, 'x': 2})}\n"
    assert [d["x"] for d in schema_validation.documents_in(jsonl)] == [1, 2]
    assert schema_validation.documents_in('{"not": "ours"}\nTask done\n') == []
