"""poolctl compare: the table, the axes, JSON and JSON Lines, exit codes, hangs, clean-up.

End-to-end tests run the real entry point in a subprocess (``run_cli``) under the
``marker`` fixture, which fails a test that leaves any process of its runs behind. Only
guaranteed values are compared between runs (REFERENCE.md section 2): whether 'Task
executing' is printed before terminate() lands, and how idle workers end after it, are
races, so they are counted, never required.

``compare all`` runs every bundled scenario (twenty, one of them hangs until its 5 s
timeout, another hangs in some runs), so the end-to-end tests name the four seed
scenarios instead.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import schema_validation
from conftest import ESC, SEED_SCENARIOS, CliResult, run_cli, write_scenario
from poolctl import compare_document, document, interpreter, matrix, scenario, scenario_pipeline
from poolctl.errors import UsageError
from poolctl.render import compare_view, html_export

CLOSE_JOIN_TOML = scenario.scenario_dir() / "close-join.toml"


def compare_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """``poolctl compare ARGS --json``: the exit status and the parsed document."""
    result = run_cli("compare", *args, "--json", env=env)
    assert result.stderr == "", result.stderr
    return result.returncode, json.loads(result.stdout)


def guaranteed(run: dict[str, Any]) -> tuple[Any, ...]:
    """The values of a run that no race can change."""
    outcome = run["outcome"]
    return (
        outcome["tasks"]["completed"],
        outcome["tasks"]["failed"],
        outcome["error"],
        outcome["main"]["exit_code"],
        outcome["hung"],
        run["matches"],
    )


def close_join_copy(directory: Path, name: str, *, old: str, new: str) -> Path:
    """The bundled close-join scenario file with one line changed, as ``<name>.toml``."""
    text = CLOSE_JOIN_TOML.read_text(encoding="utf-8")
    assert old in text.splitlines(), f"{old!r} is no longer a line of {CLOSE_JOIN_TOML}"
    path = directory / f"{name}.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


# --- the table -----------------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("options", "env"),
    [
        ([], {}),
        # FORCE_COLOR would make rich colour a pipe: these two must win over it.
        ([], {"NO_COLOR": "1", "FORCE_COLOR": "1"}),
        (["--no-color"], {"FORCE_COLOR": "1"}),
    ],
    ids=["pipe", "NO_COLOR", "--no-color"],
)
def test_table_of_the_seed_scenarios(
    marker: str, monkeypatch: pytest.MonkeyPatch, options: list[str], env: dict[str, str]
) -> None:
    """A row for each seed scenario, four runs that match, and no escape code at all."""
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    result = run_cli("compare", *SEED_SCENARIOS, "--duration", "0.2", *options, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert ESC not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Comparison")
    assert "4 runs · 4 match · 0 differ · 0 hung" in lines[0]
    first_words = Counter(line.split()[0] for line in lines[1:] if line.strip())
    for name in SEED_SCENARIOS:
        assert first_words[name] == 1, f"{name} is not one row of:\n{result.stdout}"
    assert "not observed" not in result.stdout


# --- the axes ------------------------------------------------------------------------------


@pytest.mark.timeout(40)
def test_start_method_axis(marker: str, start_methods: list[str]) -> None:
    """--start-method all: one run and one row per (scenario, start method), in plan order."""
    names = ("close-join", "terminate-join")
    status, doc = compare_json(*names, "--start-method", "all", "--duration", "0.2")
    wanted = [(name, method) for name in names for method in start_methods]
    assert status == 0, [r["checks"] for r in doc["runs"] if not r["matches"]]
    assert [(r["scenario"]["name"], r["params"]["start_method"]) for r in doc["runs"]] == wanted
    assert [r["outcome"]["pool"]["start_method"] for r in doc["runs"]] == [m for _, m in wanted]
    rows = doc["summary"]["rows"]
    assert len(rows) == len(wanted)
    assert [(row["scenario"], row["start_method"]) for row in rows] == wanted
    assert all(row["runs"] == row["matched"] == 1 for row in rows)
    assert all(run["matches"] for run in doc["runs"])
    assert doc["summary"]["runs"] == doc["summary"]["matched"] == len(wanted)


@pytest.mark.timeout(40)
def test_repeat_axis_counts_every_run(marker: str) -> None:
    """--repeat 4: four run documents in one row, and every distribution sums to 4."""
    status, doc = compare_json("terminate-join", "--repeat", "4", "--duration", "0.2")
    assert status == 0
    assert len(doc["runs"]) == 4
    assert {run["scenario"]["name"] for run in doc["runs"]} == {"terminate-join"}
    (row,) = doc["summary"]["rows"]
    assert row["runs"] == row["observed_runs"] == row["matched"] == 4
    assert set(row["observed"]) == {
        "tasks",
        "completed",
        "interrupted",
        "never_started",
        "failed",
        "error",
        "workers",
        "main_exit_code",
        "hung",
    }
    for key, values in row["observed"].items():
        assert sum(values.values()) == 4, key
    # Guaranteed for terminate-join; 'Task executing' and the idle workers' ends are races.
    assert row["observed"]["completed"] == {"0": 4}
    assert row["observed"]["error"] == {"none": 4}
    assert row["observed"]["main_exit_code"] == {"0": 4}
    assert row["observed"]["hung"] == {"false": 4}
    race = row["races"]["Task executing"]
    assert race["runs"] == 4
    assert 0 <= race["printed"] <= 4
    assert race["printed"] == sum(r["races"][0]["printed"] for r in doc["runs"])
    times = row["shutdown_seconds"]
    assert 0 <= times["min"] <= times["median"] <= times["max"]
    assert row["failed_checks"] == {}


# --- JSON, JSON Lines and the run document -------------------------------------------------


@pytest.mark.timeout(50)
def test_json_and_jsonl_carry_what_run_json_gives(marker: str) -> None:
    """Each run of compare is the document 'run --json' gives, in both output formats."""
    names = ("close-join", "join-without-close")
    alone = {}
    for name in names:
        result = run_cli("run", name, "--duration", "0.2", "--json")
        assert result.returncode == 0, result.stderr
        alone[name] = json.loads(result.stdout)

    _, doc = compare_json(*names, "--duration", "0.2")
    streamed = run_cli("compare", *names, "--duration", "0.2", "--jsonl")
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stderr == ""
    assert streamed.stdout.endswith("\n")
    lines = streamed.stdout.splitlines()
    assert len(lines) == len(doc["runs"]) == len(names)
    documents = [json.loads(line) for line in lines]  # every line is one whole document
    by_name = {d["scenario"]["name"]: d for d in documents}
    assert sorted(by_name) == sorted(names)  # in finishing order, so compared by name

    for runs in (doc["runs"], [by_name[name] for name in names]):
        for run, name in zip(runs, names, strict=True):
            one = alone[name]
            assert run["schema"] == one["schema"] == "poolctl.run/1"
            assert run.keys() == one.keys()
            for key in ("scenario", "params", "expected", "python"):
                assert run[key] == one[key], key
            assert guaranteed(run) == guaranteed(one)
            assert run["matches"] is True
            assert [(c["claim"], c["ok"]) for c in run["checks"]] == [
                (c["claim"], c["ok"]) for c in one["checks"]
            ]


@pytest.mark.timeout(30)
def test_compare_document_and_its_totals(marker: str) -> None:
    """The poolctl.compare/1 document: its keys, the params, and totals that add up."""
    status, doc = compare_json("close-join", "terminate-join", "--duration", "0.1", "--jobs", "2")
    assert status == 0
    assert doc["schema"] == "poolctl.compare/1"
    assert {"params", "runs", "errors", "summary"} <= doc.keys()
    params = doc["params"]
    assert params["scenarios"] == ["close-join", "terminate-join"]
    assert params["duration"] == 0.1
    assert params["repeat"] == 1
    assert params["jobs"] == 2
    assert params["pythons"] == [sys.executable]
    assert doc["errors"] == []
    totals = doc["summary"]
    assert totals["runs"] == len(doc["runs"]) == 2
    assert totals["matched"] + totals["mismatched"] + totals["unobserved"] == totals["runs"]
    assert totals["matched"] == sum(run["matches"] for run in doc["runs"]) == 2
    assert totals["hung"] == sum(run["outcome"]["hung"] for run in doc["runs"]) == 0
    assert totals["unobserved"] == totals["skipped"] == 0
    assert sum(row["runs"] for row in totals["rows"]) == totals["runs"]


# --- exit codes ----------------------------------------------------------------------------


@pytest.mark.timeout(40)
def test_a_wrong_expectation_exits_1_and_names_the_claim(marker: str, tmp_path: Path) -> None:
    """Exit 1 when one scenario's documented expectation is wrong; the table says which."""
    wrong = close_join_copy(tmp_path, "wrong", old='completed = "all"', new="completed = 0")
    status, doc = compare_json(str(wrong), "close-join", "--duration", "0.1")
    assert status == 1
    verdicts = {run["scenario"]["name"]: run["matches"] for run in doc["runs"]}
    assert verdicts == {"wrong": False, "close-join": True}
    (failing,) = [run for run in doc["runs"] if not run["matches"]]
    assert [c["claim"] for c in failing["checks"] if not c["ok"]] == ["no task completes"]
    assert failing["outcome"]["tasks"]["completed"] == 1  # reality, not the expectation
    rows = {row["scenario"]: row for row in doc["summary"]["rows"]}
    assert rows["wrong"]["failed_checks"] == {"no task completes": 1}
    assert rows["close-join"]["failed_checks"] == {}
    assert (doc["summary"]["matched"], doc["summary"]["mismatched"]) == (1, 1)

    # Wide enough that the claim is not folded over two lines.
    table = run_cli(
        "compare", str(wrong), "close-join", "--duration", "0.1", env={"COLUMNS": "160"}
    )
    assert table.returncode == 1
    assert "2 runs · 1 match · 1 differ" in table.stdout
    assert "✗ no task completes" in table.stdout


@pytest.mark.timeout(30)
def test_a_run_that_cannot_be_observed_exits_3(marker: str, tmp_path: Path) -> None:
    """An interpreter that passes the check but will not run the subject: exit 3."""
    fake = tmp_path / "python"
    # It answers poolctl's interpreter check (python -E -s -c ...), and refuses the rest.
    fake.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-E" ]; then exec "{sys.executable}" "$@"; fi\n'
        "echo 'this interpreter refuses to run' >&2\n"
        "exit 7\n"
    )
    fake.chmod(0o755)
    result = run_cli(
        "compare",
        "close-join",
        "--python",
        str(fake),
        "--python",
        sys.executable,
        "--duration",
        "0.1",
        "--json",
    )
    assert result.returncode == 3, result.stderr
    doc = json.loads(result.stdout)
    assert [run["python"]["executable"] for run in doc["runs"]] == [sys.executable]
    assert doc["runs"][0]["matches"] is True
    (error,) = doc["errors"]
    assert error["scenario"] == "close-join"
    assert error["python"] == str(fake)
    assert "this interpreter refuses to run" in error["message"]
    assert doc["summary"]["unobserved"] == 1
    assert doc["summary"]["matched"] == 1

    streamed = run_cli("compare", "close-join", "--python", str(fake), "--jsonl")
    assert streamed.returncode == 3
    assert streamed.stdout == ""  # data only: the failure goes to stderr
    assert len(streamed.stderr.splitlines()) == 1
    assert streamed.stderr.startswith("poolctl: not observed: close-join")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nothing-like-this"], "unknown scenario 'nothing-like-this'; 'poolctl list' shows"),
        (["close-jion"], "unknown scenario 'close-jion'; did you mean 'close-join'?"),
        (["all", "--repeat", "0"], "--repeat must be between 1 and 1000, not 0"),
        (["all", "--jobs", "0"], "--jobs must be between 1 and 64, not 0"),
        (["all", "--json", "--jsonl"], "--json and --jsonl cannot be used together"),
        (["all", "--start-method", "fork,bogus"], "unknown start method 'bogus'"),
        (["all", "--start-method", ","], "--start-method: empty list"),
        (["all", "--python", "/nonexistent/python"], "--python /nonexistent/python: no such file"),
        (
            ["all", "--python", "/nonexistent/python", "--python", "/nonexistent/python"],
            "--python /nonexistent/python: no such file",
        ),
        (["close-join", "--duration", "-1"], "--duration must be 0 to 3600 seconds, not -1"),
        ([], "or every bundled one: poolctl compare all"),
    ],
    ids=[
        "unknown",
        "misspelt",
        "repeat-0",
        "jobs-0",
        "json-and-jsonl",
        "bogus-method",
        "empty-methods",
        "missing-python",
        "missing-python-twice",
        "negative-duration",
        "no-scenario",
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    cli: Callable[..., CliResult], args: list[str], expected: str
) -> None:
    """Exit 2, one line on stderr starting 'poolctl:', no traceback, nothing on stdout."""
    result = cli("compare", *args)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("poolctl: ")
    assert "Traceback" not in result.stderr
    assert expected in result.stderr


# --- hangs and concurrency -----------------------------------------------------------------


@pytest.mark.timeout(20)
def test_a_hung_run_is_reported_and_cleaned_up(marker: str, tmp_path: Path) -> None:
    """A run that never ends is stopped at --timeout, reported hung, and leaves nothing."""
    hangs = write_scenario(
        tmp_path, "hangs", steps=["close", "join"], duration=30, expect="hung = true"
    )
    # --duration would apply to the hanging run too: a copy of close-join with short tasks.
    quick = close_join_copy(tmp_path, "quick", old="duration = 1.0", new="duration = 0.1")
    # fork: the quickest start, so that the quick run ends well within the one second on
    # any Python (3.14's default, forkserver, starts its server first: over 1 s under load).
    begun = time.monotonic()
    status, doc = compare_json(str(hangs), str(quick), "--timeout", "1", "--start-method", "fork")
    elapsed = time.monotonic() - begun
    assert elapsed < 5.0, f"compare took {elapsed:.1f} s"
    runs = {run["scenario"]["name"]: run for run in doc["runs"]}
    hung, done = runs["hangs"]["outcome"], runs["quick"]["outcome"]
    assert hung["hung"] is True
    assert "run.timeout" in [e["kind"] for e in runs["hangs"]["events"]]
    assert hung["tasks"]["completed"] == 0
    assert all(w["killed_by_poolctl"] for w in hung["workers"])
    assert done["hung"] is False
    assert done["tasks"]["completed"] == 1
    assert doc["summary"]["hung"] == 1
    assert doc["summary"]["unobserved"] == 0  # a hang is an outcome
    rows = {row["scenario"]: row for row in doc["summary"]["rows"]}
    assert rows["hangs"]["observed"]["hung"] == {"true": 1}
    assert status == 0  # both as documented: the hang was expected
    # The marker fixture then checks that no process of either run is left.


@pytest.mark.timeout(50)
def test_concurrency_does_not_change_outcomes(marker: str) -> None:
    """One run at a time or four at once: same order, same guaranteed values."""
    by_jobs = {}
    for jobs in ("1", "4"):
        status, doc = compare_json(*SEED_SCENARIOS, "--duration", "0.2", "--jobs", jobs)
        assert status == 0, jobs
        assert doc["params"]["jobs"] == int(jobs)
        assert [run["scenario"]["name"] for run in doc["runs"]] == list(SEED_SCENARIOS)
        by_jobs[jobs] = [guaranteed(run) for run in doc["runs"]]
    assert by_jobs["1"] == by_jobs["4"]
    assert all(values[-1] for values in by_jobs["1"])  # every run matched


@pytest.mark.timeout(30)
def test_two_scenarios_with_one_name_are_not_merged(marker: str, tmp_path: Path) -> None:
    """A file named close-join.toml with other claims is not a repeat of close-join."""
    other = close_join_copy(tmp_path, "close-join", old='completed = "all"', new="completed = 0")
    result = run_cli("compare", str(other), "close-join", "--duration", "0.1", "--json")
    if result.returncode == 2:  # refusing the ambiguity in one line is a fix too
        assert len(result.stderr.splitlines()) == 1
        return
    doc = json.loads(result.stdout)
    assert len(doc["summary"]["rows"]) == 2


# --- units: no processes -------------------------------------------------------------------


def fake_interpreter(*methods: str) -> interpreter.Interpreter:
    """An interpreter offering ``methods``, never started."""
    return interpreter.Interpreter(
        executable="/opt/python/bin/python3",
        version="3.11.7",
        implementation="CPython",
        probed_start_methods=methods,
    )


def test_start_method_spec_parsing() -> None:
    """None, 'all', lists with spaces and duplicates; unknown and empty lists are refused."""
    two = fake_interpreter("fork", "spawn")
    assert matrix.start_methods(None, two) == [None]
    assert matrix.start_methods("all", two) == ["fork", "spawn"]
    assert matrix.start_methods(" all ", two) == ["fork", "spawn"]
    here = interpreter.current()
    assert matrix.start_methods("all", here) == list(here.start_methods)
    assert matrix.start_methods("fork,spawn", two) == ["fork", "spawn"]
    assert matrix.start_methods(" spawn , fork ", two) == ["spawn", "fork"]
    assert matrix.start_methods("spawn,fork,spawn,fork", two) == ["spawn", "fork"]
    assert matrix.start_methods("fork,,fork,", two) == ["fork"]
    with pytest.raises(UsageError, match="unknown start method 'bogus'"):
        matrix.start_methods("fork,bogus", two)
    with pytest.raises(UsageError, match="empty list"):
        matrix.start_methods(" , ", two)


def test_plan_orders_the_matrix() -> None:
    """Scenario, then start method, then repeat; a thread pool gets one start method."""
    cells = matrix.plan(
        ["close-join", "threadpool-close-join", "close-join"], [], "fork,spawn", 2, duration=0.1
    )
    got = [(c.scenario.name, c.params.start_method, c.repeat) for c in cells]
    assert got == [
        ("close-join", "fork", 0),
        ("close-join", "fork", 1),
        ("close-join", "spawn", 0),
        ("close-join", "spawn", 1),
        ("threadpool-close-join", None, 0),
        ("threadpool-close-join", None, 1),
    ]
    assert [c.index for c in cells] == list(range(len(cells)))
    assert {c.params.duration for c in cells} == {0.1}
    everything = matrix.plan(["all"], [], None, 1)
    assert [c.scenario.name for c in everything] == scenario.bundled_names()
    with pytest.raises(UsageError):
        matrix.plan([], [], None, 1)
    with pytest.raises(UsageError, match="--repeat"):
        matrix.plan(["close-join"], [], None, 0)


def worker(
    ending: str | int | None, *, killed: bool = False, thread: bool = False
) -> dict[str, Any]:
    """A worker of an outcome: a signal name, an exit code, or None (unknown)."""
    return {
        "pid": 1,
        "killed_by_poolctl": killed,
        "thread": thread,
        "signal": ending if isinstance(ending, str) else None,
        "exit_code": -15 if ending == "SIGTERM" else ending,
    }


def test_worker_endings() -> None:
    """How a run's workers ended, as one comparable string."""
    endings = compare_document.worker_endings
    both = [worker("SIGTERM"), worker(0), worker("SIGTERM")]
    assert endings({"workers": both}) == "2× SIGTERM + 1× exit 0"
    assert endings({"workers": [worker(0), worker(0)]}) == "2× exit 0"
    # poolctl's own kill at the timeout comes first, whatever signal it used.
    assert endings({"workers": [worker("SIGKILL", killed=True)]}) == "1× killed at timeout"
    assert endings({"workers": [worker(0, thread=True)]}) == "1× stopped"
    assert endings({"workers": [worker(None)]}) == "1× unknown"
    assert endings({"workers": []}) == "none"
    # The same endings in another order give the same string: it is a distribution key.
    assert endings({"workers": both[::-1]}) == endings({"workers": both})


def test_task_counts() -> None:
    """done/interrupted/never started, plus failed only when any failed."""
    tasks = {"completed": 1, "interrupted": 2, "never_started": 3, "failed": 0}
    assert compare_document.task_counts({"tasks": tasks}) == "1/2/3"
    assert compare_document.task_counts({"tasks": {**tasks, "failed": 2}}) == "1/2/3/2 failed"


def fake_run(
    *,
    tasks: tuple[int, int, int] = (1, 0, 0),
    workers: tuple[str | int, ...] = (0, 0),
    printed: bool = False,
    shutdown: float | None = 0.5,
    start_method: str = "fork",
    failed_claims: tuple[str, ...] = (),
    hung: bool = False,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A whole run document (it must match the published schema) that differs only in
    the fields the summary reads."""
    completed, interrupted, never_started = tasks
    checks = [{"claim": "the run does not hang", "expected": False, "observed": hung, "ok": True}]
    checks += [
        {"claim": claim, "expected": True, "observed": False, "ok": False}
        for claim in failed_claims
    ]
    counts = {
        "submitted": sum(tasks),
        "started": completed + interrupted,
        "completed": completed,
        "interrupted": interrupted,
        "never_started": never_started,
        "failed": 0,
        "unknown": 0,
    }
    pids = list(range(101, 101 + len(workers)))
    pool = {"start_method": start_method, "size": len(workers), "creating": 0.01, "created": 0.02}
    outcome = {
        "pool": pool,
        "pools": [{"pool": 1, "api": "pool", **pool, "workers": pids, "tasks": counts}],
        "tasks": counts,
        "task_runs": [],
        "error": error,
        "main": {
            "pid": 100,
            "exit_code": 1 if error else 0,
            "signal": None,
            "finished": error is None,
            "exited": 1.0,
            "uncaught": None,
        },
        "workers": [
            {
                "spawned": 0.01,
                "ready": 0.02,
                "exited": 0.9,
                "pool": 1,
                "tasks": [],
                **worker(ending),
                "pid": pid,
            }
            for pid, ending in zip(pids, workers, strict=True)
        ],
        "hung": hung,
        "leftovers": [],
        "wall_seconds": 1.0,
        "shutdown_seconds": shutdown,
    }
    return document.build_run(
        scenario=scenario.load("terminate-join"),
        params={
            "workers": len(workers),
            "tasks": sum(tasks),
            "duration": 0.1,
            "start_method": start_method,
            "timeout": 60.0,
        },
        interpreter=interpreter.current(),
        events=[],
        output=[],
        outcome=outcome,
        observation={"complete": True, "problems": []},
        checks=checks,
        races=[{"output": "Task executing", "why": "a race", "printed": printed}],
    )


def compare_params(**given: Any) -> dict[str, Any]:
    """The ``params`` of a compare document, as ``poolctl compare terminate-join`` has them."""
    params: dict[str, Any] = {
        "scenarios": ["terminate-join"],
        "start_method": None,
        "pythons": [sys.executable],
        "workers": None,
        "tasks": None,
        "duration": None,
        "timeout": None,
        "repeat": 1,
        "jobs": 1,
    }
    return {**params, **given}


def results_of(
    docs: list[dict[str, Any] | str | None], *, method: str | None = "fork"
) -> list[matrix.Result]:
    """One Result per entry: a document, an error message (unobserved), None (skipped)."""
    chosen = scenario.load("terminate-join")
    here = interpreter.current()
    params = scenario_pipeline.plan(chosen, here, duration=0.1, start_method=method)
    found = []
    for index, doc in enumerate(docs):
        cell = matrix.Cell(index, chosen, here, params, index)
        if isinstance(doc, dict):
            found.append(matrix.Result(cell, document=doc))
        elif isinstance(doc, str):
            found.append(matrix.Result(cell, error=doc))
        else:
            found.append(matrix.Result(cell, skipped="needs Python 3.99+"))
    return found


def test_summarize_two_runs_that_differ() -> None:
    """Two different task counts: a two-value distribution, and not deterministic."""
    results = results_of(
        [
            fake_run(tasks=(0, 1, 0), workers=("SIGTERM", 0), printed=True, shutdown=0.1),
            fake_run(tasks=(0, 0, 1), workers=("SIGTERM", "SIGTERM"), shutdown=0.3),
        ]
    )
    found = compare_document.summarize(results[::-1])  # in finishing order: rows follow the plan
    (row,) = found["rows"]
    assert (row["scenario"], row["start_method"]) == ("terminate-join", "fork")
    assert row["steps"] == ["terminate", "join"]
    assert row["runs"] == row["observed_runs"] == row["matched"] == 2
    seen = row["observed"]
    assert seen["tasks"] == {"0/1/0": 1, "0/0/1": 1}
    assert seen["completed"] == {"0": 2}
    assert seen["interrupted"] == {"1": 1, "0": 1}
    assert seen["never_started"] == {"0": 1, "1": 1}
    assert seen["workers"] == {"1× SIGTERM + 1× exit 0": 1, "2× SIGTERM": 1}
    assert seen["error"] == {"none": 2}
    assert seen["main_exit_code"] == {"0": 2}
    assert seen["hung"] == {"false": 2}
    assert all(sum(values.values()) == 2 for values in seen.values())
    assert row["races"] == {"Task executing": {"printed": 1, "runs": 2}}
    assert row["shutdown_seconds"] == {"median": 0.2, "min": 0.1, "max": 0.3}
    assert row["deterministic"] is False
    assert {k: v for k, v in found.items() if k != "rows"} == {
        "differences": [],  # one interpreter: nothing to compare
        "runs": 2,
        "matched": 2,
        "mismatched": 0,
        "incomplete": 0,
        "hung": 0,
        "unobserved": 0,
        "skipped": 0,
    }


def test_summarize_identical_runs_is_deterministic() -> None:
    """Every quantity the same in every run: one value each, deterministic."""
    found = compare_document.summarize(results_of([fake_run(), fake_run(), fake_run()]))
    (row,) = found["rows"]
    assert row["deterministic"] is True
    assert row["observed"]["tasks"] == {"1/0/0": 3}
    assert row["observed"]["workers"] == {"2× exit 0": 3}
    assert row["races"] == {"Task executing": {"printed": 0, "runs": 3}}


def test_summarize_mismatches_hangs_and_unobserved_runs() -> None:
    """Failed claims are counted per claim; a hang is observed; a lost run is not."""
    error = {"type": "ValueError", "message": "Pool is still running", "step": "join"}
    results = results_of(
        [
            fake_run(failed_claims=("no task completes",)),
            fake_run(failed_claims=("no task completes", "'Main done' is printed"), error=error),
            fake_run(hung=True, shutdown=None),
            "the subject failed with status 7",
        ]
    )
    found = compare_document.summarize(results)
    (row,) = found["rows"]
    assert row["runs"] == 4
    assert row["observed_runs"] == 3
    assert row["matched"] == 1
    assert row["hung"] == 1
    assert row["unobserved"] == ["the subject failed with status 7"]
    assert row["failed_checks"] == {"no task completes": 2, "'Main done' is printed": 1}
    assert row["observed"]["error"] == {"none": 2, "ValueError: Pool is still running": 1}
    assert row["observed"]["main_exit_code"] == {"0": 2, "1": 1}
    assert row["observed"]["hung"] == {"false": 2, "true": 1}
    assert row["shutdown_seconds"] == {"median": 0.5, "min": 0.5, "max": 0.5}
    assert (found["matched"], found["mismatched"], found["hung"]) == (1, 2, 1)
    assert found["unobserved"] == 1
    assert found["matched"] + found["mismatched"] + found["unobserved"] == found["runs"]


def test_rows_follow_the_start_method_each_run_reported() -> None:
    """Runs under different start methods are different rows, in plan order."""
    results = results_of(
        [fake_run(start_method="spawn"), fake_run(start_method="fork"), fake_run()], method=None
    )
    rows = compare_document.summarize(results[::-1])["rows"]
    assert [(row["start_method"], row["runs"]) for row in rows] == [("spawn", 1), ("fork", 2)]


def test_compare_document_and_exit_code() -> None:
    """build_compare orders the runs; errors hold the lost runs; 3 > 1 > 0."""
    params = compare_params(repeat=4)
    results = results_of([fake_run(), "lost", None, fake_run(tasks=(0, 0, 1))])
    doc = compare_document.build_compare(results[::-1], params)
    assert doc["schema"] == compare_document.COMPARE_SCHEMA == "poolctl.compare/1"
    assert doc["params"] == params
    assert [run["outcome"]["tasks"]["never_started"] for run in doc["runs"]] == [0, 1]
    assert doc["errors"] == [
        {
            "scenario": "terminate-join",
            "start_method": "fork",
            "python": sys.executable,
            "message": "lost",
        }
    ]
    assert doc["summary"]["skipped"] == 1
    assert compare_document.exit_code(doc) == 3
    mismatch = compare_document.build_compare(results_of([fake_run(failed_claims=("x",))]), params)
    assert compare_document.exit_code(mismatch) == 1
    matching = compare_document.build_compare(results_of([fake_run()]), params)
    assert compare_document.exit_code(matching) == 0


def test_the_table_shows_a_race_as_a_race() -> None:
    """Values that differ between repeats are listed with their counts; races as k/n."""
    results = results_of(
        [
            fake_run(tasks=(0, 1, 0), printed=True),
            fake_run(tasks=(0, 1, 0), printed=True),
            fake_run(tasks=(0, 0, 1)),
        ]
    )
    doc = compare_document.build_compare(results, compare_params())
    shown = io.StringIO()
    Console(file=shown, width=120, color_system=None).print(compare_view.render(doc, width=120))
    text = shown.getvalue()
    assert ESC not in text
    assert "3 runs · 3 match · 0 differ · 0 hung" in text
    assert "0/1/0 (2)" in text
    assert "0/0/1 (1)" in text
    assert "~ Task executing 2/3" in text
    assert "✓ 3/3" in text


# --- what changed between interpreters -----------------------------------------------------


def two_pythons(
    first: list[dict[str, Any]], second: list[dict[str, Any]], *, method: str | None = None
) -> list[matrix.Result]:
    """Results of terminate-join on two interpreters (the second a renamed copy of this one,
    so the runs' documents still fit the schema), asked for ``method`` (None: the default)."""
    chosen = scenario.load("terminate-join")
    here = interpreter.current()
    other = interpreter.Interpreter("/elsewhere/python3", "3.99.0", here.implementation)
    params = scenario_pipeline.plan(chosen, here, duration=0.1, start_method=method)
    cells = [(here, doc) for doc in first] + [(other, doc) for doc in second]
    return [
        matrix.Result(matrix.Cell(n, chosen, python, params, n), document=doc)
        for n, (python, doc) in enumerate(cells)
    ]


def test_a_race_on_both_interpreters_is_not_a_difference() -> None:
    """Both outcomes seen on both: a race on both (frequencies apart), no difference."""
    races = [fake_run(tasks=(0, 1, 0), printed=True), fake_run(tasks=(0, 0, 1))]
    more = [fake_run(tasks=(0, 0, 1)), fake_run(tasks=(0, 0, 1)), *races]
    found = compare_document.summarize(two_pythons(races, more, method="fork"))
    assert found["differences"] == []
    assert [row["differs"] for row in found["rows"]] == [[], []]


def test_what_one_interpreter_never_showed_is_a_difference() -> None:
    """The default start method changed and 'Task executing' stopped: both named, per
    interpreter, with what only one of them showed."""
    old = [fake_run(tasks=(0, 1, 0), printed=True), fake_run(tasks=(0, 0, 1))]
    new = [fake_run(tasks=(0, 0, 1), workers=("SIGTERM", "SIGTERM"), start_method="forkserver")] * 2
    doc = compare_document.build_compare(two_pythons(old, new), compare_params())
    schema_validation.check(doc, "two interpreters")
    (group,) = doc["summary"]["differences"]
    assert (group["scenario"], group["start_method"]) == ("terminate-join", "default")
    by_quantity = {e["quantity"]: e for e in group["differs"]}
    assert list(by_quantity) == ["start_method", "tasks", "workers", "race"]
    assert [p["values"] for p in by_quantity["start_method"]["by_python"]] == [
        {"fork": 2},
        {"forkserver": 2},
    ]
    assert [p["only_here"] for p in by_quantity["tasks"]["by_python"]] == [["0/1/0"], []]
    race = by_quantity["race"]
    assert race["output"] == "Task executing"
    assert [p["values"] for p in race["by_python"]] == [
        {"printed": 1, "not printed": 1},
        {"not printed": 2},
    ]
    assert [row["differs"] for row in doc["summary"]["rows"]] == [
        ["start_method", "tasks", "workers", "race:Task executing"]
    ] * 2
    shown = io.StringIO()
    Console(file=shown, width=120, color_system=None).print(compare_view.render(doc, width=120))
    text = shown.getvalue()
    assert "≠ terminate-join" in text
    assert "(default)" in text
    assert "Differences between interpreters" in text
    here = interpreter.current().label  # '3.14.7t' when poolctl runs free-threaded
    assert f"start method — {here}: fork · 3.99.0: forkserver" in text
    assert f"'Task executing' printed — {here}: 1/2 · 3.99.0: 0/2" in text
    page = html_export.page(doc)
    assert "<h2>Differences between interpreters</h2>" in page
    assert "<td class='differs'>forkserver (default)</td>" in page
