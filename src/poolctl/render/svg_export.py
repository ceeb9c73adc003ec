"""The timeline as an SVG picture: lanes per process, task bars, call markers, exits.

Drawn from the timeline model (``timeline_model``) of a run document, in the looks of
``looks``. Task bars of one worker that would touch at this scale
are merged (with a count in their tooltip), so a 10,000-task run stays a small file.
"""

from __future__ import annotations

from typing import Any

from ..document import detail_cut, incomplete, pool_label, program_ending
from ..interpreter import describe
from . import looks
from .markup import escape
from .timeline_model import CallSpan, Lifeline, Marker, TaskBar, Timeline, timeline

WIDTH = 960
LABEL = 170
TAIL = 110
ROW = 24
BAR = 12
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def run_svg(doc: dict[str, Any]) -> str:
    """One run document as a standalone SVG."""
    body, height = _run_group(doc, 0)
    return _wrap(body, height)


def many_svg(docs: list[dict[str, Any]]) -> str:
    """Several run documents (a comparison), one timeline under the other."""
    parts, y = [], 0
    for doc in docs:
        body, height = _run_group(doc, y)
        parts.append(body)
        y += height + 16
    return _wrap("\n".join(parts), max(y - 16, 0))


def _wrap(body: str, height: int) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height}' "
        f"viewBox='0 0 {WIDTH} {height}' {FONT} font-size='12'>\n"
        f"<rect width='{WIDTH}' height='{height}' fill='white'/>\n{body}\n</svg>\n"
    )


def _run_group(doc: dict[str, Any], top: int) -> tuple[str, int]:
    outcome = doc["outcome"]
    scenario, params, python = doc["scenario"], doc["params"], doc["python"]
    drawn = timeline(doc)
    end = drawn.end
    chart = WIDTH - LABEL - TAIL

    def x(t: float | None) -> float:
        return round(LABEL + max(t or 0.0, 0.0) / end * chart, 2)

    out = [f"<g class='run' transform='translate(0,{top})'>"]
    ending = program_ending(doc)
    if ending is not None:
        verdict = ending
    else:
        verdict = "matches the docs" if doc["matches"] else "differs from the docs"
    if incomplete(doc):
        verdict = f"{ending or 'no verdict'} (not completely observed)"
    out.append(
        f"<text x='10' y='18' font-size='15' font-weight='bold'>"
        f"{escape(scenario['name'])} — {escape(verdict)}</text>"
    )
    out.append(f"<text x='10' y='36' fill='#555'>{escape(scenario['summary'])}</text>")
    if ending is not None:
        pools = " · ".join(pool_label(p) for p in outcome["pools"]) or "no pool"
        sub = f"{describe(python)} · {pools}"
    else:
        sub = (
            f"{describe(python)} · {params['start_method'] or '-'}"
            f" · {params['tasks']} task(s) × {params['duration']:g} s"
        )
    cut = detail_cut(doc)
    if cut is not None:
        sub = f"{sub} · {cut}"
    out.append(f"<text x='10' y='52' fill='#555'>{escape(sub)}</text>")
    y = 70
    out += _axis(end, x, y)
    y += 22
    lanes = [("main", drawn.main)] + [
        ("thread" if w.thread else "worker", w) for w in drawn.workers
    ]
    for kind, line in lanes:
        out.append(f"<g class='lane' data-process='{kind}' data-pid='{escape(line.pid)}'>")
        out.append(f"<text x='10' y='{y + 4}'>{kind} {escape(line.pid)}</text>")
        if line is drawn.main:
            out += _main_lane(drawn, x, y)
        else:
            out += _worker_lane(drawn, line, x, y)
        out.append("</g>")
        y += ROW
    out += _legend(y + 6)
    out.append("</g>")
    return "\n".join(out), y + 40


def _axis(end: float, x: Any, y: int) -> list[str]:
    out = [f"<line x1='{LABEL}' y1='{y}' x2='{WIDTH - TAIL}' y2='{y}' stroke='#999'/>"]
    step = _nice_step(end / 6)
    t = 0.0
    while t <= end + 1e-9:
        out.append(f"<line x1='{x(t)}' y1='{y - 4}' x2='{x(t)}' y2='{y + 4}' stroke='#999'/>")
        out.append(
            f"<text x='{x(t)}' y='{y + 16}' text-anchor='middle' fill='#555' "
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


def _main_lane(drawn: Timeline, x: Any, y: int) -> list[str]:
    main = drawn.main
    out = [
        f"<line class='lifeline' x1='{x(main.first or 0.0)}' y1='{y}' x2='{x(main.exited)}' "
        f"y2='{y}' stroke='{looks.LIFELINE.colour}'/>"
    ]
    colour = looks.CALL_COLOUR
    last_label, below = -100.0, False
    for what, thing in drawn.in_order():
        if what == "called" and isinstance(thing, CallSpan):
            name, t = thing.name, thing.start
            # Calls microseconds apart: alternate their labels above and below the lane.
            below = not below if x(t) - last_label < 45 else False
            last_label = x(t)
            out.append(
                f"<g class='marker' data-kind='{escape(name)}'><title>{escape(name)}() called "
                f"at {t:.4f} s</title>"
                f"<path d='M {x(t)} {y - 7} l 4 7 l -4 7 l -4 -7 z' "
                f"fill='{colour}'/>"
                f"<text x='{x(t)}' y='{y + 18 if below else y - 9}' text-anchor='middle' "
                f"font-size='9' fill='{colour}'>{escape(looks.CALL_LABELS[name])}</text></g>"
            )
        elif what == "returned" and isinstance(thing, CallSpan):
            out.append(_span(x(thing.start), x(thing.drawn_to), y))
        elif isinstance(thing, Marker) and thing.on_main and looks.POINTS[thing.kind].colour:
            out.append(_point(thing, x(thing.t), y))
    for span in drawn.calls:
        if span.end is None:
            out.append(_span(x(span.start), x(span.drawn_to), y))
    out += _end(x(main.exited), y, main)
    return out


def _point(marker: Marker, xm: float, y: int) -> str:
    look = looks.POINTS[marker.kind]
    details = marker.details
    if "type" in details:
        title = f"{escape(details['type'])}: {escape(details.get('message', ''))}"
    else:
        title = f"{escape(marker.kind)} at {marker.t:.4f} s"
    return (
        f"<g class='marker' data-kind='{escape(marker.kind.partition('.')[0])}'>"
        f"<title>{title}</title>"
        f"<text x='{xm}' y='{y + 4}' fill='{look.colour}' font-weight='bold' "
        f"text-anchor='middle'>{escape(look.mark)}</text></g>"
    )


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
    items, shapes = looks.svg_legend()
    out, xpos = ["<g class='legend'>"], 10
    for colour, label in items:
        out.append(f"<rect x='{xpos}' y='{y}' width='14' height='10' fill='{colour}'/>")
        out.append(f"<text x='{xpos + 18}' y='{y + 9}' font-size='11'>{escape(label)}</text>")
        xpos += 30 + 7 * len(label)
    out.append(f"<text x='{xpos}' y='{y + 9}' font-size='11'>{escape(shapes)}</text>")
    out.append("</g>")
    return out
