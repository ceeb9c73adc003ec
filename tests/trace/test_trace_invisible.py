"""What a traced program can see of the patched pool classes: nothing.

The patched methods are copies of the standard library's own, instrumented inside their
own frames (subject ``same_frame``): their signatures, names, source and reprs are the
standard library's, they take every argument it takes, and they make a program neither
slower to submit nor quicker to run what it did not plainly run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import every_python, python_for, require
from tracing import counts, events, plain, trace, without_addresses, write

# Prints what a program can learn of every method poolctl patches (Executor.map and
# __exit__ are concurrent.futures._base's, patched there; kill_workers and
# terminate_workers are 3.14's; Popen._launch starts a child by spawn or forkserver).
INTROSPECTED = """
import inspect
import sys
import multiprocessing.pool as mpool
import concurrent.futures._base as base
import concurrent.futures.process as process
import concurrent.futures.thread as thread
import multiprocessing.popen_spawn_posix as spawn
import multiprocessing.popen_forkserver as forkserver

METHODS = {
    mpool.Pool: ['__init__', 'apply_async', '_map_async', 'imap', 'imap_unordered', 'close',
                 'terminate', 'join', '__exit__'],
    mpool.ApplyResult: ['__init__', 'get', '_set'],
    mpool.MapResult: ['_set'],
    mpool.IMapIterator: ['__init__', 'next', '__next__', '_set'],
    mpool.IMapUnorderedIterator: ['_set'],
    mpool.ExceptionWithTraceback: ['__init__'],
    process.ProcessPoolExecutor: ['__init__', 'submit', 'map', 'shutdown', 'terminate_workers',
                                  'kill_workers'],
    process._ExceptionWithTraceback: ['__init__'],
    process._SafeQueue: ['_on_queue_feeder_error'],
    thread.ThreadPoolExecutor: ['__init__', 'submit', 'map', 'shutdown', '__exit__'],
    base.Future: ['__init__', 'result', 'exception', 'set_exception'],
    spawn.Popen: ['_launch'],
    forkserver.Popen: ['_launch'],
}

for cls, names in METHODS.items():
    for name in names:
        method = getattr(cls, name, None)
        if method is None:
            continue
        print(cls.__name__, name, inspect.signature(method), repr(method), method.__qualname__,
              method.__module__, method.__name__, method.__doc__ == getattr(cls, name).__doc__,
              sorted(vars(method)), method.__defaults__, method.__kwdefaults__,
              inspect.getsourcelines(method)[1], len(inspect.getsource(method)),
              name in vars(cls), file=sys.stderr)
"""


def _interpreters() -> list[tuple[str, str | None]]:
    wanted = ("3.8", "3.14", "3.14t", "pypy3")
    return [("own", sys.executable), *[(n, p) for n, p in every_python() if n in wanted]]


@pytest.mark.parametrize(("name", "python"), _interpreters(), ids=lambda v: str(v))
def test_patched_methods_look_like_the_standard_librarys(
    tmp_path: Path, name: str, python: str | None
) -> None:
    """Signature, repr, names, docstring, defaults, source and where each is defined: the
    same, traced, for every method poolctl instruments."""
    python = require(name, python)
    program = write(tmp_path, "look.py", INTROSPECTED)
    expected = plain(str(program), python=python)
    assert expected.returncode == 0, expected.stderr
    run = trace("--python", python, str(program))
    assert run.status == 0, run.stderr
    assert without_addresses(run.stderr) == without_addresses(expected.stderr)
    assert len(expected.stderr.splitlines()) >= 30


ODD_ARGUMENTS = """
import sys
import multiprocessing
import multiprocessing.pool as mpool
from concurrent.futures import ThreadPoolExecutor, ProcessPoolExecutor, Future, Executor
from concurrent.futures import TimeoutError as FutureTimeout


class Size:
    '''A pool size as numpy gives one: an integer through __index__, not an int.'''

    def __init__(self, n):
        self.n = n

    def __index__(self):
        return self.n

    def __lt__(self, other):
        return self.n < other

    def __le__(self, other):
        return self.n <= other

    def __gt__(self, other):
        return self.n > other

    def __ge__(self, other):
        return self.n >= other

    def __rsub__(self, other):
        return other - self.n

    def __sub__(self, other):
        return self.n - other

    def __add__(self, other):
        return self.n + other

    __radd__ = __add__

    def __eq__(self, other):
        return self.n == other

    def __hash__(self):
        return hash(self.n)


class Context:
    '''A duck-typed context: what Pool uses of one, and no get_start_method().'''

    def __init__(self):
        self._real = multiprocessing.get_context('spawn')

    def __getattr__(self, name):
        if name == 'get_start_method':
            raise AttributeError(name)
        return getattr(self._real, name)


class Later(Executor):
    '''An executor of the program's own: its futures never finish.'''

    def submit(self, fn, /, *args, **kwargs):
        return Future()


if __name__ == '__main__':
    with multiprocessing.get_context('spawn').Pool(Size(2)) as pool:
        print(pool.map(abs, [-1, -2]), file=sys.stderr)
    with mpool.Pool(1, context=Context()) as pool:
        print(pool.apply(abs, (-3,)), file=sys.stderr)
    with ThreadPoolExecutor(Size(1)) as executor:
        print(executor.submit(abs, -4).result(), file=sys.stderr)
    with ProcessPoolExecutor(Size(1)) as executor:
        print(list(executor.map(abs, [-5])), file=sys.stderr)
    try:
        mpool.Pool(1, initializer=3)
    except TypeError as exc:
        print('refused:', exc, file=sys.stderr)
    try:
        Later().submit(abs, 1).result(timeout=0.05)
    except FutureTimeout:
        print('timed out', file=sys.stderr)
"""


def test_arguments_the_standard_library_takes_are_taken(tmp_path: Path) -> None:
    """A pool size with __index__ (numpy's integers), a duck-typed context, a non-callable
    initializer (refused by the pool itself), and a Future of an executor poolctl does not
    follow timing out: the program prints what it prints plainly, poolctl observes without
    failing, and the foreign TimeoutError is not the run's error."""
    program = write(tmp_path, "odd.py", ODD_ARGUMENTS)
    expected = plain(str(program))
    assert expected.returncode == 0, expected.stderr
    assert "refused: initializer must be a callable" in expected.stderr
    run = trace(str(program))
    assert run.status == 0, run.stderr
    assert run.stderr == expected.stderr
    assert run.doc is not None
    assert events(run.doc, "observer.failed") == []
    outcome = run.doc["outcome"]
    # The pool's own refusal is a pool call's error; the foreign future's timeout is not.
    assert outcome["error"] == {
        "type": "TypeError",
        "message": "initializer must be a callable",
        "step": "Pool",
    }
    assert [e["type"] for e in events(run.doc, "error.raised")] == ["TypeError"]
    creating = [
        (e["api"], e["processes"], e["start_method"]) for e in events(run.doc, "pool.creating")
    ]
    assert creating[:4] == [
        ("pool", 2, "spawn"),
        ("pool", 1, None),  # the context does not say
        ("thread-executor", 1, None),
        ("executor", 1, None),  # no mp_context given
    ]
    assert outcome["pools"][1]["start_method"] is None
    assert outcome["tasks"]["completed"] == 5


THREADPOOL_TERMINATED = """
import sys
import time
from multiprocessing.pool import ThreadPool

ran = []


def work(x):
    ran.append(x)
    time.sleep(0.01)  # 625 items a chunk: 6 s for a worker that starts one


if __name__ == '__main__':
    pool = ThreadPool(4)
    begun = time.monotonic()
    pool.map_async(work, range(10000))
    pool.terminate()
    pool.join()
    print('ran', len(ran), 'in time', time.monotonic() - begun < 3, file=sys.stderr)
"""


@pytest.mark.timeout(90)  # up to six runs, of which a lost race takes 6 s
def test_threadpool_terminate_with_thousands_queued_returns_at_once(tmp_path: Path) -> None:
    """terminate() right after map_async() of 10,000 items: plainly no chunk has started,
    and join() returns at once; traced too (the items are numbered as the pool's task
    handler takes them, not in the program's thread before it may call terminate()).

    Plainly too a worker thread can win the race on a loaded machine (about 1 run in 6
    here): each side gets three tries. Numbering the items in the program's thread lost
    the race every time."""
    program = write(tmp_path, "terminated.py", THREADPOOL_TERMINATED)
    clean = "ran 0 in time True\n"
    plainly = []
    while len(plainly) < 3 and clean not in plainly:
        plainly.append(plain(str(program)).stderr)
    assert clean in plainly, plainly
    seen = []
    for _ in range(3):
        run = trace("--timeout", "30", str(program))
        assert run.status == 0 and run.doc is not None
        seen.append(run.stderr)
        if run.stderr == clean:
            assert run.doc["outcome"]["tasks"]["started"] == 0
            break
    assert seen[-1] == clean, seen


BUFFERED_MAP = """
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def task(x):
    return x * 2


if __name__ == '__main__':
    for kind in (ThreadPoolExecutor, ProcessPoolExecutor):
        with kind(2) as executor:
            print(list(executor.map(task, range(7), buffersize=2)), file=sys.stderr)
"""


def test_a_buffered_map_is_one_task_an_item(tmp_path: Path) -> None:
    """3.14's map(buffersize=...) submits most items from its result iterator, after map()
    returned: each is still the one task map() numbered, not a submit() of its own."""
    python = python_for((3, 14))
    program = write(tmp_path, "buffered.py", BUFFERED_MAP)
    run = trace(*(["--python", python] if python else []), str(program))
    assert run.status == 0, run.stderr
    assert run.stderr == "[0, 2, 4, 6, 8, 10, 12]\n" * 2
    assert run.doc is not None
    assert [p["tasks"] for p in run.doc["outcome"]["pools"]] == [
        counts(submitted=7, started=7, completed=7)
    ] * 2
