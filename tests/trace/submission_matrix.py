"""The pool kind × start method matrix: a program per kind making every submission call,
and the mixins the matrix's test classes are generated from.

Generated as CPython generates its executor tests (Lib/test/test_concurrent_futures/
util.py, ``create_executor_tests``): a mixin per pool kind says how a program makes that
pool and which calls it makes on it, a mixin per start method names the method, and
``create_matrix_tests`` combines a base test class with each kind's mixin and each
method's into one test class per cell (``TestPoolForkSubmission``, ...). A new pool kind
is one mixin here; test_trace_submissions.py fails until every kind of
``poolctl.pool_kinds`` has one.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from conftest import START_METHODS, unpacked_python

# A task of a traced program: short, as the suite must stay fast.
TASK_SECONDS = 0.05

# (the call, how many items it submits, what it returns), made one after the other.
Call = tuple[str, int, list[Any]]
# (the call, how many items it submits, what it returns), made one after the other.
POOL_CALLS: list[Call] = [
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
EXECUTOR_CALLS: list[Call] = [
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


# --- a mixin per pool kind ---------------------------------------------------------------


class KindMixin:
    """A pool kind: how a program imports and makes one, the calls it makes on it."""

    kind: ClassVar[str]  # its name in poolctl.pool_kinds, and its events' ``api``
    imports: ClassVar[str]
    calls: ClassVar[list[Call]]
    # How the program makes it, by how the program chooses the start method:
    # multiprocessing.set_start_method() ('set'), or a get_context() it passes ('context').
    make: ClassVar[dict[str, str]]
    start_methods: ClassVar[tuple[str, ...]] = START_METHODS
    # The oldest Python that has it (None: every Python poolctl runs on); an older
    # poolctl runs it under the newest unpacked CPython 3.14 (``python_for``).
    min_python: ClassVar[tuple[int, int] | None] = None


class PoolMixin(KindMixin):
    """multiprocessing.Pool: every submission function it has."""

    kind = "pool"
    imports = ""
    calls = POOL_CALLS
    make: ClassVar[dict[str, str]] = {
        "set": "multiprocessing.Pool(2)",
        "context": "ctx.Pool(processes=2)",
    }


class ExecutorMixin(KindMixin):
    """concurrent.futures.ProcessPoolExecutor: submit() and map()."""

    kind = "executor"
    imports = "from concurrent.futures import ProcessPoolExecutor"
    calls = EXECUTOR_CALLS
    make: ClassVar[dict[str, str]] = {
        "set": "ProcessPoolExecutor(2)",
        "context": "ProcessPoolExecutor(max_workers=2, mp_context=ctx)",
    }


class ThreadPoolMixin(KindMixin):
    """multiprocessing.pool.ThreadPool: Pool's calls, run by threads of the main process."""

    kind = "threadpool"
    imports = "from multiprocessing.pool import ThreadPool"
    calls = POOL_CALLS
    make: ClassVar[dict[str, str]] = {"set": "ThreadPool(2)"}  # it takes no context
    # It starts no process: its start method is None whatever is set, so one shows it.
    start_methods = ("spawn",)


class ThreadExecutorMixin(KindMixin):
    """concurrent.futures.ThreadPoolExecutor: the executor's calls (its map is Executor's,
    which ignores chunksize), run by threads of the main process."""

    kind = "thread-executor"
    imports = "from concurrent.futures import ThreadPoolExecutor"
    calls = EXECUTOR_CALLS
    make: ClassVar[dict[str, str]] = {"set": "ThreadPoolExecutor(2)"}  # it takes no context
    start_methods = ("fork",)  # it starts no process: one method shows it


class InterpreterExecutorMixin(KindMixin):
    """concurrent.futures.InterpreterPoolExecutor (3.14+): ThreadPoolExecutor's calls, each
    task run in a worker thread's subinterpreter (the program's functions, from __main__)."""

    kind = "interpreter-executor"
    imports = "from concurrent.futures import InterpreterPoolExecutor"
    calls = EXECUTOR_CALLS
    make: ClassVar[dict[str, str]] = {"set": "InterpreterPoolExecutor(2)"}
    start_methods = ("forkserver",)  # it starts no process: one method shows it
    min_python = (3, 14)


KIND_MIXINS: tuple[type[KindMixin], ...] = (
    PoolMixin,
    ExecutorMixin,
    ThreadPoolMixin,
    ThreadExecutorMixin,
    InterpreterExecutorMixin,
)

# The shared CPython 3.14, where the tests look for it (conftest.unpacked_dirs).
PYTHON_314 = unpacked_python("3.14")


def python_for(kind: str) -> tuple[str, ...] | None:
    """The ``--python`` arguments a kind's program needs (none for poolctl's own), or None
    when no interpreter here has it."""
    [mixin] = [m for m in KIND_MIXINS if m.kind == kind]
    if mixin.min_python is None or sys.version_info >= mixin.min_python:
        return ()
    return ("--python", str(PYTHON_314)) if PYTHON_314 else None


# --- a mixin per start method ------------------------------------------------------------


class StartMethodMixin:
    """A start method, as multiprocessing names it."""

    start_method: ClassVar[str]


class ForkMixin(StartMethodMixin):
    start_method = "fork"


class SpawnMixin(StartMethodMixin):
    start_method = "spawn"


class ForkserverMixin(StartMethodMixin):
    start_method = "forkserver"


START_METHOD_MIXINS: tuple[type[StartMethodMixin], ...] = (ForkMixin, SpawnMixin, ForkserverMixin)


# --- the programs and the test classes ---------------------------------------------------


def submission_program(kind: str, method: str, choice: str) -> tuple[str, list[int], list[Any]]:
    """A program making every call of ``kind`` on one pool of 2 workers, under ``method``
    chosen by ``choice`` ('set' or 'context'): its source, each call's item count, and the
    results it prints (as JSON)."""
    [mixin] = [m for m in KIND_MIXINS if m.kind == kind]
    setup = (
        f"multiprocessing.set_start_method({method!r})"
        if choice == "set"
        else f"ctx = multiprocessing.get_context({method!r})"
    )
    body = "\n".join(f"        results.append({call})" for call, _, _ in mixin.calls)
    source = SUBMISSION_PROGRAM.format(
        imports=mixin.imports,
        seconds=TASK_SECONDS,
        setup=setup,
        make=mixin.make[choice],
        calls=body,
    )
    return source, [n for _, n, _ in mixin.calls], [value for _, _, value in mixin.calls]


def strip_mixin(name: str) -> str:
    """A mixin's or a base test class's name without its 'Mixin' or 'Tests' ending."""
    return name.removesuffix("Mixin").removesuffix("Tests")


def create_matrix_tests(
    remote_globals: dict[str, Any],
    mixin: type,
    kinds: tuple[type[KindMixin], ...] = KIND_MIXINS,
    methods: tuple[type[StartMethodMixin], ...] = START_METHOD_MIXINS,
) -> list[type[Any]]:
    """Add to ``remote_globals`` a test class per pool kind and start method it takes:
    ``mixin`` (the tests) combined with the kind's mixin and the method's, named
    Test<Kind><Method><mixin> as pytest collects it; return them.

    The cells take turns at the ways a kind has of choosing the start method (its
    ``make``), so each process pool kind is tested both ways, and so is each method. The
    class says which in its ``choice``.
    """
    made: list[type[Any]] = []
    for k, kind in enumerate(kinds):
        choices = list(kind.make)
        for m, method in enumerate(methods):
            if method.start_method not in kind.start_methods:
                continue
            parts = (kind.__name__, method.__name__, mixin.__name__)
            name = "Test" + "".join(strip_mixin(part) for part in parts)
            attributes = {
                "__module__": remote_globals["__name__"],
                "choice": choices[(k + m) % len(choices)],
            }
            made.append(type(name, (mixin, kind, method), attributes))
            remote_globals[name] = made[-1]
    return made
