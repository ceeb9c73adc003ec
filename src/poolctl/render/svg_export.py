"""The timeline as an SVG picture: lanes per process, task bars, call markers, exits.

Drawn from run documents only. Task bars of one worker that would touch at this scale
are merged (with a count in their tooltip), so a 10,000-task run stays a small file.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from ..document import pool_label, program_ending
from ..steps import CALLS

WIDTH = 960
LABEL = 170
TAIL = 110
ROW = 24
BAR = 12
COLOURS = {"completed": "#2e7d32", "interrupted": "#c62828", "failed": "#f9a825"}
CALL_COLOUR = "#8e24aa"
# Short labels for the call markers (every one of steps.CALLS).
LABELS = {"with-exit": "with exit", "kill-worker": "kill", "get-results": "get"}
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def _attr(value: Any) -> str:
    return escape(str(value), {"'": "&apos;", '"': "&quot;"})


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
    end = max([e["t"] for e in doc["events"]] + [outcome["wall_seconds"] or 0.0, 1e-3])
    chart = WIDTH - LABEL - TAIL

    def x(t: float | None) -> float:
        return round(LABEL + max(t or 0.0, 0.0) / end * chart, 2)

    out = [f"<g class='run' transform='translate(0,{top})'>"]
    ending = program_ending(doc)
    if ending is not None:
        verdict = ending
    else:
        verdict = "matches the docs" if doc["matches"] else "differs from the docs"
    out.append(
        f"<text x='10' y='18' font-size='15' font-weight='bold'>"
        f"{escape(scenario['name'])} — {escape(verdict)}</text>"
    )
    out.append(f"<text x='10' y='36' fill='#555'>{escape(scenario['summary'])}</text>")
    if ending is not None:
        pools = " · ".join(pool_label(p) for p in outcome["pools"]) or "no pool"
        sub = f"{python['implementation']} {python['version']} · {pools}"
    else:
        sub = (
            f"{python['implementation']} {python['version']} · {params['start_method'] or '-'}"
            f" · {params['tasks']} task(s) × {params['duration']:g} s"
        )
    out.append(f"<text x='10' y='52' fill='#555'>{escape(sub)}</text>")
    y = 70
    out += _axis(end, x, y)
    y += 22
    lanes = [("main", outcome["main"]["pid"], None)] + [
        ("thread" if w.get("thread") else "worker", w["pid"], w) for w in outcome["workers"]
    ]
    for kind, pid, worker in lanes:
        out.append(f"<g class='lane' data-process='{kind}' data-pid='{pid}'>")
        out.append(f"<text x='10' y='{y + 4}'>{kind} {pid}</text>")
        if worker is None:
            out += _main_lane(doc, x, y)
        else:
            out += _worker_lane(doc, worker, x, y, end)
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


def _main_lane(doc: dict[str, Any], x: Any, y: int) -> list[str]:
    main = doc["outcome"]["main"]
    started = next((e["t"] for e in doc["events"] if e["kind"] == "main.started"), 0.0)
    out = [
        f"<line class='lifeline' x1='{x(started)}' y1='{y}' x2='{x(main.get('exited'))}' "
        f"y2='{y}' stroke='#bbb'/>"
    ]
    opened: dict[str, float] = {}
    last_label, below = -100.0, False
    for e in doc["events"]:
        if e["role"] != "main" or "worker" in e:
            continue
        name, _, phase = e["kind"].partition(".")
        if name in CALLS and phase == "called":
            opened[name] = e["t"]
            # Calls microseconds apart: alternate their labels above and below the lane.
            below = not below if x(e["t"]) - last_label < 45 else False
            last_label = x(e["t"])
            out.append(
                f"<g class='marker' data-kind='{name}'><title>{escape(name)}() called "
                f"at {e['t']:.4f} s</title>"
                f"<path d='M {x(e['t'])} {y - 7} l 4 7 l -4 7 l -4 -7 z' "
                f"fill='{CALL_COLOUR}'/>"
                f"<text x='{x(e['t'])}' y='{y + 18 if below else y - 9}' text-anchor='middle' "
                f"font-size='9' fill='{CALL_COLOUR}'>{escape(LABELS.get(name, name))}</text></g>"
            )
        elif name in CALLS and phase == "returned" and name in opened:
            out.append(_span(x(opened.pop(name)), x(e["t"]), y))
        elif e["kind"] == "error.raised":
            out.append(
                f"<g class='marker' data-kind='error'><title>{escape(e.get('type', ''))}"
                f": {escape(str(e.get('message', '')))}</title>"
                f"<text x='{x(e['t'])}' y='{y + 4}' fill='#c62828' font-weight='bold' "
                f"text-anchor='middle'>!</text></g>"
            )
    for t in opened.values():
        out.append(_span(x(t), x(main.get("exited")), y))
    out += _end(x(main.get("exited")), y, main["exit_code"], main["signal"], doc["outcome"]["hung"])
    return out


def _span(x1: float, x2: float, y: int) -> str:
    return (
        f"<line class='waiting' x1='{x1}' y1='{y}' x2='{x2}' y2='{y}' "
        f"stroke='{CALL_COLOUR}' stroke-width='3' stroke-opacity='0.5'/>"
    )


def _worker_lane(doc: dict[str, Any], w: dict[str, Any], x: Any, y: int, end: float) -> list[str]:
    first = w["spawned"] if w["spawned"] is not None else w["ready"]
    out = [
        f"<line class='lifeline' x1='{x(first)}' y1='{y}' x2='{x(w['exited'] or end)}' "
        f"y2='{y}' stroke='#bbb'/>"
    ]
    runs = [
        r
        for r in doc["outcome"]["task_runs"]
        if r["worker"] == w["pid"] and r["started"] is not None
    ]
    for status, x1, x2, tasks in _merged(runs, x, end):
        label = f"task {tasks[0]}" if len(tasks) == 1 else f"{len(tasks)} tasks"
        out.append(
            f"<rect class='task {status}' x='{x1}' y='{y - BAR / 2}' "
            f"width='{max(x2 - x1, 1.0):.2f}' height='{BAR}' fill='{COLOURS[status]}' "
            f"stroke='white' stroke-width='0.5'>"
            f"<title>{label} {status}</title></rect>"
        )
    if w["ready"] is not None:
        out.append(
            f"<circle cx='{x(w['ready'])}' cy='{y}' r='3' fill='#333'>"
            f"<title>ready at {w['ready']:.4f} s</title></circle>"
        )
    out += _end(
        x(w["exited"] or end),
        y,
        w["exit_code"],
        w["signal"],
        w["killed_by_poolctl"],
        w.get("thread", False),
    )
    return out


def _merged(
    runs: list[dict[str, Any]], x: Any, end: float
) -> list[tuple[str, float, float, list[int]]]:
    """Thin bars (under 3 px) of the same status less than a pixel apart become one; wider
    bars stay separate, so a few tasks keep their boundaries and 10,000 stay small."""
    bars: list[tuple[str, float, float, list[int]]] = []
    for r in sorted(runs, key=lambda r: r["started"]):
        x1, x2 = x(r["started"]), x(r["ended"] if r["ended"] is not None else end)
        thin = x2 - x1 < 3.0 and bars and bars[-1][2] - bars[-1][1] < 3.0 * len(bars[-1][3])
        if thin and bars[-1][0] == r["status"] and x1 - bars[-1][2] < 1.0:
            status, start, _, tasks = bars[-1]
            bars[-1] = (status, start, max(x2, bars[-1][2]), [*tasks, r["task"]])
        else:
            bars.append((r["status"], x1, x2, [r["task"]]))
    return bars


def _end(
    xe: float, y: int, code: int | None, signal: str | None, killed: bool, thread: bool = False
) -> list[str]:
    if killed:
        text, colour = "killed at timeout", "#c62828"
    elif thread:
        text, colour = "stopped", "#2e7d32"
    elif signal:
        text, colour = signal, "#c62828"
    else:
        text, colour = ("exit ?" if code is None else f"exit {code}"), "#333"
    mark = (
        f"<path d='M {xe - 4} {y - 4} l 8 8 m 0 -8 l -8 8' stroke='{colour}' stroke-width='2'/>"
        if signal or killed
        else f"<rect x='{xe - 4}' y='{y - 4}' width='8' height='8' fill='{colour}'/>"
    )
    return [
        f"<g class='exit'>{mark}<text x='{WIDTH - TAIL + 12}' y='{y + 4}' "
        f"fill='{colour}'>{escape(text)}</text></g>"
    ]


def _legend(y: int) -> list[str]:
    items = [
        (COLOURS["completed"], "task completed"),
        (COLOURS["interrupted"], "task interrupted"),
        (COLOURS["failed"], "task failed"),
        (CALL_COLOUR, "call, and waiting in it"),
    ]
    out, xpos = ["<g class='legend'>"], 10
    for colour, label in items:
        out.append(f"<rect x='{xpos}' y='{y}' width='14' height='10' fill='{colour}'/>")
        out.append(f"<text x='{xpos + 18}' y='{y + 9}' font-size='11'>{label}</text>")
        xpos += 30 + 7 * len(label)
    out.append(f"<text x='{xpos}' y='{y + 9}' font-size='11'>■ exited  ✕ killed by a signal</text>")
    out.append("</g>")
    return out
