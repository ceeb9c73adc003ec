"""Each pool kind under each start method: every submission function, one task per item.

The matrix is generated as CPython's test_concurrent_futures generates its executor
tests (see submission_matrix.py): ``SubmissionTests`` holds the test, and each generated
class (``TestPoolForkSubmission``, ``TestExecutorSpawnSubmission``, ...) adds a pool kind
and a start method to it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import START_METHODS, UNPACKED
from poolctl import pool_kinds
from submission_matrix import create_matrix_tests, python_for, submission_program
from tracing import (
    assert_each_item_a_task,
    counts,
    events,
    lifecycle,
    position,
    program_stdout,
    trace,
    write,
)


class SubmissionTests:
    """The tests of one cell: a pool kind under a start method, which the program chooses
    by ``choice``: set_start_method() ('set') or get_context() ('context')."""

    kind: str
    start_method: str
    choice: str

    def test_every_submission_function_makes_one_task_per_item(self, tmp_path: Path) -> None:
        """apply, apply_async, map, map_async, imap, imap_unordered, starmap(_async); submit
        and map (chunksize 1 and > 1, several iterables, none): one task per item, each
        submitted, started and finished in that order, by a worker of its pool; the
        program's results unchanged."""
        kind, method = self.kind, self.start_method
        source, phases, expected = submission_program(kind, method, self.choice)
        program = write(tmp_path, "calls.py", source)
        python = python_for(kind)
        if python is None:
            pytest.skip(f"{kind} needs CPython 3.14: none unpacked in {UNPACKED}")
        run = trace(*python, str(program))
        assert run.status == 0, run.stderr
        assert run.doc is not None
        assert json.loads(program_stdout(run.stderr)[-1]) == expected
        outcome = run.doc["outcome"]
        total = sum(phases)
        assert outcome["tasks"] == counts(submitted=total, started=total, completed=total)
        assert outcome["error"] is None
        assert outcome["main"]["exit_code"] == 0 and outcome["main"]["finished"]
        [pool] = outcome["pools"]
        assert pool["api"] == kind
        # A pool that starts no process (a ThreadPool) has no start method, whatever is set.
        processes = pool_kinds.KINDS[kind].starts_processes
        assert pool["start_method"] == (method if processes else None)
        assert pool["tasks"] == outcome["tasks"]
        assert_each_item_a_task(run.doc, phases)
        # Every task ran in a worker of this pool (a process pool's: not in the main process).
        workers = set(pool["workers"])
        # An executor starts a worker only when no other is idle: one may do it all.
        on_demand = pool_kinds.KINDS[kind].workers_on_demand
        assert len(workers) == 2 or (on_demand and len(workers) == 1)
        assert {e["worker"] for e in events(run.doc, "task.started")} <= workers
        assert {e["pool"] for e in events(run.doc, "task.started")} == {1}
        if processes:
            assert run.doc["outcome"]["main"]["pid"] not in workers
        # Leaving the with block is one call, reported once (not the terminate() or
        # shutdown() inside it), and it returns after the workers it ended.
        assert lifecycle(run.doc) == [("with-exit.called", 1), ("with-exit.returned", 1)]
        if kind == "pool":
            returned = position(run.doc, "with-exit.returned")
            exits = [i for i, e in enumerate(run.doc["events"]) if e["kind"] == "worker.exited"]
            assert len(exits) == 2 and max(exits) < returned


MATRIX = create_matrix_tests(globals(), SubmissionTests)


def test_the_matrix_covers_every_kind_and_start_method() -> None:
    """Every pool kind poolctl knows and every start method of conftest are in the matrix:
    a process pool kind under each method, chosen both ways; each method chosen both ways;
    a kind that starts no process under one method."""
    cells = [(cell.kind, cell.start_method, cell.choice) for cell in MATRIX]
    assert len(set(cells)) == len(cells)
    assert {kind for kind, _, _ in cells} == set(pool_kinds.KINDS)
    assert {method for _, method, _ in cells} == set(START_METHODS)
    for name, kind in pool_kinds.KINDS.items():
        mine = [(method, choice) for k, method, choice in cells if k == name]
        if kind.starts_processes:
            assert sorted(method for method, _ in mine) == sorted(START_METHODS), name
            assert {choice for _, choice in mine} == {"set", "context"}, name
        else:
            assert len(mine) == 1, name
    for method in START_METHODS:
        ways = {c for k, m, c in cells if m == method and pool_kinds.KINDS[k].starts_processes}
        assert ways == {"set", "context"}, method
