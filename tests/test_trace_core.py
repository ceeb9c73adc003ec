"""poolctl trace on real programs: the issue's 'done means', exit codes, nothing left."""

from __future__ import annotations

import json
import textwrap
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import MARKER_VAR, run_cli, survivors
from poolctl.cli import app
from poolctl.expectation import evaluate
from poolctl.scenario import load

SEEDS = (
    "close-join",
    "terminate-join",
    "join-without-close",
    "close-without-join",
    "queued-tasks-close-join",
    "task-raises",
    "executor-shutdown-wait",
    "executor-cancel-futures",
    "with-block",
)
METHODS = ("fork", "spawn", "forkserver")


def facts(outcome: dict[str, Any]) -> dict[str, Any]:
    """What must be equal between a traced program and its scenario's run.

    How many tasks a worker picked up before the pool was stopped is timing (a declared
    race of several scenarios: started or not, SIGTERM or exit 0; how many reached the
    executor's call queue): not compared here; the scenario's documented expectation is
    checked against the trace instead.
    """
    error = outcome["error"]
    tasks = outcome["tasks"]
    return {
        "submitted": tasks["submitted"],
        # The step differs by nature ('get-results' is a scenario step, 'get' the call).
        "error": error and (error["type"], error["message"]),
        "hung": outcome["hung"],
        "exit": outcome["main"]["exit_code"],
    }


def trace_json(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any], str]:
    marker = uuid.uuid4().hex
    done = run_cli("trace", *args, "--json", env={MARKER_VAR: marker})
    alive, zombies = survivors(marker)
    assert not alive and not zombies, f"left running: {alive}, zombies: {zombies}"
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scenario", SEEDS)
def test_tutorial_program_traced_equals_its_scenario_run(scenario: str, tmp_path: Path) -> None:
    """The issue's 'done means': the program 'show --code' prints (the tutorial's style),
    traced unchanged, has the outcome 'run' shows for its scenario, under every method."""
    size = ("--duration", "0.2")  # the scenario's own tasks and workers

    def both(method: str) -> tuple[dict[str, Any], dict[str, Any]]:
        program = tmp_path / f"{scenario}-{method}.py"
        code = run_cli("show", scenario, "--code", *size, "--start-method", method)
        assert code.returncode == 0, code.stderr
        program.write_text(code.stdout)
        status, traced, _ = trace_json(str(program))
        ran = run_cli("run", scenario, *size, "--start-method", method, "--json")
        assert ran.returncode == 0, ran.stderr
        assert status == traced["outcome"]["main"]["exit_code"]
        checks = evaluate(load(scenario).expect, traced["outcome"], traced["output"])
        # Output claims are left out: a traced program's processes share one pipe, as
        # under plain python, so two workers' lines can merge ('Task executingTask
        # executing'); a scenario run records each process's lines apart.
        failed = [c for c in checks if not c["ok"] and "printed" not in c["claim"]]
        assert failed == [], method
        return facts(traced["outcome"]), facts(json.loads(ran.stdout)["outcome"])

    with ThreadPoolExecutor(len(METHODS)) as runs:
        results = dict(zip(METHODS, runs.map(both, METHODS), strict=True))
    for method, (traced, ran) in results.items():
        assert traced == ran, method


KINDS = {
    "pool": """
        with ctx.Pool(2) as pool:
            out = [pool.apply(work, (0,)), pool.apply_async(work, (1,)).get()]
            out += pool.map(work, range(2, 5)) + pool.map_async(work, [5]).get()
            out += list(pool.imap(work, range(6, 8))) + sorted(pool.imap_unordered(work, [8, 9]))
            out += pool.starmap(pair, [(10, 0), (11, 0)])
        """,
    "threadpool": """
        from multiprocessing.pool import ThreadPool
        with ThreadPool(2) as pool:
            out = pool.map(work, range(12))
        """,
    "executor": """
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(2, mp_context=ctx) as pool:
            out = [pool.submit(work, 0).result()] + list(pool.map(work, range(1, 9), chunksize=3))
            out += list(pool.map(pair, range(9, 12), [0, 0, 0]))
        """,
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_submission_function_reports_each_item(
    kind: str, method: str, tmp_path: Path
) -> None:
    """12 items through every submission function: 12 tasks, each submitted, started and
    finished in that order, by a worker of the pool; results unchanged."""
    program = tmp_path / "prog.py"
    body = textwrap.indent(textwrap.dedent(KINDS[kind]), "    ")
    program.write_text(
        "import sys, time, multiprocessing\n"
        "def work(x):\n    time.sleep(0.05)\n    return x\n"
        "def pair(x, y):\n    return work(x + y)\n"
        "if __name__ == '__main__':\n"
        f"    multiprocessing.set_start_method({method!r})\n"
        "    ctx = multiprocessing.get_context()\n"
        f"{body}\n"
        "    print(sorted(out))\n"
    )
    status, doc, stderr = trace_json(str(program))
    assert status == 0, stderr
    assert str(list(range(12))) in stderr  # the program's stdout, shown on stderr
    outcome = doc["outcome"]
    assert outcome["tasks"]["submitted"] == outcome["tasks"]["completed"] == 12
    [pool] = outcome["pools"]
    assert pool["api"] == kind
    assert pool["start_method"] == (None if kind == "threadpool" else method)
    times: dict[tuple[str, int], float] = {}
    for e in doc["events"]:
        if e["kind"].startswith("task."):
            times[(e["kind"], e["task"])] = e["t"]
            if e["kind"] == "task.started":
                assert e["worker"] in pool["workers"]
    for task in range(12):
        assert times[("task.submitted", task)] <= times[("task.started", task)]
        assert times[("task.started", task)] <= times[("task.finished", task)]


@pytest.mark.timeout(60)
def test_several_pools_in_functions_and_modules(tmp_path: Path) -> None:
    """A pool made in an imported module and one in a function: each counted apart."""
    (tmp_path / "helper.py").write_text(
        "from multiprocessing import Pool\n"
        "def run(f, n):\n"
        "    pool = Pool(2)\n    r = pool.map(f, range(n))\n    pool.close()\n    pool.join()\n"
        "    return r\n"
    )
    (tmp_path / "prog.py").write_text(
        "import time, helper\nfrom multiprocessing import get_context\n"
        "def work(x):\n    time.sleep(0.05)\n    return x\n"
        "def other():\n"
        "    pool = get_context('spawn').Pool(1)\n    pool.apply_async(work, (1,))\n"
        "    pool.terminate()\n    pool.join()\n"
        "if __name__ == '__main__':\n    helper.run(work, 3)\n    other()\n"
    )
    status, doc, stderr = trace_json(str(tmp_path / "prog.py"))
    assert status == 0, stderr
    first, second = doc["outcome"]["pools"]
    assert (first["size"], first["tasks"]["completed"]) == (2, 3)
    assert (second["start_method"], second["tasks"]["submitted"]) == ("spawn", 1)
    assert second["tasks"]["completed"] == 0
    kinds = [(e["kind"], e.get("pool")) for e in doc["events"] if e["kind"].endswith(".called")]
    assert kinds == [
        ("close.called", 1),
        ("join.called", 1),
        ("terminate.called", 2),
        ("join.called", 2),
    ]


@pytest.mark.timeout(30)
def test_hung_join_is_reported_hung_and_cleaned_up(tmp_path: Path) -> None:
    """A busy worker SIGKILLed, then close()+join(): join() never returns. Exit 124."""
    program = tmp_path / "hang.py"
    program.write_text(
        "import os, signal, time\nfrom multiprocessing import Pool\n"
        "def work():\n    os.kill(os.getpid(), signal.SIGKILL)\n"
        "if __name__ == '__main__':\n"
        "    pool = Pool(1)\n    pool.apply_async(work)\n    pool.close()\n    pool.join()\n"
    )
    status, doc, _ = trace_json(str(program), "--timeout", "2")
    assert status == 124
    assert doc["outcome"]["hung"]
    assert doc["outcome"]["tasks"]["interrupted"] == 1


@pytest.mark.timeout(30)
def test_uncaught_exception_and_early_exit_pass_through(tmp_path: Path) -> None:
    """The program's traceback (its frames, not poolctl's) and its exit statuses."""
    raises = tmp_path / "raises.py"
    raises.write_text("def f():\n    raise KeyError('boom')\nf()\n")
    status, doc, stderr = trace_json(str(raises))
    assert status == 1
    assert doc["outcome"]["main"]["uncaught"] == {"type": "KeyError", "message": "'boom'"}
    assert 'raises.py", line 3, in <module>' in stderr and "poolctl_subject" not in stderr
    early = tmp_path / "early.py"
    early.write_text("import sys\nprint(sys.argv[1:], __name__)\nsys.exit(3)\n")
    done = run_cli("trace", str(early), "a", "--", "--json")
    assert done.returncode == 3
    assert done.stdout.startswith("['a', '--json'] __main__\n")
    killed = tmp_path / "killed.py"
    killed.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert run_cli("trace", str(killed)).returncode == 137


@pytest.mark.timeout(30)
def test_programs_that_cannot_run_get_one_line(tmp_path: Path) -> None:
    """Not found 127, cannot run 126, bad option 2: one line on stderr, no traceback."""
    (tmp_path / "bad.py").write_text("def f(:\n")
    cases = {
        127: ["trace", str(tmp_path / "missing.py")],
        126: ["trace", str(tmp_path / "bad.py")],
        2: ["trace", str(tmp_path / "bad.py"), "--timeout", "soon"],
    }
    cases_m = {127: ["trace", "-m", "no_such_module_here"]}
    for code, args in [*cases.items(), *cases_m.items()]:
        done = run_cli(*args)
        assert done.returncode == code, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("poolctl: ")
    assert "line 1" in run_cli("trace", str(tmp_path / "bad.py")).stderr


@pytest.mark.timeout(30)
def test_cli_runner_captures_program_and_report(tmp_path: Path) -> None:
    """Through Typer's CliRunner: the program's output and the report, exit status kept."""
    program = tmp_path / "prog.py"
    program.write_text(
        "from multiprocessing.pool import ThreadPool\n"
        "with ThreadPool(1) as p:\n    print(p.apply(sum, ([1, 2],)))\nraise SystemExit(4)\n"
    )
    result = CliRunner().invoke(app, ["trace", str(program), "--no-color"])
    assert result.exit_code == 4
    assert result.stdout.startswith("3\n")
    assert "The program  exited with status 4" in result.stdout
