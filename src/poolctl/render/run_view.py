"""The terminal view of one run: header, timeline, events, output, outcome, verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .. import pool_kinds
from ..document import incomplete, pool_label, program_ending, title
from ..interpreter import describe
from ..outcome import channel_incomplete
from ..printable import printable
from ..steps import STEPS
from . import findings_view, lanes
from .console import make_console
from .timeline_model import Lifeline, timeline

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


def show(document: dict[str, Any], *, no_color: bool = False) -> None:
    """Print the run document to the terminal (plain when not a terminal)."""
    console = make_console(no_color=no_color)
    console.print(render(document, console))


def render(document: dict[str, Any], console: Console) -> Group:
    """The whole view as one renderable."""
    width = console.width
    return Group(
        header(document),
        Text(""),
        _title("Timeline", f"0 → {_end(document):.3f} s"),
        *lanes.render(document, width),
        Text(lanes.LEGEND, "dim"),
        Text(""),
        _title("Events"),
        events_table(document),
        Text(""),
        _title("Output", "as each process printed it"),
        output_table(document),
        Text(""),
        _title("Outcome"),
        outcome_table(document),
        Text(""),
        findings_view.render(document),
        verdict(document),
    )


def _safe(value: Any, style: str = "") -> Text:
    """Text from outside (a scenario file, the program, a saved document) as the terminal
    must show it: escaped (no sequence reaches the terminal) and never read as markup."""
    return Text(printable(str(value)), style)


def _end(document: dict[str, Any]) -> float:
    return max([e["t"] for e in document["events"]] + [0.0])


def _title(title: str, note: str = "") -> Text:
    text = Text(title, "bold underline")
    if note:
        text.append(f"  {note}", "dim")
    return text


def header(document: dict[str, Any]) -> Text:
    """Scenario, interpreter, start method, workers, tasks."""
    if document.get("program"):
        return _trace_header(document)
    scenario, params, python = document["scenario"], document["params"], document["python"]
    pool = document["outcome"]["pool"]
    text = Text()
    text.append(printable(scenario["name"]), "bold")
    text.append(f"  {printable(scenario['summary'])}\n")
    size = f"{pool['size']} workers" if pool["size"] is not None else "no pool"
    if params["workers"] is None:
        size += " (pool default)"
    steps = " → ".join(s["step"] + "()" for s in scenario["steps"])
    text.append(
        printable(
            f"{describe(python)} ({python['executable']})"
            f" · {params['start_method']} · {size}"
            f" · {params['tasks']} task{'s' if params['tasks'] != 1 else ''}"
            f" × {params['duration']:g} s · {steps}"
        ),
        "dim",
    )
    return text


def _trace_header(document: dict[str, Any]) -> Text:
    """The program, its interpreter, and every pool it created."""
    python, outcome = document["python"], document["outcome"]
    text = Text()
    text.append(printable(title(document)), "bold")
    arguments = document["program"]["argv"][1:]
    text.append(f"  {printable(' '.join(arguments))}\n" if arguments else "\n")
    pools = " · ".join(pool_label(p) for p in outcome["pools"]) or "no pool was created"
    tasks = outcome["tasks"]["submitted"]
    text.append(
        printable(
            f"{describe(python)} ({python['executable']})"
            f" · {pools} · {tasks} task{'s' if tasks != 1 else ''}"
        ),
        "dim",
    )
    return text


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
        return text + (" by poolctl at the timeout" if e.get("killed_by_poolctl") else "")
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


def events_table(document: dict[str, Any]) -> Group:
    """The events in time order; bulk task events are counted when there are many."""
    main_pid = document["outcome"]["main"]["pid"]
    events = [e for e in document["events"] if e["kind"] not in QUIET_KINDS]
    hidden = 0
    if len(events) > MAX_EVENTS:
        shown = [e for e in events if e["kind"] not in BULK_KINDS]
        hidden = len(events) - len(shown)
        events = shown
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="dim")
    table.add_column()
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for e in events:
        style = "red" if e["kind"] in ALARMING_KINDS else ""
        table.add_row(
            f"{e['t']:.4f}",
            _safe(_process(e, main_pid)),
            _safe(e["kind"], style),
            _safe(_detail(e)),
        )
    note = Text(f"… and {hidden} task and worker-ready events (all of them are in --json)", "dim")
    return Group(table, note) if hidden else Group(table)


def output_table(document: dict[str, Any]) -> Table | Text:
    """The program's output lines, attributed to the process that printed them."""
    lines = [line for line in document["output"] if "omitted" not in line]
    omitted = [line["omitted"] for line in document["output"] if "omitted" in line]
    if not lines and not omitted:
        return Text("(nothing printed)", "dim")
    main_pid = document["outcome"]["main"]["pid"]
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="dim")
    table.add_column()
    table.add_column(overflow="fold")
    many = len(lines) > MAX_OUTPUT
    shown = lines[:OUTPUT_HEAD] + lines[-OUTPUT_TAIL:] if many else lines
    for n, line in enumerate(shown):
        if many and n == OUTPUT_HEAD:
            hidden = len(lines) - OUTPUT_HEAD - OUTPUT_TAIL
            table.add_row("", "", Text(f"… {hidden} more lines (all of them are in --json)", "dim"))
        pid = line["pid"]
        # Unattributed: a traced program's output (its own streams), or a C-level write.
        who = line["stream"] if pid is None else ("main" if pid == main_pid else "worker")
        who += "" if pid is None else f" {pid}"
        if line.get("thread"):
            who = f"thread {line['thread']}"
        table.add_row(f"{line['t']:.4f}", _safe(who), _output_text(line))
    for cut in omitted:
        table.add_row(
            "",
            "",
            Text(
                f"… {cut['lines']} more lines ({cut['bytes']} bytes) not recorded:"
                " poolctl keeps the first of a run's output (see the README)",
                "dim",
            ),
        )
    return table


def _output_text(line: dict[str, Any]) -> Text:
    """One output line, escaped; a long one shortened, and what was cut said."""
    raw = line["text"]
    text = _safe(raw[:SHOWN_CHARS], "red" if line["stream"] == "stderr" else "")
    if len(raw) > SHOWN_CHARS:
        text.append(f" … {len(raw) - SHOWN_CHARS} more characters in --json", "dim")
    if line.get("cut"):
        text.append(f" … {line['cut']} more bytes not recorded", "dim")
    return text


def outcome_table(document: dict[str, Any]) -> Table:
    """Tasks, error, workers, main process, times."""
    outcome = document["outcome"]
    tasks = outcome["tasks"]
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row(
        "tasks",
        _safe(_task_counts(tasks)),
    )
    error = outcome["error"]
    table.add_row(
        "error",
        _safe(f"{error['type']}: {error['message']} (in {error['step']}())", "red")
        if error
        else Text("none"),
    )
    drawn = timeline(document)
    table.add_row("workers", _workers_line(drawn.workers))
    main = outcome["main"]
    table.add_row("main", _safe(f"pid {main['pid']}: ").append_text(lanes.ending(drawn.main)))
    if outcome["hung"]:
        table.add_row("hung", Text("yes: stopped at --timeout, every process killed", "red"))
    if outcome["leftovers"]:
        pids = ", ".join(str(p["pid"]) for p in outcome["leftovers"])
        table.add_row("left over", _safe(f"killed after the main process exited: {pids}", "red"))
    wall = outcome["wall_seconds"]
    times = f"{wall:.3f} s from launch to the main process's exit" if wall is not None else "?"
    if outcome["shutdown_seconds"] is not None:
        times += f"; shutdown {outcome['shutdown_seconds']:.3f} s"
    table.add_row("time", _safe(times))
    return table


def _task_counts(tasks: dict[str, Any]) -> str:
    text = (
        f"{tasks['submitted']} submitted: {tasks['completed']} completed,"
        f" {tasks['interrupted']} interrupted, {tasks['never_started']} never started,"
        f" {tasks['failed']} failed"
    )
    if tasks.get("unknown"):
        text += f", {tasks['unknown']} unknown (not seen)"
    return text


def _unseen(document: dict[str, Any]) -> list[Text]:
    """What poolctl could not see, a line each: the run was not completely observed."""
    return [
        Text(printable(f"⚠ not completely observed: {message}"), "bold yellow")
        for message in incomplete(document)
    ]


def _workers_line(workers: list[Lifeline]) -> Text:
    text = Text()
    for n, w in enumerate(workers):
        if n:
            text.append(" · ")
        text.append(printable(f"{w.pid} "))
        text.append_text(lanes.ending(w))
    return text or Text("none", "dim")


def verdict(document: dict[str, Any]) -> Group:
    """Expectation vs reality: each checked claim, then the races (observed, not checked).

    A traced program has no expectation: how it ended, and its pools, instead. Either way,
    what poolctl could not see (``observation``) is said.
    """
    ending = program_ending(document)
    return _program_verdict(document, ending) if ending is not None else _checked(document)


def _checked(document: dict[str, Any]) -> Group:
    rows: list[Any] = []
    title = Text("Expectation vs reality  ", "bold underline")
    unseen = _unseen(document)
    if unseen:
        # No verdict over what was not seen: the checks are shown, marked unsure.
        title.append("? no verdict", "bold yellow")
    elif document["matches"]:
        title.append("✓ matches", "bold green")
    else:
        title.append("✗ differs", "bold red")
    rows.append(title)
    rows.extend(unseen)
    table = Table.grid(padding=(0, 1))
    table.add_column()
    table.add_column(overflow="fold")
    for check in document["checks"]:
        mark = Text("✓", "green") if check["ok"] else Text("✗", "bold red")
        if unseen:
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
        table.add_row(mark, line)
    rows.append(table)
    if document["races"]:
        rows.append(Text("Races (timing-dependent: observed, not checked)", "bold"))
        races = Table.grid(padding=(0, 1))
        races.add_column()
        races.add_column(overflow="fold")
        for race in document["races"]:
            if "output" in race:
                seen = "printed" if race["printed"] else "not printed"
                line = _safe(f"'{race['output']}' {seen} this time", "yellow")
            else:
                seen = "hung" if race["happened"] else "did not hang"
                line = Text(f"the run {seen} this time", "yellow")
            line.append(printable(f": {race['why']}"), "dim")
            races.add_row(Text("~", "yellow"), line)
        rows.append(races)
    return Group(*rows)


def _program_verdict(document: dict[str, Any], ending: str) -> Group:
    outcome = document["outcome"]
    bad = outcome["hung"] or outcome["main"]["exit_code"] != 0
    line = Text("The program  ", "bold underline")
    line.append(printable(ending), "bold red" if bad else "bold green")
    rows: list[Any] = [line, *_unseen(document)]
    if len(outcome["pools"]) > 1:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for pool in outcome["pools"]:
            tasks = pool["tasks"]
            table.add_row(
                _safe(pool_label(pool)),
                _safe(_task_counts(tasks)),
            )
        rows.append(table)
    if not outcome["pools"]:
        labels = [kind.label for kind in pool_kinds.KINDS.values()]
        names = f"{', '.join(labels[:-1])} or {labels[-1]}" if len(labels) > 1 else labels[0]
        rows.append(Text(f"No {names} was created.", "yellow"))
    return Group(*rows)
