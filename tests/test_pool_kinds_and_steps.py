"""The tables of pool kinds and steps agree with each other, and every row is usable: each
step each kind takes loads from a scenario file as ``poolctl new`` writes it, and its
generated program compiles."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from poolctl import codegen, scenario, starter
from poolctl.pool_kinds import KINDS
from poolctl.steps import SCENARIO_STEPS, STEPS

pytestmark = pytest.mark.timeout(60)

PAIRS = [(kind, step) for kind in KINDS for step in SCENARIO_STEPS if step in KINDS[kind].steps]
SUBMITS = [(kind, submit) for kind in KINDS for submit in KINDS[kind].submit]


def test_every_step_of_a_kind_is_a_scenario_step_and_every_step_has_a_kind() -> None:
    taken = set().union(*(kind.steps for kind in KINDS.values()))
    assert taken == set(SCENARIO_STEPS)


@pytest.mark.parametrize("name", KINDS)
def test_every_submission_function_has_its_code(name: str) -> None:
    assert set(KINDS[name].submit_code) == set(KINDS[name].submit)


@pytest.mark.parametrize("name", SCENARIO_STEPS)
def test_every_scenario_step_has_code_and_a_check_per_option(name: str) -> None:
    step = STEPS[name]
    assert step.code is not None
    assert set(step.option_checks) == set(step.options)


def write(tmp_path: Path, kind: str, step: str, submit: str | None = None) -> Path:
    path = tmp_path / f"{kind}-{step}.toml"
    tasks = f'[tasks]\nsubmit = "{submit}"\n' if submit else ""
    written = STEPS[step].written()
    path.write_text(f'summary = "x"\nsteps = [{written}]\n[pool]\napi = "{kind}"\n{tasks}')
    return path


def program(loaded: scenario.Scenario) -> str:
    return codegen.program(loaded, workers=2, tasks=3, duration=0.05, start_method=None)


@pytest.mark.parametrize(("kind", "step"), PAIRS, ids=[f"{k}-{s}" for k, s in PAIRS])
def test_each_step_of_each_kind_loads_and_makes_a_program(
    tmp_path: Path, kind: str, step: str
) -> None:
    """The step as a scenario writes it loads; the program compiles and makes the call."""
    loaded = scenario.load_file(write(tmp_path, kind, step))
    assert [s.name for s in loaded.steps] == [step]
    code = program(loaded)
    compile(code, "program.py", "exec")
    options = {**STEPS[step].options, **dict(loaded.steps[0].options)}
    for line in STEPS[step].code_lines(options, KINDS[kind]):
        assert line in code


@pytest.mark.parametrize(("kind", "submit"), SUBMITS, ids=[f"{k}-{s}" for k, s in SUBMITS])
def test_each_submission_function_makes_a_program(tmp_path: Path, kind: str, submit: str) -> None:
    loaded = scenario.load_file(write(tmp_path, kind, "sleep", submit))
    code = program(loaded)
    compile(code, "program.py", "exec")
    assert f"pool.{submit}(task, " in code


def test_the_starter_names_every_kind_and_step(tmp_path: Path) -> None:
    text = starter.write("case", tmp_path).read_text()
    for kind in KINDS:
        assert f'"{kind}"' in text
    for step in SCENARIO_STEPS:
        assert STEPS[step].written() in text


@pytest.mark.parametrize(
    ("given", "needed"), [(None, (3, 14)), ("3.9", (3, 14)), ("3.15", (3, 15))]
)
def test_a_newer_kind_raises_the_python_a_scenario_needs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: str | None, needed: tuple[int, int]
) -> None:
    """A kind's min_python is a scenario's requires_python unless the file asks for more."""
    newer = dataclasses.replace(KINDS["executor"], min_python=(3, 14))
    monkeypatch.setitem(KINDS, "executor", newer)
    path = write(tmp_path, "executor", "sleep")
    if given:
        path.write_text(f'requires_python = "{given}"\n' + path.read_text())
    assert scenario.load_file(path).requires_python == needed


def test_a_kind_as_old_as_poolctl_adds_no_requirement(tmp_path: Path) -> None:
    assert scenario.load_file(write(tmp_path, "pool", "sleep")).requires_python is None
