"""The observer never changes the program's fate, and never claims what it did not see.

A program that drops privileges before it creates its pool leaves its workers unable to
create their event files: the run is reported as not completely observed, and the tasks
nobody saw start are ``unknown``, never "never started". A failure of poolctl's own code
inside the program (its watcher thread, its patched pool methods, its worker wrappers) is
poolctl's failure, exit 125 with its message: the program itself runs on unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_cli
from poolctl.observer.observe import SUBJECT_ROOT
from tracing import plain, trace, write

NOBODY = 65534

# The program drops to uid/gid 65534 before it creates its pool; everything it needs is
# imported first (a pyenv interpreter under /root is unreadable to that user).
DROPS_PRIVILEGES = """
import os
import sys
import multiprocessing.pool
from multiprocessing import get_context


def square(x):
    return x * x


if __name__ == "__main__":
    context = get_context(sys.argv[1])
    os.setgid(65534)
    os.setuid(65534)
    with context.Pool(2) as pool:
        for result in pool.map(square, range(4)):
            print(result)
"""


def _usable_by_nobody(python: str) -> bool:
    """Whether ``python``, its multiprocessing and poolctl's subject work as uid 65534."""
    probe = (
        "import os, sys; os.setgid(65534); os.setuid(65534); sys.path.insert(0, sys.argv[1]);"
        " import multiprocessing.pool, multiprocessing.connection, poolctl_subject.watch"
    )
    try:
        done = subprocess.run([python, "-c", probe, str(SUBJECT_ROOT)], timeout=20, check=False)
    except OSError:
        return False
    return done.returncode == 0


@pytest.fixture(scope="module")
def python_for_nobody() -> str:
    """An interpreter a program can go on using once it is uid 65534 (or skip)."""
    if os.geteuid() != 0:
        pytest.skip("dropping privileges needs root")
    for python in (sys.executable, "/usr/bin/python3"):
        if Path(python).exists() and _usable_by_nobody(python):
            return python
    pytest.skip("no interpreter (nor poolctl's subject) is readable by uid 65534 here")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory uid 65534 can read (tmp_path is 0700): a spawned worker reads the
    program from there."""
    directory = Path(tempfile.mkdtemp(prefix="poolctl-test-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_program_that_drops_privileges_is_not_completely_observed(
    python_for_nobody: str, shared_dir: Path, method: str
) -> None:
    """Its workers could not record: 'unknown' tasks, a visible line, its own status."""
    program = write(shared_dir, "drops.py", DROPS_PRIVILEGES)
    program.chmod(0o644)
    done = trace("--python", python_for_nobody, str(program), method)
    assert done.status == 0, done.stderr  # the program's own status, unchanged
    assert done.stderr.split() == ["0", "1", "4", "9"]  # its stdout, shown on stderr
    assert done.doc is not None
    observation = done.doc["observation"]
    assert observation["complete"] is False
    [problem] = observation["problems"]
    assert problem["kind"] == "channel-lost"
    assert problem["pool"] == 1
    assert "could not record their events (Permission denied, as uid 65534)" in (problem["message"])
    tasks = done.doc["outcome"]["tasks"]
    assert (tasks["submitted"], tasks["never_started"], tasks["unknown"]) == (4, 0, 4)
    assert {run["status"] for run in done.doc["outcome"]["task_runs"]} == {"unknown"}
    # Every view of the document says so: compact, and whole.
    saved = shared_dir / "doc.json"
    saved.write_text(json.dumps(done.doc))
    shown = run_cli("render", str(saved), "--no-color")
    assert shown.returncode == 0, shown.stderr
    view = " ".join(shown.stdout.split())
    assert "⚠ not completely observed: the workers of pool 1 could not record" in view
    assert "4 submitted: 4 unknown (not seen)" in view
    whole = " ".join(run_cli("render", str(saved), "--no-color", "--events").stdout.split())
    assert "0 never started, 4 unknown (not seen)" in whole


# The program hides the loss from poolctl's check (as an unforeseen cause would): the
# workers' silence itself gives it away.
SILENT_WORKERS = """
import os
import multiprocessing.pool
from multiprocessing import get_context

from poolctl_subject import watch

watch.check_channel = lambda channel_dir, **tag: True


def square(x):
    return x * x


if __name__ == "__main__":
    os.setgid(65534)
    os.setuid(65534)
    pool = get_context("fork").Pool(2)
    print(pool.map(square, range(4)))
    pool.close()
    pool.join()
"""


def test_workers_that_record_nothing_are_noticed(python_for_nobody: str, shared_dir: Path) -> None:
    """Any lost channel is reported, not only one poolctl foresaw: a worker that exited
    normally ran poolctl's initializer, so its silence means its events were lost."""
    program = write(shared_dir, "silent.py", SILENT_WORKERS)
    done = trace("--python", python_for_nobody, str(program))
    assert done.status == 0, done.stderr
    assert "[0, 1, 4, 9]" in done.stderr
    assert done.doc is not None
    problems = done.doc["observation"]["problems"]
    assert [p["kind"] for p in problems] == ["worker-silent", "worker-silent"]
    assert sorted(p["pid"] for p in problems) == sorted(done.doc["outcome"]["pools"][0]["workers"])
    assert done.doc["outcome"]["tasks"]["unknown"] == 4


# --- poolctl's own failures inside the program ---------------------------------------------

PROGRAM = """
import sys
from multiprocessing import get_context

{fault}


def init(value):
    global offset
    offset = value


def add(x):
    return x + offset


if __name__ == "__main__":
    pool = get_context("fork").Pool(2, initializer=init, initargs=(100,))
    print(pool.map(add, range(4)))
    pool.close()
    pool.join()
    print("done")
"""

FAULTS = {
    "the watcher thread": (
        "from poolctl_subject import watch\n"
        "def broken(self, handles):\n"
        "    raise RuntimeError('injected fault')\n"
        "watch.WorkerWatch._handles = broken\n"
    ),
    "the patched Pool()": (
        "from poolctl_subject import instrument\n"
        "def broken(*args):\n"
        "    raise RuntimeError('injected fault')\n"
        "instrument._start_method = broken\n"
    ),
    "the worker's wrapper": (
        "from poolctl_subject import shared_events\n"
        "def broken(*args, **kwargs):\n"
        "    raise RuntimeError('injected fault')\n"
        "shared_events.worker_started = broken\n"
    ),
}
WHERE = {
    "the watcher thread": "watch: the watcher thread",
    "the patched Pool()": "instrument: Pool()",
    "the worker's wrapper": "program_wrappers: init_worker",
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_poolctl_failing_inside_the_program_is_poolctl_s_failure(
    tmp_path: Path, fault: str
) -> None:
    """Exit 125 with poolctl's message; the program's own output is all there, and none of
    poolctl's exception reaches the program's stderr."""
    program = write(tmp_path, "faulty.py", PROGRAM.format(fault=FAULTS[fault]))
    done = trace(str(program), json_doc=False)
    assert done.stdout.splitlines()[:2] == ["[100, 101, 102, 103]", "done"]
    assert done.status == 125, done.stderr
    assert done.stderr.splitlines() == [
        f"poolctl: poolctl's observer failed inside the program ({WHERE[fault]}):"
        " RuntimeError: injected fault"
    ]


UNPRINTABLE = """
from multiprocessing import get_context


class Odd(Exception):
    def __str__(self):
        raise ValueError("no str for you")


def task(x):
    raise Odd()


if __name__ == "__main__":
    with get_context("fork").Pool(1) as pool:
        try:
            pool.apply_async(task, (1,)).get()
        except Odd as exc:
            print("caught", type(exc).__name__)
"""


def test_an_exception_poolctl_cannot_print_stays_the_program_s(tmp_path: Path) -> None:
    """Recording a task's exception whose ``__str__`` raises must not replace it: the
    program catches its own exception, as under plain python."""
    program = write(tmp_path, "odd.py", UNPRINTABLE)
    alone = plain(str(program))
    assert (alone.returncode, alone.stdout) == (0, "caught Odd\n")
    done = trace(str(program))
    assert (done.status, done.stderr) == (0, "caught Odd\n")
    assert done.doc is not None
    assert done.doc["outcome"]["error"]["message"] == "<unprintable Odd>"
    assert done.doc["observation"]["complete"] is True
