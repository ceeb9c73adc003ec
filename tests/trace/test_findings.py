"""Findings: each situation of issue 17, written as a short program, yields its finding,
naming the line the program made the call on; a correct program yields none."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import pyenv_python, require_python
from schema_validation import check
from tracing import trace, write


def line_of(path: Path, mark: str) -> int:
    """The number of the line of ``path`` that ends with the comment ``# <mark>``."""
    lines = path.read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.rstrip().endswith(f"# {mark}"))


def only_finding(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    """The one finding of the document, checked to be of ``kind``."""
    check(doc, "trace")
    found = doc["findings"]
    assert [f["kind"] for f in found] == [kind], found
    return found[0]


def at(finding: dict[str, Any], path: Path, mark: str) -> None:
    assert finding["site"]["file"] == str(path)
    assert finding["site"]["line"] == line_of(path, mark), finding


NEVER_RETRIEVED = """
from multiprocessing import Pool


def fail(i):
    raise RuntimeError('task %d failed' % i)


if __name__ == '__main__':
    pool = Pool(2)
    for i in range(3):
        pool.apply_async(fail, (i,))  # submit
    pool.close()
    pool.join()
"""


def test_an_exception_never_retrieved_names_the_submission(tmp_path: Path) -> None:
    program = write(tmp_path, "raises.py", NEVER_RETRIEVED)
    finding = only_finding(trace(str(program)).doc, "exception-never-retrieved")
    at(finding, program, "submit")
    assert finding["counts"] == {"failed": 3}
    assert finding["pool"] == 1


RETRIEVED = NEVER_RETRIEVED.replace(
    "        pool.apply_async(fail, (i,))  # submit",
    "        result = pool.apply_async(fail, (i,))\n"
    "        try:\n"
    "            result.get()\n"
    "        except RuntimeError:\n"
    "            pass",
)


def test_an_exception_read_is_no_finding(tmp_path: Path) -> None:
    doc = trace(str(write(tmp_path, "reads.py", RETRIEVED))).doc
    check(doc, "trace")
    assert doc["findings"] == []


WITH_BLOCK = """
import time
from multiprocessing import Pool


def work(i):
    time.sleep(0.3)
    return i


def main():
    with Pool(1) as pool:  # with
        for i in range(4):
            pool.apply_async(work, (i,))
        time.sleep(0.1)


if __name__ == '__main__':
    main()
"""


def test_a_with_block_left_with_tasks_pending_loses_them_to_terminate(tmp_path: Path) -> None:
    program = write(tmp_path, "with_block.py", WITH_BLOCK)
    finding = only_finding(trace(str(program)).doc, "lost-to-terminate")
    at(finding, program, "with")
    assert finding["site"]["function"] == "main"
    assert finding["counts"] == {"interrupted": 1, "never_started": 3}
    assert "__exit__" in finding["message"]


CLOSED_NOT_JOINED = """
import time
from multiprocessing import Pool


def work(i):
    time.sleep(0.5)
    return i


def make_pool():
    return Pool(2)  # pool


if __name__ == '__main__':
    pool = make_pool()
    for i in range(6):
        pool.apply_async(work, (i,))
    time.sleep(0.2)
    pool.close()  # close
"""


def test_a_pool_closed_never_joined_names_the_pool_and_the_missing_join(tmp_path: Path) -> None:
    program = write(tmp_path, "closed.py", CLOSED_NOT_JOINED)
    finding = only_finding(trace(str(program)).doc, "lost-to-terminate")
    at(finding, program, "pool")
    assert finding["site"]["function"] == "make_pool"
    assert finding["counts"] == {"interrupted": 2, "never_started": 4}
    assert (
        f"close() at {program}:{line_of(program, 'close')} was never followed by join()"
        in (finding["message"])
    )
    assert "join()" in finding["remedy"]


NEVER_CLOSED = """
import time
from multiprocessing import Pool


def work(i):
    time.sleep(0.5)
    return i


if __name__ == '__main__':
    pool = Pool(1)  # pool
    pool.apply_async(work, (0,))
    time.sleep(0.2)
"""


def test_a_pool_never_closed_or_joined(tmp_path: Path) -> None:
    program = write(tmp_path, "never.py", NEVER_CLOSED)
    finding = only_finding(trace(str(program)).doc, "never-closed-or-joined")
    at(finding, program, "pool")
    assert finding["counts"] == {"interrupted": 1, "never_started": 0}


TERMINATED = """
import time
from multiprocessing import Pool


def work(i):
    time.sleep(0.3)
    return i


if __name__ == '__main__':
    pool = Pool(1)
    results = [pool.apply_async(work, (i,)) for i in range(3)]
    time.sleep(0.1)
    pool.terminate()  # terminate
    pool.join()
"""


def test_an_explicit_terminate_names_its_line(tmp_path: Path) -> None:
    program = write(tmp_path, "terminate.py", TERMINATED)
    finding = only_finding(trace(str(program)).doc, "lost-to-terminate")
    at(finding, program, "terminate")
    assert finding["counts"] == {"interrupted": 1, "never_started": 2}


HANG = """
import os
import signal
import time
from multiprocessing import Pool


def work(i):
    time.sleep(0.3)
    return os.getpid()


def pid(i):
    return os.getpid()


if __name__ == '__main__':
    pool = Pool(1)
    victim = pool.apply(pid, (0,))
    pool.apply_async(work, (1,))
    time.sleep(0.1)
    os.kill(victim, signal.SIGKILL)
    pool.close()
    pool.join()  # join
"""


def test_a_join_that_cannot_return_names_the_worker_the_signal_and_the_task(
    tmp_path: Path,
) -> None:
    program = write(tmp_path, "hang.py", HANG)
    traced = trace("--timeout", "3", str(program))
    assert traced.status == 124
    finding = only_finding(traced.doc, "join-cannot-return")
    at(finding, program, "join")
    killed = next(w for w in traced.doc["outcome"]["workers"] if w["signal"] == "SIGKILL")
    assert finding["counts"] == {"worker": killed["pid"], "task": 1}
    assert (
        f"worker {killed['pid']} was killed by SIGKILL while it ran task 1" in (finding["message"])
    )
    assert "ProcessPoolExecutor" in finding["remedy"]


def test_a_join_ended_by_ctrl_c_is_still_one_that_could_not_return(tmp_path: Path) -> None:
    """The user who presses Ctrl-C at a hung join() gets the same finding as --timeout: the
    KeyboardInterrupt (here the program's own SIGINT, as a Ctrl-C passed on) ends a wait
    that could not end."""
    ctrl_c = HANG.replace(
        "    pool = Pool(1)",
        "    import threading\n"
        "    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        "    pool = Pool(1)",
    )
    program = write(tmp_path, "hang.py", ctrl_c)
    traced = trace("--timeout", "10", str(program))
    assert traced.status == 130, traced.stderr
    assert traced.doc["outcome"]["error"]["type"] == "KeyboardInterrupt"
    finding = only_finding(traced.doc, "join-cannot-return")
    at(finding, program, "join")
    assert finding["counts"]["task"] == 1


GET_HANGS = """
import os
import signal
import time
from multiprocessing import Pool


def work(i):
    time.sleep(0.2)
    if i == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return i


if __name__ == '__main__':
    pool = Pool(2)
    done = pool.apply_async(work, (0,))
    results = [pool.apply_async(work, (i,)) for i in (1, 2)]
    print(done.get())
    print([r.get() for r in results])  # read
"""


def test_a_read_that_cannot_return_names_the_read_the_worker_and_the_task(
    tmp_path: Path,
) -> None:
    """get() waits for ever on a task whose worker was SIGKILLed: the read's line, the
    worker, the task; the read that returned (task 0) is no part of it."""
    program = write(tmp_path, "hang.py", GET_HANGS)
    traced = trace("--timeout", "3", str(program))
    assert traced.status == 124
    finding = only_finding(traced.doc, "result-never-arrives")
    at(finding, program, "read")
    killed = next(w for w in traced.doc["outcome"]["workers"] if w["signal"] == "SIGKILL")
    assert finding["counts"] == {"worker": killed["pid"], "task": 1}
    assert finding["message"].startswith("get() of Pool 1 cannot return")


CANCELLED = """
import time
from concurrent.futures import CancelledError, ProcessPoolExecutor


def work(i):
    time.sleep(0.3)
    return i


if __name__ == '__main__':
    executor = ProcessPoolExecutor(1)
    futures = [executor.submit(work, i) for i in range(4)]
    time.sleep(0.1)
    executor.shutdown(wait=True, cancel_futures=True)  # shutdown
    for future in futures:
        try:
            future.result()
        except CancelledError:
            pass
"""


@pytest.mark.skipif(sys.version_info < (3, 9), reason="cancel_futures is Python 3.9's")
def test_cancelled_futures_read_afterwards(tmp_path: Path) -> None:
    program = write(tmp_path, "cancel.py", CANCELLED)
    finding = only_finding(trace(str(program)).doc, "cancelled-futures-awaited")
    at(finding, program, "shutdown")
    cancelled = finding["counts"]["cancelled"]
    assert 1 <= cancelled <= 3  # the executor may have queued one to its worker already
    assert finding["counts"]["read"] == cancelled


AT_IMPORT = """
from multiprocessing import get_context


def double(i):
    return 2 * i


pool = get_context('spawn').Pool(1)  # pool
print(pool.map(double, range(2)))
pool.close()
pool.join()
"""


def test_a_pool_created_at_import_time_under_spawn(tmp_path: Path) -> None:
    program = write(tmp_path, "at_import.py", AT_IMPORT)
    traced = trace("--timeout", "4", str(program))
    found = traced.doc["findings"]
    check(traced.doc, "trace")
    at_import = [f for f in found if f["kind"] == "pool-at-import"]
    assert len(at_import) == 1, found
    at(at_import[0], program, "pool")
    assert at_import[0]["counts"]["workers"] >= 1


FORK_WITH_THREADS = """
import os
import threading
import time

if __name__ == '__main__':
    thread = threading.Thread(target=time.sleep, args=(0.3,))
    thread.start()
    child = os.fork()  # fork
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    thread.join()
"""


def test_fork_while_threads_run(tmp_path: Path) -> None:
    python = require_python("3.12")
    program = write(tmp_path, "fork.py", FORK_WITH_THREADS)
    doc = trace("--python", str(python), str(program)).doc
    finding = only_finding(doc, "fork-with-threads")
    assert finding["site"]["line"] == line_of(program, "fork")
    assert finding["pool"] is None


SPAWN_LOOKUP = """
from multiprocessing import get_context

if __name__ == '__main__':
    def double(i):
        return 2 * i

    with get_context('spawn').Pool(1) as pool:  # pool
        result = pool.map_async(double, range(2))
        try:
            print(result.get(timeout=2))
        except Exception as exc:
            print('failed:', type(exc).__name__)
"""


def test_a_function_only_fork_can_find_points_at_compare(tmp_path: Path) -> None:
    program = write(tmp_path, "lookup.py", SPAWN_LOOKUP)
    doc = trace("--timeout", "8", str(program)).doc
    check(doc, "trace")
    found = [f for f in doc["findings"] if f["kind"] == "start-method-dependent"]
    assert len(found) == 1, doc["findings"]
    at(found[0], program, "pool")
    assert "compare --start-method all" in found[0]["remedy"]


# --- correct programs: CPython's documentation examples -------------------------------


DOCS_POOL = """
from multiprocessing import Pool, TimeoutError
import time
import os

def f(x):
    return x*x

if __name__ == '__main__':
    # start 4 worker processes
    with Pool(processes=4) as pool:

        # print "[0, 1, 4,..., 81]"
        print(pool.map(f, range(10)))

        # print same numbers in arbitrary order
        for i in pool.imap_unordered(f, range(10)):
            print(i)

        # evaluate "f(20)" asynchronously
        res = pool.apply_async(f, (20,))      # runs in *only* one process
        print(res.get(timeout=1))             # prints "400"

        # evaluate "os.getpid()" asynchronously
        res = pool.apply_async(os.getpid, ()) # runs in *only* one process
        print(res.get(timeout=1))             # prints the PID of that process

        # launching multiple evaluations asynchronously *may* use more processes
        multiple_results = [pool.apply_async(os.getpid, ()) for i in range(4)]
        print([res.get(timeout=1) for res in multiple_results])

        # make a single worker sleep for 10 seconds
        res = pool.apply_async(time.sleep, (10,))
        try:
            print(res.get(timeout=1))
        except TimeoutError:
            print("We lacked patience and got a multiprocessing.TimeoutError")

        print("For the moment, the pool remains available for more work")

    # exiting the 'with'-block has stopped the pool
    print("Now the pool is closed and no longer available")
"""

DOCS_EXECUTOR = """
import concurrent.futures
import math

PRIMES = [
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419]

def is_prime(n):
    if n < 2:
        return False
    if n == 2:
        return True
    if n % 2 == 0:
        return False

    sqrt_n = int(math.floor(math.sqrt(n)))
    for i in range(3, sqrt_n + 1, 2):
        if n % i == 0:
            return False
    return True

def main():
    with concurrent.futures.ProcessPoolExecutor() as executor:
        for number, prime in zip(PRIMES, executor.map(is_prime, PRIMES)):
            print('%d is prime: %s' % (number, prime))

if __name__ == '__main__':
    main()
"""

DOCS_THREADS = """
import concurrent.futures

def load(n):
    return n * 2

with concurrent.futures.ThreadPoolExecutor(max_workers=5) as executor:
    future_to_n = {executor.submit(load, n): n for n in range(5)}
    for future in concurrent.futures.as_completed(future_to_n):
        n = future_to_n[future]
        try:
            data = future.result()
        except Exception as exc:
            print('%r generated an exception: %s' % (n, exc))
        else:
            print('%r is %d' % (n, data))
"""


@pytest.mark.parametrize(
    "source", [DOCS_POOL, DOCS_EXECUTOR, DOCS_THREADS], ids=["pool", "executor", "threads"]
)
def test_cpythons_documentation_examples_yield_no_finding(tmp_path: Path, source: str) -> None:
    doc = trace(str(write(tmp_path, "example.py", source))).doc
    check(doc, "trace")
    assert doc["findings"] == [], doc["findings"]


def test_a_traced_call_site_is_the_programs_line(tmp_path: Path) -> None:
    """Every pool, submission and call carries the program's own line, never poolctl's or
    the standard library's (``map`` goes through the library's ``_map_async``)."""
    program = write(tmp_path, "sites.py", TERMINATED)
    doc = trace(str(program)).doc
    sites = {e["kind"]: e["site"] for e in doc["events"] if "site" in e}
    assert sites["terminate.called"]["line"] == line_of(program, "terminate")
    assert {s["file"] for s in sites.values()} == {str(program)}
    assert doc["outcome"]["pools"][0]["site"] == sites["pool.created"]


SUBMISSIONS = """
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import get_context


def double(x):
    return 2 * x


if __name__ == '__main__':
    with get_context('fork').Pool(2) as pool:
        pool.apply_async(double, (1,)).get()  # apply
        pool.map(double, [1, 2, 3])  # sized
        pool.map(double, (i for i in range(3)))  # generator
        list(pool.imap(double, range(3)))  # imap
    with ThreadPoolExecutor(2) as executor:
        executor.submit(double, 1).result()  # submit
        list(executor.map(double, range(3)))  # executor-map
"""


def test_every_submission_carries_the_programs_line(tmp_path: Path) -> None:
    """Each task is submitted at the program's line, also those a pool's own thread takes
    (a sized map's items, imap's): the site is found at the call, in the program's thread."""
    program = write(tmp_path, "submissions.py", SUBMISSIONS)
    doc = trace(str(program)).doc
    check(doc, "trace")
    submitted = [e["site"] for e in doc["events"] if e["kind"] == "task.submitted"]
    assert {site["file"] for site in submitted} == {str(program)}
    lines = sorted(site["line"] for site in submitted)
    marks = {"apply": 1, "sized": 3, "generator": 3, "imap": 3, "submit": 1, "executor-map": 3}
    assert lines == sorted(line_of(program, m) for m, n in marks.items() for _ in range(n))


def test_pyenv_38_finds_the_same_site(tmp_path: Path) -> None:
    """The subject's frame walk on the oldest Python poolctl supports."""
    python = pyenv_python("3.8")
    if python is None:
        pytest.skip("Python 3.8 is not installed under ~/.pyenv/versions")
    program = write(tmp_path, "terminate.py", TERMINATED)
    finding = only_finding(trace("--python", str(python), str(program)).doc, "lost-to-terminate")
    at(finding, program, "terminate")
