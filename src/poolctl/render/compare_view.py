"""The terminal view of a comparison: one row per (scenario, start method, interpreter).

Drawn from the compare document's summary rows. A quantity that varied between repeats is
shown as its distribution, each value with its number of runs (``0/1/0 (13), 0/0/1 (7)``);
a deterministic row shows single values.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..printable import printable
from ..python_differences import describe
from .console import make_console


def show(document: dict[str, Any], *, no_color: bool = False) -> None:
    """Print the comparison table (plain when stdout is not a terminal)."""
    console = make_console(no_color=no_color)
    console.print(render(document, console.width))


# Below this width the shutdown time is left out of the table (it stays in --json).
WIDE = 100


def render(document: dict[str, Any], width: int = 80) -> Group:
    """The title, the table, and any runs that could not be observed."""
    summary = document["summary"]
    title = Text("Comparison  ", "bold underline")
    title.append(
        f"{summary['runs']} runs · {summary['matched']} match · {summary['mismatched']} differ"
        f" · {summary['hung']} hung",
        "dim",
    )
    if summary["unobserved"]:
        title.append(f" · {summary['unobserved']} not observed", "bold red")
    if summary.get("incomplete"):
        title.append(f" · {summary['incomplete']} not completely observed", "bold yellow")
    if summary.get("skipped"):
        title.append(f" · {summary['skipped']} skipped", "dim")
    parts: list[Any] = [title, table(summary["rows"], wide=width >= WIDE)]
    parts += differences(summary)
    for error in document["errors"]:
        parts.append(
            Text(
                printable(
                    f"not observed: {error['scenario']} ({error['start_method'] or 'default'}):"
                    f" {error['message']}"
                ),
                "red",
            )
        )
    return Group(*parts)


# How a cell whose value differs from another interpreter's stands out.
DIFFERS = "bold magenta"


def differences(summary: dict[str, Any]) -> list[Text]:
    """What differs between interpreters, a line per quantity (nothing with one
    interpreter)."""
    found = summary.get("differences", [])
    compared = len({row["executable"] for row in summary["rows"] if row["observed_runs"]}) > 1
    if not found:
        return [Text("No differences between interpreters.", "dim")] if compared else []
    lines = [Text("Differences between interpreters", "bold underline")]
    for group in found:
        text = Text("≠ ", DIFFERS)
        text.append(printable(group["scenario"]), "bold")
        text.append(printable(f" ({group['start_method']} start method)"), "dim")
        for entry in group["differs"]:
            text.append("\n    " + printable(describe(entry)))
        lines.append(text)
    return lines


def _dist(counts: dict[str, int]) -> str:
    if len(counts) == 1:
        return printable(next(iter(counts)))
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{printable(value)} ({n})" for value, n in ordered)


def table(rows: list[dict[str, Any]], *, wide: bool = True) -> Table:
    """One row per (scenario, start method, interpreter)."""
    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    grid.add_column("scenario", no_wrap=True)
    grid.add_column("tasks\ndone/int/\nnever", no_wrap=True)
    grid.add_column("workers", no_wrap=True)
    grid.add_column("main\nexit", justify="right", no_wrap=True)
    if wide:
        grid.add_column("shutdown", justify="right", no_wrap=True)
    grid.add_column("error", ratio=1, overflow="fold")
    grid.add_column("vs docs", ratio=1, overflow="fold")
    for row in rows:
        seen = row["observed"]
        observed = row["observed_runs"] > 0
        differs = set(row.get("differs", []))
        look = {q: DIFFERS if q in differs else "" for q in ("tasks", "workers", "main_exit_code")}
        cells: list[Any] = [
            _scenario_cell(row),
            Text(_dist(seen["tasks"]).replace(", ", "\n") if observed else "–", look["tasks"]),
            Text(
                _dist(seen["workers"]).replace(", ", "\n").replace(" + ", "\n+ ")
                if observed
                else "–",
                look["workers"],
            ),
            Text(
                _dist(seen["main_exit_code"]).replace(", ", "\n") if observed else "–",
                look["main_exit_code"],
            ),
        ]
        if wide:
            cells.append(_shutdown_cell(row))
        error = _error_cell(row)
        if "error" in differs:
            error.stylize(DIFFERS)
        cells += [error, _verdict_cell(row)]
        grid.add_row(*cells)
    return grid


def _scenario_cell(row: dict[str, Any]) -> Text:
    differs = row.get("differs", [])
    text = Text("≠ " if differs else "", DIFFERS)
    text.append(printable(row["scenario"]), "bold")
    look = DIFFERS if "start_method" in differs else "dim"
    text.append("\n" + printable(row["start_method"]), look)
    text.append(printable(f" · {row['python']}"), "dim")
    if row.get("requested_start_method") == "default" and row["start_method"] != "default":
        text.append("\n(default)", look)  # the interpreter's own choice: what 3.14 changed
    return text


def _error_cell(row: dict[str, Any]) -> Text:
    if not row["observed_runs"]:
        return Text("–")
    errors = row["observed"]["error"]
    shown = _dist({("–" if k == "none" else k): v for k, v in errors.items()})
    return Text(shown, "red" if "none" not in errors or len(errors) > 1 else "")


def _shutdown_cell(row: dict[str, Any]) -> str:
    times = row["shutdown_seconds"]
    if times is None:
        return "–"
    if row["runs"] == 1:
        return f"{times['median']:.2f} s"
    return f"{times['median']:.2f} s\n{times['min']:.2f}–{times['max']:.2f}"


def _verdict_cell(row: dict[str, Any]) -> Text:
    text = Text()
    if row["skipped"]:
        return Text(f"skipped: {row['skipped']}", "dim")
    observed = row["observed_runs"]
    unseen = row.get("incomplete", 0)
    if unseen:
        text.append(f"? {unseen}/{observed} not completely observed", "bold yellow")
    elif observed:
        ok = row["matched"] == observed
        mark = "✓" if ok else "✗"
        count = f" {row['matched']}/{observed}" if row["runs"] > 1 or not ok else ""
        text.append(mark + count, "bold green" if ok else "bold red")
    for claim, n in row["failed_checks"].items():
        shown = printable(claim) + (f" ({n}/{observed})" if observed > 1 else "")
        text.append(f"\n✗ {shown}", "red")
    for claim in row.get("not_applicable", {}):
        text.append(f"\n– {printable(claim)}: not applicable here", "dim")
    if row["hung"]:
        text.append(f"\nhung {row['hung']}/{observed}", "red")
    for output, counts in row["races"].items():
        # A race is shown as one (yellow); it stands out only when another interpreter
        # did not show the same outcomes (see python_differences).
        text.append(
            f"\n~ {printable(output)} {counts['printed']}/{counts['runs']}",
            DIFFERS if f"race:{output}" in row.get("differs", []) else "yellow",
        )
    if row["deterministic"] and row["runs"] > 1:
        text.append(f"\nsame in all {row['runs']} runs", "dim")
    for message in row["unobserved"]:
        text.append(f"\nnot observed: {printable(message)}", "bold red")
    return text


@contextmanager
def progress(total: int, *, enabled: bool, no_color: bool = False) -> Iterator[Any]:
    """A live progress display on a terminal; a no-op tracker anywhere else.

    Yields an object with ``started(label)`` and ``finished(label, ok)``.
    """
    console = make_console(no_color=no_color, stderr=False)
    # Plain output (NO_COLOR, --no-color, not a terminal) means no escape codes at all,
    # and a live display is all cursor movement, whatever FORCE_COLOR says.
    if not enabled or not console.is_interactive or console.color_system is None:
        yield _Silent()
        return
    bar = Progress(
        TextColumn("[bold]compare"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        # Scenario names come from files: shown as they are, never read as markup.
        TextColumn("{task.fields[running]}", style="dim", markup=False),
        console=console,
        transient=True,
    )
    tracker = _Tracker(bar, bar.add_task("runs", total=total, running=""))
    with bar:
        yield tracker


class _Silent:
    def started(self, label: str) -> None:
        pass

    def finished(self, label: str, ok: bool) -> None:
        pass


class _Tracker:
    """Shows which runs are in progress and how many are done."""

    def __init__(self, bar: Progress, task: Any) -> None:
        self.bar, self.task = bar, task
        self.running: list[str] = []

    def _update(self, advance: int = 0) -> None:
        shown = ", ".join(self.running[:3]) + (" …" if len(self.running) > 3 else "")
        self.bar.update(self.task, advance=advance, running=f"running: {shown}" if shown else "")

    def started(self, label: str) -> None:
        self.running.append(printable(label))
        self._update()

    def finished(self, label: str, ok: bool) -> None:
        if printable(label) in self.running:
            self.running.remove(printable(label))
        self._update(advance=1)
