"""Pools wherever the program makes them, under every start method: in a child ``Process``,
in a manager's server, in a pool's worker; each followed and said to be its process's.

A child started by spawn or forkserver is a fresh interpreter (or a fork of the fork
server) that never ran poolctl: poolctl goes along with the ``Process`` object it
unpickles (subject ``spawned_child``). The programs print what the child can see of that
(its process object, its argv), and must print the same under plain ``python``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import every_python, require
from tracing import events, plain, trace, without_addresses, write

EVERYWHERE = """
import multiprocessing, sys
from multiprocessing.pool import ThreadPool

def child_work():
    process = multiprocessing.current_process()
    print("child sees", sorted(vars(process)), sorted(process._config), sys.argv, flush=True)
    with multiprocessing.Pool(2) as pool:  # the child's default context is its parent's
        print("child", pool.map(abs, [-1, -2, -3]), flush=True)
        pool.close()
        pool.join()

def in_a_worker(n):
    with ThreadPool(2) as threads:  # a pool inside a pool's worker
        return sum(threads.map(abs, [-n, -n]))

if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    with context.Pool(2) as pool:
        print("main", pool.map(abs, [-1, -2]), flush=True)
        print("workers", pool.map(in_a_worker, [1, 2]), flush=True)
        pool.close()
        pool.join()
    child = context.Process(target=child_work)
    child.start()
    child.join()
    print("child exit", child.exitcode, flush=True)
    with context.Manager() as manager:
        served = manager.Pool(2)  # made by the manager's server process
        print("manager", served.map(abs, [-4, -5, -6]), flush=True)
        served.close()
        served.join()
    print("done", flush=True)
"""


def _interpreters() -> list[tuple[str, str | None]]:
    wanted = ("3.8", "3.14", "3.14t", "pypy3")
    return [("own", sys.executable), *[(n, p) for n, p in every_python() if n in wanted]]


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
@pytest.mark.parametrize(("name", "python"), _interpreters(), ids=lambda v: str(v))
def test_pools_are_followed_in_every_process(
    tmp_path: Path, name: str, python: str | None, method: str
) -> None:
    """A Process's pool, a manager's pool and the ThreadPools made in a pool's workers are
    followed under each start method: each its own pool, with its own tasks, owned by the
    process that made it (a spawned child is a 'child', as a forked one); the program
    prints, writes and ends as under python, and nothing of it is left (``trace``)."""
    python = require(name, python)
    program = write(tmp_path, "everywhere.py", EVERYWHERE)
    expected = plain(str(program), method, python=python)
    assert expected.returncode == 0, expected.stderr
    run = trace("--python", python, str(program), method)
    assert run.status == 0, run.stderr
    doc = run.doc
    assert doc is not None
    shown = [line["text"] for line in doc["output"] if line["stream"] == "stdout"]
    assert shown == expected.stdout.splitlines()
    assert [line["text"] for line in doc["output"] if line["stream"] == "stderr"] == (
        expected.stderr.splitlines()
    )
    # Every process's events were read and kept: nothing refused, nothing lost.
    for kind in ("observer.failed", "channel.incomplete", "channel.lost"):
        assert not events(doc, kind), kind
    assert doc["outcome"].get("observation") in (None, {}, [])
    _check_owners(doc)


def _check_owners(doc: dict[str, Any]) -> None:
    main_pid = doc["outcome"]["main"]["pid"]
    pools = doc["outcome"]["pools"]
    assert len({p["pool"] for p in pools}) == len(pools) == 5
    by_role: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for pool in pools:
        by_role.setdefault((pool["api"], pool["owner"]["role"]), []).append(pool)
        assert (pool["owner"]["pid"] == main_pid) == (pool["owner"]["role"] == "main")
    assert sorted((key, len(found)) for key, found in by_role.items()) == [
        (("pool", "child"), 2),  # the child Process's, the manager server's
        (("pool", "main"), 1),
        (("threadpool", "worker"), 2),
    ]
    (main_pool,) = by_role["pool", "main"]
    assert main_pool["tasks"]["completed"] == 4 and main_pool["size"] == 2
    children = by_role["pool", "child"]
    assert sorted(p["tasks"]["completed"] for p in children) == [3, 3]
    assert all(p["size"] == 2 for p in children)
    assert len({p["owner"]["pid"] for p in children}) == 2  # two processes
    # The ThreadPools' owners are the main pool's workers.
    workers = {e["worker"] for e in events(doc, "worker.started", pool=main_pool["pool"])}
    for pool in by_role["threadpool", "worker"]:
        assert pool["owner"]["pid"] in workers
        assert pool["tasks"]["completed"] == 2
    # Tasks are numbered apart in every process: none is submitted twice.
    submitted = [e["task"] for e in events(doc, "task.submitted")]
    assert len(submitted) == len(set(submitted)) == 4 + 3 + 3 + 2 + 2
    for kind in ("main.started", "main.finished", "main.exiting"):
        assert [e["pid"] for e in events(doc, kind)] == [main_pid], kind


UNPICKLABLE = """
import multiprocessing, sys

if __name__ == "__main__":
    child = multiprocessing.get_context(sys.argv[1]).Process(target=lambda: None)
    child.start()
"""


def _pickling_interpreters() -> list[tuple[str, str | None]]:
    wanted = ("3.14", "pypy3")  # 3.14's notes; PyPy's pickler is Python code: its frames
    return [("own", sys.executable), *[(n, p) for n, p in every_python() if n in wanted]]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
@pytest.mark.parametrize(("name", "python"), _pickling_interpreters(), ids=lambda v: str(v))
def test_a_process_that_cannot_be_pickled_fails_as_plainly(
    tmp_path: Path, name: str, python: str | None, method: str
) -> None:
    """poolctl's part in the pickled process shows nowhere in the error: the same
    traceback, frames and notes as under python."""
    python = require(name, python)
    program = write(tmp_path, "unpicklable.py", UNPICKLABLE)
    expected = plain(str(program), method, python=python)
    assert expected.returncode == 1
    assert "pickle" in expected.stderr
    run = trace("--python", python, str(program), method, json_doc=False)
    assert run.status == 1
    assert without_addresses(run.stderr).startswith(without_addresses(expected.stderr))


DEFAULT_CONTEXT = """
import multiprocessing

class Job(multiprocessing.Process):  # the program's own class, the default start method
    def __init__(self, items):
        super().__init__()
        self.items = items

    def run(self):
        print("job sees", sorted(vars(self)), flush=True)
        with multiprocessing.Pool(2) as pool:
            print("job", pool.map(abs, self.items), flush=True)
            pool.close()
            pool.join()

if __name__ == "__main__":
    print("start method", multiprocessing.get_start_method(), flush=True)
    job = Job([-1, -2, -3])
    job.start()
    job.join()
    print("job exit", job.exitcode, flush=True)
"""


@pytest.mark.parametrize(("name", "python"), [n for n in every_python() if n[0] == "3.14"])
def test_a_process_subclass_under_314s_default_start_method(
    tmp_path: Path, name: str, python: str | None
) -> None:
    """3.14 starts processes by forkserver unless told otherwise: a Process subclass of the
    program's own, started so, has its pool followed, and sees its own attributes only."""
    python = require(name, python)
    program = write(tmp_path, "job.py", DEFAULT_CONTEXT)
    expected = plain(str(program), python=python)
    assert expected.returncode == 0, expected.stderr
    assert "start method forkserver" in expected.stdout
    run = trace("--python", python, str(program))
    assert run.status == 0, run.stderr
    doc = run.doc
    assert doc is not None
    shown = [line["text"] for line in doc["output"] if line["stream"] == "stdout"]
    assert shown == expected.stdout.splitlines()
    (pool,) = doc["outcome"]["pools"]
    assert pool["owner"]["role"] == "child"
    assert pool["owner"]["pid"] != doc["outcome"]["main"]["pid"]
    assert pool["tasks"]["completed"] == 3


WITHOUT_POOLCTL = """
import multiprocessing, sys

def child_work():
    with multiprocessing.Pool(2) as pool:
        print("child", pool.map(abs, [-1, -2]), flush=True)
        pool.close()
        pool.join()

if __name__ == "__main__":
    if sys.argv[2] in sys.path:
        sys.path.remove(sys.argv[2])
    child = multiprocessing.get_context(sys.argv[1]).Process(target=child_work)
    child.start()
    child.join()
    print("child exit", child.exitcode, flush=True)
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_child_that_could_not_import_poolctl_runs_unfollowed(tmp_path: Path, method: str) -> None:
    """A program that takes poolctl's folder out of sys.path starts children that could not
    import poolctl: they run as plainly, unfollowed, rather than fail."""
    import poolctl

    root = str(Path(poolctl.__file__).parent / "subject")
    program = write(tmp_path, "without.py", WITHOUT_POOLCTL)
    expected = plain(str(program), method, root)
    assert expected.returncode == 0, expected.stderr
    run = trace(str(program), method, root)
    assert run.status == 0, run.stderr
    doc = run.doc
    assert doc is not None
    shown = [line["text"] for line in doc["output"] if line["stream"] == "stdout"]
    assert shown == expected.stdout.splitlines()
    assert doc["outcome"]["pools"] == []
    assert not events(doc, "observer.failed")
