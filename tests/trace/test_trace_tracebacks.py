"""Exceptions in a traced program: the status, outcome.main.uncaught or outcome.error, and
the very traceback plain python prints (the program's frames, none of poolctl's)."""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import pytest

from conftest import every_python, require
from tracing import (
    Traced,
    counts,
    events,
    lifecycle,
    plain,
    position,
    trace,
    without_addresses,
    write,
)

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


def test_keyboard_interrupt_traceback_is_the_programs(tmp_path: Path) -> None:
    """An uncaught KeyboardInterrupt: exit 130 and the traceback plain python prints,
    without poolctl's frames, like every other uncaught exception.

    Was broken (program_main._execute): KeyboardInterrupt, re-raised untouched, was printed
    with the bootstrap's frames ('<string>', program_main.py main, _run_script,
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


# --- the same text as plain python, on every interpreter ---------------------------------
#
# Each program prints on stderr only (``--json`` shows the program's stdout on poolctl's
# stderr too: one stream keeps the order comparable). What differs from run to run is
# normalised: object addresses, and which of two lines of Future.result() re-raised (the
# future was done when asked, or became done while it waited).

TASKS_RAISE = """
import sys
import traceback
import multiprocessing
from multiprocessing.pool import ThreadPool
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def lookup(key):
    try:
        return {}[key]
    except KeyError:
        raise RuntimeError('no value for %r' % (key,))


def pair(a, b):
    raise ValueError((a, b))


def shown(call):
    try:
        call()
    except Exception:
        traceback.print_exc()


if __name__ == '__main__':
    for pool in (multiprocessing.Pool(2), ThreadPool(2)):
        with pool:
            shown(lambda: pool.apply_async(lookup, (1,)).get())
            shown(lambda: pool.apply(lookup, (2,)))
            shown(lambda: pool.map(lookup, [3]))  # one item: which fails first is a race
            shown(lambda: pool.starmap(pair, [(5, 6)]))
            shown(lambda: list(pool.imap_unordered(lookup, [7])))
            errors = []
            pool.map_async(lookup, [8], error_callback=errors.append).wait()
            traceback.print_exception(type(errors[0]), errors[0], errors[0].__traceback__)
    for executor in (ProcessPoolExecutor(2), ThreadPoolExecutor(2)):
        with executor:
            shown(lambda: executor.submit(lookup, 9).result())
            shown(lambda: list(executor.map(lookup, [10])))
            error = executor.submit(pair, 11, 12).exception()
            traceback.print_exception(type(error), error, error.__traceback__)
    print('done', file=sys.stderr)
"""

UNCAUGHT_FROM_A_TASK = """
import multiprocessing


def lookup(key):
    try:
        return {}[key]
    except KeyError as exc:
        raise LookupError('no value') from exc


if __name__ == '__main__':
    with multiprocessing.Pool(1) as pool:
        pool.map(lookup, [1])
"""

INTERRUPTED_BY_A_TASK = """
from concurrent.futures import ProcessPoolExecutor


def stop():
    raise KeyboardInterrupt('from the task')


if __name__ == '__main__':
    with ProcessPoolExecutor(1) as executor:
        executor.submit(stop).result()
"""

# Each task ends its worker process, which prints why; the pool starts another.
ENDS_ITS_WORKER = """
import os
import sys
import time
import multiprocessing


def stop(how):
    raise {'interrupt': KeyboardInterrupt, 'exit': SystemExit}[how]('from the task')


def ended(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return True
    return False


if __name__ == '__main__':
    with multiprocessing.Pool(1) as pool:
        for submit, how in ((pool.map_async, 'interrupt'), (pool.apply_async, 'interrupt'),
                            (pool.map_async, 'exit')):
            pid = pool.apply(os.getpid)
            submit(stop, [how] if submit == pool.map_async else (how,))
            while not ended(pid):  # reaped: it has printed
                time.sleep(0.05)
    print('done', file=sys.stderr)
"""

# argv[1]: the start method. Every function is a lambda, or an item holds one: none pickles.
UNPICKLABLE = """
import sys
import traceback
import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def shown(call):
    try:
        call()
    except Exception:
        traceback.print_exc()


if __name__ == '__main__':
    context = multiprocessing.get_context(sys.argv[1])
    with context.Pool(1) as pool:
        shown(lambda: pool.apply_async(lambda: 1).get())
        shown(lambda: pool.map(lambda x: x, [1, 2]))
        shown(lambda: pool.map(str, [1, lambda: 2]))
        shown(lambda: pool.starmap(max, [(1, 2), (3, lambda: 2)]))
        shown(lambda: list(pool.imap(str, [1, [lambda: 2]])))
        shown(lambda: list(pool.imap_unordered(str, [1, 2, {'a': lambda: 2}], 2)))
    with ProcessPoolExecutor(1, mp_context=context) as executor:
        shown(lambda: executor.submit(lambda: 1).result())
        shown(lambda: list(executor.map(lambda x: x, [1])))
    with context.Pool(1) as pool:
        pool.imap(lambda x: x, [1]).next()
"""


def _interpreters() -> list[tuple[str, str | None]]:
    """poolctl's own interpreter, and those the issue names where they are present."""
    wanted = ("3.8", "3.14", "3.14t", "pypy3")
    return [("own", sys.executable), *[(n, p) for n, p in every_python() if n in wanted]]


def _normalised(text: str) -> str:
    text = without_addresses(text)
    return re.sub(r'(futures[/\\]_base\.py", line )\d+(, in result)', r"\1N\2", text)


def _status(returncode: int) -> int:
    """A plain run's return code as a shell (and poolctl trace) gives it."""
    return returncode if returncode >= 0 else 128 - returncode


def _same_as_plain(tmp_path: Path, python: str, source: str, *argv: str) -> Traced:
    """Run the program plainly and traced under ``python``: the same stderr (normalised),
    nothing on stdout, the same exit status, and no failure of poolctl's own."""
    program = write(tmp_path, "program.py", source)
    expected = plain(str(program), *argv, python=python)
    run = trace("--python", python, str(program), *argv)
    assert expected.stdout == ""
    assert _normalised(run.stderr) == _normalised(expected.stderr)
    assert run.status == _status(expected.returncode), run.stderr
    assert run.doc is not None
    assert events(run.doc, "observer.failed") == []
    assert "poolctl" not in run.stderr
    return run


@pytest.mark.parametrize(("name", "python"), _interpreters(), ids=lambda v: str(v))
def test_tasks_raise_with_plain_pythons_tracebacks(
    tmp_path: Path, name: str, python: str | None
) -> None:
    """A task's exception (chained) read through every submission function of every kind
    of pool, printed by the program: the text plain python prints, the worker's traceback
    (RemoteTraceback) included, with no frame of poolctl's on either side."""
    run = _same_as_plain(tmp_path, require(name, python), TASKS_RAISE)
    assert run.status == 0
    assert run.stderr.count("RuntimeError: no value for") >= 14
    assert run.stderr.endswith("done\n")


@pytest.mark.parametrize(("name", "python"), _interpreters(), ids=lambda v: str(v))
def test_an_uncaught_task_exception_ends_the_program_as_plainly(
    tmp_path: Path, name: str, python: str | None
) -> None:
    """A task's exception the program does not catch: status 1 and plain python's text
    (the worker's traceback, the cause, the program's frames)."""
    run = _same_as_plain(tmp_path, require(name, python), UNCAUGHT_FROM_A_TASK)
    assert run.status == 1
    assert run.stderr.rstrip().endswith("LookupError: no value")
    assert "The above exception was the direct cause" in run.stderr


@pytest.mark.parametrize(("name", "python"), _interpreters(), ids=lambda v: str(v))
def test_a_task_raising_keyboard_interrupt_interrupts_the_program_as_plainly(
    tmp_path: Path, name: str, python: str | None
) -> None:
    """A task raising KeyboardInterrupt: result() re-raises it, and the program dies by
    SIGINT (130) with the traceback plain python prints."""
    run = _same_as_plain(tmp_path, require(name, python), INTERRUPTED_BY_A_TASK)
    assert run.status == 130
    assert run.stderr.rstrip().endswith("KeyboardInterrupt: from the task")


@pytest.mark.parametrize(("name", "python"), _interpreters(), ids=lambda v: str(v))
def test_a_task_ending_its_worker_process_prints_as_plainly(
    tmp_path: Path, name: str, python: str | None
) -> None:
    """A task raising KeyboardInterrupt (map, apply_async) or SystemExit in a Pool's
    worker process ends that process, which prints it: the text plain python prints, with
    no wrapper's frame (before 3.11 and on PyPy, a re-raise used to put it back)."""
    run = _same_as_plain(tmp_path, require(name, python), ENDS_ITS_WORKER)
    assert run.status == 0
    assert run.stderr.count("KeyboardInterrupt: from the task") == 2
    assert run.stderr.count("in stop\n") == 2 and run.stderr.endswith("from the task\ndone\n")


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
@pytest.mark.parametrize(("name", "python"), _interpreters(), ids=lambda v: str(v))
def test_unpicklable_functions_fail_as_plainly(
    tmp_path: Path, name: str, python: str | None, method: str
) -> None:
    """A lambda given to a pool of processes, as its function or in an item: the pickling
    error plain python raises (3.14's notes of where it was in the pickled object included,
    none of them poolctl's; PyPy's pickler's frames, none of them spent on poolctl's wrapper
    or task number), caught or not."""
    run = _same_as_plain(tmp_path, require(name, python), UNPICKLABLE, method)
    assert run.status == 1
    assert run.stderr.count("Traceback (most recent call last)") >= 9
