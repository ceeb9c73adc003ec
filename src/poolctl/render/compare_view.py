"""The terminal view of a comparison: one row per (scenario, start method, interpreter).

Drawn from the compare document's summary rows. A quantity that varied between repeats is
shown as its distribution, each value with its number of runs (``0/1/0 (13), 0/0/1 (7)``);
a deterministic row shows single values.

The table is laid out for the console's width: each scenario's name on a line of its own
(never cut), its rows under it; the verdict column is always there. A column that does
not fit (the shutdown time first, then workers, tasks, main exit) becomes a line under
the row, as do the error and what could not be observed, wrapped between words.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from ..printable import printable
from ..python_differences import describe
from .console import GLUE, emit, lines, make_console, wrap


def show(document: dict[str, Any], *, no_color: bool = False) -> None:
    """Print the comparison table (plain when stdout is not a terminal)."""
    console = make_console(no_color=no_color)
    emit(console, render(document, console.width))


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
    stopped = document.get("interrupted")
    if stopped:
        title.append(
            f" · interrupted ({stopped['signal']}) after {stopped['finished']}"
            f" of {stopped['total']} runs",
            "bold yellow",
        )
    parts = [*wrap(title, width), Text(""), *table(summary["rows"], width)]
    found = differences(summary, width)
    parts += [Text(""), *found] if found else []
    for error in document["errors"]:
        method = error["start_method"] or "default"
        message = f"not observed: {error['scenario']} ({method}): {error['message']}"
        parts += wrap(Text(printable(message), "red"), width)
    return lines(parts)


# How a cell whose value differs from another interpreter's stands out.
DIFFERS = "bold magenta"
GAP = 2
# The verdict column's width when there is room: a race's line (``~ Task executing 13/20``).
VERDICT_WANTED = 24
# The workers' column's width before the verdict narrows (``+ 1× SIGTERM (12)``).
WORKERS_LEAST = 16
# The verdict column's least width: its first line (``✓ 20/20``) and a race's count.
VERDICT_MIN = 12
# Under each row, lines indented this far: what did not fit in a column.
DETAIL_INDENT = 4


def differences(summary: dict[str, Any], width: int = 80) -> list[Text]:
    """What differs between interpreters, a line per quantity (nothing with one
    interpreter), wrapped between words to ``width``."""
    found = summary.get("differences", [])
    compared = len({row["executable"] for row in summary["rows"] if row["observed_runs"]}) > 1
    if not found:
        return [Text("No differences between interpreters.", "dim")] if compared else []
    lines = [Text("Differences between interpreters", "bold underline")]
    for group in found:
        text = Text("≠ ", DIFFERS)
        text.append(printable(group["scenario"]), "bold")
        text.append(printable(f" ({group['start_method']} start method)"), "dim")
        lines += wrap(text, width)
        for entry in group["differs"]:
            first, *rest = wrap(Text(_glued(describe(entry))), width - 6)
            lines += [Text("    ") + first, *(Text("      ") + part for part in rest)]
    return lines


def _dist(counts: dict[str, int]) -> str:
    if len(counts) == 1:
        return _glued(next(iter(counts)))
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{_glued(value)}{GLUE}({n})" for value, n in ordered)


def _glued(text: str) -> str:
    """``text`` made printable, each count kept with what it counts (``2× SIGTERM``)."""
    return printable(text).replace("× ", "×" + GLUE)


@dataclass
class _Column:
    """One column: its heading's lines, its label on a detail line, its cells' lines."""

    heading: list[str]
    label: str
    cells: list[list[Text]] = field(default_factory=list)
    right: bool = False

    shown: int = 0  # the width it is given (cells wrapped between words to fit)
    narrower: list[list[Text]] = field(default_factory=list)  # its cells in more lines

    @property
    def width(self) -> int:
        """Its natural width: its widest line."""
        lines = [*self.heading, *(line.plain for cell in self.cells for line in cell)]
        return max(cell_len(line) for line in lines)

    @property
    def narrowest(self) -> int:
        """The least width that breaks no word."""
        lines = [*self.heading, *(line.plain for cell in self.cells for line in cell)]
        return max(cell_len(word) for line in lines for word in line.split(" "))


def _fit(
    first: _Column, columns: dict[str, _Column], verdicts: list[list[Text]], width: int
) -> tuple[dict[str, _Column], list[str], int]:
    """Which columns stay, at what widths, and the verdict's width.

    The verdict is the last thing to go: the shutdown time leaves first, then the
    workers' cells are wrapped between words (to WORKERS_LEAST), the start method and
    the interpreter go on two lines (``first.cells`` becomes ``first.narrower``), the
    tasks' cells are wrapped, the verdict narrows to its least, the workers' cells are
    wrapped further, then workers, tasks and main exit move under each row.
    """
    natural = max([line.cell_len for cell in verdicts for line in cell] + [len("vs docs")])
    verdict = min(natural, VERDICT_WANTED)
    kept = dict(columns)
    for column in [first, *kept.values()]:
        column.shown = column.width

    def left() -> int:
        return width - sum(c.shown + GAP for c in [first, *kept.values()])

    workers, tasks = kept["workers"], kept["tasks"]

    def narrow(column: _Column, least: int) -> None:
        if left() < verdict:
            column.shown = max(least, column.narrowest, column.shown - (verdict - left()))

    if left() < verdict:
        del kept["shutdown"]
    narrow(workers, WORKERS_LEAST)
    if left() < verdict and first.narrower:
        first.cells = first.narrower
        first.shown = first.width
    narrow(tasks, 0)
    if left() < verdict:
        verdict = max(left(), VERDICT_MIN)
    narrow(workers, 0)
    # What a later step left over goes back to the cells wrapped before it.
    for column in (workers, tasks):
        if left() > verdict:
            column.shown = min(column.width, column.shown + left() - verdict)
    for name in ("workers", "tasks", "exit"):
        if left() >= verdict:
            break
        del kept[name]
    moved = [name for name in columns if name not in kept]
    return kept, moved, max(left(), verdict)


def _wrapped(column: _Column, n: int) -> list[Text]:
    """Row ``n``'s cell of ``column``, each line wrapped between words to its width."""
    return [part for line in column.cells[n] for part in wrap(line, column.shown)]


def table(rows: list[dict[str, Any]], width: int = 120) -> list[Text]:
    """One row per (scenario, start method, interpreter), under each scenario's name."""
    first = _Column(["", "start method", "· python"], "")
    columns = {
        "tasks": _Column(["tasks", "done/int/", "never"], "tasks"),
        "workers": _Column(["", "", "workers"], "workers"),
        "exit": _Column(["", "main", "exit"], "main exit", right=True),
        "shutdown": _Column(["", "", "shutdown"], "shutdown", right=True),
    }
    verdicts: list[list[Text]] = []
    details: list[list[Text]] = []
    for row in rows:
        first.cells.append(_scenario_cell(row))
        first.narrower.append(_scenario_cell(row, lines=2))
        differs = set(row.get("differs", []))
        observed = row["observed_runs"] > 0
        for name, quantity in (("tasks", "tasks"), ("workers", "workers")):
            shown = _dist(row["observed"][quantity]) if observed else "–"
            look = DIFFERS if quantity in differs else ""
            split = shown.split(", ")
            if name == "workers":
                split = [p for part in split for p in part.replace(" + ", "\n+ ").split("\n")]
            columns[name].cells.append([Text(part, look) for part in split])
        exits = _dist(row["observed"]["main_exit_code"]) if observed else "–"
        look = DIFFERS if "main_exit_code" in differs else ""
        columns["exit"].cells.append([Text(part, look) for part in exits.split(", ")])
        columns["shutdown"].cells.append([Text(part) for part in _shutdown_cell(row)])
        verdicts.append(_verdict_lines(row))
        details.append(_details(row, differs))
    kept, moved, verdict_width = _fit(first, columns, verdicts, width)
    order = [first, *kept.values()]
    # The rule under the heading is as long as the table, not the terminal.
    widest = max([line.cell_len for cell in verdicts for line in cell] + [len("vs docs")])
    out = _heading(order, min(verdict_width, widest))
    previous = None
    for n, row in enumerate(rows):
        if row["source"] != previous:
            out += wrap(_group_title(row, rows), width)
            previous = row["source"]
        cells = [_wrapped(column, n) for column in order]
        verdict = [part for line in verdicts[n] for part in wrap(line, verdict_width)]
        height = max(len(verdict), *(len(cell) for cell in cells))
        for k in range(height):
            line = Text()
            for column, cell in zip(order, cells, strict=True):
                text = cell[k] if k < len(cell) else Text("")
                pad = " " * (column.shown - text.cell_len)
                line.append_text(Text(pad) + text if column.right else text + Text(pad))
                line.append(" " * GAP)
            if k < len(verdict):
                line.append_text(verdict[k])
            line.rstrip()
            out.append(line)
        extra = [
            _detail(columns[name].label, columns[name].cells[n])
            for name in moved
            if name != "shutdown" and columns[name].cells[n][0].plain != "–"
        ]
        for text in [*extra, *details[n]]:
            parts = wrap(text, width - DETAIL_INDENT)
            out += [Text(" " * DETAIL_INDENT) + part for part in parts]
    return out


def _heading(order: list[_Column], verdict_width: int) -> list[Text]:
    out = []
    for k in range(3):
        line = Text(style="bold")
        for column in order:
            words = column.heading[k]
            line.append(words.rjust(column.shown) if column.right else words.ljust(column.shown))
            line.append(" " * GAP)
        line.append("vs docs" if k == 2 else "")
        line.rstrip()
        if line.plain:
            out.append(line)
    rule = sum(c.shown + GAP for c in order) + verdict_width
    out.append(Text("─" * rule, "dim"))
    return out


def _group_title(row: dict[str, Any], rows: list[dict[str, Any]]) -> Text:
    """A scenario's name, whole, over its rows (≠ when one of them differs)."""
    differs = any(r.get("differs") for r in rows if r["source"] == row["source"])
    text = Text("≠ " if differs else "", DIFFERS)
    text.append(printable(row["scenario"]), "bold")
    return text


def _detail(label: str, cell: list[Text]) -> Text:
    text = Text(f"{label}: ", "dim")
    for n, part in enumerate(cell):
        if n and not part.plain.startswith("+"):
            text.append(", ")
        elif n:
            text.append(" ")
        text.append_text(part)
    return text


def _scenario_cell(row: dict[str, Any], *, lines: int = 1) -> list[Text]:
    """The row's start method and interpreter: on one line, or on two."""
    differs = row.get("differs", [])
    look = DIFFERS if "start_method" in differs else ""
    method = Text("  " + printable(row["start_method"]), look)
    if row.get("requested_start_method") == "default" and row["start_method"] != "default":
        method.append(
            " (default)", look or "dim"
        )  # the interpreter's own choice: what 3.14 changed
    python = Text(printable(f"· {row['python']}"), "dim")
    return [method + Text(" ") + python] if lines == 1 else [method, Text("    ") + python]


def _details(row: dict[str, Any], differs: set[str]) -> list[Text]:
    """What goes under the row: its error, why it was skipped, what was not observed."""
    out = []
    if row["skipped"]:
        out.append(Text(printable(f"skipped: {row['skipped']}"), "dim"))
    if row["observed_runs"]:
        errors = row["observed"]["error"]
        if set(errors) != {"none"}:
            shown = _dist({("no error" if k == "none" else k): v for k, v in errors.items()})
            text = Text("error: ", "dim")
            text.append(shown, DIFFERS if "error" in differs else "red")
            out.append(text)
    for message in row["unobserved"]:
        out.append(Text(f"not observed: {printable(message)}", "bold red"))
    return out


def _shutdown_cell(row: dict[str, Any]) -> list[str]:
    times = row["shutdown_seconds"]
    if times is None:
        return ["–"]
    if row["runs"] == 1:
        return [f"{times['median']:.2f} s"]
    return [f"{times['median']:.2f} s", f"{times['min']:.2f}–{times['max']:.2f}"]


def _verdict_lines(row: dict[str, Any]) -> list[Text]:
    if row["skipped"]:
        return [Text("skipped", "dim")]
    out = []
    observed = row["observed_runs"]
    unseen = row.get("incomplete", 0)
    if unseen:
        out.append(Text(f"? {unseen}/{observed} not completely observed", "bold yellow"))
    elif observed:
        ok = row["matched"] == observed
        mark = "✓" if ok else "✗"
        count = f" {row['matched']}/{observed}" if row["runs"] > 1 or not ok else ""
        out.append(Text(mark + count, "bold green" if ok else "bold red"))
    elif row["unobserved"]:
        out.append(Text("not observed", "bold red"))
    for claim, n in row["failed_checks"].items():
        shown = printable(claim) + (f" ({n}/{observed})" if observed > 1 else "")
        out.append(Text(f"✗ {shown}", "red"))
    for claim in row.get("not_applicable", {}):
        out.append(Text(f"– {printable(claim)}: not applicable here", "dim"))
    if row["hung"]:
        out.append(Text(f"hung {row['hung']}/{observed}", "red"))
    for output, counts in row["races"].items():
        # A race is shown as one (yellow); it stands out only when another interpreter
        # did not show the same outcomes (see python_differences).
        out.append(
            Text(
                f"~ {printable(output)} {counts['printed']}/{counts['runs']}",
                DIFFERS if f"race:{output}" in row.get("differs", []) else "yellow",
            )
        )
    if row["deterministic"] and row["runs"] > 1:
        out.append(Text(f"same in all {row['runs']} runs", "dim"))
    return out


# The progress bar's width.
BAR = 20


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
    # The counts keep their width; what runs is cut (with …) to the width left over.
    counts = len(f"{total}/{total}")
    left = console.width - len("compare") - BAR - counts - len("0:00:00") - 5
    bar = Progress(
        TextColumn("[bold]compare", table_column=Column(no_wrap=True)),
        BarColumn(bar_width=BAR, table_column=Column(no_wrap=True)),
        MofNCompleteColumn(table_column=Column(no_wrap=True, min_width=counts)),
        TimeElapsedColumn(table_column=Column(no_wrap=True)),
        # Scenario names come from files: shown as they are, never read as markup.
        TextColumn(
            "{task.fields[running]}",
            style="dim",
            markup=False,
            table_column=Column(no_wrap=True, overflow="ellipsis", max_width=max(left, 1)),
        ),
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
