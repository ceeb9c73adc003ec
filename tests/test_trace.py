"""``poolctl trace`` on the user's own, unchanged programs, written here into ``tmp_path``.

Every run goes through the real entry point (``python -m poolctl trace``) unless it says
CliRunner, under an environment marker of its own: once it returns, no process of the
run (the program, its workers, a fork server, a resource tracker) may be left.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from typer.testing import CliRunner

from conftest import (
    CLI_TIMEOUT,
    ESC,
    MARKER_VAR,
    START_METHODS,
    CliResult,
    nothing_left,
    require_python,
    run_cli,
)
from poolctl.cli import app
from poolctl.errors import PoolctlError

# A task of a traced program: short, as the suite must stay fast.
TASK_SECONDS = 0.05
# How long a hung program may take beyond its --timeout: the kill, the reaping, the report.
SLACK = 8.0


# --- running ---------------------------------------------------------------------------


class Traced(NamedTuple):
    """One ``poolctl trace`` run: its status, streams, and the document if --json."""

    status: int
    stdout: str
    stderr: str
    doc: dict[str, Any] | None
    seconds: float
    marker: str  # every process of the run carried MARKER_VAR=marker


def trace(
    *args: str, stdin: str | None = None, json_doc: bool = True, check: bool = True
) -> Traced:
    """``python -m poolctl trace ARGS`` (with ``--json`` unless told not to), then check
    that nothing of it is left (unless ``check`` is false: runs side by side are checked
    once all have returned, as one's exit would look like a zombie to the other's check).
    ``stdin`` is piped to it; otherwise it reads /dev/null."""
    marker = uuid.uuid4().hex
    words = ["trace", *args] if not json_doc else ["trace", "--json", *args]
    begun = time.monotonic()
    done = run_cli(*words, env={MARKER_VAR: marker}, stdin=stdin)
    seconds = time.monotonic() - begun
    if check:
        nothing_left(marker)
    doc = None
    if json_doc and done.stdout:
        doc = json.loads(done.stdout)  # the whole of stdout: one JSON document
    return Traced(done.returncode, done.stdout, done.stderr, doc, seconds, marker)


def plain(*args: str, stdin: str | None = None) -> CliResult:
    """The same program under plain ``python ARGS``, for comparison (nothing may be left)."""
    marker = uuid.uuid4().hex
    proc = subprocess.run(
        [sys.executable, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env={**os.environ, MARKER_VAR: marker},
    )
    nothing_left(marker, adopted=True)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def write(directory: Path, name: str, source: str) -> Path:
    """Write a program (dedented) into ``directory``; return its path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


# --- reading documents -----------------------------------------------------------------


def events(doc: dict[str, Any], kind: str, **match: Any) -> list[dict[str, Any]]:
    """The events of ``kind`` whose fields equal ``match``, in order."""
    return [
        e
        for e in doc["events"]
        if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())
    ]


def position(doc: dict[str, Any], kind: str, **match: Any) -> int:
    """The index of the first event of ``kind`` matching ``match`` (fails if none)."""
    for i, e in enumerate(doc["events"]):
        if e["kind"] == kind and all(e.get(k) == v for k, v in match.items()):
            return i
    raise AssertionError(f"no {kind} {match} event in {[e['kind'] for e in doc['events']]}")


def lifecycle(doc: dict[str, Any]) -> list[tuple[str, int | None]]:
    """The pools' lifecycle calls in order: ('close.called', 1), ..."""
    return [
        (e["kind"], e.get("pool"))
        for e in doc["events"]
        if e["kind"].endswith((".called", ".returned")) and "pool" in e
    ]


def counts(**nonzero: int) -> dict[str, int]:
    """An ``outcome.tasks`` dict: the given counts, every other one 0."""
    keys = ("submitted", "started", "completed", "interrupted", "never_started", "failed")
    assert set(nonzero) <= set(keys)
    return {k: nonzero.get(k, 0) for k in keys}


def program_stdout(text: str) -> list[str]:
    """The program's own stdout lines from poolctl's stderr under --json."""
    return text.splitlines()


def assert_each_item_a_task(doc: dict[str, Any], phases: list[int]) -> None:
    """Every item of every call is one task: submitted, then started, then finished.

    ``phases`` are the item counts of the program's calls, made one after the other (each
    waits for its results): their tasks are numbered in turn, and no task of a call is
    submitted before every task of the call before it finished.
    """
    total = sum(phases)
    stamps: dict[str, dict[int, float]] = {}
    for kind in ("task.submitted", "task.started", "task.finished"):
        found = events(doc, kind)
        tasks = [e["task"] for e in found]
        assert sorted(tasks) == list(range(total)), (kind, tasks)  # each exactly once
        stamps[kind] = {e["task"]: e["t"] for e in found}
    assert not events(doc, "task.failed")
    for task in range(total):
        submitted, started, finished = (
            stamps[k][task] for k in ("task.submitted", "task.started", "task.finished")
        )
        assert submitted <= started <= finished, (task, submitted, started, finished)
    first = 0
    previous: list[int] = []
    for size in phases:
        these = list(range(first, first + size))
        if these and previous:
            assert max(stamps["task.finished"][t] for t in previous) <= min(
                stamps["task.submitted"][t] for t in these
            ), (previous, these)
        if these:
            previous = these
        first += size


# --- each pool kind, each start method, each submission function ------------------------


# (the call, how many items it submits, what it returns), made one after the other.
POOL_CALLS = [
    ("[pool.apply(work, (1,))]", 1, [10]),
    ("[pool.apply_async(work, (2,), callback=got.append).get(), got[-1]]", 1, [20, 20]),
    ("pool.map(work, range(3))", 3, [0, 10, 20]),
    ("pool.map(work, range(4), chunksize=3)", 4, [0, 10, 20, 30]),
    ("pool.map(work, [])", 0, []),
    ("pool.map_async(work, [4, 5]).get()", 2, [40, 50]),
    ("list(pool.imap(work, range(3)))", 3, [0, 10, 20]),
    ("list(pool.imap(work, range(4), chunksize=2))", 4, [0, 10, 20, 30]),
    ("sorted(pool.imap_unordered(work, range(3)))", 3, [0, 10, 20]),
    ("pool.starmap(pair, [(1, 2), (3, 4)])", 2, [30, 70]),
    ("pool.starmap_async(pair, [(5, 6)], chunksize=2).get()", 1, [110]),
]
EXECUTOR_CALLS = [
    ("[pool.submit(work, 1).result()]", 1, [10]),
    ("[pool.submit(pair, 1, y=2).result()]", 1, [30]),
    ("list(pool.map(work, range(3)))", 3, [0, 10, 20]),
    ("list(pool.map(work, range(7), chunksize=3))", 7, [v * 10 for v in range(7)]),
    ("list(pool.map(pair, [1, 2, 3], [4, 5, 6, 7], chunksize=2))", 3, [50, 70, 90]),
    ("list(pool.map(work, []))", 0, []),
]

SUBMISSION_PROGRAM = """
import json
import multiprocessing
import sys
import time
{imports}


def work(x):
    time.sleep({seconds})
    return x * 10


def pair(x, y):
    return work(x + y)


if __name__ == '__main__':
    {setup}
    got = []
    results = []
    with {make} as pool:
{calls}
    print(json.dumps(results))
"""


def submission_program(kind: str, method: str, style: str) -> tuple[str, list[int], list[Any]]:
    """A program making every call of ``kind`` on one pool of 2 workers; the start method
    is set by ``set_start_method`` ('set') or passed as a ``get_context`` ('context')."""
    calls = EXECUTOR_CALLS if kind == "executor" else POOL_CALLS
    imports = {
        "pool": "",
        "threadpool": "from multiprocessing.pool import ThreadPool",
        "executor": "from concurrent.futures import ProcessPoolExecutor",
    }[kind]
    setup = (
        f"multiprocessing.set_start_method({method!r})"
        if style == "set"
        else f"ctx = multiprocessing.get_context({method!r})"
    )
    make = {
        ("pool", "set"): "multiprocessing.Pool(2)",
        ("pool", "context"): "ctx.Pool(processes=2)",
        ("executor", "set"): "ProcessPoolExecutor(2)",
        ("executor", "context"): "ProcessPoolExecutor(max_workers=2, mp_context=ctx)",
        ("threadpool", "set"): "ThreadPool(2)",
    }[(kind, style)]
    body = "\n".join(f"        results.append({call})" for call, _, _ in calls)
    source = SUBMISSION_PROGRAM.format(
        imports=imports, seconds=TASK_SECONDS, setup=setup, make=make, calls=body
    )
    return source, [n for _, n, _ in calls], [value for _, _, value in calls]


# Each process pool kind under each start method; each kind and each method gets both ways
# of choosing it. A ThreadPool starts no process: its start method is None whatever is set.
SUBMISSIONS = [
    ("pool", "fork", "set"),
    ("pool", "spawn", "context"),
    ("pool", "forkserver", "set"),
    ("executor", "fork", "context"),
    ("executor", "spawn", "set"),
    ("executor", "forkserver", "context"),
    ("threadpool", "spawn", "set"),
]


@pytest.mark.parametrize(("kind", "method", "style"), SUBMISSIONS)
def test_every_submission_function_makes_one_task_per_item(
    kind: str, method: str, style: str, tmp_path: Path
) -> None:
    """apply, apply_async, map, map_async, imap, imap_unordered, starmap(_async); submit
    and map (chunksize 1 and > 1, several iterables, none): one task per item, each
    submitted, started and finished in that order, by a worker of its pool; the program's
    results unchanged."""
    source, phases, expected = submission_program(kind, method, style)
    program = write(tmp_path, "calls.py", source)
    run = trace(str(program))
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
    assert pool["start_method"] == (None if kind == "threadpool" else method)
    assert pool["tasks"] == outcome["tasks"]
    assert_each_item_a_task(run.doc, phases)
    # Every task ran in a worker of this pool (a process pool's: not in the main process).
    workers = set(pool["workers"])
    assert len(workers) == 2 or (kind == "executor" and len(workers) == 1)
    assert {e["worker"] for e in events(run.doc, "task.started")} <= workers
    assert {e["pool"] for e in events(run.doc, "task.started")} == {1}
    if kind != "threadpool":
        assert run.doc["outcome"]["main"]["pid"] not in workers
    # Leaving the with block is one call, reported once (not the terminate() or
    # shutdown() inside it), and it returns after the workers it ended.
    assert lifecycle(run.doc) == [("with-exit.called", 1), ("with-exit.returned", 1)]
    if kind == "pool":
        returned = position(run.doc, "with-exit.returned")
        exits = [i for i, e in enumerate(run.doc["events"]) if e["kind"] == "worker.exited"]
        assert len(exits) == 2 and max(exits) < returned


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


# --- a program that hangs ---------------------------------------------------------------

BUSY = """
import os
import signal
import sys
import time
from multiprocessing import get_context


def init(queue):
    global started
    started = queue


def busy(seconds):
    started.put(os.getpid())  # the main process learns which worker runs a task
    time.sleep(seconds)
    return seconds


def pool_with_a_busy_worker(method, workers=1, tasks=1, seconds=30):
    context = get_context(method)
    queue = context.SimpleQueue()
    pool = context.Pool(workers, initializer=init, initargs=(queue,))
    for _ in range(tasks):
        pool.apply_async(busy, (seconds,))
    return pool, queue.get()

"""

HANGS = {
    # CPython issue 96062: the lost task's result never arrives, join() waits for ever.
    "killed-worker": BUSY
    + """
if __name__ == '__main__':
    pool, worker = pool_with_a_busy_worker('forkserver', workers=2)
    os.kill(worker, signal.SIGKILL)
    pool.close()
    print('joining', flush=True)
    pool.join()
    print('Main done')
""",
    "endless-task": BUSY
    + """
if __name__ == '__main__':
    pool, worker = pool_with_a_busy_worker('spawn', seconds=3600)
    pool.close()
    print('joining', flush=True)
    pool.join()
    print('Main done')
""",
}


def test_a_hung_join_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    """join() that never returns (a busy worker SIGKILLed; a task that never ends), under
    --timeout 2: exit 124 soon after 2 s, outcome.hung, the task interrupted, every
    process of the program killed and reaped (the two programs run side by side)."""
    programs = {name: write(tmp_path, f"{name}.py", text) for name, text in HANGS.items()}
    with ThreadPoolExecutor(len(programs)) as runs:
        done = dict(
            zip(
                programs,
                runs.map(lambda p: trace(str(p), "--timeout", "2", check=False), programs.values()),
                strict=True,
            )
        )
    for run in done.values():
        nothing_left(run.marker)
    for name, run in done.items():
        assert run.status == 124, (name, run.stderr)
        assert 2.0 <= run.seconds < 2.0 + SLACK, name
        assert run.doc is not None
        outcome = run.doc["outcome"]
        assert outcome["hung"] is True, name
        assert outcome["main"]["finished"] is False
        assert outcome["main"]["signal"] == "SIGKILL", name  # poolctl's kill at the timeout
        assert outcome["tasks"]["interrupted"] == 1, name
        assert outcome["tasks"]["completed"] == 0, name
        assert program_stdout(run.stderr) == ["joining"], name
        assert lifecycle(run.doc) == [
            ("close.called", 1),
            ("close.returned", 1),
            ("join.called", 1),
        ], name
        assert events(run.doc, "run.timeout"), name
        assert not events(run.doc, "main.exiting"), name
        assert run.doc["params"]["timeout"] == 2.0
        alive = [w for w in outcome["workers"] if w["exited"] is None]
        assert alive and all(w["killed_by_poolctl"] for w in alive), name
    killed = [w for w in done["killed-worker"].doc["outcome"]["workers"] if w["signal"]]  # type: ignore[index]
    assert [(w["signal"], w["killed_by_poolctl"]) for w in killed] == [("SIGKILL", False)]


# --- exceptions, tracebacks, exit statuses ----------------------------------------------


def without_addresses(text: str) -> str:
    """``text`` with object addresses (0x7f...) blanked: they differ from run to run."""
    return re.sub(r"0x[0-9a-f]+", "0x?", text)


RAISES = """
import multiprocessing


class Boom(Exception):
    pass


def inner(pool):
    pool.map(abs, [-1, -2])
    raise Boom('from inner')


def outer():
    with multiprocessing.get_context('spawn').Pool(1) as pool:
        inner(pool)


if __name__ == '__main__':
    outer()
"""


def test_an_uncaught_exception_shows_the_programs_traceback(tmp_path: Path) -> None:
    """An exception the program does not catch: exit 1, outcome.main.uncaught, and the
    very traceback plain python prints (the program's frames, none of poolctl's)."""
    program = write(tmp_path, "raises.py", RAISES)
    run = trace(str(program))
    expected = plain(str(program))
    assert (run.status, expected.returncode) == (1, 1)
    assert run.stderr == expected.stderr
    assert [line.split(", in ")[-1] for line in run.stderr.splitlines() if "raises.py" in line] == [
        "<module>",
        "outer",
        "inner",
    ]
    assert "poolctl_subject" not in run.stderr and "runpy" not in run.stderr
    assert run.doc is not None
    outcome = run.doc["outcome"]
    assert outcome["main"]["uncaught"] == {"type": "Boom", "message": "from inner"}
    assert outcome["main"]["exit_code"] == 1 and not outcome["main"]["finished"]
    assert outcome["error"] is None  # no pool call raised
    assert outcome["tasks"] == counts(submitted=2, started=2, completed=2)
    assert position(run.doc, "with-exit.returned") < position(run.doc, "program.raised")


JOIN_WITHOUT_CLOSE = """
import time
from multiprocessing import get_context


def work(x):
    time.sleep(0.3)
    return x


def finish(pool):
    pool.join()


if __name__ == '__main__':
    pool = get_context('forkserver').Pool(2)
    pool.apply_async(work, (1,))
    finish(pool)
    print('Main done')
"""


def test_join_without_close_is_the_error_of_step_join(tmp_path: Path) -> None:
    """join() on a running pool: ValueError recorded as outcome.error of step 'join',
    uncaught (exit 1) with plain python's traceback; the exit-time finalizer then
    terminates the pool, so the issued task never completes."""
    program = write(tmp_path, "jwc.py", JOIN_WITHOUT_CLOSE)
    run = trace(str(program))
    assert run.status == 1
    assert run.doc is not None
    outcome = run.doc["outcome"]
    assert outcome["error"] == {
        "type": "ValueError",
        "message": "Pool is still running",
        "step": "join",
    }
    assert outcome["main"]["uncaught"] == {"type": "ValueError", "message": "Pool is still running"}
    assert lifecycle(run.doc) == [("join.called", 1)]
    assert position(run.doc, "join.called") < position(run.doc, "error.raised", pool=1)
    assert outcome["tasks"]["submitted"] == 1 and outcome["tasks"]["completed"] == 0
    assert "Main done" not in run.stderr
    assert {w["exit_code"] for w in outcome["workers"]} <= {0, -signal.SIGTERM}
    expected = plain(str(program))
    assert run.stderr == expected.stderr
    assert run.stderr.splitlines()[-1] == "ValueError: Pool is still running"
    line = JOIN_WITHOUT_CLOSE.lstrip().splitlines().index("    pool.join()") + 1
    assert f'jwc.py", line {line}, in finish' in run.stderr
    assert "poolctl_subject" not in run.stderr


LEFT_RUNNING = (
    BUSY
    + """
if __name__ == '__main__':
    pool, worker = pool_with_a_busy_worker('{method}', workers=1, tasks=2)
    {ending}
    print('Main done')
"""
)


@pytest.mark.parametrize(
    ("method", "ending", "status"),
    [
        ("forkserver", "pool.close()", 0),
        ("fork", "sys.exit(3)", 3),
        ("spawn", "sys.exit('bye')", 1),
    ],
    ids=["close-without-join", "sys.exit(3)", "sys.exit(text)"],
)
def test_the_exit_time_finalizer_terminates_a_pool_left_running(
    tmp_path: Path, method: str, ending: str, status: int
) -> None:
    """close() without join(), or an early sys.exit(), with one worker busy and one task
    queued: the program's own status; at exit multiprocessing's finalizer SIGTERMs the
    worker: the running task is interrupted, the queued one never starts."""
    program = write(tmp_path, "left.py", LEFT_RUNNING.format(method=method, ending=ending))
    run = trace(str(program))
    assert run.status == status, run.stderr
    assert run.doc is not None
    outcome = run.doc["outcome"]
    assert outcome["tasks"] == counts(submitted=2, started=1, interrupted=1, never_started=1)
    assert outcome["error"] is None and outcome["main"]["uncaught"] is None
    assert outcome["main"]["exit_code"] == status
    [worker] = outcome["workers"]
    assert worker["signal"] == "SIGTERM" and not worker["killed_by_poolctl"]
    assert outcome["leftovers"] == []
    exited = position(run.doc, "worker.exited", worker=worker["pid"])
    assert exited < position(run.doc, "main.exiting")  # during the interpreter's exit
    assert not events(run.doc, "join.called")
    if status == 0:
        assert lifecycle(run.doc) == [("close.called", 1), ("close.returned", 1)]
        assert position(run.doc, "main.finished") < exited
        assert program_stdout(run.stderr) == ["Main done"]
    else:
        assert outcome["main"]["finished"] is False
        assert "Main done" not in run.stderr
    if ending == "sys.exit('bye')":
        assert run.stderr.splitlines()[-1] == "bye"


KILLS = (
    BUSY
    + """
if __name__ == '__main__':
    pool, worker = pool_with_a_busy_worker('fork', workers=2)
    {ending}
"""
)


@pytest.mark.parametrize(
    ("ending", "status", "signal_name"),
    [
        ("os.kill(os.getpid(), signal.SIGKILL)", 137, "SIGKILL"),
        ("os.kill(os.getpid(), signal.SIGTERM)", 143, "SIGTERM"),
        ("raise KeyboardInterrupt", 130, "SIGINT"),
        ("os._exit(4)", 4, None),
    ],
    ids=["SIGKILL", "SIGTERM", "KeyboardInterrupt", "os._exit"],
)
def test_a_program_that_dies_without_cleaning_up(
    tmp_path: Path, ending: str, status: int, signal_name: str | None
) -> None:
    """Killed by a signal: 128+N, as a shell says it; os._exit(4): 4. No exit-time
    finalizer ran, so the pool's workers outlive the program: poolctl kills them."""
    program = write(tmp_path, "dies.py", KILLS.format(ending=ending))
    run = trace(str(program))
    assert run.status == status, run.stderr
    assert run.doc is not None
    outcome = run.doc["outcome"]
    assert outcome["main"]["signal"] == signal_name
    assert outcome["main"]["exit_code"] == (status if signal_name is None else 128 - status)
    assert outcome["hung"] is False
    assert outcome["tasks"]["interrupted"] == 1 and outcome["tasks"]["completed"] == 0
    workers = set(outcome["pools"][0]["workers"])
    if signal_name == "SIGINT":  # KeyboardInterrupt unwinds: the exit-time finalizer runs
        assert events(run.doc, "main.exiting") and outcome["leftovers"] == []
        assert {w["signal"] for w in outcome["workers"]} <= {"SIGTERM", None}
    else:
        assert not events(run.doc, "main.exiting")
        # The busy worker outlives the program (an idle one reads EOF and exits itself):
        # poolctl kills it, and says so.
        [busy] = [w["pid"] for w in outcome["workers"] if w["tasks"]]
        assert busy in {p["pid"] for p in outcome["leftovers"]} <= workers


def test_keyboard_interrupt_traceback_is_the_programs(tmp_path: Path) -> None:
    """An uncaught KeyboardInterrupt: exit 130 and the traceback plain python prints,
    without poolctl's frames, like every other uncaught exception.

    Was broken (tracer._execute): KeyboardInterrupt, re-raised untouched, was printed
    with the bootstrap's frames ('<string>', tracer.py main, _run_script,
    _execute, <lambda>) above the program's.
    """
    program = write(
        tmp_path,
        "interrupted.py",
        """
        def main():
            raise KeyboardInterrupt

        main()
        """,
    )
    run = trace(str(program))
    expected = plain(str(program))
    assert (run.status, expected.returncode) == (130, -signal.SIGINT)
    assert run.doc is not None
    assert run.doc["outcome"]["main"]["signal"] == "SIGINT"
    assert "poolctl_subject" not in run.stderr
    assert run.stderr == expected.stderr


def test_a_syntax_error_in_an_imported_module_is_the_programs_own(tmp_path: Path) -> None:
    """Only the program itself failing to compile is 'cannot run' (126): a module it
    imports is its own business, an exception with status 1, as under plain python."""
    write(tmp_path, "broken_helper.py", "def f(:\n    pass\n")
    program = write(tmp_path, "imports.py", "import sys\nimport broken_helper\n")
    run = trace(str(program))
    expected = plain(str(program))
    assert run.status == expected.returncode == 1
    assert run.stderr == expected.stderr
    assert 'broken_helper.py", line 1' in run.stderr
    assert run.doc is not None
    assert run.doc["outcome"]["main"]["uncaught"]["type"] == "SyntaxError"


# --- the program's streams, arguments and module ----------------------------------------


ECHO = '''
"""The program's own docstring."""
import json
import os
import sys

print(json.dumps({
    "argv": sys.argv,
    "name": __name__,
    "file": __file__,
    "path0": sys.path[0],
    "doc": __doc__,
    "spec": repr(__spec__),
    "package": __package__,
    "cwd": os.getcwd(),
}))
print("héllo ✓ on stdout")
sys.stdout.flush()
print("a line on stderr", file=sys.stderr)
sys.exit(int(os.environ.get("ECHO_STATUS", "7")))
'''


def test_the_program_sees_what_plain_python_gives_it(tmp_path: Path) -> None:
    """sys.argv (poolctl's options taken anywhere before '--', every other word passed on,
    '--' passes even poolctl's), __name__ == '__main__', __file__, sys.path[0], its
    docstring; its stdout and stderr through, its exit status as poolctl's."""
    program = write(tmp_path, "echo.py", ECHO)
    words = ["a", "-x", "--flag=1", "--timeout", "30", "b c", "--", "--json", "--timeout", "3"]
    run = trace(str(program), *words, json_doc=False)
    expected = plain(str(program), "a", "-x", "--flag=1", "b c", "--json", "--timeout", "3")
    assert expected.returncode == 7
    assert run.status == 7
    # The program's stdout first, then a blank line, then poolctl's report.
    assert run.stdout.startswith(expected.stdout + "\n"), run.stdout
    assert "The program  exited with status 7" in run.stdout
    assert run.stderr == expected.stderr == "a line on stderr\n"
    seen = json.loads(expected.stdout.splitlines()[0])
    assert seen["argv"][1:] == ["a", "-x", "--flag=1", "b c", "--json", "--timeout", "3"]
    assert seen["name"] == "__main__"
    assert seen["path0"] == str(tmp_path)
    assert seen["doc"] == "The program's own docstring."


def test_with_json_stdout_is_the_document_and_the_programs_stdout_goes_to_stderr(
    tmp_path: Path,
) -> None:
    """--json anywhere before '--': stdout is exactly one JSON document; the program's
    stdout comes out on stderr (its stderr too), and both are recorded in 'output'."""
    program = write(tmp_path, "echo.py", ECHO)
    run = trace(str(program), "first", "--timeout", "30", json_doc=True)
    assert run.status == 7
    assert run.doc is not None
    assert run.stdout.endswith("}\n") and ESC not in run.stdout
    # Its two streams arrive on two pipes: which poolctl reads first is not told.
    lines = program_stdout(run.stderr)
    [seen] = [json.loads(line) for line in lines if line.startswith("{")]
    assert seen["argv"] == [str(program), "first"]
    assert sorted(line for line in lines if not line.startswith("{")) == [
        "a line on stderr",
        "héllo ✓ on stdout",
    ]
    doc = run.doc
    assert doc["schema"] == "poolctl.run/1"
    assert doc["program"] == {
        "argv": [str(program), "first"],
        "path": str(program),
        "module": None,
        "name": str(program),
    }
    assert doc["params"]["timeout"] == 30.0
    assert (doc["expected"], doc["checks"], doc["matches"]) == (None, [], None)
    assert doc["outcome"]["pools"] == [] and doc["outcome"]["main"]["exit_code"] == 7
    recorded = [(o["stream"], o["text"]) for o in doc["output"]]
    assert ("stdout", "héllo ✓ on stdout") in recorded
    assert ("stderr", "a line on stderr") in recorded


def test_stdin_piped_in_reaches_the_program(tmp_path: Path) -> None:
    """Input piped to poolctl is the program's stdin: here each line becomes a task."""
    program = write(
        tmp_path,
        "lines.py",
        """
        import sys
        from multiprocessing import get_context


        def shout(line):
            return line.strip().upper()


        if __name__ == '__main__':
            lines = sys.stdin.readlines()
            with get_context('forkserver').Pool(2) as pool:
                print(pool.map(shout, lines))
        """,
    )
    run = trace(str(program), stdin="one\ntwo\nthree\n")
    assert run.status == 0, run.stderr
    assert program_stdout(run.stderr) == ["['ONE', 'TWO', 'THREE']"]
    assert run.doc is not None
    assert run.doc["outcome"]["tasks"] == counts(submitted=3, started=3, completed=3)
    empty = trace(str(program))  # nothing piped in: the program reads an empty stdin
    assert program_stdout(empty.stderr) == ["[]"]


MODULE = """
import json
import sys
from multiprocessing import get_context


def square(x):
    return x * x


if __name__ == '__main__':
    print(json.dumps({"argv": sys.argv, "name": __name__, "spec": __spec__.name}))
    with get_context('spawn').Pool(2) as pool:
        print(pool.map(square, [int(a) for a in sys.argv[1:]]))
"""


def test_a_module_with_minus_m(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-m package.module ARGS from the current folder: the module's argv, __name__ and
    __spec__ as under 'python -m'; a spawn pool whose task function lives in the module."""
    write(tmp_path, "tools/__init__.py", "")
    write(tmp_path, "tools/squares.py", MODULE)
    monkeypatch.chdir(tmp_path)
    run = trace("-m", "tools.squares", "2", "3", "--timeout", "30", "4")
    expected = plain("-m", "tools.squares", "2", "3", "4")
    assert run.status == expected.returncode == 0, run.stderr
    assert run.stderr == expected.stdout
    seen = json.loads(expected.stdout.splitlines()[0])
    assert seen == {
        "argv": [str(tmp_path / "tools" / "squares.py"), "2", "3", "4"],
        "name": "__main__",
        "spec": "tools.squares",
    }
    assert run.doc is not None
    assert run.doc["program"]["module"] == "tools.squares"
    assert run.doc["program"]["argv"] == ["-m", "2", "3", "4"]
    assert run.doc["outcome"]["tasks"] == counts(submitted=3, started=3, completed=3)
    assert run.doc["outcome"]["pools"][0]["start_method"] == "spawn"


def test_double_dash_passes_json_to_the_program(tmp_path: Path) -> None:
    """'poolctl trace prog.py -- --json': the program gets --json, poolctl prints its
    report, not JSON; '--' before the program works the same way."""
    program = write(tmp_path, "args.py", "import sys\nprint(sys.argv[1:])\n")
    for words in ([str(program), "--", "--json"], ["--", str(program), "--json"]):
        run = trace(*words, json_doc=False)
        assert run.status == 0, run.stderr
        assert run.stdout.startswith("['--json']\n\n"), run.stdout
        assert "Outcome" in run.stdout
        with pytest.raises(json.JSONDecodeError):
            json.loads(run.stdout)


# --- programs that cannot run, bad options ----------------------------------------------


def cannot_run_cases(directory: Path) -> list[tuple[list[str], int, str]]:
    """(arguments, status, what the one line says) for programs that never run."""
    write(directory, "bad.py", "x = 1\nif x\n    pass\n")
    write(directory, "badpkg/__init__.py", "")
    write(directory, "badpkg/mod.py", "y = (\n")
    ran = directory / "ran"
    write(directory, "fine.py", f"open({str(ran)!r}, 'w').close()\n")
    fine = str(directory / "fine.py")
    return [
        ([str(directory / "missing.py")], 127, "missing.py: no such file"),
        (["-m", "no_such_module_here"], 127, "No module named no_such_module_here"),
        (["-m", "badpkg.nothing"], 127, "No module named badpkg.nothing"),
        ([str(directory / "bad.py")], 126, "line 2"),
        (["-m", "badpkg.mod"], 126, "line 1"),
        ([str(directory / "badpkg")], 126, "is a directory"),
        ([fine, "--timeout", "soon"], 2, "--timeout"),
        ([fine, "--timeout", "0"], 2, "--timeout"),
        ([fine, "--python", str(directory / "nopython")], 2, "no such file"),
        ([fine, "--svg", str(directory / "nodir" / "x.svg")], 2, "no such directory"),
        ([], 2, "name a program"),
    ]


def test_programs_that_cannot_run_get_one_line_and_a_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not found 127, cannot run 126 (the syntax error's line named), bad option 2: one
    'poolctl:' line on stderr (ended by its newline), nothing on stdout, no traceback,
    the program never run."""
    monkeypatch.chdir(tmp_path)  # -m looks here
    for args, status, says in cannot_run_cases(tmp_path):
        run = trace(*args, json_doc=False)
        assert run.status == status, (args, run.stderr)
        assert run.stdout == "", args
        lines = run.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("poolctl: "), (args, run.stderr)
        assert run.stderr == lines[0] + "\n", (args, run.stderr)
        assert says in lines[0], (args, lines)
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "ran").exists()


# --- exports, interpreters --------------------------------------------------------------


def test_exports_are_written_and_valid(tmp_path: Path) -> None:
    """--trace, --svg and --html with --json: each file written and well formed; the SVG
    is the one 'poolctl render' draws from the same document."""
    source, _, _ = submission_program("pool", "fork", "context")
    program = write(tmp_path, "calls.py", source)
    out = {"trace": tmp_path / "out.json", "svg": tmp_path / "out.svg"}
    out["html"] = tmp_path / "out.html"
    run = trace(str(program), *(w for kind, path in out.items() for w in (f"--{kind}", str(path))))
    assert run.status == 0, run.stderr
    perfetto = json.loads(out["trace"].read_text())
    assert isinstance(perfetto["traceEvents"], list) and perfetto["traceEvents"]
    main_pid = run.doc["outcome"]["main"]["pid"]  # type: ignore[index]
    assert main_pid in {e.get("pid") for e in perfetto["traceEvents"]}
    svg = out["svg"].read_text()
    assert svg.lstrip().startswith(("<svg", "<?xml")) and svg.rstrip().endswith("</svg>")
    html = out["html"].read_text()
    assert html.lower().startswith("<!doctype html") and "poolctl trace" in html
    saved = tmp_path / "doc.json"
    saved.write_text(run.stdout)
    again = tmp_path / "again.svg"
    result = CliRunner().invoke(app, ["render", str(saved), "--svg", str(again)])
    assert result.exit_code == 0, result.output
    assert again.read_text() == svg


UNDER = """
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def work(x):
    time.sleep(0.05)
    return x + 1


if __name__ == '__main__':
    context = get_context('spawn')
    with context.Pool(2) as pool:
        first = pool.map(work, range(3))
    with ProcessPoolExecutor(2, mp_context=context) as executor:
        second = list(executor.map(work, range(4), chunksize=2))
    print('%d.%d' % sys.version_info[:2], first + second)
"""


@pytest.mark.parametrize("version", ["3.8", "3.13"])
def test_under_another_interpreter(tmp_path: Path, version: str) -> None:
    """--python: the program runs under that interpreter, oldest and newest supported."""
    python = require_python(version)
    program = write(tmp_path, "under.py", UNDER)
    run = trace(str(program), "--python", str(python))
    assert run.status == 0, run.stderr
    assert program_stdout(run.stderr) == [f"{version} [1, 2, 3, 1, 2, 3, 4]"]
    assert run.doc is not None
    assert run.doc["python"]["version"].startswith(f"{version}.")
    assert run.doc["python"]["executable"] == str(python)
    assert [p["tasks"]["completed"] for p in run.doc["outcome"]["pools"]] == [3, 4]
    assert run.doc["outcome"]["tasks"] == counts(submitted=7, started=7, completed=7)


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


def test_main_module_globals_are_plain_pythons(tmp_path: Path) -> None:
    """The __main__ module the program runs in has the names plain python gives it.

    Was broken (tracer._run_script): __annotations__ was missing (plain python 3.8-3.13
    starts __main__ with __annotations__ = {}), so 'print(__annotations__)' raises
    NameError in a traced program only.
    """
    program = write(
        tmp_path,
        "names.py",
        "import sys\nprint(sorted(globals()))\nprint(__annotations__)\n",
    )
    run = trace(str(program))
    expected = plain(str(program))
    assert expected.returncode == 0
    assert run.status == 0, run.stderr
    assert run.stderr == expected.stdout


def test_main_module_globals_under_minus_m_are_plain_pythons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-m too: no name of poolctl's bootstrap (it once left 'sys' and 'main') in __main__."""
    write(tmp_path, "names.py", "print(sorted(globals()))\n")
    monkeypatch.chdir(tmp_path)
    run = trace("-m", "names")
    expected = plain("-m", "names")
    assert expected.returncode == 0
    assert run.status == 0, run.stderr
    assert run.stderr == expected.stdout


# --- through Typer's CliRunner ----------------------------------------------------------


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_cli_runner_json_and_the_programs_output(
    runner: CliRunner, marker: str, tmp_path: Path
) -> None:
    """In process, through CliRunner: --json on the captured stdout, the program's own
    stdout on the captured stderr, the program's status as the exit code."""
    source, phases, expected = submission_program("threadpool", "fork", "set")
    program = write(tmp_path, "calls.py", source + "    raise SystemExit(5)\n")
    result = runner.invoke(app, ["trace", str(program), "--json"])
    assert result.exit_code == 5, result.output
    doc = json.loads(result.stdout)
    assert json.loads(result.stderr.splitlines()[-1]) == expected
    assert doc["outcome"]["tasks"]["completed"] == sum(phases)
    assert doc["outcome"]["main"]["exit_code"] == 5
    assert_each_item_a_task(doc, phases)


def test_cli_runner_timeline_report(runner: CliRunner, marker: str, tmp_path: Path) -> None:
    """The terminal report, plain: the program's output first, its pools, its calls, how
    it ended; no colour codes under --no-color; the program's status as the exit code."""
    program = write(
        tmp_path,
        "report.py",
        """
        import time
        from multiprocessing import get_context


        def work(x):
            time.sleep(0.05)
            return x


        if __name__ == '__main__':
            pool = get_context('spawn').Pool(2)
            print(pool.map(work, range(3)))
            pool.terminate()
            pool.join()
            raise SystemExit(4)
        """,
    )
    result = runner.invoke(app, ["trace", str(program), "--no-color"], env={"COLUMNS": "200"})
    assert result.exit_code == 4, result.output
    out = result.stdout
    assert out.startswith("[0, 1, 2]\n\n")
    assert f"poolctl trace {program}" in out
    assert "Pool 1 (spawn, 2 workers)" in out
    for kind in ("pool.created", "terminate.called", "join.returned", "main.exited"):
        assert kind in out
    assert "3 submitted: 3 completed" in out
    assert "The program  exited with status 4" in out
    assert ESC not in out


def test_cli_runner_errors(runner: CliRunner, tmp_path: Path) -> None:
    """In process the error is raised for main() to print (with its exit status); a bad
    option is Click's usage error, status 2."""
    result = runner.invoke(app, ["trace", str(tmp_path / "missing.py")])
    assert isinstance(result.exception, PoolctlError)
    assert result.exception.exit_code == 127
    assert "no such file" in str(result.exception)
    program = write(tmp_path, "p.py", "pass\n")
    result = runner.invoke(app, ["trace", str(program), "--timeout", "soon"])
    assert result.exit_code == 2
    assert "--timeout" in result.output


def test_start_methods_are_those_of_conftest() -> None:
    """The start methods this file covers are the project's three."""
    assert {m for _, m, _ in SUBMISSIONS} == set(START_METHODS)
