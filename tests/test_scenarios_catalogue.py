"""The bundled catalogue on real pools: every scenario matches its expectation."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import START_METHODS, python_for, require_python, run_pipeline
from poolctl import interpreter, matrix, scenario, scenario_pipeline
from poolctl.errors import UsageError
from poolctl.pool_kinds import KINDS

NAMES = scenario.bundled_names()
# Scenarios that hang on purpose (each takes its own timeout, a few seconds).
HANGING = {"worker-killed", "idle-worker-killed"}


def failed(doc: dict[str, Any]) -> list[str]:
    """The checks that did not hold, for an assertion message."""
    return [
        f"{c['claim']}: expected {c['expected']!r}, observed {c['observed']!r}"
        for c in doc["checks"]
        if not c["ok"]
    ]


def cases() -> list[Any]:
    """Every scenario under every start method (once for a thread pool); hangs are slow."""
    found = []
    for name in NAMES:
        processes = KINDS[scenario.load(name).api].starts_processes
        methods = list(START_METHODS) if processes else [None]
        for method in methods:
            marks = [pytest.mark.slow] if name in HANGING and method != "fork" else []
            found.append(pytest.param(name, method, marks=marks, id=f"{name}-{method}"))
    return found


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "method"), cases())
def test_every_scenario_matches_its_expectation(
    marker: str, start_methods: list[str], name: str, method: str | None
) -> None:
    """Run on a real pool; reality must agree with every guaranteed claim."""
    if method is not None and method not in start_methods:
        pytest.skip(f"start method {method} is not available here")
    # A scenario for a newer Python than poolctl's own runs under the unpacked 3.14.
    python = python_for(scenario.load(name).requires_python)
    doc = run_pipeline(name, python=python, duration=0.3, start_method=method, timeout=None)
    assert doc["matches"] is True, failed(doc)


def test_worker_killed_hangs_and_says_so(marker: str) -> None:
    """The killed busy worker died by SIGKILL; join() never returned; the run is hung."""
    doc = run_pipeline("worker-killed", duration=0.5, timeout=None)
    outcome = doc["outcome"]
    assert outcome["hung"] is True
    assert "SIGKILL" in [w["signal"] for w in outcome["workers"]]
    kinds = [e["kind"] for e in doc["events"]]
    assert "join.called" in kinds and "join.returned" not in kinds


def test_executor_worker_killed_breaks_instead_of_hanging(marker: str) -> None:
    """BrokenProcessPool at result(), shutdown() returns."""
    doc = run_pipeline("executor-worker-killed", duration=0.5, timeout=None)
    assert doc["outcome"]["error"]["type"] == "BrokenProcessPool"
    assert doc["outcome"]["hung"] is False
    assert "shutdown.returned" in [e["kind"] for e in doc["events"]]


def test_maxtasksperchild_replaces_workers(marker: str) -> None:
    """Three tasks, three worker pids; the replacements are reported as spawned."""
    doc = run_pipeline("maxtasksperchild", duration=0.1)
    runs = doc["outcome"]["task_runs"]
    assert len({r["worker"] for r in runs}) == 3
    assert "worker.spawned" in [e["kind"] for e in doc["events"]]


def test_thread_pool_workers_are_threads(marker: str) -> None:
    """ThreadPool workers are threads of the main process: marked so, no exit code."""
    doc = run_pipeline("threadpool-close-join", duration=0.1)
    workers = doc["outcome"]["workers"]
    assert workers and all(w["thread"] and w["exit_code"] is None for w in workers)
    main_pid = doc["outcome"]["main"]["pid"]
    assert {e["pid"] for e in doc["events"] if e["kind"] == "task.started"} == {main_pid}


def test_queued_tasks_are_dropped_by_terminate(marker: str) -> None:
    """Six tasks on two workers: at least four never start."""
    doc = run_pipeline("queued-tasks-terminate", duration=0.3)
    assert doc["outcome"]["tasks"]["never_started"] >= 4


def test_del_running_pool_warns(marker: str) -> None:
    """The pool's own ResourceWarning is shown when it appears (Python 3.8+)."""
    doc = run_pipeline("del-running-pool", duration=0.3)
    assert any("unclosed running multiprocessing pool" in line["text"] for line in doc["output"])


@pytest.mark.parametrize("name", ["executor-cancel-futures", "executor-shutdown-nowait"])
def test_scenarios_needing_39_are_refused_on_38(name: str) -> None:
    """On 3.8 the scenario is refused (run) with the reason."""
    python = interpreter.resolve(str(require_python("3.8")))
    with pytest.raises(UsageError, match=r"needs Python 3\.9 or newer"):
        scenario_pipeline.plan(scenario.load(name), python)


def test_compare_skips_with_the_reason() -> None:
    """compare plans the cell as skipped rather than failing the comparison."""
    python = str(require_python("3.8"))
    cells = matrix.plan(["executor-cancel-futures"], [python], None, 1)
    assert [cell.skip for cell in cells] == [
        f"needs Python 3.9+ (this is {cells[0].interpreter.version})"
    ]
