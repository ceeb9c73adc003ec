"""The issue's 'done means': a scenario's plain program, traced, has the scenario's outcome.

For every bundled scenario that declares no race, for the four seed scenarios, and for
'with-block' (terminate-join's race, in a with block), ``poolctl show NAME --code`` writes
the program as the tutorial would (no poolctl in it); ``poolctl trace`` runs that program
unchanged while ``poolctl run NAME`` runs the scenario with the same workers, tasks, task
length and start method. The two outcomes must agree on the task counts, the error (type,
message, and step: the scenario's 'get-results' is the program's own get() or result()
call), every worker's end, whether it hung, and the main process's exit status. The
traced outcome must also meet the scenario's documented expectation, as the run does.

Runs are kept few: the seed scenarios and 'with-block' under each start method, every
other scenario under one start method in turn (a thread pool under none); the trace and
the run of a test run side by side.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import MARKER_VAR, SEED_SCENARIOS, START_METHODS, nothing_left, python_for, run_cli
from poolctl.catalogue import bundled_names
from poolctl.cli import app
from poolctl.codegen import program as program_code
from poolctl.expectation import evaluate
from poolctl.pool_kinds import KINDS
from poolctl.scenario import Scenario, load

WORKERS = 2
# Seconds per task where the program waits for its tasks; where nothing waits for them
# (they are terminated, lost at exit or killed) a long task costs nothing and cannot end
# before the shutdown lands.
SHORT, LONG = 0.2, 1.0
# --timeout for a scenario documented to hang, and for every other one (a safety net).
HANG_TIMEOUT, TIMEOUT = 2.0, 20.0
# Scenarios that declare a race but are compared anyway, as the seeds are, under every
# start method: the race is one TIMING allows for.
RACED = ("with-block",)

# What timing decides in a scenario, and so is compared as a sum or a set, not exactly:
#   started  whether a worker took an issued task before terminate() or the exit-time
#            finalizer landed (a declared race of the seeds and RACED; how many of the
#            queued tasks under fork), and so whether an idle worker read its sentinel
#            (exit 0) first;
#   taken    how many tasks the executor's workers took before cancel_futures;
#   replaced how many replacement workers maxtasksperchild started before close().
TIMING = {
    "close-without-join": "started",
    "join-without-close": "started",
    "terminate-join": "started",
    "with-block": "started",
    "queued-tasks-terminate": "started",
    "executor-cancel-futures": "taken",
    "interpreter-executor-cancel-futures": "taken",
    "maxtasksperchild": "replaced",
}


def no_race_scenarios() -> list[str]:
    """The bundled scenarios that declare no race."""
    return [name for name in bundled_names() if not load(name).races]


def combinations() -> list[Any]:
    """(scenario, start method): the seeds and RACED under each method, the others in
    turn."""
    found = []
    others = [name for name in no_race_scenarios() if name not in SEED_SCENARIOS]
    for i, name in enumerate(others):
        processes = KINDS[load(name).api].starts_processes
        method = START_METHODS[i % len(START_METHODS)] if processes else None
        found.append(pytest.param(name, method, id=f"{name}-{method or 'threads'}"))
    for name in (*SEED_SCENARIOS, *RACED):
        for method in START_METHODS:
            found.append(pytest.param(name, method, id=f"{name}-{method}"))
    return found


def options(chosen: Scenario, method: str | None) -> list[str]:
    """The same parameters for 'show --code' and 'run'."""
    waits = chosen.expect.get("completed") != 0 or chosen.raises
    # The scenario's own task count. (A kill-worker program finds its victim through a
    # SimpleQueue: with more than one task a worker can be killed holding its write lock,
    # and the other task blocks on it; the scenario's one task avoids that.)
    words = ["--workers", str(WORKERS), "--tasks", str(chosen.tasks)]
    words += ["--duration", str(SHORT if waits else LONG)]
    return words + (["--start-method", method] if method else [])


def observed(marker: str, *args: str) -> tuple[int, dict[str, Any]]:
    """Run poolctl COMMAND --json ARGS with every process of it marked with ``marker``
    (--json first: after a traced program's path, every word is the program's)."""
    command, *words = args
    done = run_cli(command, "--json", *words, env={MARKER_VAR: marker})
    assert done.stdout, (args, done.returncode, done.stderr)
    return done.returncode, json.loads(done.stdout)


def worker_end(worker: dict[str, Any]) -> str:
    """How one worker ended, in words."""
    if worker["killed_by_poolctl"]:
        return "killed at the timeout"
    if worker["signal"]:
        return worker["signal"]
    if worker["thread"] or worker["exit_code"] is None:
        return "thread" if worker["thread"] else "unknown"
    return f"exit {worker['exit_code']}"


def facts(outcome: dict[str, Any], name: str, api: str, *, traced: bool) -> dict[str, Any]:
    """What must be equal between the traced program and the scenario's run."""
    timing = TIMING.get(name)
    tasks = dict(outcome["tasks"])
    ends = [worker_end(w) for w in outcome["workers"]]
    if timing == "started":
        lost = tasks["interrupted"] + tasks["never_started"]
        tasks = {k: tasks[k] for k in ("submitted", "completed", "failed")} | {"lost": lost}
        ends = ["exit 0 or SIGTERM" if end in ("exit 0", "SIGTERM") else end for end in ends]
    elif timing == "taken":
        assert tasks["started"] == tasks["completed"]
        ended = tasks["completed"] + tasks["never_started"]
        tasks = {k: tasks[k] for k in ("submitted", "interrupted", "failed")} | {"ended": ended}
    elif timing == "replaced":
        ends = sorted(set(ends))
    error = outcome["error"]
    if error is not None:
        step = error["step"]
        if not traced and step == "get-results":  # the program's own call
            step = KINDS[api].result_getter
        error = (error["type"], error["message"], step)
    [pool] = outcome["pools"]
    return {
        "pool": (pool["api"], pool["start_method"]),
        "tasks": tasks,
        "error": error,
        "workers": sorted(ends),
        "hung": outcome["hung"],
        "exit_code": outcome["main"]["exit_code"],
    }


def printed_claims(expect: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """The expectation's claims about output that a traced program does not meet.

    A traced program's processes share one stdout pipe, as under plain python, and under
    unbuffered output (PYTHONUNBUFFERED) a line is two writes: 'Main done' and a worker's
    'Task executing' can merge into one line. So the text is looked for in all that was
    printed, not line by line (a run records each process apart)."""
    printed = "\n".join(line["text"] for line in doc["output"])
    tasks = doc["outcome"]["tasks"]["submitted"]
    failed = [f"includes {t!r}" for t in expect.get("output_includes", []) if t not in printed]
    failed += [f"excludes {t!r}" for t in expect.get("output_excludes", []) if t in printed]
    failed += [f"mentions {t!r}" for t in expect.get("output_mentions", []) if t not in printed]
    failed += [
        f"{t!r} once per task"
        for t in expect.get("output_per_task", [])
        if printed.count(t) != tasks
    ]
    return failed


@pytest.mark.parametrize(("name", "method"), combinations())
def test_traced_tutorial_program_has_its_scenarios_outcome(
    name: str, method: str | None, tmp_path: Path
) -> None:
    """show --code, traced unchanged == run, on tasks, error, workers, hang, exit status."""
    chosen = load(name)
    words = options(chosen, method)
    # A scenario for a newer Python than poolctl's own runs under the unpacked 3.14; show
    # --code writes code for poolctl's own interpreter only, so it is written directly.
    python = python_for(chosen.requires_python)
    if python is None:
        code = CliRunner().invoke(app, ["show", name, "--code", *words])
        assert code.exit_code == 0, code.output
        text = code.stdout
    else:
        duration = float(words[words.index("--duration") + 1])
        text = program_code(
            chosen, workers=WORKERS, tasks=chosen.tasks, duration=duration, start_method=method
        )
        words += ["--python", python]
    assert "import poolctl" not in text and "poolctl_subject" not in text
    program = tmp_path / f"{name}.py"
    program.write_text(text)
    timeout = str(HANG_TIMEOUT if chosen.expect.get("hung") else TIMEOUT)
    markers = [uuid.uuid4().hex, uuid.uuid4().hex]
    try:
        with ThreadPoolExecutor(2) as both:
            python_words = words[words.index("--python") :] if python else []
            tracing = both.submit(
                observed, markers[0], "trace", *python_words, "--timeout", timeout, str(program)
            )
            running = both.submit(observed, markers[1], "run", name, *words, "--timeout", timeout)
        (trace_status, traced), (run_status, ran) = tracing.result(), running.result()
    finally:
        for marker in markers:
            nothing_left(marker)

    # The run is the reference: it met the scenario's documented expectation.
    assert run_status == 0, [c for c in ran["checks"] if not c["ok"]]
    assert traced["program"]["path"] == str(program)
    assert facts(traced["outcome"], name, chosen.api, traced=True) == facts(
        ran["outcome"], name, chosen.api, traced=False
    )
    # The traced program meets the same documented claims.
    checks = evaluate(chosen.expect, traced["outcome"], traced["output"])
    assert [c for c in checks if not c["ok"] and "printed" not in c["claim"]] == []
    assert printed_claims(chosen.expect, traced) == []
    outcome = traced["outcome"]
    main = outcome["main"]
    code_ = main["exit_code"]
    assert trace_status == (124 if outcome["hung"] else 128 - code_ if code_ < 0 else code_)
    if not KINDS[chosen.api].workers_on_demand:
        assert outcome["pools"][0]["size"] == WORKERS


def test_every_scenario_without_races_and_every_seed_is_compared() -> None:
    """The combinations cover each no-race scenario, and the seeds and RACED under every
    method; the timing table names only scenarios it is used for, every RACED one among
    them."""
    combos = {tuple(p.values) for p in combinations()}
    names = {name for name, _ in combos}
    every = (*SEED_SCENARIOS, *RACED)
    assert names == set(no_race_scenarios()) | set(every)
    assert {(n, m) for n in every for m in START_METHODS} <= combos
    assert set(TIMING) <= names
    assert set(RACED) <= set(TIMING) and all(load(n).races for n in RACED)
    assert {m for n, m in combos if n not in every} == {*START_METHODS, None}
