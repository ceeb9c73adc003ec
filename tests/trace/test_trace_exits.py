"""How a traced program ends: its own status, or 128+N when a signal kills it, or 124 when
it hangs past --timeout; and what happens to the pools it leaves running (the exit-time
finalizer, or poolctl killing what outlives the program)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import nothing_left
from tracing import counts, events, lifecycle, position, program_stdout, trace, write

# How long a hung program may take beyond its --timeout: the kill, the reaping, the report.
SLACK = 8.0

# The start of a program whose pool has a busy worker; what follows it decides how it ends.
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

# --- a program that hangs ---------------------------------------------------------------


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
                runs.map(lambda p: trace("--timeout", "2", str(p), check=False), programs.values()),
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


# --- a program that leaves its pool running ---------------------------------------------


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


# --- a program that dies without cleaning up --------------------------------------------


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
