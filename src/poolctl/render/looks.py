"""How each thing on a timeline looks, declared once for every view.

The terminal timeline (``lanes``, rich styles given as plain strings), the SVG (and the
HTML page that embeds it) and the Chrome trace read their marks, colours, labels and
legend words here; the terminal legend and the SVG legend are built from these tables.
A call's look is its row in ``steps.STEPS`` (``mark``, ``style``, ``short``, ``legend``).
No rich import: the exports must stay rich-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..steps import STEPS


@dataclass(frozen=True)
class Look:
    """One thing's look in each view; an empty field: that view does not draw it."""

    legend: str = ""  # its words in a legend
    mark: str = ""  # its character in the terminal timeline
    style: str = ""  # that character's rich style
    colour: str = ""  # its colour in the SVG
    svg_mark: str = ""  # the character the SVG legend writes for its shape
    instant: bool = False  # a point event: an instant in the Chrome trace


@dataclass(frozen=True)
class Ending:
    """How a process's ending is written at the end of its lane.

    ``text`` and ``svg_text`` may hold ``{code}`` and ``{signal}``.
    """

    text: str  # in the terminal
    style: str  # its rich style
    svg_text: str  # in the SVG
    colour: str  # its SVG colour


# The point events, by kind: the timeline model makes a marker of every event of these
# kinds; ``mark`` draws it on the main process's terminal lane, ``colour`` in the SVG.
POINTS: dict[str, Look] = {
    "main.started": Look("start", "●", "bold"),
    "pool.created": Look("pool created", "P", "bold cyan"),
    "task.submitted": Look("submit", "S", "cyan", instant=True),
    "error.raised": Look("error", "!", "bold red", colour="#c62828", instant=True),
    "main.finished": Look("main done", "◆", "bold green", instant=True),
    "run.timeout": Look(instant=True),
    "cleanup.killed": Look(instant=True),
    "interrupt.passed": Look(instant=True),
    "worker.exited": Look(instant=True),
    "main.exited": Look(instant=True),
}

# The calls on a pool (each a ``<name>.called`` mark, then a span while it waits).
CALL_COLOUR = "#8e24aa"
CALLS: dict[str, Look] = {
    name: Look(step.legend, step.mark, step.style, colour=CALL_COLOUR)
    for name, step in STEPS.items()
}
# Short labels of the call markers in the SVG.
CALL_LABELS: dict[str, str] = {name: step.short for name, step in STEPS.items()}
# The SVG draws every call, and the time spent in it, in one colour.
CALL = Look("call, and waiting in it", colour=CALL_COLOUR)
WAITING = Look("in a call", "·", "magenta", colour=CALL_COLOUR)

# A process's lane: its lifeline, from started (or spawned) to its exit.
LIFELINE = Look(mark="─", style="dim", colour="#bbb")
STARTING = Look("starting", "┄", "dim")  # a worker spawned, not yet ready
READY = Look("ready", "▸", "bold", colour="#333")
EXITED = Look("exited", "■", "bold", svg_mark="■")
KILLED = Look("killed by a signal", "✝", "bold red", svg_mark="✕")

# Task bars, by the task's state in the outcome (a never-started task has no bar).
TASKS: dict[str, Look] = {
    "completed": Look("task completed", "━", "green", colour="#2e7d32"),
    "interrupted": Look("task interrupted", "╍", "red", colour="#c62828"),
    "failed": Look("task failed", "━", "yellow", colour="#f9a825"),
}
# Where a task begins right where the worker's previous one ended (drawn in its bar's
# style): back-to-back tasks would otherwise draw as one bar.
TASK_START = Look("next task", "┣", "bold")
# Tasks that never started have no bar: the SVG draws them queued, from their submission.
NEVER_STARTED = Look("task never started", colour="#9e9e9e")
# A mark where a task in this state ended: where a failed task raised.
TASK_ENDS: dict[str, Look] = {"failed": Look("task failed", "✗", "bold yellow")}

# How a process ended (``timeline_model.Lifeline.ending``), at the end of its lane.
ENDINGS: dict[str, Ending] = {
    "timeout": Ending("timeout", "bold red", "killed at timeout", "#c62828"),
    "interrupted": Ending("stopped", "bold red", "killed when poolctl was stopped", "#c62828"),
    "stopped": Ending("stopped", "green", "stopped", "#2e7d32"),
    "signal": Ending("{signal}", "red", "{signal}", "#c62828"),
    "unknown": Ending("?", "dim", "exit ?", "#333"),
    "exit 0": Ending("exit {code}", "green", "exit {code}", "#333"),
    "exit code": Ending("exit {code}", "yellow", "exit {code}", "#333"),
}

# The terminal legend's order, the one its readers know; a look with a mark and words
# that is not listed (a new step, a new point event) follows, in its table's order.
_LEGEND_ORDER = (
    POINTS["main.started"],
    POINTS["pool.created"],
    POINTS["task.submitted"],
    CALLS["close"],
    CALLS["terminate"],
    CALLS["join"],
    WAITING,
    POINTS["error.raised"],
    POINTS["main.finished"],
    STARTING,
    READY,
    EXITED,
    KILLED,
    TASKS["completed"],
    TASKS["interrupted"],
    TASK_ENDS["failed"],
    TASK_START,
    CALLS["shutdown"],
    CALLS["sleep"],
    CALLS["with-exit"],
    CALLS["kill-worker"],
    CALLS["get-results"],
    CALLS["del"],
)
LEGEND_WIDTH = 79  # each line under 80 columns, so no item is ever split by wrapping


def legend_looks() -> list[Look]:
    """Every look with a mark and words, in the terminal legend's order."""
    found = [look for look in _LEGEND_ORDER if look.mark and look.legend]
    for look in (*POINTS.values(), *CALLS.values()):
        if look.mark and look.legend and all(look is not other for other in found):
            found.append(look)
    return found


def terminal_legend() -> str:
    """The terminal timeline's whole legend (every mark and its words), in lines under 80
    columns; a run's view shows only the marks its lanes show."""
    lines = [""]
    for look in legend_looks():
        item = f"{look.mark} {look.legend}"
        if lines[-1] and len(lines[-1]) + 2 + len(item) > LEGEND_WIDTH:
            lines.append("")
        lines[-1] += f"  {item}" if lines[-1] else item
    return "\n".join(lines)


def svg_legend() -> tuple[list[tuple[str, str]], str]:
    """The SVG legend: its colour boxes (colour, words), then the text for the shapes."""
    boxes = [(look.colour, look.legend) for look in (*TASKS.values(), NEVER_STARTED, CALL)]
    marks = (EXITED, KILLED, Look(READY.legend, svg_mark="●"), Look("error", svg_mark="!"))
    shapes = "  ".join(f"{look.svg_mark} {look.legend}" for look in marks)
    return boxes, shapes
