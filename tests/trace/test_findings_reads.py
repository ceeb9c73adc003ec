"""results-never-read: a task's value that no read of its submitting call saw is a finding
naming the submission's line; every way of reading (get, a callback, map, an imap item,
a future's result() or exception()) is none, and an error_callback hands a task's exception
over (no exception-never-retrieved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import pyenv_python
from poolctl import codegen, scenario
from schema_validation import check
from test_findings import at, only_finding
from tracing import trace, write

UNREAD = "results-never-read"

HEADER = """
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool


def double(i):
    return 2 * i


def nothing(i):
    pass


def fail(i):
    raise RuntimeError('task %d failed' % i)


if __name__ == '__main__':
"""

# Each situation, its program's body and the finding's counts.
DROPPED: dict[str, tuple[str, dict[str, int]]] = {
    "apply_async": (
        """
    pool = Pool(2)
    for i in range(3):
        pool.apply_async(double, (i,))  # submit
    pool.apply_async(nothing, (0,))
    pool.close()
    pool.join()
""",
        {"unread": 3, "calls": 3},
    ),
    "map_async": (
        """
    pool = Pool(2)
    pool.map_async(double, range(4)).wait()  # submit
    pool.apply_async(double, (0,)).get()
    pool.close()
    pool.join()
""",
        {"unread": 4, "calls": 1},
    ),
    "imap": (
        """
    pool = Pool(2)
    pool.imap(double, range(3))  # submit
    pool.close()
    pool.join()
""",
        {"unread": 3, "calls": 1},
    ),
    "submit": (
        """
    with ThreadPoolExecutor(2) as executor:
        futures = [executor.submit(double, i) for i in range(2)]  # submit
        executor.submit(double, 5).result()
""",
        {"unread": 2, "calls": 2},
    ),
}


def program_of(tmp_path: Path, body: str) -> Path:
    return write(tmp_path, "program.py", HEADER + body)


@pytest.mark.parametrize("situation", sorted(DROPPED))
def test_results_never_read_name_the_submission(tmp_path: Path, situation: str) -> None:
    body, counts = DROPPED[situation]
    program = program_of(tmp_path, body)
    finding = only_finding(trace(str(program)).doc, UNREAD)
    at(finding, program, "submit")
    assert finding["counts"] == counts
    assert finding["pool"] == 1
    assert "return None" in finding["remedy"]


READ_EVERY_WAY = """
    with Pool(2) as pool:
        pool.apply_async(double, (1,)).get()
        pool.apply(double, (2,))
        pool.apply_async(double, (3,), callback=print)
        pool.map_async(double, range(3), callback=print).wait()
        print(pool.map(double, range(3)), pool.starmap(max, [(1, 2), (3, 4)]))
        print(list(pool.imap(double, range(3))), list(pool.imap_unordered(double, range(3), 2)))
        items = pool.imap(double, range(3))
        print(next(items))  # the program stops after one: its choice
        pool.imap(double, [])  # nothing to read
        try:
            list(pool.imap(fail, range(2)))
        except RuntimeError:
            pass
        pool.apply_async(nothing, (4,))  # None: nothing to read
        results = [pool.apply_async(double, (i,)) for i in range(3)]
        print([r.get(timeout=5) for r in results])
        pool.close()
        pool.join()
    with ThreadPoolExecutor(2) as executor:
        print(executor.submit(double, 1).result(), list(executor.map(double, range(3))))
        print(executor.submit(fail, 2).exception())
        executor.submit(double, 3).add_done_callback(lambda f: print(f.result()))
"""


def test_every_way_of_reading_is_no_finding(tmp_path: Path) -> None:
    doc = trace(str(program_of(tmp_path, READ_EVERY_WAY))).doc
    check(doc, "trace")
    assert doc["findings"] == [], doc["findings"]
    reads = {(e["pool"], e["via"]) for e in doc["events"] if e["kind"] == "result.read"}
    assert {(1, v) for v in ("get", "callback", "next")} | {(2, "result"), (2, "exception")} <= (
        reads
    )
    # imap's task exception, caught by the program, is a read that raised.
    assert any(
        e["kind"] == "error.raised" and e["step"] == "next" and e["pool"] == 1
        for e in doc["events"]
    )


ERROR_CALLBACK = """
    pool = Pool(2)
    for i in range(3):
        pool.apply_async(fail, (i,), error_callback=print)
    pool.map_async(fail, range(2), error_callback=print)
    pool.close()
    pool.join()
"""


def test_an_error_callback_retrieves_the_exceptions(tmp_path: Path) -> None:
    doc = trace(str(program_of(tmp_path, ERROR_CALLBACK))).doc
    check(doc, "trace")
    assert doc["outcome"]["tasks"]["failed"] == 5
    assert doc["findings"] == [], doc["findings"]


def test_a_callback_alone_does_not_retrieve_the_exceptions(tmp_path: Path) -> None:
    """callback= is handed values only: a task's exception still goes unseen."""
    body = ERROR_CALLBACK.replace("error_callback=print", "callback=print")
    finding = only_finding(trace(str(program_of(tmp_path, body))).doc, "exception-never-retrieved")
    assert finding["counts"] == {"failed": 5}


def test_the_close_join_programs_task_returns_nothing(tmp_path: Path) -> None:
    """The close-join scenario's program (`show --code`) submits and never reads, as the
    tutorial does: its task returns nothing, so nothing is left unread; traced, no finding.
    A scenario that reads its results still has its task return its index."""
    close_join = scenario.load("close-join")
    params: dict[str, Any] = {"workers": 2, "tasks": 3, "duration": 0.05, "start_method": "fork"}
    text = codegen.program(close_join, **params)
    assert "return index" not in text
    doc = trace(str(write(tmp_path, "close_join.py", text))).doc
    check(doc, "trace")
    assert doc["outcome"]["tasks"]["completed"] == 3
    assert doc["findings"] == [], doc["findings"]
    readers = [n for n in scenario.bundled_names() if "get-results" in _steps(n)]
    assert readers
    for name in readers:
        assert "return index" in codegen.program(scenario.load(name), **params) or (
            scenario.load(name).raises
        )


def _steps(name: str) -> list[str]:
    return [step.name for step in scenario.load(name).steps]


def test_pyenv_38_sees_the_reads(tmp_path: Path) -> None:
    """The instrumented reads (ApplyResult, IMapIterator, Future) on the oldest Python."""
    python = pyenv_python("3.8")
    if python is None:
        pytest.skip("Python 3.8 is not installed under ~/.pyenv/versions")
    doc = trace("--python", str(python), str(program_of(tmp_path, READ_EVERY_WAY))).doc
    check(doc, "trace")
    assert doc["findings"] == [], doc["findings"]
    body, counts = DROPPED["apply_async"]
    program = program_of(tmp_path, body)
    finding = only_finding(trace("--python", str(python), str(program)).doc, UNREAD)
    assert finding["counts"] == counts
