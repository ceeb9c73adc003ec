"""Event order and accounting: on real runs, and ``outcome.derive`` on hand-written events."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from conftest import kinds, printed, run_pipeline
from poolctl.events import signal_name
from poolctl.outcome import TASK_STATES, derive, observation

SUBJECT_ROLES = {"main", "worker"}


def first(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    """The first event of ``kind`` (the test fails when there is none)."""
    found = [e for e in doc["events"] if e["kind"] == kind]
    assert found, f"no {kind} event in {kinds(doc)}"
    return found[0]


@pytest.fixture
def close_join(marker: str) -> dict[str, Any]:
    """A close-join run with two workers and three short tasks."""
    return run_pipeline("close-join", workers=2, tasks=3, duration=0.05)


# --- real runs -----------------------------------------------------------------------------


def test_every_event_is_well_formed(close_join: dict[str, Any]) -> None:
    """t is a float >= 0 and never goes back; pid is an int; role and kind are known."""
    events = close_join["events"]
    assert len(events) > 10
    previous = 0.0
    for e in events:
        assert isinstance(e["t"], float), e
        assert e["t"] >= previous, e
        previous = e["t"]
        assert isinstance(e["pid"], int) and not isinstance(e["pid"], bool), e
        assert e["role"] in {"main", "worker", "observer"}, e
        assert isinstance(e["kind"], str) and e["kind"], e


def test_main_started_comes_first(close_join: dict[str, Any]) -> None:
    """Nothing of the subject happens before its main process says it started."""
    subject = [e for e in close_join["events"] if e["role"] in SUBJECT_ROLES]
    assert subject[0]["kind"] == "main.started"
    assert kinds(close_join).count("main.started") == 1
    assert subject[0]["pid"] == close_join["outcome"]["main"]["pid"]


def test_close_join_calls_in_order(close_join: dict[str, Any]) -> None:
    """close.called < close.returned < join.called < join.returned, in list and in time."""
    order = ["close.called", "close.returned", "join.called", "join.returned"]
    seen = [k for k in kinds(close_join) if k in order]
    assert seen == order
    times = [first(close_join, k)["t"] for k in order]
    assert times == sorted(times)
    main_pid = close_join["outcome"]["main"]["pid"]
    assert all(first(close_join, k)["pid"] == main_pid for k in order)


def test_tasks_finish_after_they_start_in_the_same_worker(close_join: dict[str, Any]) -> None:
    """Every task.finished follows its task.started and comes from the same worker."""
    started = {e["task"]: e for e in close_join["events"] if e["kind"] == "task.started"}
    finished = [e for e in close_join["events"] if e["kind"] == "task.finished"]
    assert sorted(e["task"] for e in finished) == [0, 1, 2]
    for e in finished:
        start = started[e["task"]]
        assert start["t"] <= e["t"]
        assert e["worker"] == e["pid"] == start["worker"] == start["pid"]
        assert e["role"] == start["role"] == "worker"


def test_close_join_submits_before_shutdown(close_join: dict[str, Any]) -> None:
    """The pool exists before any task is submitted, and every submission precedes close()."""
    created = first(close_join, "pool.created")["t"]
    close = first(close_join, "close.called")["t"]
    submitted = [e["t"] for e in close_join["events"] if e["kind"] == "task.submitted"]
    assert len(submitted) == 3
    assert all(created <= t <= close for t in submitted)


def test_workers_exit_before_main_exits(close_join: dict[str, Any]) -> None:
    """Every worker of close-join exits (code 0) and the main process exits last."""
    exits = [e for e in close_join["events"] if e["kind"] == "worker.exited"]
    workers = close_join["outcome"]["workers"]
    assert len(exits) == len(workers) == 2
    assert {e["worker"] for e in exits} == {w["pid"] for w in workers}
    # The outcome's code, not the exit event's: under forkserver (3.14's default) the fork
    # server may reap a worker before the watcher reads its status, which then comes later,
    # in worker.reaped.
    assert all(w["exit_code"] == 0 for w in workers)
    assert max(e["t"] for e in exits) <= first(close_join, "main.exited")["t"]


def test_join_returns_after_the_last_worker_exits(close_join: dict[str, Any]) -> None:
    """join() waits for every worker: the timeline must not show one exiting after it."""
    exits = [e["t"] for e in close_join["events"] if e["kind"] == "worker.exited"]
    assert exits
    assert first(close_join, "join.returned")["t"] >= max(exits)


def test_an_executors_shutdown_is_timed(marker: str) -> None:
    """A real shutdown(wait=True): its time runs from the call to the last worker's exit."""
    doc = run_pipeline("executor-shutdown-wait", workers=2, tasks=2, duration=0.05)
    called = first(doc, "shutdown.called")["t"]
    exits = [w["exited"] for w in doc["outcome"]["workers"]]
    assert doc["outcome"]["shutdown_seconds"] == pytest.approx(max(exits) - called, abs=1e-6)
    assert doc["outcome"]["shutdown_seconds"] > 0


def test_many_tasks_each_complete_exactly_once(marker: str) -> None:
    """4 workers, 12 short tasks, close-join: each task starts and completes exactly once."""
    doc = run_pipeline("close-join", workers=4, tasks=12, duration=0.05)
    assert doc["matches"] is True
    counts = Counter(kinds(doc))
    assert counts["task.submitted"] == counts["task.started"] == counts["task.finished"] == 12
    assert sorted(e["task"] for e in doc["events"] if e["kind"] == "task.finished") == list(
        range(12)
    )
    tasks = doc["outcome"]["tasks"]
    assert tasks == {
        "submitted": 12,
        "started": 12,
        "completed": 12,
        "interrupted": 0,
        "never_started": 0,
        "failed": 0,
        "unknown": 0,
    }
    runs = doc["outcome"]["task_runs"]
    assert [r["task"] for r in runs] == list(range(12))
    by_status = Counter(r["status"] for r in runs)
    assert all(by_status[state] == tasks[state] for state in TASK_STATES)
    assert sum(by_status.values()) == tasks["submitted"]
    workers = {w["pid"] for w in doc["outcome"]["workers"]}
    assert len(workers) == 4
    assert {r["worker"] for r in runs} <= workers
    assert all(r["submitted"] <= r["started"] <= r["ended"] for r in runs)
    assert printed(doc).count("Task done") == 12


def test_no_tasks(marker: str) -> None:
    """A run with no task works: the pool starts and shuts down, nothing is counted."""
    doc = run_pipeline("terminate-join", tasks=0, duration=0.1)
    assert doc["matches"] is True
    assert doc["outcome"]["tasks"]["submitted"] == 0
    assert doc["outcome"]["task_runs"] == []
    assert "task.submitted" not in kinds(doc)
    assert "Main done" in printed(doc)
    assert doc["outcome"]["main"]["exit_code"] == 0


def test_no_tasks_close_join(marker: str) -> None:
    """close-join with no task: every worker exits 0, nothing is counted."""
    doc = run_pipeline("close-join", tasks=0, duration=0.1)
    outcome = doc["outcome"]
    assert outcome["tasks"]["submitted"] == outcome["tasks"]["completed"] == 0
    assert outcome["main"]["exit_code"] == 0
    assert outcome["error"] is None
    assert [w["exit_code"] for w in outcome["workers"]] == [0] * len(outcome["workers"])
    assert printed(doc) == ["Main done"]


# --- outcome.derive on hand-written events --------------------------------------------------


def ev(t: float, kind: str, pid: int = 100, role: str = "main", **data: Any) -> dict[str, Any]:
    """One event as ``events.parse`` makes it."""
    return {"t": t, "pid": pid, "role": role, "kind": kind, **data}


def lifecycle(
    *middle: dict[str, Any], main_exit: int = 0, end: float = 2.0
) -> list[dict[str, Any]]:
    """A run of a pool with workers 201 and 202, ``middle`` events in between."""
    events = [
        ev(0.01, "main.started"),
        ev(0.05, "pool.created", start_method="fork", workers=[201, 202]),
        ev(0.06, "worker.started", pid=201, role="worker", worker=201),
        ev(0.07, "worker.started", pid=202, role="worker", worker=202),
        *middle,
        ev(end, "main.exited", exit_code=main_exit, signal=signal_name(main_exit)),
    ]
    return sorted(events, key=lambda e: e["t"])


def started(t: float, task: int, worker: int) -> dict[str, Any]:
    """A task.started event from ``worker``."""
    return ev(t, "task.started", pid=worker, role="worker", task=task, worker=worker)


def exited(t: float, worker: int, code: int | None) -> dict[str, Any]:
    """A worker.exited event sent by the main process's watcher."""
    return ev(t, "worker.exited", worker=worker, exit_code=code)


def test_derive_classifies_every_task_state() -> None:
    """completed, failed, interrupted (started, never ended), never_started."""
    outcome = derive(
        lifecycle(
            *(ev(0.1 + i / 100, "task.submitted", task=i) for i in range(4)),
            started(0.2, 0, 201),
            started(0.2, 1, 202),
            ev(0.5, "task.finished", pid=201, role="worker", task=0, worker=201),
            ev(0.6, "task.failed", pid=202, role="worker", task=1, worker=202),
            started(0.7, 2, 201),
            ev(0.8, "terminate.called"),
            exited(0.9, 201, -15),
            exited(0.95, 202, 0),
        )
    )
    runs = {r["task"]: r for r in outcome["task_runs"]}
    assert [runs[i]["status"] for i in range(4)] == [
        "completed",
        "failed",
        "interrupted",
        "never_started",
    ]
    assert runs[2]["ended"] == 0.9  # an interrupted task ends when its worker does
    assert runs[2]["worker"] == 201
    assert runs[3]["started"] is runs[3]["ended"] is runs[3]["worker"] is None
    assert outcome["tasks"] == {
        "submitted": 4,
        "started": 3,
        "completed": 1,
        "interrupted": 1,
        "never_started": 1,
        "failed": 1,
        "unknown": 0,
    }


def test_only_a_worker_silent_after_a_normal_exit_makes_the_observation_incomplete() -> None:
    """A worker killed before it said anything may really have done nothing; one that
    exited normally ran poolctl's initializer, so its silence means its events were lost.
    Then the tasks nobody saw start are unknown, not never started."""
    spawned = ev(0.3, "worker.spawned", worker=203)
    submitted = ev(0.1, "task.submitted", task=0)
    killed = lifecycle(submitted, spawned, exited(0.4, 203, -15))
    assert observation(killed) == {"complete": True, "problems": []}
    assert derive(killed)["tasks"]["never_started"] == 1
    silent = lifecycle(submitted, spawned, exited(0.4, 203, 0))
    seen = observation(silent)
    assert seen["complete"] is False
    assert [(p["kind"], p["pid"], p["pool"]) for p in seen["problems"]] == [
        ("worker-silent", 203, 1)
    ]
    tasks = derive(silent)["tasks"]
    assert (tasks["never_started"], tasks["unknown"]) == (0, 1)


def test_derive_names_signals_from_negative_exit_codes() -> None:
    """-15 is SIGTERM, -9 SIGKILL; a normal exit has no signal."""
    outcome = derive(
        lifecycle(
            ev(0.3, "worker.spawned", worker=203),
            exited(0.4, 201, -15),
            exited(0.5, 202, -9),
            exited(0.6, 203, 0),
        )
    )
    by_pid = {w["pid"]: w for w in outcome["workers"]}
    assert by_pid[201]["signal"] == "SIGTERM"
    assert by_pid[202]["signal"] == "SIGKILL"
    assert by_pid[203]["signal"] is None
    assert by_pid[203]["exit_code"] == 0
    assert [w["pid"] for w in outcome["workers"]] == [201, 202, 203]  # in spawn order
    assert by_pid[203]["spawned"] == 0.3
    assert by_pid[201]["ready"] == 0.06


def test_derive_takes_a_late_exit_code_from_worker_reaped() -> None:
    """A code known only at exit (forkserver) is kept; the exit time stays the observed one."""
    outcome = derive(
        lifecycle(
            exited(0.4, 201, None),
            ev(1.5, "worker.reaped", worker=201, exit_code=-15),
            ev(1.5, "worker.reaped", worker=202, exit_code=0),
        )
    )
    by_pid = {w["pid"]: w for w in outcome["workers"]}
    assert by_pid[201]["exit_code"] == -15
    assert by_pid[201]["signal"] == "SIGTERM"
    assert by_pid[201]["exited"] == 0.4
    assert by_pid[202]["exit_code"] == 0
    assert by_pid[202]["exited"] is None


def test_derive_shutdown_seconds_and_wall_time() -> None:
    """From the first shutdown call to the last worker exit; wall time is the main exit."""
    outcome = derive(
        lifecycle(
            ev(0.5, "close.called"),
            ev(0.51, "close.returned"),
            ev(0.6, "join.called"),
            exited(1.2, 201, 0),
            exited(1.25, 202, 0),
            ev(1.3, "join.returned"),
            end=1.4,
        )
    )
    assert outcome["shutdown_seconds"] == pytest.approx(0.75)
    assert outcome["wall_seconds"] == 1.4
    assert outcome["main"]["exit_code"] == 0


def test_derive_times_an_executors_shutdown_from_its_shutdown_call() -> None:
    """shutdown() is an executor's shutdown call: the time runs from it, as from close()."""
    outcome = derive(
        lifecycle(
            ev(0.5, "shutdown.called", wait=True),
            exited(0.9, 201, 0),
            exited(1.0, 202, 0),
            ev(1.05, "shutdown.returned"),
        )
    )
    assert outcome["shutdown_seconds"] == pytest.approx(0.5)


def test_derive_without_shutdown_call_or_exit() -> None:
    """No shutdown call, or no worker exit: no shutdown time."""
    outcome = derive(lifecycle(exited(0.4, 201, 0)))
    assert outcome["shutdown_seconds"] is None
    outcome = derive(lifecycle(ev(0.4, "close.called")))
    assert outcome["shutdown_seconds"] is None


def test_derive_keeps_the_first_error() -> None:
    """The first error.raised is the run's error; the main process's status is kept."""
    outcome = derive(
        lifecycle(
            ev(0.3, "join.called"),
            ev(
                0.31,
                "error.raised",
                step="join",
                type="ValueError",
                message="Pool is still running",
            ),
            ev(0.4, "error.raised", step="join", type="OSError", message="later"),
            main_exit=1,
        )
    )
    assert outcome["error"] == {
        "type": "ValueError",
        "message": "Pool is still running",
        "step": "join",
    }
    assert outcome["main"]["exit_code"] == 1
    assert outcome["main"]["finished"] is False


def test_derive_a_hung_run() -> None:
    """run.timeout makes the run hung; workers that never exited were killed by poolctl."""
    events = lifecycle(
        ev(0.1, "task.submitted", task=0),
        started(0.2, 0, 201),
        ev(0.3, "close.called"),
        ev(0.31, "close.returned"),
        ev(0.32, "join.called"),
        ev(1.0, "run.timeout", role="observer"),
        end=1.01,
        main_exit=-9,
    )
    outcome = derive(events)
    assert outcome["hung"] is True
    assert outcome["main"]["signal"] == "SIGKILL"
    assert outcome["main"]["exit_code"] == -9
    assert all(w["killed_by_poolctl"] for w in outcome["workers"])
    run = outcome["task_runs"][0]
    assert run["status"] == "interrupted"
    assert run["ended"] == 1.01  # its worker never reported an exit: the main exit time


def test_derive_reports_leftovers() -> None:
    """Processes killed at clean-up are listed as leftovers."""
    leftover = {"pid": 300, "command": "python -c ..."}
    outcome = derive(lifecycle(ev(2.1, "cleanup.killed", role="observer", processes=[leftover])))
    assert outcome["leftovers"] == [leftover]
    assert outcome["hung"] is False


def test_derive_main_process() -> None:
    """The main process's pid comes from main.started; main.finished marks a normal end."""
    outcome = derive(lifecycle(ev(0.9, "main.finished")))
    assert outcome["main"]["pid"] == 100
    assert outcome["main"]["finished"] is True
    assert {w["pid"] for w in outcome["workers"]} == {201, 202}
    assert all(w["killed_by_poolctl"] is False for w in outcome["workers"])
