"""What a traced program can see of poolctl in its own process, and what it costs.

Each program here prints what it can observe (its threads, its modules, its ``sys`` state,
its CPU time) and runs under plain ``python`` and under ``poolctl trace``: the two must
print the same. poolctl's watcher is a ``_thread`` thread, one per process at most, which
ends with the last worker it follows; a pool of threads has none.

The last tests run CPython's own pool tests (``python -m test``) traced, and look for what
its test runner says when a test leaves a thread or a process behind. A short form runs in
the normal suite; the full one (every start method, every Pool test) with POOLCTL_SLOW=1.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import pyenv_python
from tracing import events, plain, trace, write

# ThreadPools made and closed one after the other, and process pools.
THREAD_POOLS = 300
PROCESS_POOLS = 5

THREADS = f"""
import _thread, gc, sys, threading
from multiprocessing.pool import ThreadPool
from concurrent.futures import ThreadPoolExecutor

def counts():
    gc.collect()
    return (threading.active_count(), len(threading.enumerate()), _thread._count(),
            len(threading._dangling))

before = counts()
for n in range({THREAD_POOLS}):
    pool = ThreadPool(2)
    pool.map(abs, [-1, -2, -3])
    pool.close()
    pool.join()
for n in range(20):
    with ThreadPoolExecutor(2) as executor:
        list(executor.map(abs, [-1, -2, -3]))
print("before", before)
print("after", counts())
print("names", sorted({{t.name.split("-")[0] for t in threading.enumerate()}}))
"""


def test_thread_pools_leave_no_thread_of_poolctls(tmp_path: Path) -> None:
    """300 ThreadPools and 20 ThreadPoolExecutors, each closed and joined: the program counts
    as many threads (threading's and _thread's own count) as under plain python."""
    program = write(tmp_path, "threads.py", THREADS)
    expected = plain(str(program))
    assert expected.returncode == 0, expected.stderr
    run = trace(str(program))
    assert run.status == 0, run.stderr
    assert run.doc is not None
    shown = [line["text"] for line in run.doc["output"] if line["stream"] == "stdout"]
    assert shown == expected.stdout.splitlines()
    # Every worker thread's end was recorded, by the thread itself or at join().
    exited = {e["worker"] for e in events(run.doc, "worker.exited")}
    started = {e["worker"] for e in events(run.doc, "worker.started")}
    assert len(started) >= THREAD_POOLS * 2
    assert started <= exited


PROCESSES = f"""
import _thread, gc, multiprocessing, sys, threading, time
import multiprocessing.process

def counts():
    gc.collect()
    return (_thread._count(), threading.active_count(),
            len(multiprocessing.process._dangling), len(multiprocessing.active_children()))

if __name__ == "__main__":
    before = counts()
    context = multiprocessing.get_context(sys.argv[1])
    for n in range({PROCESS_POOLS}):
        with context.Pool(2) as pool:
            pool.map(abs, range(4))
        pool.join()
    del pool
    # CPython's own tests give threads a second to end (threading_helper).
    deadline = time.monotonic() + 1.0
    while counts() != before and time.monotonic() < deadline:
        time.sleep(0.01)
    print("before", before)
    print("after", counts())
    # Once no pool is left: no CPU of poolctl's while the program sleeps.
    cpu = time.process_time()
    time.sleep(0.5)
    print("sleeping cost", "none" if time.process_time() - cpu < 0.02 else "some")
"""


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_process_pools_leave_no_thread_nor_process(tmp_path: Path, method: str) -> None:
    """Pools of processes used and joined: within the second CPython's tests allow, the
    thread count is back (the watcher ended with the last worker), no Process object
    is alive (it held none), and sleeping costs no CPU."""
    program = write(tmp_path, "processes.py", PROCESSES)
    expected = plain(str(program), method)
    assert expected.returncode == 0, expected.stderr
    run = trace(str(program), method)
    assert run.status == 0, run.stderr
    assert run.doc is not None
    shown = [line["text"] for line in run.doc["output"] if line["stream"] == "stdout"]
    assert shown == expected.stdout.splitlines()
    # ... and every worker's end is still recorded, with its exit code.
    workers = run.doc["outcome"]["workers"]
    assert len(workers) == PROCESS_POOLS * 2
    assert all(w["exited"] is not None and w["exit_code"] in (0, -15) for w in workers), workers


SLEEPING = """
import multiprocessing, time
from multiprocessing.pool import ThreadPool

if __name__ == "__main__":
    pools = [ThreadPool(2) for _ in range(200)]
    keep = multiprocessing.get_context("fork").Pool(2)  # its workers live on
    cpu = time.process_time()
    time.sleep(1.0)
    used = time.process_time() - cpu
    print("cpu while sleeping %s" % ("under 20 ms" if used < 0.02 else "%.3f s" % used))
    keep.terminate()
    for pool in pools:
        pool.terminate()
"""


def test_sleeping_beside_live_pools_costs_no_cpu(tmp_path: Path) -> None:
    """200 live ThreadPools and a live Pool while the program sleeps for a second: poolctl
    adds no thread per pool, and its one watcher wakes a few times a second at most."""
    program = write(tmp_path, "sleeping.py", SLEEPING)
    run = trace(str(program))
    assert run.status == 0, run.stderr
    shown = [line["text"] for line in run.doc["output"] if line["stream"] == "stdout"]
    assert shown == ["cpu while sleeping under 20 ms"]


MOCKED = """
from unittest import mock
import multiprocessing
import multiprocessing.pool

class Size(int):
    '''An int of a class of its own, as numpy's integers are not ints at all.'''

made = []

class FailingProcess:
    '''CPython's test_release_unused_processes: the third worker cannot start.'''

    def __init__(self, **kwargs):
        self.name = "Fake Process"
        self.exitcode = None
        self.state = None
        made.append(self)

    def start(self):
        if len(made) > 2:
            raise OSError("Manually induced OSError")
        self.state = "started"

    def terminate(self):
        self.state = "stopping"

    def join(self):
        if self.state == "stopping":
            self.state = "stopped"

    def is_alive(self):
        return self.state in ("started", "stopping")

if __name__ == "__main__":
    try:
        multiprocessing.pool.Pool(Size(5), context=mock.MagicMock(Process=FailingProcess))
    except OSError as exc:
        print("refused:", exc)
    print([p.state for p in made])
    pool = multiprocessing.pool.ThreadPool(Size(2))
    print(pool.map(abs, [-1, -2]))
    pool.close()
    pool.join()
"""


def test_arguments_json_cannot_hold(tmp_path: Path) -> None:
    """A MagicMock as the context and an int subclass as the size (CPython's own test
    does the first): the program runs as under python, poolctl records the pools and does
    not fail; the mock's start method is unknown (null), the size is its number."""
    program = write(tmp_path, "mocked.py", MOCKED)
    expected = plain(str(program))
    assert expected.returncode == 0, expected.stderr
    run = trace(str(program))
    assert run.status == 0, run.stderr
    shown = [line["text"] for line in run.doc["output"] if line["stream"] == "stdout"]
    assert shown == expected.stdout.splitlines()
    assert not events(run.doc, "observer.failed")
    creating = events(run.doc, "pool.creating")
    assert [(e["api"], e["start_method"], e["processes"]) for e in creating] == [
        ("pool", None, 5),
        ("threadpool", None, 2),
    ]


CHILD = """
import multiprocessing, os, sys
from multiprocessing.pool import ThreadPool

def child_work():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print("child", sorted(pool.map(abs, [-1, -2, -3])), flush=True)
        pool.close()
        pool.join()

def in_a_worker(n):
    with ThreadPool(2) as threads:  # a pool inside a worker process
        return sum(threads.map(abs, [-n, -n]))

if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        print("main", pool.map(abs, [-1, -2]), flush=True)
        print("workers", pool.map(in_a_worker, [1, 2]), flush=True)
        child = context.Process(target=child_work)
        child.start()
        child.join()
        print("child exit", child.exitcode, flush=True)
        pool.close()
        pool.join()
    pid = os.fork()  # a bare fork that returns into the program
    if pid == 0:
        with ThreadPool(1) as threads:
            threads.map(abs, [1])
        sys.exit(0)
    os.waitpid(pid, 0)
    print("done", flush=True)
"""


def test_pools_of_a_forked_child_are_its_own(tmp_path: Path) -> None:
    """A child Process and a bare os.fork() child each make a pool, a pool's worker makes a
    ThreadPool: every pool has an id of its own, its own tasks and the process that owns
    it (role 'child' or 'worker'); the children send no event of the main process's."""
    program = write(tmp_path, "child.py", CHILD)
    expected = plain(str(program))
    assert expected.returncode == 0, expected.stderr
    run = trace(str(program))
    assert run.status == 0, run.stderr
    doc = run.doc
    shown = [line["text"] for line in doc["output"] if line["stream"] == "stdout"]
    assert shown == expected.stdout.splitlines()
    main_pid = doc["outcome"]["main"]["pid"]
    pools = doc["outcome"]["pools"]
    assert len({p["pool"] for p in pools}) == len(pools) == 5
    owners = sorted((p["api"], p["owner"]["role"]) for p in pools)
    assert owners == [
        ("pool", "child"),
        ("pool", "main"),
        ("threadpool", "child"),
        ("threadpool", "worker"),
        ("threadpool", "worker"),
    ]
    for pool in pools:
        assert (pool["owner"]["pid"] == main_pid) == (pool["owner"]["role"] == "main")
    by_api_role = {(p["api"], p["owner"]["role"]): p for p in pools}
    assert by_api_role["pool", "main"]["tasks"]["completed"] == 4
    assert by_api_role["pool", "child"]["tasks"]["completed"] == 3
    assert by_api_role["pool", "child"]["size"] == 2
    # Tasks are numbered apart too: no task id is reported twice as submitted.
    submitted = [e["task"] for e in events(doc, "task.submitted")]
    assert len(submitted) == len(set(submitted)) == 4 + 3 + 4 + 1
    for kind in ("main.started", "main.finished", "main.exiting"):
        assert [e["pid"] for e in events(doc, kind)] == [main_pid], kind
    assert "in child" in " ".join(_labels(doc))


def _labels(doc: dict) -> list[str]:
    from poolctl.document import pool_label

    return [pool_label(p) for p in doc["outcome"]["pools"]]


SEEN = """
import sys
print("argv", sys.argv[1:])
print("orig_argv", getattr(sys, "orig_argv", ["?", "?"])[1:])
print("threading" in sys.modules, "json" in sys.modules, "sysconfig" in sys.modules)
import threading
print(threading.active_count(), [t.name for t in threading.enumerate()])
"""


def test_the_program_sees_its_own_command_line_and_modules(tmp_path: Path) -> None:
    """sys.orig_argv is the program's command line (its interpreter first), and neither
    threading nor json (nor sysconfig, which imports threading) is imported before the
    program imports it; no thread of poolctl's exists before a pool does."""
    program = write(tmp_path, "seen.py", SEEN)
    expected = plain(str(program), "alpha", "beta")
    assert expected.returncode == 0, expected.stderr
    run = trace(str(program), "alpha", "beta")
    assert run.status == 0, run.stderr
    shown = [line["text"] for line in run.doc["output"] if line["stream"] == "stdout"]
    assert shown == expected.stdout.splitlines()
    assert shown[2] == "False False False"


# --- CPython's own pool tests -------------------------------------------------------------

CPYTHON = pyenv_python("3.13")
SLOW = os.environ.get("POOLCTL_SLOW") == "1"
# How long one run of CPython's tests may take here (2 cores, shared: minutes under load).
CPYTHON_SECONDS = 500.0
# What CPython's test runner prints when a test leaves something behind.
LEFT_BEHIND = ("Dangling", "env changed", "altered the execution environment", "Warning --")


def _has_test_package(python: Path | None) -> bool:
    if python is None:
        return False
    probe = subprocess.run(
        [str(python), "-c", "import test.libregrtest, test._test_multiprocessing"],
        capture_output=True,
        timeout=60,
    )
    return probe.returncode == 0


needs_cpython_tests = pytest.mark.skipif(
    not _has_test_package(CPYTHON),
    reason="pyenv's CPython 3.13 with its test package is not installed",
)


def _cpython_tests(*words: str) -> None:
    """Run ``python -m test WORDS`` under CPython 3.13 plainly and traced: the same
    verdict and counts (tests run, failed, skipped), and nothing the test runner reports as
    left behind."""
    command = ["-m", "test", *words]
    expected = subprocess.run(
        [str(CPYTHON), *command], capture_output=True, text=True, timeout=CPYTHON_SECONDS
    )
    run = trace("--python", str(CPYTHON), *command, json_doc=False, timeout=CPYTHON_SECONDS)
    said = run.stdout + run.stderr
    assert run.status == expected.returncode == 0, said[-3000:]
    assert not [line for line in said.splitlines() if line.startswith(LEFT_BEHIND)], said[-3000:]
    assert "Tests result: SUCCESS" in said
    totals = _totals(expected.stdout + expected.stderr)
    assert totals and _totals(said) == totals, said[-3000:]


def _totals(said: str) -> list[str]:
    """The runner's ``Total tests: run=N failures=N skipped=N`` lines."""
    return [line for line in said.splitlines() if line.startswith("Total tests:")]


@needs_cpython_tests
@pytest.mark.timeout(300)
def test_cpython_pool_tests_traced_leave_nothing_behind() -> None:
    """The short form: CPython's Pool and ThreadPool test classes under forkserver (where
    the watcher used to keep workers alive: 'Dangling processes')."""
    _cpython_tests(
        "test_multiprocessing_forkserver.test_processes",
        "test_multiprocessing_forkserver.test_threads",
        "--match",
        "*TestPool.*",
    )


@needs_cpython_tests
@pytest.mark.skipif(not SLOW, reason="slow: set POOLCTL_SLOW=1")
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_cpython_all_pool_tests_traced_leave_nothing_behind(method: str) -> None:
    """The full form: every test of CPython's multiprocessing suite matching *Pool*."""
    _cpython_tests(f"test_multiprocessing_{method}", "--match", "*Pool*")


@needs_cpython_tests
@pytest.mark.skipif(not SLOW, reason="slow: set POOLCTL_SLOW=1")
@pytest.mark.timeout(1200)
def test_cpython_concurrent_futures_tests_traced_give_the_same_result() -> None:
    """The whole of test_concurrent_futures (ProcessPoolExecutor and ThreadPoolExecutor
    under every start method, its deadlock and shutdown tests among them)."""
    _cpython_tests("test_concurrent_futures")
