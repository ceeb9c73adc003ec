"""The four seed scenarios on real pools, under every start method.

Only what is guaranteed is asserted (REFERENCE.md section 2): whether 'Task executing' is
printed, and how idle workers end after terminate(), are races and are left alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import SEED_SCENARIOS, printed, run_pipeline

# close-join's tasks must finish; the others' must outlast terminate() or the exit-time
# finalizer by a wide margin, so that "no task completes" is not a race.
DURATION = {"close-join": 0.2}
LOSING_DURATION = 0.3


def run_seed(name: str, method: str) -> dict[str, Any]:
    """One real run of a seed scenario with a short task."""
    return run_pipeline(name, duration=DURATION.get(name, LOSING_DURATION), start_method=method)


@pytest.fixture(scope="module")
def seed_runs() -> dict[tuple[str, str], dict[str, Any]]:
    """Runs already made in this module: each (scenario, start method) runs once."""
    return {}


@pytest.fixture(params=SEED_SCENARIOS)
def seed_run(
    request: pytest.FixtureRequest,
    start_method: str,
    marker: str,
    seed_runs: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    """A real run of each seed scenario under ``start_method``.

    The test that makes the run also checks, through ``marker``, that nothing of it is
    left running.
    """
    key = (request.param, start_method)
    if key not in seed_runs:
        seed_runs[key] = run_seed(*key)
    doc = seed_runs[key]
    assert doc["scenario"]["name"] == request.param
    return doc


def test_reality_matches_the_documented_expectation(seed_run: dict[str, Any]) -> None:
    """Every guaranteed claim of the scenario holds on a real pool."""
    failed = [c for c in seed_run["checks"] if not c["ok"]]
    assert seed_run["matches"] is True, failed
    assert seed_run["checks"], "a seed scenario documents at least one claim"
    assert seed_run["outcome"]["hung"] is False


def test_the_pool_really_used_the_start_method(seed_run: dict[str, Any], start_method: str) -> None:
    """The subject created its pool with the start method asked for."""
    assert seed_run["params"]["start_method"] == start_method
    created = [e for e in seed_run["events"] if e["kind"] == "pool.created"]
    assert len(created) == 1
    assert created[0]["start_method"] == start_method
    assert len(created[0]["workers"]) >= 1


def test_task_accounting(seed_run: dict[str, Any]) -> None:
    """close-join completes every task; the others complete none and lose them all."""
    tasks = seed_run["outcome"]["tasks"]
    assert tasks["submitted"] == seed_run["params"]["tasks"] == 1
    assert tasks["failed"] == 0
    if seed_run["scenario"]["name"] == "close-join":
        assert tasks["completed"] == tasks["submitted"]
        assert tasks["interrupted"] == tasks["never_started"] == 0
    else:
        assert tasks["completed"] == 0
        assert tasks["interrupted"] + tasks["never_started"] == tasks["submitted"]


def test_error_and_main_exit_code(seed_run: dict[str, Any]) -> None:
    """Only join-without-close raises, and its main process exits with status 1."""
    outcome = seed_run["outcome"]
    if seed_run["scenario"]["name"] == "join-without-close":
        assert outcome["error"] is not None
        assert outcome["error"]["type"] == "ValueError"
        assert outcome["error"]["message"] == "Pool is still running"
        assert outcome["error"]["step"] == "join"
        assert outcome["main"]["exit_code"] == 1
        assert "main.finished" not in [e["kind"] for e in seed_run["events"]]
    else:
        assert outcome["error"] is None
        assert outcome["main"]["exit_code"] == 0
        assert outcome["main"]["finished"] is True
    assert outcome["main"]["signal"] is None


def test_how_the_workers_ended(seed_run: dict[str, Any]) -> None:
    """close-join's workers exit 0; a worker whose task was interrupted died by SIGTERM."""
    outcome = seed_run["outcome"]
    workers = {w["pid"]: w for w in outcome["workers"]}
    assert workers, "the pool had workers"
    if seed_run["scenario"]["name"] == "close-join":
        assert [w["exit_code"] for w in workers.values()] == [0] * len(workers)
        assert all(w["signal"] is None for w in workers.values())
    for task in outcome["task_runs"]:
        if task["status"] == "interrupted":
            worker = workers[task["worker"]]
            assert worker["signal"] == "SIGTERM", worker
            assert worker["exit_code"] == -15, worker


def test_output_lines(seed_run: dict[str, Any]) -> None:
    """'Main done' unless join() raised; 'Task done' only when the task completed."""
    name = seed_run["scenario"]["name"]
    lines = printed(seed_run)
    main_pid = seed_run["outcome"]["main"]["pid"]
    main_done = [o for o in seed_run["output"] if o["text"] == "Main done"]
    if name == "join-without-close":
        assert main_done == []
        assert any("ValueError: Pool is still running" in text for text in lines)
    else:
        assert len(main_done) == 1
        assert main_done[0]["pid"] == main_pid
        assert main_done[0]["stream"] == "stdout"
    if name == "close-join":
        assert lines.count("Task executing") == lines.count("Task done") == 1
    else:
        assert "Task done" not in lines
