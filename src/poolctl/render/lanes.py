"""The timeline picture: one lane per process, events and task bars at their times.

Everything drawn comes from the timeline model (``timeline_model``), in the looks of
``looks``. Markers that would land in the same column (``close`` and ``join`` a few
microseconds apart) are nudged right so each stays visible; the events list below the
picture has the exact times. A task that starts where the worker's previous one ended
begins with its own mark, so back-to-back tasks do not draw as one bar.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from . import looks
from .console import flow
from .looks import Look
from .timeline_model import CallSpan, Lifeline, Marker, Timeline, timeline

LEGEND = looks.terminal_legend()
MAX_LANES = 16
LABEL = 16
TAIL = 11


class Lane:
    """One row of cells, each a character, a style and the look it draws."""

    def __init__(self, width: int) -> None:
        self.chars = [" "] * width
        self.styles = [""] * width
        self.looks: list[Look | None] = [None] * width
        self.marked = [False] * width

    def _put(self, col: int, look: Look, style: str | None = None) -> None:
        self.chars[col], self.looks[col] = look.mark, look
        self.styles[col] = look.style if style is None else style

    def fill(self, start: int, end: int, look: Look) -> None:
        """Fill columns ``start`` to ``end`` with ``look``'s mark, leaving markers be."""
        for col in range(max(start, 0), min(end, len(self.chars) - 1) + 1):
            if not self.marked[col]:
                self._put(col, look)

    def begin(self, col: int, style: str) -> None:
        """Mark where a task begins (in its bar's ``style``), leaving markers be."""
        col = min(max(col, 0), len(self.chars) - 1)
        if not self.marked[col]:
            self._put(col, looks.TASK_START, style)

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
        self._put(col, look)
        self.marked[col] = True

    def text(self) -> Text:
        line = Text()
        for char, style in zip(self.chars, self.styles, strict=True):
            line.append(char, style or None)
        return line


@dataclass
class Picture:
    """The timeline's lines, and the looks they show (for the legend)."""

    lines: list[Text]
    shown: list[Look]


def _scale(end: float, width: int) -> Any:
    def col(t: float | None) -> int:
        if t is None:
            return width - 1
        return round(max(t, 0.0) / end * (width - 1)) if end > 0 else 0

    return col


def render(document: dict[str, Any], width: int) -> list[Text]:
    """The picture's lines for a console ``width`` columns wide."""
    return picture(document, width).lines


def picture(
    document: dict[str, Any],
    width: int,
    *,
    title: str = "",
    max_lanes: int = MAX_LANES,
    drawn: Timeline | None = None,
) -> Picture:
    """The picture for ``width`` columns: the axis (``title`` in its label column), the
    main lane, at most ``max_lanes`` worker lanes, the tick labels (``drawn``: the
    document's timeline, when the caller has it already)."""
    drawn = drawn or timeline(document)
    chart = max(width - LABEL - TAIL, 20)
    end = drawn.end
    col = _scale(end, chart)
    drawn_lanes = [(f"main {drawn.main.pid or ''}", drawn.main, _main_lane(drawn, chart, col))]
    for worker in drawn.workers[:max_lanes]:
        label = f"{'thread' if worker.thread else 'worker'} {worker.pid}"
        drawn_lanes.append((label, worker, _worker_lane(worker, drawn, chart, col)))
    lines = [_axis(end, chart, col, title)]
    lines += [_row(label, lane, ending(line)) for label, line, lane in drawn_lanes]
    if len(drawn.workers) > max_lanes:
        more = len(drawn.workers) - max_lanes
        lines.append(Text(f"{'':<{LABEL}}… {more} more workers", "dim"))
    lines.append(_ticks(end, chart, col))
    used = {id(look) for _, _, lane in drawn_lanes for look in lane.looks if look is not None}
    return Picture(lines, [look for look in looks.legend_looks() if id(look) in used])


def legend(shown: list[Look], width: int) -> list[Text]:
    """The legend of the marks ``shown``, each in its lane's style, in lines of ``width``."""
    items = []
    for look in shown:
        item = Text()
        item.append(look.mark, look.style or None)
        item.append(f" {look.legend}", "dim")
        items.append(item)
    return flow(items, width)


def _main_lane(drawn: Timeline, chart: int, col: Any) -> Lane:
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
    return lane


def _worker_lane(worker: Lifeline, drawn: Timeline, chart: int, col: Any) -> Lane:
    lane = Lane(chart)
    ready, exited = worker.ready, worker.exited
    lane.fill(col(worker.first), col(ready if ready is not None else exited), looks.STARTING)
    if ready is not None:
        lane.fill(col(ready), col(exited), looks.LIFELINE)
    bars = sorted((bar for bar in drawn.tasks if bar.worker == worker.pid), key=lambda b: b.start)
    for bar in bars:
        lane.fill(col(bar.start), col(bar.drawn_to), looks.TASKS[bar.state])
    # Where a task starts in the column after (or in) the previous one's end, nothing
    # else would show where one ends and the next begins.
    for before, bar in itertools.pairwise(bars):
        if col(bar.start) <= col(before.drawn_to) + 1:
            lane.begin(col(bar.start), looks.TASKS[bar.state].style)
    for bar in bars:
        if bar.state in looks.TASK_ENDS:
            lane.mark(col(bar.drawn_to), looks.TASK_ENDS[bar.state])
    if ready is not None:
        lane.mark(col(ready), looks.READY)
    if exited is not None:
        lane.mark(col(exited), _end_mark(worker))
    return lane


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


def _axis(end: float, chart: int, col: Any, title: str = "") -> Text:
    cells = ["─"] * chart
    for t in _tick_times(end, chart):
        cells[col(t)] = "┬"
    line = Text(f"{title:<{LABEL}}"[:LABEL], "bold")
    line.append("".join(cells), "dim")
    return line


def _ticks(end: float, chart: int, col: Any) -> Text:
    cells = [" "] * (chart + TAIL)
    for t in _tick_times(end, chart):
        label = f"{t:g} s"
        start = col(t)
        if all(c == " " for c in cells[max(start - 1, 0) : start + len(label) + 1]):
            cells[start : start + len(label)] = label
    return Text(" " * LABEL + "".join(cells).rstrip(), "dim")
