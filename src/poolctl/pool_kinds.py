"""The kinds of pool poolctl knows, one row each: the observer's single home for them.

Everything the observer side needs to know about a kind of pool (how a scenario names it,
whether it starts processes, how tasks are submitted to it and results read from it, which
steps it takes, what a generated program imports, the oldest Python that has it) is in its
row here. The subject side has its own home, one class per kind, in
``subject/poolctl_subject/pool_kinds.py``: the two are matched by ``name``.

A new kind is one row here, one class there, a scenario file and its tests
(docs/architecture.md has the recipe).
"""

from __future__ import annotations

from dataclasses import dataclass

from .interpreter import MINIMUM


@dataclass(frozen=True)
class PoolKind:
    """One kind of pool, as the observer side sees it."""

    name: str  # the scenario's ``api`` value, and the ``api`` of pool events
    label: str  # the class, as a user knows it
    starts_processes: bool  # False: its workers are threads of the main process
    submit: tuple[str, ...]  # the submission functions a scenario may use; the first is the default
    steps: frozenset[str]  # the steps (steps.STEPS) a scenario of this kind may take
    result_getter: str  # the method that reads one result: ``get`` or ``result``
    imports: tuple[str, ...]  # the imports a generated program needs for it
    # How a generated program creates it: ``{context}`` is ``get_context(...)``, ``{options}``
    # its arguments (workers, the context as ``context_option``, maxtasksperchild, ...).
    create: str
    workers_expression: str  # a generated program's expression for its live workers
    # How a generated program makes each submission function's call: a template that names
    # ``{tasks}`` submits every task at once; any other is called once per task ``i``.
    submit_code: dict[str, str]
    min_python: tuple[int, int] = MINIMUM  # the oldest Python that has it (poolctl's own)
    maxtasksperchild: bool = False  # whether it takes ``maxtasksperchild``
    # The keyword a generated program passes the start method's context as (None: the
    # context is in ``create`` itself, or there is none).
    context_option: str | None = None
    workers_on_demand: bool = False  # it may start its workers as tasks arrive

    @property
    def getter_label(self) -> str:
        """How the views name the call that reads a result: ``get()``, ``result()``."""
        return f"{self.result_getter}()"


KINDS: dict[str, PoolKind] = {
    kind.name: kind
    for kind in (
        PoolKind(
            name="pool",
            label="Pool",
            starts_processes=True,
            submit=("apply_async", "map_async"),
            steps=frozenset(
                {"close", "terminate", "join", "sleep", "del", "kill-worker", "get-results"}
            ),
            result_getter="get",
            imports=("from multiprocessing import get_context",),
            create="{context}.Pool({options})",
            workers_expression="pool._pool",
            submit_code={
                "apply_async": "pool.apply_async(task, (i,))",
                "map_async": "pool.map_async(task, range({tasks}))",
            },
            maxtasksperchild=True,
        ),
        PoolKind(
            name="threadpool",
            label="ThreadPool",
            starts_processes=False,
            submit=("apply_async", "map_async"),
            steps=frozenset({"close", "terminate", "join", "sleep", "del", "get-results"}),
            result_getter="get",
            imports=("from multiprocessing.pool import ThreadPool",),
            create="ThreadPool({options})",
            workers_expression="pool._pool",
            submit_code={
                "apply_async": "pool.apply_async(task, (i,))",
                "map_async": "pool.map_async(task, range({tasks}))",
            },
        ),
        PoolKind(
            name="executor",
            label="ProcessPoolExecutor",
            starts_processes=True,
            submit=("submit",),
            steps=frozenset(
                {
                    "shutdown",
                    "sleep",
                    "del",
                    "kill-worker",
                    "get-results",
                    "terminate-workers",
                    "kill-workers",
                }
            ),
            result_getter="result",
            imports=(
                "from concurrent.futures import ProcessPoolExecutor",
                "from multiprocessing import get_context",
            ),
            create="ProcessPoolExecutor({options})",
            workers_expression="pool._processes.values()",
            submit_code={"submit": "pool.submit(task, i)"},
            context_option="mp_context",
            workers_on_demand=True,
        ),
        PoolKind(
            name="thread-executor",
            label="ThreadPoolExecutor",
            starts_processes=False,
            submit=("submit",),
            steps=frozenset({"shutdown", "sleep", "del", "get-results"}),
            result_getter="result",
            imports=("from concurrent.futures import ThreadPoolExecutor",),
            create="ThreadPoolExecutor({options})",
            workers_expression="pool._threads",
            submit_code={"submit": "pool.submit(task, i)"},
            workers_on_demand=True,
        ),
        PoolKind(
            name="interpreter-executor",
            label="InterpreterPoolExecutor",
            starts_processes=False,
            submit=("submit",),
            steps=frozenset({"shutdown", "sleep", "del", "get-results"}),
            result_getter="result",
            imports=("from concurrent.futures import InterpreterPoolExecutor",),
            create="InterpreterPoolExecutor({options})",
            workers_expression="pool._threads",
            submit_code={"submit": "pool.submit(task, i)"},
            min_python=(3, 14),
            workers_on_demand=True,
        ),
    )
}
DEFAULT = "pool"
# A process other than the main one numbers its pools from pid × 10,000 + 1 (the subject's
# instrument._fresh_in_child), so that no two processes' numbers collide.
CHILD_POOLS = 10_000


def kind(name: str | None) -> PoolKind | None:
    """The kind called ``name`` (an event's ``api``), or None for an unknown one."""
    return KINDS.get(name or "")


def label(name: str | None) -> str:
    """The class name a user knows for the kind called ``name`` ('pool' when unknown)."""
    found = kind(name)
    return found.label if found else "pool"


def name(api: str | None, pool: int, role: str | None = None) -> str:
    """A pool as the views name it: 'Pool 2'; one a child or a worker made, by its number
    there and its process: 'Pool 1 in child 4321' ('in process' when the role is unknown)."""
    if pool <= CHILD_POOLS:
        return f"{label(api)} {pool}"
    pid, number = divmod(pool, CHILD_POOLS)
    return f"{label(api)} {number} in {role or 'process'} {pid}"
