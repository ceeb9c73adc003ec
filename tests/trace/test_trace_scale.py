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
from tracing import plain, trace, write

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


CHUNKS = """
import sys
from multiprocessing import Pool
from multiprocessing.pool import ThreadPool


def f(x):
    if x in (2, 10200, 25500):
        raise ValueError(x)
    return x


def add(a, b):
    return a + b


if __name__ == '__main__':
    pool = (ThreadPool if sys.argv[1] == 'threads' else Pool)(2)
    done = pool.map_async(f, range(30000), chunksize=700)
    done.wait()
    print(done.successful())
    print(sum(pool.starmap(add, [(i, i) for i in range(12000)], chunksize=1000)))
    print(sum(pool.imap(abs, range(50))))
    pool.close()
    pool.join()
"""


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["processes", "threads"])
def test_map_items_past_the_bound_are_sent_a_chunk_at_a_time(
    kind: str, marker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past each pool's first TASK_DETAIL items, a map's chunk sends one task.submitted,
    started and finished (or failed, naming its item) with its count; the outcome counts
    what every item's own events counted before: a chunk's items after the one that
    raised never started. The first items keep their own events, the failed one among
    them; a chunk across the bound sends its first items' events one by one."""
    from poolctl import api

    chunked: list[dict[str, Any]] = []
    count = events._TaskDetail.count

    def spy(self: events._TaskDetail, event: dict[str, Any], ns: int) -> None:
        chunked.append(dict(event))
        count(self, event, ns)

    monkeypatch.setattr(events._TaskDetail, "count", spy)
    program = write(tmp_path, "chunks.py", CHUNKS)
    doc = api.trace(program, [kind])
    assert [line["text"] for line in doc["output"]] == ["False", "143988000", "1225"]
    bound = events.TASK_DETAIL
    # The map: 30,000 items in chunks of 700. Items 2, 10,200 and 25,500 raise: the rest of
    # their chunks (0-699; 9,800-10,499, across the bound; 25,200-25,899) never started.
    never = (699 - 2) + (10_499 - 10_200) + (25_899 - 25_500)
    items = 30_000 + 12_000 + 50
    assert doc["outcome"]["tasks"] == {
        "submitted": items,
        "started": items - never,
        "completed": items - never - 3,
        "interrupted": 0,
        "never_started": never,
        "failed": 3,
        "unknown": 0,
    }
    runs = doc["outcome"]["task_runs"]
    assert [r["task"] for r in runs] == list(range(bound))
    assert [r["task"] for r in runs if r["status"] == "failed"] == [2]
    assert sum(r["status"] == "never_started" for r in runs) == 697
    assert doc["tasks_detail"] == {"bound": bound, "kept": bound, "total": items}
    # Nothing past the bound was sent item by item: 10,000-10,499 by their chunk (its
    # first 200 items had their own events), then 28 chunks of the map, 12 of starmap and
    # the 50 items of imap (a chunk of one each).
    assert chunked and all("count" in e for e in chunked)
    failed = sorted((e["task"], e["count"], e["finished"]) for e in chunked
                    if e["kind"] == "task.failed")  # fmt: skip
    assert failed == [(10_200, 500, 200), (25_500, 700, 300)]
    submitted = [e["count"] for e in chunked if e["kind"] == "task.submitted"]
    assert sorted(submitted) == sorted([500] + [700] * 27 + [600] + [1000] * 12 + [1] * 50)
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


FAILING_CHUNK = """
from multiprocessing import Pool


def f(x):
    if x == 15000:
        raise ValueError(x)
    return x


if __name__ == '__main__':
    with Pool(2) as pool:
        pool.map(f, range(20000), chunksize=1000)
"""


@pytest.mark.timeout(120)
def test_an_item_raising_in_a_counted_chunk_shows_plain_pythons_traceback(
    tmp_path: Path,
) -> None:
    """A chunk past the bound runs the pool's own mapper: the worker's traceback is plain
    python's (its ``mapstar`` frame, none of poolctl's), and the item that raised is the
    one counted failed, the chunk's items after it never started."""
    program = write(tmp_path, "failing.py", FAILING_CHUNK)
    run = trace(str(program))
    expected = plain(str(program))
    assert (run.status, expected.returncode) == (1, 1)
    assert run.stderr == expected.stderr
    assert "in mapstar" in run.stderr and "poolctl_subject" not in run.stderr
    assert run.doc is not None
    tasks = run.doc["outcome"]["tasks"]
    assert (tasks["submitted"], tasks["failed"], tasks["never_started"]) == (20_000, 1, 999)


def test_a_chunk_counts_its_items() -> None:
    """A chunk's events, as the observer counts them: a chunk that finished, one whose
    item raised (the items after it never started), one ended by terminate() (all its
    items interrupted); a count that cannot be is an invalid line."""
    lines = [line("task.submitted", task, 1, 5_000) for task in range(2)]
    lines += [line("task.started", task, 1, 6_000) for task in range(2)]
    lines += [line("task.finished", task, 1, 7_000) for task in range(2)]
    for first in (2, 12, 22):  # three chunks of 10
        lines.append(line("task.submitted", first, 1, 5_000, count=10))
        lines.append(line("task.started", first, 1, 6_000, count=10))
    lines.append(line("task.finished", 2, 1, 7_000, count=10))
    lines.append(line("task.failed", 15, 1, 7_000, count=10, finished=3, type="E", message="m"))
    lines.append(line("task.finished", 40, 1, 7_000, count=0))
    lines.append(line("task.failed", 41, 1, 7_000, count=2, finished=2, type="E", message="m"))
    found, derived = parsed(lines, 2)
    assert derived["tasks"] == {
        "submitted": 32,
        "started": 2 + 10 + 4 + 10,
        "completed": 2 + 10 + 3,
        "interrupted": 10,
        "never_started": 6,
        "failed": 1,
        "unknown": 0,
    }
    assert [r["task"] for r in derived["task_runs"]] == [0, 1]
    [counted] = [e for e in found if e["kind"] == "tasks.counted"]
    assert [counted[k] for k in ("submitted", "started", "finished", "failed")] == [30, 24, 13, 1]
    [incomplete] = [e for e in found if e["kind"] == "channel.incomplete"]
    assert incomplete["invalid_lines"] == 2


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
