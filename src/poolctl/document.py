"""The ``poolctl.run/1`` document: the single source every view of a run is drawn from."""

from __future__ import annotations

import functools
import os
import platform
from typing import Any

from . import __version__, findings, pool_kinds
from .interpreter import Interpreter
from .scenario import Scenario

RUN_SCHEMA = "poolctl.run/1"


def build_run(
    *,
    scenario: Scenario,
    params: dict[str, Any],
    interpreter: Interpreter,
    events: list[dict[str, Any]],
    output: list[dict[str, Any]],
    outcome: dict[str, Any],
    observation: dict[str, Any],
    checks: list[dict[str, Any]],
    races: list[dict[str, Any]],
) -> dict[str, Any]:
    """Assemble the run document (plain JSON data).

    A run poolctl could not see whole never matches: its checks were made on what was
    seen, and what was not seen may be what they are about.
    """
    return {
        "schema": RUN_SCHEMA,
        "poolctl": __version__,
        "scenario": {
            "name": scenario.name,
            "summary": scenario.summary,
            "source": scenario.source,
            "steps": [step.as_dict() for step in scenario.steps],
        },
        "params": params,
        "python": python_section(interpreter, events),
        "platform": platform_section(),
        "events": events,
        "output": output,
        "outcome": outcome,
        "observation": observation,
        "tasks_detail": tasks_detail(outcome, None),
        "findings": findings.find(events, outcome, output),
        **interrupted(events),
        "expected": scenario.expect,
        "checks": checks,
        "races": races,
        # A run cut short by the user has no verdict on what it did not reach.
        "matches": observation["complete"]
        and not interrupted(events)
        and all(c["ok"] for c in checks),
    }


def build_trace(
    *,
    target: dict[str, Any],
    timeout: float,
    interpreter: Interpreter,
    events: list[dict[str, Any]],
    output: list[dict[str, Any]],
    outcome: dict[str, Any],
    observation: dict[str, Any],
    task_detail: int | None = None,
) -> dict[str, Any]:
    """The document of a traced program: a run document with the program in place of a
    scenario, and no expectation (there is nothing documented to compare with); the events
    of each pool's first ``task_detail`` tasks (events.parse kept them)."""
    pools = outcome["pools"]
    return {
        "schema": RUN_SCHEMA,
        "poolctl": __version__,
        "scenario": {
            "name": target["name"],
            "summary": f"poolctl trace of {' '.join(target['argv'])}",
            "source": target["path"] or target["module"],
            "steps": [],
        },
        "program": target,
        "params": {
            "workers": None,
            "tasks": outcome["tasks"]["submitted"],
            "duration": None,
            "start_method": pools[0]["start_method"] if pools else None,
            "timeout": timeout,
        },
        "python": python_section(interpreter, events),
        "platform": platform_section(),
        "events": events,
        "output": output,
        "outcome": outcome,
        "observation": observation,
        "tasks_detail": tasks_detail(outcome, task_detail),
        "findings": findings.find(events, outcome, output),
        **interrupted(events),
        "expected": None,
        "checks": [],
        "races": [],
        "matches": None,
    }


def python_section(interpreter: Interpreter, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The interpreter as probed, with the GIL as the subject found it when the run started
    (a free-threaded build may enable it again: ``PYTHON_GIL=1``, an extension module)."""
    section = interpreter.as_dict()
    started = next((e for e in events if e["kind"] == "main.started"), None)
    if started is not None and "gil_enabled" in started:
        section["gil_enabled"] = started["gil_enabled"]
    return section


def scenario_description(scenario: Scenario) -> dict[str, Any]:
    """A scenario as ``poolctl show --json`` prints it: every field of its file, checked,
    with its defaults filled in (``requires_python`` as ``"3.12"`` or null)."""
    needs = scenario.requires_python
    return {
        "name": scenario.name,
        "summary": scenario.summary,
        "description": scenario.description,
        "source": scenario.source,
        "api": scenario.api,
        "workers": scenario.workers,
        "start_method": scenario.start_method,
        "maxtasksperchild": scenario.maxtasksperchild,
        "context_manager": scenario.context_manager,
        "tasks": scenario.tasks,
        "duration": scenario.duration,
        "submit": scenario.submit,
        "raises": scenario.raises,
        "requires_python": ".".join(map(str, needs)) if needs else None,
        "timeout": scenario.timeout,
        "steps": [step.as_dict() for step in scenario.steps],
        "expected": scenario.expect,
        "races": [
            {"why": race.why, **({"output": race.output} if race.output else {"hung": race.hung})}
            for race in scenario.races
        ],
        "notes": list(scenario.notes),
    }


@functools.cache
def platform_section() -> dict[str, Any]:
    """The machine the run ran on: runs from several machines merge into one compare
    (``poolctl render a.json b.json``), a row per platform. The observer's view of it:
    the subject runs on the same kernel and CPUs."""
    return {
        "system": platform.system() or "unknown",
        "release": platform.release() or "unknown",
        "machine": platform.machine() or "unknown",
        "cpus": os.cpu_count() or 1,
    }


def platform_label(section: dict[str, Any] | None) -> str:
    """'Linux 6.1.0 x86_64, 2 CPUs' for a document's ``platform`` ('unknown platform' for
    a document saved before poolctl recorded it)."""
    if not section:
        return "unknown platform"
    cpus = section["cpus"]
    return (
        f"{section['system']} {section['release']} {section['machine']},"
        f" {cpus} CPU{'s' if cpus != 1 else ''}"
    )


def tasks_detail(outcome: dict[str, Any], bound: int | None) -> dict[str, Any]:
    """The document's ``tasks_detail``: the bound on the tasks whose events it keeps (None:
    all), how many it kept and how many there were (each task has one state)."""
    # Every task is in one state; submitted and started are not states.
    total = sum(n for key, n in outcome["tasks"].items() if key not in ("submitted", "started"))
    return {"bound": bound, "kept": len(outcome["task_runs"]), "total": total}


def detail_cut(document: dict[str, Any]) -> str | None:
    """In words, that the document keeps the events of only some of its tasks (None when it
    keeps every task's, or was saved before it said)."""
    detail = document.get("tasks_detail")
    if not detail or detail["bound"] is None or detail["kept"] >= detail["total"]:
        return None  # no bound (a scenario's run): every task it had is kept
    return (
        f"task detail: the first {detail['bound']:,} tasks of each pool,"
        f" {detail['kept']:,} of {detail['total']:,}; the rest are counted, not drawn"
    )


def title(document: dict[str, Any]) -> str:
    """The command that made the document: 'poolctl run NAME' or 'poolctl trace PROGRAM'."""
    if document.get("program"):
        return f"poolctl trace {document['program']['name']}"
    return f"poolctl run {document['scenario']['name']}"


def program_ending(document: dict[str, Any]) -> str | None:
    """How a traced program ended, in words (None for a scenario's run)."""
    if not document.get("program"):
        return None
    outcome = document["outcome"]
    main = outcome["main"]
    if outcome["hung"]:
        return "hung: stopped at --timeout, every process killed"
    if document.get("interrupted"):
        return interrupted_words(document["interrupted"])
    if main["signal"]:
        return f"killed by {main['signal']}"
    uncaught = main.get("uncaught")
    if uncaught:
        return f"raised {uncaught['type']}: {uncaught['message']} (exit status {main['exit_code']})"
    return f"exited with status {main['exit_code']}"


def task_counts(tasks: dict[str, Any], *, compact: bool = False) -> str:
    """'6 submitted: 1 completed, 1 interrupted, 4 never started': the three every run
    tells, then the failed and unknown ones when there are any; ``compact``: only what is
    not 0 ('6 submitted: 6 completed')."""
    counts = [
        (tasks["completed"], "completed"),
        (tasks["interrupted"], "interrupted"),
        (tasks["never_started"], "never started"),
        (tasks["failed"], "failed"),
        (tasks.get("unknown", 0), "unknown (not seen)"),
    ]
    shown = [f"{n} {words}" for i, (n, words) in enumerate(counts) if n or (i < 3 and not compact)]
    return f"{tasks['submitted']} submitted" + (f": {', '.join(shown)}" if shown else "")


def pool_label(pool: dict[str, Any]) -> str:
    """'Pool 1 (fork, 4 workers)' for one entry of the outcome's pools; a pool that a
    process other than the main one created says whose it is ('Pool 1 in child 4321 (...)')."""
    parts = [p for p in (pool["start_method"], f"{pool['size']} workers") if p]
    found = pool_kinds.kind(pool["api"])
    if found and found.workers_on_demand and not pool["size"]:
        parts[-1] = "workers on demand"
    role = (pool.get("owner") or {}).get("role")
    return f"{pool_kinds.name(pool['api'], pool['pool'], role)} ({', '.join(parts)})"


def interrupted(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The document's ``interrupted`` field, when poolctl was stopped mid-run (else none):
    the signal and when every process was stopped, from the observer's event."""
    for e in events:
        if e["kind"] == "run.interrupted":
            return {"interrupted": {"signal": e["signal"], "t": e["t"]}}
    return {}


def interrupted_words(mark: dict[str, Any]) -> str:
    """A run document's ``interrupted`` in words: stopped by the user, not hung."""
    how = {"SIGINT": "Ctrl-C", "SIGTERM": "SIGTERM", "SIGHUP": "a hang-up"}[mark["signal"]]
    return (
        f"stopped by the user ({how}) at {mark['t']:.3f} s, every process killed;"
        " what was recorded until then is shown"
    )


def incomplete(document: dict[str, Any]) -> list[str]:
    """What poolctl could not see in the run, one message each (none: it saw it all).

    A document saved before ``observation`` existed was seen whole, as far as it knows.
    """
    seen = document.get("observation") or {"problems": []}
    return [problem["message"] for problem in seen["problems"]]


def exit_code(document: dict[str, Any]) -> int:
    """0 when reality matches the scenario's expectation, 1 when it differs, 3 when the run
    was not completely observed (there is no verdict)."""
    if incomplete(document):
        return 3
    return 0 if document["matches"] else 1
