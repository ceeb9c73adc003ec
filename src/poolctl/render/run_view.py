"""The terminal view of one run: header, timeline, outcome, output, verdict.

The default view is compact: it fits a 24-line terminal (the output shortened, the
passing checks counted, worker lanes capped). ``--events`` asks for the whole view: the
events list, every output line, the outcome and every check in full.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.text import Text

from .. import pool_kinds
from ..document import (
    detail_cut,
    incomplete,
    interrupted_words,
    pool_label,
    program_ending,
    task_counts,
    title,
)
from ..interpreter import describe
from ..outcome import channel_incomplete
from ..printable import printable
from ..steps import STEPS
from . import findings_view, lanes
from .console import GLUE, emit, lines, make_console, rows, wrap
from .timeline_model import Lifeline, Timeline, timeline

# Above this many events, task and worker-ready events are counted instead of listed.
MAX_EVENTS = 40
# Above this many output lines, the first and last few are shown.
MAX_OUTPUT = 20
OUTPUT_HEAD, OUTPUT_TAIL = 10, 4
# Of a longer output line, this many characters are shown (all that was kept: in --json).
SHOWN_CHARS = 500
QUIET_KINDS = {"worker.reaped"}
BULK_KINDS = {"task.submitted", "task.started", "task.finished", "task.failed", "worker.started"}
# Shown in red: something went wrong (a refused call, an uncaught exception, a hang).
ALARMING_KINDS = {
    "error.raised",
    "program.raised",
    "run.timeout",
    "cleanup.killed",
    "channel.lost",
    "observer.failed",
    "channel.incomplete",
}
# The compact view's height when the terminal's is not known (piped): a 24-line screen,
# one line left for the prompt.
SCREEN = 24
# The compact view's worker lanes at most (a 16-CPU machine's default pool has 16).
COMPACT_LANES = 6
TRACEBACK = "Traceback (most recent call last):"


def show(document: dict[str, Any], *, no_color: bool = False, events: bool = False) -> None:
    """Print the run document to the terminal (plain when not a terminal): compact, or
    with ``events`` the whole of it."""
    console = make_console(no_color=no_color)
    emit(console, render(document, console, events=events))


def render(document: dict[str, Any], console: Console, *, events: bool = False) -> Group:
    """The whole view as one renderable, laid out for the console's width (and, compact,
    its height)."""
    width = console.width
    if events:
        return lines(full(document, width))
    height = console.height if console.is_terminal else SCREEN
    return lines(compact(document, width, max(height, SCREEN) - 1))


def full(document: dict[str, Any], width: int) -> list[Text]:
    """Every part of the view, the events list included."""
    drawn = timeline(document)
    picture = lanes.picture(document, width, title="Timeline", drawn=drawn)
    return [
        *header(document, width, executable=True),
        Text(""),
        *picture.lines,
        *lanes.legend(picture.shown, width),
        Text(""),
        _title("Events"),
        *events_table(document, width),
        Text(""),
        _title("Output", "as each process printed it"),
        *output_table(document, width),
        Text(""),
        _title("Outcome"),
        *rows(_outcome_rows(document, drawn, compact=False), width),
        Text(""),
        *findings_view.render(document, width),
        *verdict(document, width),
    ]


def compact(document: dict[str, Any], width: int, height: int) -> list[Text]:
    """The view in ``height`` lines where it can be: output lines and worker lanes are
    shortened to fit, then findings lose what to do (``--events`` says it); the rest is
    always shown."""
    top = header(document, width, executable=False)
    drawn = timeline(document)
    summary = _outcome_rows(document, drawn, compact=True)
    workers = len(drawn.workers)
    # Past COMPACT_LANES lanes, one line says how many more.
    shown = workers if workers <= COMPACT_LANES else COMPACT_LANES - 1
    picture = lanes.picture(document, width, title="Timeline", max_lanes=shown, drawn=drawn)
    chart = [*picture.lines, *lanes.legend(picture.shown, width)]
    # Shorter and shorter: findings without what to do, then one failing claim listed,
    # then none (the count says how many fail; --events lists them).
    for remedy, listed in ((True, None), (False, None), (False, 1), (False, 0)):
        bottom = [
            Text(""),
            *findings_view.render(document, width, compact=True, remedy=remedy),
            *verdict(document, width, compact=True, listed=listed),
        ]
        used = _height([*top, *chart, Text(""), *bottom], width)
        middle = _outcome_and_output(document, summary, width, height - used)
        view = [*top, *chart, Text(""), *middle, *bottom]
        if _height(view, width) <= height:
            break
    return view


def _height(texts: list[Text], width: int) -> int:
    """The terminal rows ``texts`` take: a line longer than ``width`` (a long path,
    kept whole) takes more than one."""
    return sum(max(1, -(-text.cell_len // max(width, 1))) for text in texts)


def _safe(value: Any, style: str = "") -> Text:
    """Text from outside (a scenario file, the program, a saved document) as the terminal
    must show it: escaped (no sequence reaches the terminal) and never read as markup."""
    return Text(printable(str(value)), style)


def _title(title: str, note: str = "") -> Text:
    text = Text(title, "bold underline")
    if note:
        text.append(f"  {note}", "dim")
    return text


def header(document: dict[str, Any], width: int, *, executable: bool = True) -> list[Text]:
    """Scenario, interpreter (and its path with ``executable``), start method, workers,
    tasks; wrapped between words."""
    if document.get("program"):
        return _trace_header(document, width, executable)
    scenario, params, python = document["scenario"], document["params"], document["python"]
    pool = document["outcome"]["pool"]
    text = Text()
    text.append(printable(scenario["name"]), "bold")
    text.append(f"  {printable(scenario['summary'])}")
    size = f"{pool['size']} workers" if pool["size"] is not None else "no pool"
    pools = document["outcome"].get("pools") or []
    kind = pool_kinds.kind(pools[0]["api"]) if pools else None
    if kind is not None and kind.workers_on_demand and not pool["size"]:
        size = "workers on demand"
    elif params["workers"] is None:
        size += " (pool default)"
    steps = " → ".join(s["step"] + "()" for s in scenario["steps"])
    tasks = params["tasks"]
    # A pool of threads has no start method: nothing is said rather than 'None'.
    parts = [
        _interpreter(python, executable),
        params["start_method"],
        size,
        f"{tasks} task{'s' if tasks != 1 else ''} × {params['duration']:g} s",
        steps,
    ]
    about = Text(printable(" · ".join(part for part in parts if part)), "dim")
    return [*wrap(text, width), *wrap(about, width)]


def _interpreter(python: dict[str, Any], executable: bool) -> str:
    return describe(python) + (f" ({python['executable']})" if executable else "")


def _trace_header(document: dict[str, Any], width: int, executable: bool) -> list[Text]:
    """The program, its interpreter, and every pool it created."""
    python, outcome = document["python"], document["outcome"]
    text = Text()
    text.append(printable(title(document)), "bold")
    arguments = document["program"]["argv"][1:]
    if arguments:
        text.append(f"  {printable(' '.join(arguments))}")
    pools = " · ".join(pool_label(p) for p in outcome["pools"]) or "no pool was created"
    tasks = outcome["tasks"]["submitted"]
    about = Text(
        printable(
            f"{_interpreter(python, executable)}"
            f" · {pools} · {tasks} task{'s' if tasks != 1 else ''}"
        ),
        "dim",
    )
    return [*wrap(text, width), *wrap(about, width)]


def _process(event: dict[str, Any], main_pid: int | None) -> str:
    if event["role"] == "observer":
        return "poolctl"
    if "worker" not in event:
        return f"main {event['pid']}" if event["pid"] == main_pid else f"worker {event['pid']}"
    # A ThreadPool's workers are threads of the main process, reporting as 'worker';
    # the main process reports a process worker's exit with the role 'main'.
    thread = event.get("thread") or (event["pid"] == main_pid and event["role"] == "worker")
    return f"{'thread' if thread else 'worker'} {event['worker']}"


def _detail(e: dict[str, Any]) -> str:
    kind = e["kind"]
    if kind.startswith("task."):
        return f"task {e['task']}" + (f": {e['type']}: {e['message']}" if "type" in e else "")
    if kind == "pool.created":
        return f"{len(e['workers'])} workers: {', '.join(map(str, e['workers']))}"
    if kind == "pool.creating":
        return _creating(e)
    if kind in ("worker.exited", "main.exited"):
        code = e.get("exit_code")
        if e.get("thread"):
            text = "thread ended (threads have no exit code)"
        elif e.get("signal"):
            text = f"killed by {e['signal']}"
        elif code is None:
            text = "exit code read at exit (see Outcome)"
        else:
            text = f"exit {code}"
        # Why poolctl killed it (the timeout, or poolctl itself stopped) is the line above.
        return text + (" by poolctl" if e.get("killed_by_poolctl") else "")
    if kind == "main.exiting":
        return "exit-time clean-up done (atexit)"
    name, _, phase = kind.rpartition(".")
    if phase == "called" and name in STEPS:
        return STEPS[name].describe(e)
    if kind == "error.raised":
        return f"{e['type']}: {e['message']} (in {e['step']}())"
    if kind == "program.raised":
        return f"uncaught {e['type']}" + (f": {e['message']}" if e.get("message") else "")
    if kind == "run.timeout":
        return "--timeout reached: the run is hung; every process is killed"
    if kind == "run.interrupted":
        return f"poolctl stopped by {e['signal']}: every process of the run is killed"
    if kind == "interrupt.passed":
        return "Ctrl-C passed on to the program (its process group)"
    if kind == "cleanup.killed":
        return "still alive after the grace period: " + ", ".join(
            f"{p['pid']} {p['command'][:40]}" for p in e["processes"]
        )
    if kind == "main.started":
        return f"Python {e.get('python', '')}"
    if kind == "channel.lost":
        return f"workers started now cannot record events: {e.get('reason')}"
    if kind == "observer.failed":
        return f"poolctl failed ({e.get('where')}): {e.get('type')}: {e.get('message')}"
    if kind == "channel.incomplete":
        return channel_incomplete(e)
    return ""


def _creating(e: dict[str, Any]) -> str:
    """``Pool(4) with fork``: the call that creates the pool (an event without ``api`` is
    from a document older than ``api``, when every pool was a ``Pool``)."""
    found = pool_kinds.kind(e.get("api", pool_kinds.DEFAULT))
    if found is None:
        return ""
    method = e.get("start_method")
    return f"{found.label}({e['processes'] or ''})" + (f" with {method}" if method else "")


def events_table(document: dict[str, Any], width: int) -> list[Text]:
    """The events in time order; bulk task events are counted when there are many."""
    main_pid = document["outcome"]["main"]["pid"]
    events = [e for e in document["events"] if e["kind"] not in QUIET_KINDS]
    hidden = 0
    if len(events) > MAX_EVENTS:
        shown = [e for e in events if e["kind"] not in BULK_KINDS]
        hidden = len(events) - len(shown)
        events = shown
    table = [
        [
            Text(f"{e['t']:.4f}", "dim"),
            _safe(_process(e, main_pid)),
            _safe(e["kind"], "bold red" if e["kind"] in ALARMING_KINDS else "bold"),
            _safe(_detail(e)),
        ]
        for e in events
    ]
    out = rows(table, width, right={0})
    if hidden:
        note = f"… and {hidden} task and worker-ready events (all of them are in --json)"
        out += wrap(Text(note, "dim"), width)
    return out


def _printed(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The output lines the run recorded (not the notes of what it left out)."""
    return [line for line in document["output"] if "omitted" not in line]


def _output_row(line: dict[str, Any], main_pid: int | None) -> list[Text]:
    """One output line as a row: time, who printed it, the text."""
    pid = line["pid"]
    # Unattributed: a traced program's output (its own streams), or a C-level write.
    who = line["stream"] if pid is None else ("main" if pid == main_pid else "worker")
    who += "" if pid is None else f" {pid}"
    if line.get("thread"):
        who = f"thread {line['thread']}"
    return [Text(f"{line['t']:.4f}", "dim"), _safe(who), _output_text(line)]


def _omitted(document: dict[str, Any]) -> list[Text]:
    return [
        Text(
            f"… {cut['omitted']['lines']} more lines ({cut['omitted']['bytes']} bytes) not"
            " recorded: poolctl keeps the first of a run's output (see the README)",
            "dim",
        )
        for cut in document["output"]
        if "omitted" in cut
    ]


def output_table(document: dict[str, Any], width: int) -> list[Text]:
    """The program's output lines, attributed to the process that printed them."""
    printed = _printed(document)
    omitted = _omitted(document)
    if not printed and not omitted:
        return [Text("(nothing printed)", "dim")]
    main_pid = document["outcome"]["main"]["pid"]
    if len(printed) > MAX_OUTPUT:
        head, tail = printed[:OUTPUT_HEAD], printed[-OUTPUT_TAIL:]
        hidden = len(printed) - OUTPUT_HEAD - OUTPUT_TAIL
        note = Text(f"… {hidden} more lines (all of them are in --json)", "dim")
        found = [
            *(_output_row(line, main_pid) for line in head),
            [Text(""), Text(""), note],
            *(_output_row(line, main_pid) for line in tail),
        ]
    else:
        found = [_output_row(line, main_pid) for line in printed]
    return rows([*found, *([Text(""), Text(""), cut] for cut in omitted)], width, right={0})


def _output_text(line: dict[str, Any]) -> Text:
    """One output line, escaped; a long one shortened, and what was cut said."""
    raw = line["text"]
    text = _safe(raw[:SHOWN_CHARS], "red" if line["stream"] == "stderr" else "")
    if len(raw) > SHOWN_CHARS:
        text.append(f" … {len(raw) - SHOWN_CHARS} more characters in --json", "dim")
    if line.get("cut"):
        text.append(f" … {line['cut']} more bytes not recorded", "dim")
    return text


def _outcome_rows(document: dict[str, Any], drawn: Timeline, *, compact: bool) -> list[list[Text]]:
    """The outcome as (label, value) rows; compact: no row for what did not happen."""
    outcome = document["outcome"]
    found = [[Text("tasks", "bold"), _safe(task_counts(outcome["tasks"], compact=compact))]]
    error = outcome["error"]
    if error:
        line = f"{error['type']}: {error['message']} (in {error['step']}())"
        found.append([Text("error", "bold"), _safe(line, "red")])
    elif not compact:
        found.append([Text("error", "bold"), Text("none")])
    found.append([Text("workers", "bold"), _workers_line(drawn.workers)])
    main = outcome["main"]
    about = _safe(f"pid {main['pid']}: ").append_text(lanes.ending(drawn.main))
    wall, shutdown = outcome["wall_seconds"], outcome["shutdown_seconds"]
    if compact:
        if wall is not None:
            about.append(f" after {wall:.3f} s")
        if shutdown is not None:
            about.append(f"; shutdown {shutdown:.3f} s")
    found.append([Text("main", "bold"), about])
    if outcome["hung"]:
        found.append(
            [Text("hung", "bold"), Text("yes: stopped at --timeout, every process killed", "red")]
        )
    stopped = document.get("interrupted")
    if stopped and not document.get("program"):  # a program's ending says it already
        said = interrupted_words(stopped)
        found.append([Text("interrupted", "bold"), _safe(said, "bold yellow")])
    if outcome["leftovers"]:
        pids = ", ".join(str(p["pid"]) for p in outcome["leftovers"])
        line = f"killed after the main process exited: {pids}"
        found.append([Text("left over", "bold"), _safe(line, "red")])
    if not compact:
        times = f"{wall:.3f} s from launch to the main process's exit" if wall is not None else "?"
        if shutdown is not None:
            times += f"; shutdown {shutdown:.3f} s"
        found.append([Text("time", "bold"), _safe(times)])
    return found


def _outcome_and_output(
    document: dict[str, Any], summary: list[list[Text]], width: int, room: int
) -> list[Text]:
    """The compact outcome, then the output under the same labels, shortened to ``room``
    lines where it can be (a traceback to its first and last lines, then the middle)."""
    label = max(row[0].cell_len for row in summary)
    column = [[Text(row[0].plain.ljust(label), row[0].style), row[1]] for row in summary]
    above = rows(column, width)
    items = _tracebacks_folded(_printed(document))
    omitted = _omitted(document)
    if not items and not omitted:
        return [*above, *rows([[Text("output".ljust(label), "bold"), Text("none", "dim")]], width)]
    main_pid = document["outcome"]["main"]["pid"]
    # Each row takes a line at least: no more than ``room`` are ever laid out.
    keep = min(len(items), max(room - len(above) - len(omitted), 1))
    while True:
        chosen = [_item_row(item, main_pid) for item in _shortened(items, keep)]
        chosen += [[Text(""), Text(""), cut] for cut in omitted]
        labelled = [
            [Text(("output" if n == 0 else "").ljust(label), "bold"), *row]
            for n, row in enumerate(chosen)
        ]
        below = rows(labelled, width, right={1})
        if _height([*above, *below], width) <= room or keep <= 1:
            return [*above, *below]
        keep -= 1


# An output line, or a note: how many lines of a traceback were left out, or how many
# lines of output.
_Item = dict[str, Any] | tuple[str, int]


def _tracebacks_folded(printed: list[dict[str, Any]]) -> list[_Item]:
    """The output lines, each traceback's frames (its indented lines) folded into one
    note: its first line and its exception stay."""
    out: list[_Item] = []
    frames = 0
    for line in printed:
        text = line["text"]
        inside = frames or (out and isinstance(out[-1], dict) and out[-1]["text"] == TRACEBACK)
        if inside and text.startswith(" "):
            frames += 1
            continue
        if frames:
            out.append(("traceback", frames))
            frames = 0
        out.append(line)
    if frames:
        out.append(("traceback", frames))
    return out


def _shortened(items: list[_Item], keep: int) -> list[_Item]:
    """At most ``keep`` items: the first ones, a note for those left out, the last one;
    for one item, a note that counts them all."""
    if len(items) <= keep:
        return items
    if keep <= 1:
        return [("all", sum(item[1] if isinstance(item, tuple) else 1 for item in items))]
    left_out = items[max(keep - 2, 0) : -1]
    lines = sum(item[1] if isinstance(item, tuple) else 1 for item in left_out)
    return [*items[: max(keep - 2, 0)], ("output", lines), items[-1]]


def _item_row(item: _Item, main_pid: int | None) -> list[Text]:
    if isinstance(item, dict):
        return _output_row(item, main_pid)
    what, count = item
    if what == "traceback":
        note = Text(f"  … {count} lines of traceback", "dim")
    elif what == "all":
        note = Text(f"{count} lines (--events shows them)", "dim")
    else:
        note = Text(f"… {count} more lines (--events shows every line)", "dim")
    return [Text(""), Text(""), note]


def _unseen(document: dict[str, Any]) -> list[Text]:
    """What poolctl could not see, a line each: the run was not completely observed; and
    what the document does not hold (the events of tasks past its bound: counted only)."""
    lines = [
        Text(printable(f"⚠ not completely observed: {message}"), "bold yellow")
        for message in incomplete(document)
    ]
    cut = detail_cut(document)
    if cut is not None:
        lines.append(Text(cut, "dim"))
    return lines


def _workers_line(workers: list[Lifeline]) -> Text:
    text = Text()
    for n, w in enumerate(workers):
        if n:
            text.append(" · ")
        # Glued: a worker and its ending are never split over two lines.
        text.append(printable(f"{w.pid}{GLUE}"))
        ending = lanes.ending(w)
        text.append(ending.plain.replace(" ", GLUE), ending.style)
    return text or Text("none", "dim")


def verdict(
    document: dict[str, Any], width: int, *, compact: bool = False, listed: int | None = None
) -> list[Text]:
    """Expectation vs reality: each checked claim, then the races (observed, not checked).

    Compact: the passing claims counted, the failing ones listed (the first ``listed`` of
    them, when given), each race on one line.
    A traced program has no expectation: how it ended, and its pools, instead. Either way,
    what poolctl could not see (``observation``) is said.
    """
    ending = program_ending(document)
    if ending is not None:
        return _program_verdict(document, ending, width)
    return _checked(document, width, compact, listed)


def _checked(
    document: dict[str, Any], width: int, compact: bool, listed: int | None = None
) -> list[Text]:
    title = Text("Expectation vs reality  ", "bold underline")
    unseen = _unseen(document)
    checks = document["checks"]
    failed = [c for c in checks if not c["ok"] and "not_applicable" not in c]
    # No verdict over what was not seen, nor over a run stopped before its end: the
    # checks are shown, marked unsure.
    unsure = bool(unseen) or bool(document.get("interrupted"))
    if unseen:
        title.append("? no verdict", "bold yellow")
    elif unsure:
        title.append("? no verdict: the run was stopped before it ended", "bold yellow")
    elif document["matches"]:
        title.append("✓ matches", "bold green")
    else:
        title.append("✗ differs", "bold red")
    if compact:
        title.append(_counted(checks, failed, unseen=unsure), "dim")
    out = [*wrap(title, width)]
    for line in unseen:
        out += wrap(line, width)
    table = []
    shown = [c for c in checks if not compact or (not unsure and c in failed)]
    if listed is not None and len(shown) > listed:
        shown = shown[:listed]
    for check in shown:
        mark = Text("✓", "green") if check["ok"] else Text("✗", "bold red")
        if unsure:
            mark = Text("?", "yellow")
        line = _safe(check["claim"])
        if "not_applicable" in check:
            mark = Text("–", "dim")
            line.append(
                printable(
                    f"  not applicable here ({check['not_applicable']});"
                    f" observed {check['observed']!r}"
                ),
                "dim",
            )
        elif not check["ok"]:
            line.append(
                printable(f"  expected {check['expected']!r}, observed {check['observed']!r}"),
                "red",
            )
        table.append([mark, line])
    out += rows(table, width, gap=1)
    if document["races"]:
        if not compact:
            out.append(Text("Races (timing-dependent: observed, not checked)", "bold"))
        out += rows(
            [[Text("~", "yellow"), _race(race, compact)] for race in document["races"]],
            width,
            gap=1,
        )
    return out


def _counted(checks: list[dict[str, Any]], failed: list[dict[str, Any]], *, unseen: bool) -> str:
    """The compact verdict's count of the claims."""
    applicable = [c for c in checks if "not_applicable" not in c]
    skipped = len(checks) - len(applicable)
    if unseen:
        text = f"  {len(applicable)} claims not judged"
    elif failed:
        text = f"  {len(failed)} of {len(applicable)} claims fail"
    else:
        text = f"  all {len(applicable)} claims hold"
        text = text if len(applicable) != 1 else "  its one claim holds"
    if skipped:
        text += f", {skipped} not applicable"
    return text + (" (--events lists them)" if len(checks) != 1 else " (--events says it)")


def _race(race: dict[str, Any], compact: bool) -> Text:
    if "output" in race:
        seen = "printed" if race["printed"] else "not printed"
        line = _safe(f"'{race['output']}' {seen} this time", "yellow")
    else:
        seen = "hung" if race["happened"] else "did not hang"
        line = Text(f"the run {seen} this time", "yellow")
    if compact:
        line.append(" (a race: observed, not checked)", "dim")
    else:
        line.append(printable(f": {race['why']}"), "dim")
    return line


def _program_verdict(document: dict[str, Any], ending: str, width: int) -> list[Text]:
    outcome = document["outcome"]
    bad = outcome["hung"] or outcome["main"]["exit_code"] != 0
    line = Text("The program  ", "bold underline")
    line.append(printable(ending), "bold red" if bad else "bold green")
    out = [*wrap(line, width)]
    for unseen in _unseen(document):
        out += wrap(unseen, width)
    if len(outcome["pools"]) > 1:
        table = [
            [_safe(pool_label(pool), "bold"), _safe(task_counts(pool["tasks"], compact=True))]
            for pool in outcome["pools"]
        ]
        out += rows(table, width)
    if not outcome["pools"]:
        labels = [kind.label for kind in pool_kinds.KINDS.values()]
        names = f"{', '.join(labels[:-1])} or {labels[-1]}" if len(labels) > 1 else labels[0]
        out += wrap(Text(f"No {names} was created.", "yellow"), width)
    return out
