"""The plain Python program equivalent to a scenario (``poolctl show NAME --code``).

Written the way the tutorial writes it: a ``task()`` function, the ``__main__`` guard, the
same prints as poolctl's subject, so that for a deterministic scenario the program prints
the lines ``poolctl run`` reports. Nothing here runs; it only writes text.
"""

from __future__ import annotations

from typing import Any

from .pool_kinds import KINDS, PoolKind
from .printable import printable
from .scenario import Scenario
from .steps import STEPS, StepCode

INDENT = "    "


def program(
    scenario: Scenario,
    *,
    workers: int | None,
    tasks: int,
    duration: float,
    start_method: str | None,
) -> str:
    """A complete, standalone program for ``scenario`` with these parameters."""
    lines, _ = _program(scenario, workers, tasks, duration, start_method)
    return "\n".join(lines) + "\n"


def sites(
    scenario: Scenario,
    *,
    workers: int | None,
    tasks: int,
    duration: float,
    start_method: str | None,
) -> dict[str, Any]:
    """Where the program of ``program`` makes each call, as a run's events say it
    (``{"file", "line", "function"}``): ``pool`` (created), ``submit``, ``steps`` (one per
    step), ``with`` (the with-block whose end calls ``__exit__``; None without one)."""
    _, lines = _program(scenario, workers, tasks, duration, start_method)
    file = f"<poolctl show {scenario.name} --code>"

    def site(line: int | None) -> dict[str, Any] | None:
        return None if line is None else {"file": file, "line": line, "function": "<module>"}

    return {
        "pool": site(lines["pool"]),
        "submit": site(lines["submit"]),
        "steps": [site(line) for line in lines["steps"]],
        "with": site(lines["with"]),
    }


def _program(
    scenario: Scenario,
    workers: int | None,
    tasks: int,
    duration: float,
    start_method: str | None,
) -> tuple[list[str], dict[str, Any]]:
    """The program's lines, and the line numbers (from 1) of its calls on the pool."""
    kind = KINDS[scenario.api]
    codes = _codes(scenario)
    # A step that kills the busy worker learns its pid from a queue the tasks report to.
    kills = any(code.reports_busy_pid for code in codes)
    keeps_results = any(code.keeps_results for code in codes)
    lines = _header(scenario, kind, codes)
    lines += _task(scenario, duration, kills, keeps_results)
    lines += ["", "", "if __name__ == '__main__':"]
    create = _create(scenario, kind, workers, start_method, kills)
    if kills:
        context = f"get_context({start_method!r})" if start_method else "get_context()"
        lines.append(f"{INDENT}started = {context}.SimpleQueue()  # workers report busy pids")
    if scenario.context_manager:
        lines.append(f"{INDENT}with {create} as pool:")
        prefix = INDENT * 2
    else:
        lines.append(f"{INDENT}pool = {create}")
        prefix = INDENT
    created = len(lines)
    body = _submit(scenario, kind, tasks, keeps_results)
    at = {
        "pool": created,
        "submit": created + len(body),  # the call is the submission's last line
        "steps": [],
        "with": created if scenario.context_manager else None,
    }
    for step in scenario.steps:
        at["steps"].append(created + len(body) + 1)
        body += STEPS[step.name].code_lines(dict(step.options), kind)
    lines += [prefix + line if line else "" for line in body]
    if scenario.context_manager and not body:
        lines.append(prefix + "pass")
    lines.append(f"{INDENT}print('Main done')")
    return lines, at


def _codes(scenario: Scenario) -> list[StepCode]:
    """What each step of the scenario needs of the program, from its row in steps.STEPS."""
    codes = [STEPS[step.name].code for step in scenario.steps]
    return [code for code in codes if code is not None]


def _header(scenario: Scenario, kind: PoolKind, codes: list[StepCode]) -> list[str]:
    modules = {"import time", *(line for code in codes for line in code.imports)}
    imports = [*sorted(modules), *kind.imports]
    name, source = printable(scenario.name), printable(scenario.source)
    about = (
        f"The program of poolctl's scenario '{name}' ({source}),\n"
        f"written by 'poolctl show {name} --code'. poolctl runs its programs with\n"
        "python -W always::ResourceWarning, so that a pool left running says so."
    )
    # Comments, not a docstring: the summary and the path are the user's text, and no
    # quote or backslash in them can end a comment or make it code.
    return [*_comment(scenario.summary), "#", *_comment(about), "", *imports]


def _comment(text: str) -> list[str]:
    """``text`` as comment lines: every line of it (as ``str.splitlines`` cuts them, a
    superset of what ends a line of Python) behind ``# ``, control characters escaped."""
    return [f"# {printable(line)}".rstrip() for line in text.splitlines() or [""]]


def _task(scenario: Scenario, duration: float, kills: bool, returns: bool) -> list[str]:
    """The task: the tutorial's prints and sleep; it returns its index only where the
    program reads its results (``returns``), else nothing, as the tutorial's."""
    lines = ["", ""]
    if kills:
        lines += [
            "def init(queue):",
            f"{INDENT}global started",
            f"{INDENT}started = queue",
            "",
            "",
        ]
    lines += ["def task(index):"]
    if kills:
        lines.append(f"{INDENT}started.put(os.getpid())  # poolctl reads its task.started event")
    lines += [f"{INDENT}print('Task executing')", f"{INDENT}time.sleep({duration!r})"]
    if scenario.raises:
        lines.append(f"{INDENT}raise RuntimeError('task %d failed on purpose' % index)")
    else:
        lines.append(f"{INDENT}print('Task done')")
        if returns:
            lines.append(f"{INDENT}return index")
    return lines


def _create(
    scenario: Scenario,
    kind: PoolKind,
    workers: int | None,
    start_method: str | None,
    kills: bool,
) -> str:
    context = f"get_context({start_method!r})" if start_method else "get_context()"
    options = [repr(workers)] if workers is not None else []
    if kind.context_option:
        options.append(f"{kind.context_option}={context}")
    if scenario.maxtasksperchild is not None:
        options.append(f"maxtasksperchild={scenario.maxtasksperchild}")
    if kills:
        options.append("initializer=init, initargs=(started,)")
    return kind.create.format(context=context, options=", ".join(options))


def _submit(scenario: Scenario, kind: PoolKind, tasks: int, keep: bool) -> list[str]:
    template = kind.submit_code[scenario.submit]
    call = template.format(tasks=tasks)
    if "{tasks}" in template:  # one call submits them all
        return [f"results = [{call}]" if keep else call]
    if keep:
        return [f"results = [{call} for i in range({tasks})]"]
    return [f"for i in range({tasks}):", f"{INDENT}{call}"]
