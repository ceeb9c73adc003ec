"""Many observed runs: scenarios × start methods × interpreters × repeats, run concurrently.

Each run is an independent observed run (its own subject, session and channel) made by
``scenario_pipeline.run``, the same code path as ``poolctl run``; this module only plans the matrix,
runs it on a thread pool, and hands each result over as it finishes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from . import interpreter as interpreters
from . import limits, scenario_pipeline
from .errors import Cancelled, ObserveError, UsageError
from .interpreter import Interpreter
from .interpreter_faults import breaking
from .pool_kinds import KINDS
from .scenario import Scenario, bundled_names, load

MAX_JOBS = 64
MAX_REPEAT = 1000


@dataclass(frozen=True)
class Cell:
    """One planned run of the matrix."""

    index: int
    scenario: Scenario
    interpreter: Interpreter
    params: scenario_pipeline.RunParams
    repeat: int
    skip: str | None = None  # why this cell is not run (e.g. the interpreter is too old)

    @property
    def label(self) -> str:
        """A short name for progress displays: the start method the run will use (the
        interpreter's default is the first it lists); none for a pool of threads."""
        method = self.params.start_method
        if method is None and KINDS[self.scenario.api].starts_processes:
            method = self.interpreter.start_methods[0]
        parts = (self.scenario.name, method, self.interpreter.label)
        return " · ".join(part for part in parts if part)


@dataclass
class Result:
    """What one cell produced: its run document, or why it could not be observed."""

    cell: Cell
    document: dict[str, Any] | None = None
    error: str | None = None
    skipped: str | None = None


def default_jobs() -> int:
    """One run per CPU: runs mostly sleep, but start-up is CPU-bound, and an overloaded
    machine would shift the races being measured."""
    return max(os.cpu_count() or 1, 1)


def check_jobs(jobs: int) -> int:
    """``--jobs``: 1 to MAX_JOBS."""
    if not 1 <= jobs <= MAX_JOBS:
        raise UsageError(f"--jobs must be between 1 and {MAX_JOBS}, not {jobs}")
    return jobs


def check_repeat(repeat: int) -> int:
    """``--repeat``: 1 to MAX_REPEAT."""
    if not 1 <= repeat <= MAX_REPEAT:
        raise UsageError(f"--repeat must be between 1 and {MAX_REPEAT}, not {repeat}")
    return repeat


def start_methods(spec: str | None, interpreter: Interpreter) -> list[str | None]:
    """``--start-method``: None (the default), ``all`` (every available one) or a list."""
    if spec is None:
        return [None]
    if spec.strip() == "all":
        return list(interpreter.start_methods)
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        raise UsageError("--start-method: empty list")
    return [limits.start_method(name) for name in dict.fromkeys(names)]


def plan(
    names: list[str],
    pythons: list[str],
    start_method: str | None,
    repeat: int,
    **options: Any,
) -> list[Cell]:
    """The matrix, in a fixed order: scenario, interpreter, start method, repeat."""
    check_repeat(repeat)
    if not names:
        raise UsageError("name at least one scenario, or 'all'")
    wanted = bundled_names() if "all" in names else list(dict.fromkeys(names))
    scenarios = [load(name) for name in wanted]
    found: dict[str, Interpreter] = {}
    for spec in pythons or [None]:
        checked = interpreters.resolve(spec)
        found.setdefault(checked.executable, checked)
    cells: list[Cell] = []
    for scenario in scenarios:
        for python in found.values():
            # A pool that starts no processes: one row, whatever the start methods.
            starts_processes = KINDS[scenario.api].starts_processes
            methods = start_methods(start_method, python) if starts_processes else [None]
            for method in methods:
                skip = _too_old(scenario, python) or _interpreter_fault(scenario, python, method)
                checked = scenario if skip is None else _without_requirement(scenario)
                params = scenario_pipeline.plan(checked, python, start_method=method, **options)
                for n in range(1 if skip else repeat):
                    cells.append(Cell(len(cells), scenario, python, params, n, skip))
    return cells


def _too_old(scenario: Scenario, python: Interpreter) -> str | None:
    needed = scenario.requires_python
    if needed is None or python.version_info >= needed:
        return None
    return f"needs Python {'.'.join(map(str, needed))}+ (this is {python.label})"


def _interpreter_fault(scenario: Scenario, python: Interpreter, method: str | None) -> str | None:
    """Why the interpreter itself cannot run this cell (a known fault of its own), if so."""
    fault = breaking(python.faults, scenario.api, method or scenario.start_method)
    return None if fault is None else f"the interpreter's own fault: {fault.short}"


def _without_requirement(scenario: Scenario) -> Scenario:
    import dataclasses

    return dataclasses.replace(scenario, requires_python=None)


def run_all(
    cells: list[Cell],
    jobs: int,
    on_start: Callable[[Cell], None] | None = None,
) -> Iterator[Result]:
    """Run every cell, at most ``jobs`` at once; yield each result as it finishes.

    If the caller stops early (Ctrl-C, SIGTERM, an exception), queued runs never start
    and running ones are cancelled; every process of every run is gone before this ends.
    """
    cancel = threading.Event()

    def one(cell: Cell) -> Result:
        if cancel.is_set():
            raise Cancelled
        if cell.skip is not None:
            return Result(cell, skipped=cell.skip)
        if on_start is not None:
            on_start(cell)
        try:
            doc = scenario_pipeline.run(cell.scenario, cell.params, cell.interpreter, cancel)
        except ObserveError as exc:
            return Result(cell, error=str(exc))
        return Result(cell, document=doc)

    executor = ThreadPoolExecutor(max_workers=check_jobs(jobs), thread_name_prefix="run")
    pending: set[Future[Result]] = {executor.submit(one, cell) for cell in cells}
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        cancel.set()
        executor.shutdown(wait=True, cancel_futures=True)
