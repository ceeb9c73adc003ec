"""Pools in a traced program: several at once, in functions, imported modules and with
blocks; pickling under spawn; calls that once went wrong under trace."""

from __future__ import annotations

import json
import multiprocessing
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import UNPACKED, CliResult, unpacked_python
from tracing import (
    counts,
    events,
    lifecycle,
    plain,
    position,
    program_stdout,
    trace,
    without_addresses,
    write,
)

# --- several pools, made in functions, imported modules and with blocks -----------------


HELPER = """
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Pool


def tens(function, count):
    context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:
        return list(executor.map(function, range(count)))


def stopped():
    pool = Pool(1)
    pool.apply_async(time.sleep, (0.3,))
    pool.terminate()
    pool.join()
"""

SEVERAL = """
import sys
import time
import multiprocessing
from multiprocessing.pool import ThreadPool

import pools_helper


def work(x):
    time.sleep(0.05)
    return x * 10


def in_a_function(count):
    pool = multiprocessing.get_context('fork').Pool(2)
    try:
        return pool.map(work, range(count))
    finally:
        pool.close()
        pool.join()


if __name__ == '__main__':
    print(sys.path[0])
    results = [in_a_function(4), pools_helper.tens(work, 3)]
    with ThreadPool(3) as threads:
        results.append(threads.map(work, range(2)))
    with multiprocessing.get_context('forkserver').Pool(1) as last:
        results.append([last.apply(work, (7,))])
    pools_helper.stopped()
    print(results)
"""


def test_several_pools_each_with_its_own_tasks_and_workers(tmp_path: Path) -> None:
    """A Pool made in a function, a ProcessPoolExecutor in a module the program imports
    (found next to the program, run from elsewhere), a ThreadPool and a Pool in with
    blocks, a Pool (imported by name) that the module terminates with its task still
    running or queued: five pools in outcome.pools, each with its own tasks, workers and
    calls."""
    write(tmp_path, "pools_helper.py", HELPER)
    program = write(tmp_path, "several.py", SEVERAL)
    assert Path.cwd() != tmp_path
    run = trace(str(program))
    assert run.status == 0, run.stderr
    assert run.doc is not None
    printed = program_stdout(run.stderr)
    assert printed[0] == str(tmp_path)  # sys.path[0]: the program's folder
    assert printed[-1] == "[[0, 10, 20, 30], [0, 10, 20], [0, 10], [70]]"
    outcome = run.doc["outcome"]
    pools = outcome["pools"]
    default = multiprocessing.get_all_start_methods()[0]  # Pool() with no context
    assert [(p["pool"], p["api"], p["start_method"]) for p in pools] == [
        (1, "pool", "fork"),
        (2, "executor", "spawn"),
        (3, "threadpool", None),
        (4, "pool", "forkserver"),
        (5, "pool", default),
    ]
    assert [p["tasks"]["submitted"] for p in pools] == [4, 3, 2, 1, 1]
    assert [p["tasks"]["completed"] for p in pools] == [4, 3, 2, 1, 0]
    # Pool 5's task: begun or not when terminate() landed (a race), never completed.
    began = pools[4]["tasks"]["started"]
    assert pools[4]["tasks"] == counts(
        submitted=1, started=began, interrupted=began, never_started=1 - began
    )
    assert outcome["tasks"] == counts(
        submitted=11, started=10 + began, completed=10, interrupted=began, never_started=1 - began
    )
    assert [len(p["workers"]) for p in pools] == [2, 1, 3, 1, 1]
    assert [p["size"] for p in pools if p["api"] != "executor"] == [2, 3, 1, 1]
    owner = {w: p["pool"] for p in pools for w in p["workers"]}
    assert len(owner) == 8  # no worker is counted in two pools
    for e in events(run.doc, "task.started"):
        assert owner[e["worker"]] == e["pool"]
    assert [t["pool"] for t in outcome["task_runs"]] == [1] * 4 + [2] * 3 + [3] * 2 + [4, 5]
    assert lifecycle(run.doc) == [
        ("close.called", 1),
        ("close.returned", 1),
        ("join.called", 1),
        ("join.returned", 1),
        ("with-exit.called", 2),
        ("with-exit.returned", 2),
        ("with-exit.called", 3),
        ("with-exit.returned", 3),
        ("with-exit.called", 4),
        ("with-exit.returned", 4),
        ("terminate.called", 5),
        ("terminate.returned", 5),
        ("join.called", 5),
        ("join.returned", 5),
    ]
    # join() returns after pool 1's workers exited (normally: close() let them finish).
    codes = {w["pid"]: w["exit_code"] for w in outcome["workers"]}
    assert [codes[w] for w in pools[0]["workers"]] == [0, 0]
    # The with block's terminate() ended pool 4's worker before the block was left.
    [last] = pools[3]["workers"]
    assert codes[last] in (0, -signal.SIGTERM)  # idle: it may read terminate()'s sentinel
    assert position(run.doc, "worker.exited", worker=last) < position(
        run.doc, "with-exit.returned", pool=4
    )
    # join() after terminate() returns once pool 5's worker is gone.
    [stopped] = pools[4]["workers"]
    assert position(run.doc, "worker.exited", worker=stopped) < position(
        run.doc, "join.returned", pool=5
    )


# --- pickling under spawn ---------------------------------------------------------------


PICKLING = """
import functools
import json
from multiprocessing import get_context


def init(base):
    global offset
    offset = base


def add(x, y=0):
    return x + y + offset


class Scale:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, x):
        return x * self.factor + offset


if __name__ == '__main__':
    with get_context('spawn').Pool(2, initializer=init, initargs=(100,)) as pool:
        results = [
            pool.map(add, [1, 2]),
            pool.map(functools.partial(add, y=10), [1]),
            pool.map(Scale(3), [1, 2]),
            pool.apply(add, (5,), {{'y': 1}}),
        ]
    print(json.dumps(results))
    if {lambdas}:
        with get_context('spawn').Pool(1) as pool:
            pool.map(lambda x: x, [1, 2])
"""


def test_spawned_workers_unpickle_the_programs_own_functions(tmp_path: Path) -> None:
    """Under spawn the task functions, a partial, a callable object and the initializer
    all live in __main__ and travel by pickle: the results are plain python's. A lambda
    fails to pickle exactly as it does under plain python."""
    good = write(tmp_path, "good.py", PICKLING.format(lambdas=False))
    run = trace(str(good))
    assert run.status == 0, run.stderr
    assert json.loads(program_stdout(run.stderr)[0]) == [[101, 102], [111], [103, 106], 106]
    assert run.doc is not None
    assert run.doc["outcome"]["tasks"] == counts(submitted=6, started=6, completed=6)
    bad = write(tmp_path, "bad.py", PICKLING.format(lambdas=True))
    run = trace(str(bad))
    expected = plain(str(bad))
    assert run.status == expected.returncode == 1
    # poolctl's stderr holds the program's stdout too (the results, printed first).
    printed = expected.stdout.splitlines()
    traceback = [line for line in run.stderr.splitlines() if line not in printed]
    assert without_addresses("\n".join(traceback)) == without_addresses(expected.stderr.rstrip())
    assert "poolctl_subject" not in run.stderr
    assert run.doc is not None
    outcome = run.doc["outcome"]
    assert outcome["main"]["uncaught"]["type"] == "PicklingError"
    assert outcome["error"]["type"] == "PicklingError"
    assert outcome["pools"][1]["tasks"] == counts(submitted=2, never_started=2)


# --- plain python's behaviour that trace once broke (regressions) ----------------------


def test_submit_takes_a_keyword_argument_named_fn(tmp_path: Path) -> None:
    """Executor.submit(fn, /, *args, **kwargs): 'fn' may be one of the task's keyword
    arguments, as under plain python.

    Was broken (instrument._patch_executor): the patched submit(self, fn, *args, **kwargs)
    had no '/', so submit(g, fn=1) raises 'TypeError: ... got multiple values for
    argument 'fn'' in a traced program only.
    """
    program = write(
        tmp_path,
        "fn.py",
        """
        from concurrent.futures import ProcessPoolExecutor


        def g(fn):
            return fn + 1


        if __name__ == '__main__':
            with ProcessPoolExecutor(1) as executor:
                print(executor.submit(g, fn=1).result())
        """,
    )
    run = trace(str(program))
    assert plain(str(program)) == CliResult(0, "2\n", "")
    assert run.status == 0, run.stderr
    assert program_stdout(run.stderr) == ["2"]
    assert run.doc is not None
    assert run.doc["outcome"]["tasks"] == counts(submitted=1, started=1, completed=1)


# The shared CPython 3.14, where the tests look for it (conftest.unpacked_dirs).
PYTHON_314 = unpacked_python("3.14")

INTERPRETER_POOL = """
import sys
import time
from concurrent.futures import InterpreterPoolExecutor, ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context


def work(x):
    return x * 10


def slow(x):
    time.sleep(5)
    return x


if __name__ == '__main__':
    with InterpreterPoolExecutor(2) as pool:
        print(list(pool.map(work, range(3))), pool.submit(work, 4).result())
    try:
        pool.submit(work, 5)
    except RuntimeError as exc:
        print('after shutdown:', exc)
    with ThreadPoolExecutor(2) as pool:
        print(list(pool.map(work, range(3))))
    executor = ProcessPoolExecutor(2, mp_context=get_context('fork'))
    futures = [executor.submit(slow, i) for i in range(2)]
    time.sleep(0.3)
    executor.kill_workers()
    print(sorted(type(f.exception()).__name__ for f in futures))
    executor.shutdown()
    sys.stdout.flush()
    print('killed', file=sys.stderr)
    sys.exit(3)
"""


@pytest.mark.skipif(not PYTHON_314, reason=f"no CPython 3.14 unpacked in {UNPACKED}")
def test_interpreter_pool_and_kill_workers_are_followed_as_themselves(tmp_path: Path) -> None:
    """InterpreterPoolExecutor (3.14) is followed as itself: its tasks, handed to its
    subinterpreters unwrapped, are reported by its worker threads; ProcessPoolExecutor's
    kill_workers() is reported as itself, not as the shutdown() it makes. The program's
    stdout, stderr and exit status are plain python's.

    Was: the interpreter pool not followed at all ("no pool was created"), kill_workers()
    shown as shutdown(wait=False, cancel_futures=True).
    """
    python = str(PYTHON_314)
    program = write(tmp_path, "interpreters.py", INTERPRETER_POOL)
    expected = subprocess.run([python, str(program)], capture_output=True, text=True, timeout=60)
    assert expected.returncode == 3, expected.stderr
    assert expected.stdout.splitlines()[1:] == [
        "after shutdown: cannot schedule new futures after shutdown",
        "[0, 10, 20]",
        "['BrokenProcessPool', 'BrokenProcessPool']",
    ]
    assert expected.stderr == "killed\n"
    run = trace("--python", python, str(program))
    assert run.status == 3, run.stderr
    # Under --json the program's stdout comes on stderr, before its own stderr's line.
    assert run.stderr == expected.stdout + expected.stderr
    assert run.doc is not None
    pools = run.doc["outcome"]["pools"]
    assert [p["api"] for p in pools] == ["interpreter-executor", "thread-executor", "executor"]
    assert pools[0]["tasks"] == counts(submitted=4, started=4, completed=4)
    started = events(run.doc, "task.started", pool=1)
    threads = {w["pid"] for w in run.doc["outcome"]["workers"] if w.get("pool") == 1}
    assert {e["worker"] for e in started} <= threads
    assert events(run.doc, "error.raised", pool=1, step="submit")
    calls = [call for call in lifecycle(run.doc) if call[1] == 3]
    assert calls == [
        ("kill-workers.called", 3),
        ("kill-workers.returned", 3),
        ("shutdown.called", 3),
        ("shutdown.returned", 3),
    ]
    assert {w["signal"] for w in run.doc["outcome"]["workers"] if w.get("pool") == 3} <= {
        "SIGKILL",
        "SIGTERM",
    }
