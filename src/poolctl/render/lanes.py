"""The timeline picture: one lane per process, events and task bars at their times.

Everything drawn comes from the run document's events and outcome. Markers that would land
in the same column (``close`` and ``join`` a few microseconds apart) are nudged right so
each stays visible; the events list below the picture has the exact times.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text

from ..steps import CALLS

# Marker for each main-process event, and its style.
MAIN_MARKS = {
    "main.started": ("●", "bold"),
    "pool.created": ("P", "bold cyan"),
    "task.submitted": ("S", "cyan"),
    "close.called": ("C", "bold magenta"),
    "terminate.called": ("T", "bold red"),
    "join.called": ("J", "bold magenta"),
    "shutdown.called": ("D", "bold magenta"),
    "with-exit.called": ("X", "bold red"),
    "del.called": ("d", "bold red"),
    "kill-worker.called": ("K", "bold red"),
    "get-results.called": ("G", "cyan"),
    "sleep.called": ("z", "magenta"),
    "error.raised": ("!", "bold red"),
    "main.finished": ("◆", "bold green"),
}
TASK_BAR = {"completed": ("━", "green"), "interrupted": ("╍", "red"), "failed": ("━", "yellow")}
# Three lines, each under 80 columns, so no item is ever split by wrapping.
LEGEND = (
    "● start  P pool created  S submit  C close  T terminate  J join  · in a call\n"
    "! error  ◆ 'Main done'  ┄ starting  ▸ ready  ■ exited  ✝ killed by a signal\n"
    "━ task completed  ╍ task interrupted  ✗ task failed  D shutdown  z sleep\n"
    "X with-block exit  K kill a worker  G get results  d del pool"
)
MAX_LANES = 16
LABEL = 16
TAIL = 11


class Lane:
    """One row of cells, each a character and a style."""

    def __init__(self, width: int) -> None:
        self.chars = [" "] * width
        self.styles = [""] * width
        self.marked = [False] * width

    def fill(self, start: int, end: int, char: str, style: str) -> None:
        for col in range(max(start, 0), min(end, len(self.chars) - 1) + 1):
            if not self.marked[col]:
                self.chars[col], self.styles[col] = char, style

    def mark(self, col: int, char: str, style: str) -> None:
        """Place a marker at ``col``, or the next free column to its right.

        A column already showing the same marker stands for both (10,000 submissions
        must not push every later marker off the lane).
        """
        last = len(self.chars) - 1
        col = min(max(col, 0), last)
        while self.marked[col]:
            if self.chars[col] == char:
                return
            if col == last:
                break
            col += 1
        self.chars[col], self.styles[col], self.marked[col] = char, style, True

    def text(self) -> Text:
        line = Text()
        for char, style in zip(self.chars, self.styles, strict=True):
            line.append(char, style or None)
        return line


def _scale(end: float, width: int) -> Any:
    def col(t: float | None) -> int:
        if t is None:
            return width - 1
        return round(max(t, 0.0) / end * (width - 1)) if end > 0 else 0

    return col


def render(document: dict[str, Any], width: int) -> list[Text]:
    """The picture's lines for a console ``width`` columns wide."""
    outcome = document["outcome"]
    events = document["events"]
    chart = max(width - LABEL - TAIL, 20)
    end = max([e["t"] for e in events] + [outcome.get("wall_seconds") or 0.0, 1e-3])
    col = _scale(end, chart)
    lines = [_axis(end, chart, col), _main_lane(document, chart, col)]
    workers = outcome["workers"]
    for worker in workers[:MAX_LANES]:
        lines.append(_worker_lane(worker, outcome["task_runs"], chart, col))
    if len(workers) > MAX_LANES:
        lines.append(Text(f"{'':<{LABEL}}… {len(workers) - MAX_LANES} more workers", "dim"))
    lines.append(_ticks(end, chart, col))
    return lines


def _main_lane(document: dict[str, Any], chart: int, col: Any) -> Text:
    outcome = document["outcome"]
    main = outcome["main"]
    lane = Lane(chart)
    events = [e for e in document["events"] if e["role"] == "main" and "worker" not in e]
    started = next((e["t"] for e in events if e["kind"] == "main.started"), 0.0)
    lane.fill(col(started), col(main.get("exited")), "─", "dim")
    open_calls: dict[str, float] = {}
    for e in events:
        name, _, phase = e["kind"].partition(".")
        if name in CALLS and phase == "called":
            open_calls[name] = e["t"]
        elif name in CALLS and phase == "returned" and name in open_calls:
            lane.fill(col(open_calls.pop(name)), col(e["t"]), "·", "magenta")
    for t in open_calls.values():  # a call that never returned: waiting to the end
        lane.fill(col(t), col(main.get("exited")), "·", "magenta")
    for e in events:
        if e["kind"] in MAIN_MARKS:
            lane.mark(col(e["t"]), *MAIN_MARKS[e["kind"]])
    if main.get("exited") is not None:
        lane.mark(col(main["exited"]), *_end_mark(main["signal"]))
    label = f"main {main['pid'] or ''}"
    return _row(label, lane, _ending(main["exit_code"], main["signal"], outcome["hung"]))


def _worker_lane(
    worker: dict[str, Any], task_runs: list[dict[str, Any]], chart: int, col: Any
) -> Text:
    lane = Lane(chart)
    ready = worker["ready"]
    spawned = worker["spawned"] if worker["spawned"] is not None else ready
    lane.fill(col(spawned), col(ready if ready is not None else worker["exited"]), "┄", "dim")
    if ready is not None:
        lane.fill(col(ready), col(worker["exited"]), "─", "dim")
    for run in task_runs:
        if run["worker"] == worker["pid"] and run["started"] is not None:
            char, style = TASK_BAR[run["status"]]
            lane.fill(col(run["started"]), col(run["ended"]), char, style)
            if run["status"] == "failed":
                lane.mark(col(run["ended"]), "✗", "bold yellow")
    if ready is not None:
        lane.mark(col(ready), "▸", "bold")
    if worker["exited"] is not None:
        lane.mark(col(worker["exited"]), *_end_mark(worker["signal"]))
    ending = _ending(
        worker["exit_code"],
        worker["signal"],
        worker["killed_by_poolctl"],
        worker.get("thread", False),
    )
    kind = "thread" if worker.get("thread") else "worker"
    return _row(f"{kind} {worker['pid']}", lane, ending)


def _end_mark(signal: str | None) -> tuple[str, str]:
    return ("✝", "bold red") if signal else ("■", "bold")


def _ending(
    code: int | None, signal: str | None, killed_by_poolctl: bool, thread: bool = False
) -> Text:
    if killed_by_poolctl:
        return Text("timeout", "bold red")
    if thread:
        return Text("stopped", "green")
    if signal:
        return Text(signal, "red")
    if code is None:
        return Text("?", "dim")
    return Text(f"exit {code}", "green" if code == 0 else "yellow")


def _row(label: str, lane: Lane, ending: Text) -> Text:
    line = Text(f"{label:<{LABEL}}"[:LABEL])
    line.append_text(lane.text())
    line.append(" ")
    line.append_text(ending)
    return line


def _nice_step(end: float, ticks: int) -> float:
    raw = end / max(ticks, 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _tick_times(end: float, chart: int) -> list[float]:
    step = _nice_step(end, max(chart // 16, 2))
    return [i * step for i in range(int(end / step + 1e-9) + 1)]


def _axis(end: float, chart: int, col: Any) -> Text:
    cells = ["─"] * chart
    for t in _tick_times(end, chart):
        cells[col(t)] = "┬"
    return Text(" " * LABEL + "".join(cells), "dim")


def _ticks(end: float, chart: int, col: Any) -> Text:
    cells = [" "] * (chart + TAIL)
    for t in _tick_times(end, chart):
        label = f"{t:g} s"
        start = col(t)
        if all(c == " " for c in cells[max(start - 1, 0) : start + len(label) + 1]):
            cells[start : start + len(label)] = label
    return Text(" " * LABEL + "".join(cells).rstrip(), "dim")
