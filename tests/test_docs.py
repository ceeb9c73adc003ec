"""The README and docs/ name everything the code has: every event kind, step, command, exit
code and document field. What is compared with them is collected from the code
(tests/code_facts.py) and from the published schema, so a new one fails here until it is
documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import code_facts
import schema_validation

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SCENARIO_FORMAT = ROOT / "docs" / "scenarios.md"


def section(path: Path, heading: str) -> str:
    """The text of the ``## heading`` section of ``path`` (up to the next ``## ``)."""
    text = path.read_text(encoding="utf-8")
    found = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert found, f"{path.name} has no section '## {heading}'"
    return found.group(1)


def readme_section(heading: str) -> str:
    """A section of the README."""
    return section(README, heading)


RUN_DOCUMENT = "The run document (`--json`)"


@pytest.mark.parametrize("kind", sorted(code_facts.event_kinds()))
def test_every_event_kind_is_in_the_readme(kind: str) -> None:
    """The README's list of event kinds names each kind the subject or the observer makes."""
    assert f"`{kind}`" in readme_section(RUN_DOCUMENT), (
        f"event kind {kind!r} is missing from the README's run document section"
    )


@pytest.mark.parametrize("step", code_facts.scenario_steps())
def test_every_step_is_in_the_scenario_format(step: str) -> None:
    """docs/scenarios.md says what each step of a scenario file does."""
    steps_table = section(SCENARIO_FORMAT, "Keys")
    assert re.search(rf"^\|[^|\n]*`{re.escape(step)}`", steps_table, re.M), (
        f"step {step!r} has no row in docs/scenarios.md's table of steps"
    )


@pytest.mark.parametrize("command", code_facts.commands())
def test_every_command_is_in_the_readme(command: str) -> None:
    """The README shows each command in use."""
    assert re.search(rf"\bpoolctl {command}\b", README.read_text(encoding="utf-8")), (
        f"command 'poolctl {command}' is missing from the README"
    )


def documented_exit_codes() -> set[int]:
    """The codes in the first column of the README's exit code tables."""
    codes = set()
    for row in re.findall(r"^\|([^|\n]*)\|", readme_section("Exit codes"), re.M):
        codes |= {int(n) for n in re.findall(r"\b\d+\b", row)}
    return codes


@pytest.mark.parametrize("code", sorted(code_facts.exit_codes()))
def test_every_exit_code_is_in_the_readme(code: int) -> None:
    """The README's exit code tables have a row for each code the code states."""
    where = code_facts.exit_codes()[code]
    assert code in documented_exit_codes(), (
        f"exit code {code} ({where}) has no row in the README's 'Exit codes' tables"
    )


def document_fields() -> list[str]:
    """The run document's fields and its outcome's, and the compare document's, as the
    published schemas name them."""
    run = schema_validation.schemas()["poolctl.run/1"]
    compare = schema_validation.schemas()["poolctl.compare/1"]
    return sorted(
        {*run["properties"], *run["$defs"]["outcome"]["properties"], *compare["properties"]}
    )


@pytest.mark.parametrize("field", document_fields())
def test_every_document_field_is_in_the_readme(field: str) -> None:
    """The README's run document section names each field of the documents."""
    assert f"`{field}`" in readme_section(RUN_DOCUMENT), (
        f"document field {field!r} is missing from the README's run document section"
    )


def test_the_collectors_find_what_the_code_has() -> None:
    """The collectors themselves work: a few that must be found are (else every test
    above would pass on an empty list)."""
    kinds = code_facts.event_kinds()
    assert {"task.started", "close.called", "with-exit.returned", "main.exited"} <= kinds
    assert {"run.timeout", "cleanup.killed", "program.raised"} <= kinds
    assert "output" not in kinds
    assert {"close", "kill-worker"} <= set(code_facts.scenario_steps())
    assert {"run", "compare", "trace", "render"} <= set(code_facts.commands())
    assert {0, 1, 2, 3, 124, 125, 126, 127, 130, 143} <= set(code_facts.exit_codes())
    assert {0, 2, 124} <= documented_exit_codes()


CI_MATRIX = ROOT / "docs" / "ci-matrix.md"


def documented_command_lines(path: Path) -> list[list[str]]:
    """Every ``poolctl ...`` command in the code blocks of ``path``, as words, without its
    redirections and ``|| true``; a continued line (``\\``) joined."""
    import shlex

    blocks = re.findall(r"^```\w*\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            found = re.search(r"\bpoolctl (.*)", line)
            if found:
                words = shlex.split(re.split(r"\s(?:>|\|\||\|)\s", found.group(1))[0])
                commands.append([w for w in words if not w.startswith("#")])
    return commands


def test_the_ci_matrix_example_uses_real_commands_and_options() -> None:
    """docs/ci-matrix.md's workflow and examples run commands poolctl accepts: each
    command's options exist and take the values given (parsed, not run)."""
    import typer

    from poolctl import cli

    group = typer.main.get_command(cli.app)
    context = group.make_context("poolctl", ["--help"], resilient_parsing=True)
    commands = documented_command_lines(CI_MATRIX)
    assert {words[0] for words in commands} == {"compare", "render"}
    assert any("--html" in words and "--json" in words for words in commands)
    for words in commands:
        command = group.get_command(context, words[0])
        assert command is not None, words
        command.make_context(words[0], words[1:])  # raises on an unknown option or value
    assert "docs/ci-matrix.md" in README.read_text(encoding="utf-8")
    assert "runs-on: ${{ matrix.os }}" in CI_MATRIX.read_text(encoding="utf-8")
