"""Exceptions in a traced program: the status, outcome.main.uncaught or outcome.error, and
the very traceback plain python prints (the program's frames, none of poolctl's)."""

from __future__ import annotations

import signal
from pathlib import Path

from tracing import counts, lifecycle, plain, position, trace, write

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
