"""The timeline as an SVG picture: lanes per process, task bars, call markers, exits,
and under them what happened in words (``story``): tasks, workers, error, checks, output,
the command and the versions, so that the picture alone tells the story.

Drawn from the timeline model (``timeline_model``) of a run document, in the looks of
``looks``. Task bars of one worker that would touch at this scale
are merged (with a count in their tooltip), so a 10,000-task run stays a small file.
"""

from __future__ import annotations

from typing import Any

from .. import pool_kinds
from ..document import detail_cut, pool_label, program_ending
from ..interpreter import describe
from . import looks
from .markup import escape
from .story import Story, story
from .timeline_model import CallSpan, Lifeline, Marker, TaskBar, Timeline, timeline

WIDTH = 960
LABEL = 170
TAIL = 110
ROW = 24
BAR = 12
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"
MONO = "font-family='DejaVu Sans Mono, Menlo, Consolas, monospace'"
LEGEND = 40  # the legend's height
LINE = 16  # a line of the story under the lanes
TONES = {"ok": "#2e7d32", "bad": "#c62828", "race": "#a06800", "dim": "#777", "plain": "#222"}
TEXT_CHARS = 125  # a fact longer than this is cut (whole in its tooltip)


def run_svg(
    doc: dict[str, Any], *, legend: bool = True, story_shown: bool = True, end: float | None = None
) -> str:
    """One run document as a standalone SVG: its timeline, then what happened in words
    (``story_shown``), then the legend. ``end``: the time scale's end (to share one scale
    between runs; by default the run's own)."""
    body, height = _run_group(doc, 0, end=end, story_shown=story_shown)
    if legend:
        body += "\n" + "\n".join(_legend(height + 4))
        height += LEGEND
    return _wrap(body, height)


def many_svg(docs: list[dict[str, Any]]) -> str:
    """Several run documents (a comparison), one under the other on one time scale, the
    legend once at the end."""
    end = shared_end(docs)
    parts, y = [], 0
    for doc in docs:
        body, height = _run_group(doc, y, end=end, story_shown=True)
        parts.append(body)
        y += height + 16
    parts += _legend(y)
    return _wrap("\n".join(parts), y + LEGEND)


def shared_end(docs: list[dict[str, Any]]) -> float:
    """One time scale for several runs: the longest run's."""
    return max((timeline(doc).end for doc in docs), default=1e-3)


def legend_svg() -> str:
    """The legend alone, as a small SVG (the HTML page shows it once)."""
    return _wrap("\n".join(_legend(4)), LEGEND + 4)


def _wrap(body: str, height: int) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height}' "
        f"viewBox='0 0 {WIDTH} {height}' {FONT} font-size='12'>\n"
        f"<rect width='{WIDTH}' height='{height}' fill='white'/>\n{body}\n</svg>\n"
    )


def _run_group(
    doc: dict[str, Any], top: int, *, end: float | None, story_shown: bool
) -> tuple[str, int]:
    outcome = doc["outcome"]
    scenario, params = doc["scenario"], doc["params"]
    drawn = timeline(doc)
    told = story(doc)
    end = max(end or drawn.end, drawn.end)
    chart = WIDTH - LABEL - TAIL

    def x(t: float | None) -> float:
        return round(LABEL + max(t or 0.0, 0.0) / end * chart, 2)

    out = [f"<g class='run' transform='translate(0,{top})'>"]
    out.append(
        f"<text x='10' y='18' font-size='15' font-weight='bold'>{escape(scenario['name'])}"
        f" — <tspan class='verdict' fill='{TONES[told.verdict_tone]}'>"
        f"{escape(told.verdict)}</tspan></text>"
    )
    out.append(f"<text x='10' y='36' fill='#555'>{escape(_cut(scenario['summary']))}</text>")
    if program_ending(doc) is not None:
        pools = " · ".join(pool_label(p) for p in outcome["pools"]) or "no pool"
        sub = f"{describe(doc['python'])} · {pools}"
    else:
        workers = f"{params['workers']} workers" if params["workers"] else "default pool size"
        sub = (
            f"{describe(doc['python'])} · {_start_method(doc)}"
            f" · {workers} · {params['tasks']} task(s) × {params['duration']:g} s"
        )
    cut = detail_cut(doc)
    if cut is not None:
        sub = f"{sub} · {cut}"
    out.append(f"<text x='10' y='52' fill='#555'>{escape(sub)}</text>")
    y = 80
    out += _axis(end, x, y)
    y += 34
    lanes = [("main", drawn.main)] + [
        ("thread" if w.thread else "worker", w) for w in drawn.workers
    ]
    for kind, line in lanes:
        out.append(f"<g class='lane' data-process='{kind}' data-pid='{escape(line.pid)}'>")
        out.append(f"<text x='10' y='{y + 4}'>{kind} {escape(line.pid)}</text>")
        if line is drawn.main:
            main, raised = _main_lane(drawn, x, y)
            out += main
            y += 16 if raised else 0  # room for the error's label under the lane
        else:
            out += _worker_lane(drawn, line, x, y)
        out.append("</g>")
        y += ROW
    queued = _never_started(doc, drawn, x, y)
    if queued:
        out += queued
        y += ROW
    if story_shown:
        lines, y = _story(told, y + 4)
        out += lines
    out.append("</g>")
    return "\n".join(out), y + 8


def _start_method(doc: dict[str, Any]) -> str:
    """The start method, or 'threads' for a pool of threads (which has none)."""
    method = doc["params"]["start_method"]
    if method:
        return str(method)
    pools = doc["outcome"]["pools"]
    found = pool_kinds.kind(pools[0]["api"] if pools else None)
    return "threads" if found and not found.starts_processes else "default start method"


def _axis(end: float, x: Any, y: int) -> list[str]:
    """The time axis; its tick labels above it, clear of the call labels below."""
    out = [f"<line x1='{LABEL}' y1='{y}' x2='{WIDTH - TAIL}' y2='{y}' stroke='#999'/>"]
    step = _nice_step(end / 6)
    t = 0.0
    while t <= end + 1e-9:
        out.append(f"<line x1='{x(t)}' y1='{y - 4}' x2='{x(t)}' y2='{y + 4}' stroke='#999'/>")
        out.append(
            f"<text class='tick' x='{x(t)}' y='{y - 7}' text-anchor='middle' fill='#555' "
            f"font-size='10'>{t:g} s</text>"
        )
        t = round(t + step, 9)
    return out


def _nice_step(raw: float) -> float:
    import math

    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _main_lane(drawn: Timeline, x: Any, y: int) -> tuple[list[str], bool]:
    """The main process's lane, and whether an error was drawn (its label goes under the
    lane, so that no call mark hides it)."""
    main = drawn.main
    out = [
        f"<line class='lifeline' x1='{x(main.first or 0.0)}' y1='{y}' x2='{x(main.exited)}' "
        f"y2='{y}' stroke='{looks.LIFELINE.colour}'/>"
    ]
    colour = looks.CALL_COLOUR
    last_label, higher, raised = -100.0, False, False
    for what, thing in drawn.in_order():
        if what == "called" and isinstance(thing, CallSpan):
            name, t = thing.name, thing.start
            # Calls microseconds apart: their labels staggered, both above the lane.
            higher = not higher if x(t) - last_label < 45 else False
            last_label = x(t)
            out.append(
                f"<g class='marker' data-kind='{escape(name)}'><title>{escape(name)}() called "
                f"at {t:.4f} s</title>"
                f"<path d='M {x(t)} {y - 7} l 4 7 l -4 7 l -4 -7 z' "
                f"fill='{colour}'/>"
                f"<text x='{x(t)}' y='{y - 21 if higher else y - 10}' text-anchor='middle' "
                f"font-size='9' fill='{colour}'>{escape(looks.CALL_LABELS[name])}</text></g>"
            )
        elif what == "returned" and isinstance(thing, CallSpan):
            out.append(_span(x(thing.start), x(thing.drawn_to), y))
        elif isinstance(thing, Marker) and thing.on_main and looks.POINTS[thing.kind].colour:
            out.append(_point(thing, x(thing.t), y))
            raised = True
    for span in drawn.calls:
        if span.end is None:
            out.append(_span(x(span.start), x(span.drawn_to), y))
    out += _end(x(main.exited), y, main)
    return out, raised


def _point(marker: Marker, xm: float, y: int) -> str:
    """An error: a red stroke through the lane down to a badge and its type under it."""
    look = looks.POINTS[marker.kind]
    details = marker.details
    if "type" in details:
        title = f"{escape(details['type'])}: {escape(details.get('message', ''))}"
        label = str(details["type"])
    else:
        title = f"{escape(marker.kind)} at {marker.t:.4f} s"
        label = marker.kind
    return (
        f"<g class='marker' data-kind='{escape(marker.kind.partition('.')[0])}'>"
        f"<title>{title}</title>"
        f"<line x1='{xm}' y1='{y - 8}' x2='{xm}' y2='{y + 10}' stroke='{look.colour}' "
        f"stroke-width='1.5'/>"
        f"<circle cx='{xm}' cy='{y + 15}' r='6' fill='{look.colour}'/>"
        f"<text x='{xm}' y='{y + 19}' fill='white' font-weight='bold' font-size='10' "
        f"text-anchor='middle'>{escape(look.mark)}</text>"
        f"<text x='{xm + 9}' y='{y + 19}' fill='{look.colour}' font-size='10'>"
        f"{escape(label)}</text></g>"
    )


def _never_started(doc: dict[str, Any], drawn: Timeline, x: Any, y: int) -> list[str]:
    """The tasks that never started, queued from their submission to the end: no worker
    ran them, so they get a lane of their own."""
    waiting = [r for r in doc["outcome"]["task_runs"] if r["status"] == "never_started"]
    if not waiting:
        return []
    submitted = [r["submitted"] for r in waiting if r["submitted"] is not None]
    x1 = x(min(submitted)) if submitted else LABEL
    x2 = max(x(drawn.until), x1 + 1.0)
    n = len(waiting)
    words = f"{n} task{'s' if n != 1 else ''} never started"
    colour = looks.NEVER_STARTED.colour
    return [
        "<g class='lane never-started' data-process='queue'>",
        f"<text x='10' y='{y + 4}' fill='#555'>{escape(words)}</text>",
        f"<rect class='task never_started' x='{x1}' y='{y - BAR / 2}' "
        f"width='{x2 - x1:.2f}' height='{BAR}' fill='{colour}' fill-opacity='0.25' "
        f"stroke='{colour}' stroke-dasharray='3 2'><title>{escape(words)}: tasks "
        f"{escape(_task_list([r['task'] for r in waiting]))}</title></rect>",
        "</g>",
    ]


def _task_list(tasks: list[int]) -> str:
    shown = ", ".join(map(str, tasks[:20]))
    return shown + (f" … ({len(tasks) - 20} more)" if len(tasks) > 20 else "")


def _story(told: Story, y: int) -> tuple[list[str], int]:
    """What happened, in words, from ``y`` down: the facts, the output, the command, the
    versions. Returns the elements and the y under them."""
    out = ["<g class='story'>"]
    for fact in told.facts:
        y += LINE
        out.append(
            f"<text class='fact' data-fact='{escape(fact.label)}' x='10' y='{y}'>"
            f"<tspan fill='#555' font-weight='bold'>{escape(fact.label)}</tspan>"
            f"<tspan x='90' fill='{TONES[fact.tone]}'>{escape(_cut(fact.text))}</tspan>"
            f"{_whole(fact.text)}</text>"
        )
    y += LINE + 4
    total = told.output_total
    heading = f"output: {total} line{'s' if total != 1 else ''}" if total else "output: none"
    out.append(f"<text x='10' y='{y}' fill='#555' font-weight='bold'>{escape(heading)}</text>")
    for line in told.output:
        y += 14
        colour = "#c62828" if line.stream == "stderr" else "#777" if not line.stream else "#222"
        out.append(
            f"<text class='output' x='10' y='{y}' {MONO} font-size='10.5'>"
            f"<tspan fill='#777'>{escape(line.who)}</tspan>"
            f"<tspan x='100' fill='{colour}' xml:space='preserve'>{escape(line.text)}</tspan>"
            "</text>"
        )
    y += LINE + 4
    out.append(
        f"<text class='command' x='10' y='{y}' {MONO} font-size='10.5' fill='#333'>"
        f"$ {escape(_cut(told.command, 140))}{_whole(told.command)}</text>"
    )
    y += LINE
    out.append(f"<text class='versions' x='10' y='{y}' fill='#777'>{escape(told.versions)}</text>")
    out.append("</g>")
    return out, y


def _cut(text: str, most: int = TEXT_CHARS) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _whole(text: str) -> str:
    """The whole text as a tooltip (``_cut`` may have shortened what is shown)."""
    return f"<title>{escape(text)}</title>"


def _span(x1: float, x2: float, y: int) -> str:
    return (
        f"<line class='waiting' x1='{x1}' y1='{y}' x2='{x2}' y2='{y}' "
        f"stroke='{looks.WAITING.colour}' stroke-width='3' stroke-opacity='0.5'/>"
    )


def _worker_lane(drawn: Timeline, w: Lifeline, x: Any, y: int) -> list[str]:
    end = drawn.end
    out = [
        f"<line class='lifeline' x1='{x(w.first)}' y1='{y}' x2='{x(w.exited or end)}' "
        f"y2='{y}' stroke='{looks.LIFELINE.colour}'/>"
    ]
    bars = [bar for bar in drawn.tasks if bar.worker == w.pid]
    for state, x1, x2, tasks in _merged(bars, x):
        label = f"task {tasks[0]}" if len(tasks) == 1 else f"{len(tasks)} tasks"
        out.append(
            f"<rect class='task {escape(state)}' x='{x1}' y='{y - BAR / 2}' "
            f"width='{max(x2 - x1, 1.0):.2f}' height='{BAR}' fill='{looks.TASKS[state].colour}' "
            f"stroke='white' stroke-width='0.5'>"
            f"<title>{escape(label)} {escape(state)}</title></rect>"
        )
    if w.ready is not None:
        out.append(
            f"<circle cx='{x(w.ready)}' cy='{y}' r='3' fill='{looks.READY.colour}'>"
            f"<title>ready at {w.ready:.4f} s</title></circle>"
        )
    out += _end(x(w.exited or end), y, w)
    return out


def _merged(bars: list[TaskBar], x: Any) -> list[tuple[str, float, float, list[int]]]:
    """Thin bars (under 3 px) of the same state less than a pixel apart become one; wider
    bars stay separate, so a few tasks keep their boundaries and 10,000 stay small."""
    merged: list[tuple[str, float, float, list[int]]] = []
    for bar in sorted(bars, key=lambda bar: bar.start):
        x1, x2 = x(bar.start), x(bar.drawn_to)
        last = merged[-1] if merged else None
        thin = x2 - x1 < 3.0 and last and last[2] - last[1] < 3.0 * len(last[3])
        if thin and last and last[0] == bar.state and x1 - last[2] < 1.0:
            merged[-1] = (bar.state, last[1], max(x2, last[2]), [*last[3], bar.task])
        else:
            merged.append((bar.state, x1, x2, [bar.task]))
    return merged


def _end(xe: float, y: int, line: Lifeline) -> list[str]:
    ending = looks.ENDINGS[line.ending]
    text = ending.svg_text.format(code=line.exit_code, signal=line.signal)
    colour = ending.colour
    mark = (
        f"<path d='M {xe - 4} {y - 4} l 8 8 m 0 -8 l -8 8' stroke='{colour}' stroke-width='2'/>"
        if line.killed
        else f"<rect x='{xe - 4}' y='{y - 4}' width='8' height='8' fill='{colour}'/>"
    )
    return [
        f"<g class='exit'>{mark}<text x='{WIDTH - TAIL + 12}' y='{y + 4}' "
        f"fill='{colour}'>{escape(text)}</text></g>"
    ]


def _legend(y: int) -> list[str]:
    """The colour boxes on one row, the shapes on the next."""
    items, shapes = looks.svg_legend()
    out, xpos = ["<g class='legend'>"], 10
    for colour, label in items:
        out.append(f"<rect x='{xpos}' y='{y}' width='14' height='10' fill='{colour}'/>")
        out.append(f"<text x='{xpos + 18}' y='{y + 9}' font-size='11'>{escape(label)}</text>")
        xpos += 30 + 7 * len(label)
    out.append(f"<text x='10' y='{y + 25}' font-size='11'>{escape(shapes)}</text>")
    out.append("</g>")
    return out
