"""What a command does once its document is made: print it (JSON or a view), write the
exports, say so, and exit with its status; the live status line while a run waits, and
compare's live progress and ``--jsonl`` lines.

Renderers are imported when first used: ``poolctl --version`` and ``list`` stay fast.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from . import api, entry
from .cli_options import Exports
from .cli_output import Output
from .errors import Interrupted

if TYPE_CHECKING:
    from .types import CompareDocument, CompareRun, RunDocument


def deliver(
    doc: RunDocument | CompareDocument,
    exports: Exports,
    out: Output,
    *,
    as_json: bool,
    show: Callable[[], None] | None,
    stopped: int | None = None,
) -> NoReturn:
    """Print the document (as JSON or through ``show``), write the exports, exit.

    The document comes first, so a failed export loses nothing: it is shown, then the
    export's one line, exit 4 (125 for a traced program, whose own codes stand apart).
    ``stopped``: poolctl was interrupted (the document holds what was recorded until
    then), and exits with this status (130, 143, 129) after one line saying so."""
    from .errors import ExportError
    from .render.exports import write

    if as_json:
        from .render.json_doc import write as write_json

        write_json(dict(doc), sys.stdout)
    elif show is not None:
        show()
    try:
        write(dict(doc), exports, wrote=out.wrote)
    except ExportError as exc:
        if doc.get("program"):
            exc.exit_code = 125
        if stopped is None:
            raise
        say(str(exc))  # the interruption's status stands
    if stopped is not None:
        say(entry.INTERRUPTED_REPORTED)
        raise typer.Exit(stopped)
    raise typer.Exit(api.exit_status(doc))


def recorded(exc: Interrupted) -> Any:
    """The document of what was recorded before poolctl was interrupted; ``exc`` itself
    (one line, 130) when nothing was. Called inside ``except Interrupted``."""
    if exc.document is None:
        raise exc
    return exc.document


def status_line(out: Output) -> Any:
    """The live status line of a run on a terminal's stderr (``render/status_line``),
    erased when the block ends; none (nothing imported) when stderr is not a terminal,
    or -q."""
    if out.quiet or not sys.stderr.isatty():
        return contextlib.nullcontext()
    from .render.status_line import StatusLine

    return StatusLine(no_color=out.no_color)


def show_run(doc: RunDocument, out: Output, events: bool = False) -> None:
    """The run view on stdout (compact, or the whole run with ``events``)."""
    from .render.run_view import show

    show(dict(doc), no_color=out.no_color, events=events)


def show_compare(doc: CompareDocument, out: Output) -> None:
    """The compare table and its summary on stdout."""
    from .render.compare_view import show

    show(dict(doc), no_color=out.no_color)


class LiveCompare:
    """compare's live output: the progress display (on a terminal) and ``--jsonl``'s lines.

    The display opens at the first run, when the number of runs is known, and closes with
    ``stack``; runs start in worker threads, hence the lock.
    """

    def __init__(
        self, stack: contextlib.ExitStack, *, progress: bool, jsonl: bool, no_color: bool
    ) -> None:
        self.stack, self.progress, self.jsonl, self.no_color = stack, progress, jsonl, no_color
        self.lock = threading.Lock()
        self.tracker: Any = None

    def _tracker(self, total: int) -> Any:
        with self.lock:
            if self.tracker is None:
                from .render.compare_view import progress

                shown = progress(total, enabled=self.progress, no_color=self.no_color)
                self.tracker = self.stack.enter_context(shown)
            return self.tracker

    def started(self, run: CompareRun) -> None:
        self._tracker(run["total"]).started(run["label"])

    def finished(self, run: CompareRun) -> None:
        self._tracker(run["total"]).finished(run["label"], run["document"] is not None)
        if not self.jsonl:
            return
        if run["document"] is not None:
            from .render.json_doc import write_line

            write_line(dict(run["document"]), sys.stdout)
        elif run["skipped"] is not None:
            say(f"skipped: {run['label']}: {run['skipped']}")
        else:
            say(f"not observed: {run['label']}: {run['error']}")


def say(message: str) -> None:
    """One line on stderr, whatever the message holds (a newline in a value is escaped)."""
    from .printable import printable

    entry.say(printable(message))
