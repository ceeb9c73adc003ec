"""poolctl's Python API: run, compare, trace, render. ``import poolctl`` reaches it lazily.

Each function returns the document the matching command prints with ``--json`` and
raises the documented errors (``poolctl.errors``). None has a side effect on the caller
beyond the call: no output unless a stream is given, the caller's signal handlers and
child-subreaper setting as they were, every process of the run gone when it returns.
See docs/api.md.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, cast

from .errors import Interrupted

if TYPE_CHECKING:
    from .matrix import Cell, Result
    from .observer.observe import OnObserve
    from .types import CompareDocument, CompareRun, RunDocument

# A stream a traced program's output is copied to, as it comes: a binary file, or a
# function given each chunk of bytes.
Sink = IO[bytes] | Callable[[bytes], object]


def run(
    scenario: str | os.PathLike[str],
    *,
    workers: int | None = None,
    tasks: int | None = None,
    duration: float | None = None,
    start_method: str | None = None,
    python: str | None = None,
    timeout: float | None = None,
    on_start: Callable[[float], object] | None = None,
    on_observe: OnObserve | None = None,
) -> RunDocument:
    """Run a scenario on a real pool; return its ``poolctl.run/1`` document.

    ``scenario`` is a bundled scenario's name or a ``.toml`` file. The options are those
    of ``poolctl run`` (None: the scenario's, else poolctl's default); ``on_start`` is
    called with the run's timeout in seconds as it starts, ``on_observe`` with where its
    events go once its interpreter started (an ``Observed``: ``poolctl.live.Follow``
    reads them as they come). Raises ``UsageError`` for bad input and ``ObserveError``
    when the run could not be observed.
    """
    from . import interpreter, scenario_pipeline
    from .scenario import load
    from .warmup import warm_up

    chosen = load(os.fspath(scenario))
    python_ = interpreter.resolve(python)
    params = scenario_pipeline.plan(
        chosen,
        python_,
        workers=workers,
        tasks=tasks,
        duration=duration,
        start_method=start_method,
        timeout=timeout,
    )
    warm_up(scenario_pipeline.POST_RUN_MODULES)
    if on_start is not None:
        on_start(params.timeout)
    doc = scenario_pipeline.run(chosen, params, python_, on_observe=on_observe)
    return cast("RunDocument", doc)


def compare(
    scenarios: str | Iterable[str],
    *,
    start_method: str | None = None,
    pythons: str | Iterable[str] = (),
    repeat: int = 1,
    jobs: int | None = None,
    workers: int | None = None,
    tasks: int | None = None,
    duration: float | None = None,
    timeout: float | None = None,
    on_start: Callable[[CompareRun], object] | None = None,
    on_result: Callable[[CompareRun], object] | None = None,
) -> CompareDocument:
    """Run scenarios side by side; return the ``poolctl.compare/1`` document.

    ``scenarios``: names or files, or ``"all"``. ``start_method``: one, a comma-separated
    list, or ``"all"``; ``pythons``: interpreters (none: this one); ``repeat``: runs per
    row; ``jobs``: runs at once (None: one per CPU). For live output, ``on_start`` is
    called as each run starts (from a worker thread) and ``on_result`` as each ends (from
    the calling thread); an exception in either stops the compare and every run.
    """
    from . import compare_document, matrix

    # One name is one name, not a list of letters.
    names = [scenarios] if isinstance(scenarios, str) else list(scenarios)
    interpreters = [pythons] if isinstance(pythons, str) else list(pythons)
    cells = matrix.plan(
        names,
        interpreters,
        start_method,
        repeat,
        workers=workers,
        tasks=tasks,
        duration=duration,
        timeout=timeout,
    )
    jobs = matrix.check_jobs(jobs) if jobs is not None else matrix.default_jobs()
    total = len(cells)

    def started(cell: Cell) -> None:
        if on_start is not None:
            on_start(_compare_run(cell, total))

    results: list[Result] = []
    params = compare_document.compare_params(
        names,
        start_method=start_method,
        pythons=sorted({c.interpreter.executable for c in cells}),
        workers=workers,
        tasks=tasks,
        duration=duration,
        timeout=timeout,
        repeat=repeat,
        jobs=jobs,
    )
    try:
        # Closed here, not when collected: the runs still going stop before this goes on.
        with contextlib.closing(matrix.run_all(cells, jobs, on_start=started)) as finished:
            for result in finished:
                results.append(result)
                if on_result is not None:
                    on_result(_compare_run(result.cell, total, result))
    except Interrupted as exc:
        # Stopped by the user: the runs that finished are still the compare's document.
        if results:
            doc = compare_document.build_compare(results, params)
            exc.document = compare_document.interrupted(doc, exc.exit_code, len(results), total)
        raise
    return cast("CompareDocument", compare_document.build_compare(results, params))


def _compare_run(cell: Cell, total: int, result: Result | None = None) -> CompareRun:
    return {
        "label": cell.label,
        "index": cell.index,
        "total": total,
        "document": cast("RunDocument | None", result.document if result else None),
        "error": result.error if result else None,
        "skipped": result.skipped if result else None,
    }


def trace(
    program: str | os.PathLike[str] | None = None,
    args: Iterable[str] = (),
    *,
    module: str | None = None,
    python: str | None = None,
    timeout: float | None = None,
    stdout: Sink | None = None,
    stderr: Sink | None = None,
    stdin: IO[Any] | int | None = None,
    on_observe: OnObserve | None = None,
) -> RunDocument:
    """Run your own program, unchanged, under observation; return its run document.

    ``program`` is a script (``args`` are its arguments), or name a ``module`` instead
    (as ``python -m``). Its output is always in the document; it is also copied, as it
    comes, to ``stdout``/``stderr`` (binary files or functions taking bytes) when given.
    ``stdin``: a file or file descriptor it reads (default: nothing, ``/dev/null``).
    Raises ``TraceError`` (``exit_code`` 125, 126 or 127) when it could not run, and
    ``UsageError`` for bad options. How it ended is in ``doc["outcome"]["main"]``.
    ``on_observe``: as for ``run`` (its ``screen`` is the terminal the output shares).
    """
    from . import interpreter, program_pipeline
    from .observer.observe import Passthrough
    from .warmup import warm_up

    shown = None if program is None else os.fspath(program)
    chosen = program_pipeline.target(shown, list(args), module)
    python_ = interpreter.resolve(python)
    out, err = _binary(stdout), _binary(stderr)
    passthrough = Passthrough(
        stdout=out,
        stderr=err,
        # A terminal gets a pseudo-terminal, so the program buffers as it would there.
        terminal=_isatty(out),
        stdin=stdin if stdin is None or isinstance(stdin, int) else stdin.fileno(),
    )
    warm_up(["poolctl.events", "poolctl.outcome", "poolctl.document"])
    doc = program_pipeline.run(chosen, python_, timeout, passthrough, on_observe)
    return cast("RunDocument", doc)


class _Calls:
    """A function taking bytes, as a binary stream."""

    def __init__(self, function: Callable[[bytes], object]) -> None:
        self.function = function

    def write(self, chunk: bytes) -> int:
        self.function(chunk)
        return len(chunk)

    def flush(self) -> None:
        pass


def _binary(sink: Sink | None) -> IO[bytes] | None:
    if sink is None or hasattr(sink, "write"):
        return cast(IO[bytes] | None, sink)
    return cast(IO[bytes], _Calls(cast(Callable[[bytes], object], sink)))


def _isatty(stream: IO[bytes] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def render_svg(document: RunDocument | CompareDocument) -> str:
    """The timeline as an SVG picture (every run of a compare document, one under another)."""
    from .render.exports import content

    return content("svg", cast(dict[str, Any], document))


def render_html(document: RunDocument | CompareDocument) -> str:
    """A self-contained HTML page of the document."""
    from .render.exports import content

    return content("html", cast(dict[str, Any], document))


def render_perfetto(document: RunDocument | CompareDocument) -> str:
    """A Chrome/Perfetto trace (JSON text) of the document, for ui.perfetto.dev."""
    from .render.exports import content

    return content("trace", cast(dict[str, Any], document))


def load_document(path: str | os.PathLike[str]) -> RunDocument | CompareDocument:
    """A document saved with ``--json``, checked to be one poolctl renders (else
    ``UsageError``)."""
    from .render.exports import load

    return cast("RunDocument | CompareDocument", load(os.fspath(path)))


def load_documents(paths: Iterable[str | os.PathLike[str]]) -> RunDocument | CompareDocument:
    """The documents saved in ``paths`` (``--json`` documents, ``--jsonl`` streams), each
    checked: one document as it is; several merged into one compare document, a row per
    (scenario, start method, interpreter, platform). ``UsageError`` for a bad file."""
    from .render.exports import load_all

    names = [os.fspath(path) for path in paths]
    if not names:
        from .errors import UsageError

        raise UsageError("no document to render")
    found = [(name, doc) for name in names for doc in load_all(name)]
    if len(found) == 1:
        return cast("RunDocument | CompareDocument", found[0][1])
    from .compare_merge import merge

    return cast("CompareDocument", merge([doc for _, doc in found], names))


def exit_status(document: RunDocument | CompareDocument) -> int:
    """The status the command that made ``document`` exits with (see ``--help``)."""
    if document["schema"].startswith("poolctl.compare/"):
        from .compare_document import exit_code

        return exit_code(cast(dict[str, Any], document))
    if cast("RunDocument", document).get("program"):
        from .program_pipeline import exit_status as trace_status

        return trace_status(cast(dict[str, Any], document))
    from .document import exit_code as run_status

    return run_status(cast(dict[str, Any], document))
