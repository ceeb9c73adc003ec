"""The timeline picture: one lane per process, events and task bars at their times.

Everything drawn comes from the timeline model (``timeline_model``), in the looks of
``looks``. Markers that would land in the same column (``close`` and ``join`` a few
microseconds apart) are nudged right so each stays visible; the events list below the
picture has the exact times.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text

from . import looks
from .looks import Look
from .timeline_model import CallSpan, Lifeline, Marker, Timeline, timeline

LEGEND = looks.terminal_legend()
MAX_LANES = 16
LABEL = 16
TAIL = 11


class Lane:
    """One row of cells, each a character and a style."""

    def __init__(self, width: int) -> None:
        self.chars = [" "] * width
        self.styles = [""] * width
        self.marked = [False] * width

    def fill(self, start: int, end: int, look: Look) -> None:
        """Fill columns ``start`` to ``end`` with ``look``'s mark, leaving markers be."""
        for col in range(max(start, 0), min(end, len(self.chars) - 1) + 1):
            if not self.marked[col]:
                self.chars[col], self.styles[col] = look.mark, look.style

    def mark(self, col: int, look: Look) -> None:
        """Place a marker at ``col``, or the next free column to its right.

        A column already showing the same marker stands for both (10,000 submissions
        must not push every later marker off the lane).
        """
        last = len(self.chars) - 1
        col = min(max(col, 0), last)
        while self.marked[col]:
            if self.chars[col] == look.mark:
                return
            if col == last:
                break
            col += 1
        self.chars[col], self.styles[col], self.marked[col] = look.mark, look.style, True

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
    drawn = timeline(document)
    chart = max(width - LABEL - TAIL, 20)
    end = drawn.end
    col = _scale(end, chart)
    lines = [_axis(end, chart, col), _main_lane(drawn, chart, col)]
    for worker in drawn.workers[:MAX_LANES]:
        lines.append(_worker_lane(worker, drawn, chart, col))
    if len(drawn.workers) > MAX_LANES:
        more = len(drawn.workers) - MAX_LANES
        lines.append(Text(f"{'':<{LABEL}}… {more} more workers", "dim"))
    lines.append(_ticks(end, chart, col))
    return lines


def _main_lane(drawn: Timeline, chart: int, col: Any) -> Text:
    main = drawn.main
    lane = Lane(chart)
    lane.fill(col(main.first or 0.0), col(main.exited), looks.LIFELINE)
    happenings = drawn.in_order()
    # Each call's wait, as it returned; then the calls that never returned.
    for what, span in happenings:
        if what == "returned" and isinstance(span, CallSpan):
            lane.fill(col(span.start), col(span.drawn_to), looks.WAITING)
    for span in drawn.calls:
        if span.end is None:
            lane.fill(col(span.start), col(span.drawn_to), looks.WAITING)
    for what, thing in happenings:
        if what == "called" and isinstance(thing, CallSpan):
            lane.mark(col(thing.start), looks.CALLS[thing.name])
        elif isinstance(thing, Marker) and thing.on_main and looks.POINTS[thing.kind].mark:
            lane.mark(col(thing.t), looks.POINTS[thing.kind])
    if main.exited is not None:
        lane.mark(col(main.exited), _end_mark(main))
    return _row(f"main {main.pid or ''}", lane, ending(main))


def _worker_lane(worker: Lifeline, drawn: Timeline, chart: int, col: Any) -> Text:
    lane = Lane(chart)
    ready, exited = worker.ready, worker.exited
    lane.fill(col(worker.first), col(ready if ready is not None else exited), looks.STARTING)
    if ready is not None:
        lane.fill(col(ready), col(exited), looks.LIFELINE)
    for bar in drawn.tasks:
        if bar.worker == worker.pid:
            lane.fill(col(bar.start), col(bar.drawn_to), looks.TASKS[bar.state])
            if bar.state in looks.TASK_ENDS:
                lane.mark(col(bar.drawn_to), looks.TASK_ENDS[bar.state])
    if ready is not None:
        lane.mark(col(ready), looks.READY)
    if exited is not None:
        lane.mark(col(exited), _end_mark(worker))
    kind = "thread" if worker.thread else "worker"
    return _row(f"{kind} {worker.pid}", lane, ending(worker))


def _end_mark(line: Lifeline) -> Look:
    return looks.KILLED if line.killed else looks.EXITED


def ending(line: Lifeline) -> Text:
    """How a process ended, as written at the end of its lane."""
    words = looks.ENDINGS[line.ending]
    return Text(words.text.format(code=line.exit_code, signal=line.signal), words.style)


def _row(label: str, lane: Lane, end_text: Text) -> Text:
    line = Text(f"{label:<{LABEL}}"[:LABEL])
    line.append_text(lane.text())
    line.append(" ")
    line.append_text(end_text)
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
