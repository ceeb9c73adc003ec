"""Cost proportional to what is kept: a traced program's document keeps the events of each
pool's first ``TASK_DETAIL`` tasks and counts the rest, so a map of a hundred thousand
items (ten times the bound) gives a small document with exact counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import schema_validation
from poolctl import document, events, outcome
from poolctl.observer.observe import Observation
from tracing import trace, write

MANY = """
from multiprocessing import Pool


def same(x):
    return x


if __name__ == '__main__':
    with Pool(2) as pool:
        print(sum(pool.map(same, range({n}), chunksize=12500)))
"""


@pytest.mark.timeout(180)
def test_a_map_of_100000_items_keeps_a_bounded_document(tmp_path: Path) -> None:
    """Every item counted, the first TASK_DETAIL kept, the rest in one tasks.counted event;
    the document stays a few MB (all 300,000 events would be about 30 MB)."""
    n = 100_000
    done = trace(str(write(tmp_path, "many.py", MANY.format(n=n))))
    assert done.status == 0, done.stderr
    doc = done.doc
    assert doc is not None
    assert len(done.stdout) < 8_000_000
    bound = events.TASK_DETAIL
    assert doc["tasks_detail"] == {"bound": bound, "kept": bound, "total": n}
    assert doc["outcome"]["tasks"] == {
        "submitted": n,
        "started": n,
        "completed": n,
        "interrupted": 0,
        "never_started": 0,
        "failed": 0,
        "unknown": 0,
    }
    assert doc["outcome"]["pools"][0]["tasks"] == doc["outcome"]["tasks"]
    assert [r["task"] for r in doc["outcome"]["task_runs"]] == list(range(bound))
    [counted] = [e for e in doc["events"] if e["kind"] == "tasks.counted"]
    assert (counted["pool"], counted["bound"]) == (1, bound)
    rest = n - bound
    assert [counted[k] for k in ("submitted", "started", "finished", "failed")] == [
        rest,
        rest,
        rest,
        0,
    ]
    assert doc["observation"]["complete"] is True
    assert schema_validation.schema_errors(doc) == []


# --- the bound, in process ---------------------------------------------------------------


def line(kind: str, task: int, pool: int, t: int, **more: Any) -> bytes:
    role = "main" if kind == "task.submitted" else "worker"
    event = {"t": t, "pid": 7 if role == "main" else 8, "role": role, "kind": kind}
    event.update(task=task, pool=pool, **more)
    if role == "worker":
        event["worker"] = 8
    return json.dumps(event).encode()


def parsed(lines: list[bytes], bound: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    obs = Observation(t0_ns=1_000, pid=7, event_lines=lines, exit_code=0, exit_ns=900_000)
    found, _ = events.parse(obs, bound)
    return found, outcome.derive(found)


def test_each_pool_keeps_its_lowest_tasks_whatever_the_order_read() -> None:
    """Workers' events read before the submissions, in descending order: the tasks kept
    are still each pool's lowest numbers, and the counts of the rest are exact (a started
    task that never ended was interrupted; a submitted one never started)."""
    lines = []
    for task in reversed(range(10)):  # pool 1: tasks 0-9, all completed but task 8
        lines.append(line("task.started", task, 1, 10_000 + task))
        if task != 8:
            lines.append(line("task.finished", task, 1, 20_000 + task))
    for task in range(10, 16):  # pool 2: 10-15, 14 and 15 never started, 13 failed
        if task < 14:
            lines.append(line("task.started", task, 2, 10_000 + task))
        if task == 13:
            lines.append(line("task.failed", task, 2, 30_000, type="E", message="m"))
        elif task < 13:
            lines.append(line("task.finished", task, 2, 20_000 + task))
    lines += [line("task.submitted", task, 1 if task < 10 else 2, 5_000) for task in range(16)]
    found, derived = parsed(lines, 3)
    assert sorted(r["task"] for r in derived["task_runs"]) == [0, 1, 2, 10, 11, 12]
    kept = {e["task"] for e in found if e["kind"].startswith("task.")}
    assert kept == {0, 1, 2, 10, 11, 12}
    assert derived["pools"] == []  # no pool.creating was read: no pool's own counts
    assert derived["tasks"] == {
        "submitted": 16,
        "started": 14,
        "completed": 12,
        "interrupted": 1,
        "never_started": 2,
        "failed": 1,
        "unknown": 0,
    }
    counted = {e["pool"]: e for e in found if e["kind"] == "tasks.counted"}
    assert (counted[1]["submitted"], counted[1]["started"], counted[1]["finished"]) == (7, 7, 6)
    assert (counted[2]["submitted"], counted[2]["started"], counted[2]["failed"]) == (3, 1, 1)
    assert document.tasks_detail(derived, 3) == {"bound": 3, "kept": 6, "total": 16}


def test_without_a_bound_every_task_is_kept_and_nothing_counted() -> None:
    """A scenario's run (no bound): every task's events, as before."""
    lines = [line("task.submitted", task, 1, 5_000) for task in range(50)]
    found, derived = parsed(lines, None)  # type: ignore[arg-type]
    assert len(derived["task_runs"]) == 50
    assert not [e for e in found if e["kind"] == "tasks.counted"]
    assert document.tasks_detail(derived, None) == {"bound": None, "kept": 50, "total": 50}


def test_a_counted_event_is_still_checked_and_the_run_cannot_send_one() -> None:
    """Past the bound a task event with no task number is dropped (and counted as
    invalid); a tasks.counted event from the channel is refused."""
    lines = [line("task.submitted", task, 1, 5_000) for task in range(5)]
    lines.append(json.dumps({"t": 6_000, "pid": 7, "role": "main", "kind": "task.submitted",
                             "task": "x", "pool": 1}).encode())  # fmt: skip
    lines.append(json.dumps({"t": 6_000, "pid": 7, "role": "observer", "kind": "tasks.counted",
                             "pool": 1, "bound": 1, "submitted": 10**6, "started": 0,
                             "finished": 0, "failed": 0}).encode())  # fmt: skip
    found, derived = parsed(lines, 2)
    assert derived["tasks"]["submitted"] == 5
    [incomplete] = [e for e in found if e["kind"] == "channel.incomplete"]
    assert incomplete["invalid_lines"] == 2


def test_the_views_say_when_detail_was_cut() -> None:
    """What the document does not hold is said in words, once."""
    doc = {"tasks_detail": {"bound": 10_000, "kept": 10_000, "total": 2_200_000}}
    said = document.detail_cut(doc)
    assert said is not None
    assert "10,000 of 2,200,000" in said
    assert document.detail_cut({"tasks_detail": {"bound": 10, "kept": 5, "total": 5}}) is None
    assert document.detail_cut({}) is None
    # No bound (a scenario's run, whose counts a compare may have summed): nothing was cut.
    assert document.detail_cut({"tasks_detail": {"bound": None, "kept": 1, "total": 5}}) is None
