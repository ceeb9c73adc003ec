"""What the timeline views draw, computed once from a run document.

A run document (as ``--json`` gives it) becomes call spans (``<name>.called`` …
``<name>.returned``), task bars, lifelines (the main process's and each worker's), point
markers and the time range. ``lanes``, ``svg_export`` and ``perfetto_export`` (and
``html_export``, through the SVG) draw from this and walk no events themselves. Task
states and worker exits are the outcome's, never re-derived. Plain data: no rich import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..steps import STEPS
from .looks import POINTS

# A scenario's events carry no pool id: its one pool is pool 1, as in the outcome.
ONE_POOL = 1


@dataclass(frozen=True)
class CallSpan:
    """One call on a pool, from ``<name>.called`` to ``<name>.returned``."""

    name: str  # the step's name (a row of steps.STEPS)
    start: float
    end: float | None  # None: the call never returned
    # ``end``; for a call that raised, when it raised; else (a hang) ``Timeline.until``
    drawn_to: float
    pool: int
    details: dict[str, Any]  # the ``.called`` event's own fields (signal, wait, ...)
    seq: int  # where its ``.called`` event is in the document's events
    end_seq: int | None  # where its ``.returned`` event is
    raised: bool = False  # it never returned because it raised (``error.raised``)


@dataclass(frozen=True)
class TaskBar:
    """One task's run on a worker (tasks that never started have no bar)."""

    task: int
    worker: int
    pool: int | None
    start: float
    end: float | None  # None: never ended
    drawn_to: float  # ``end``, or ``Timeline.until``
    state: str  # the outcome's status: completed, interrupted or failed


@dataclass(frozen=True)
class Lifeline:
    """A process's (or a worker thread's) life: the main process, or one worker."""

    pid: int | None
    spawned: float | None  # the main process: when it started
    ready: float | None  # a worker: when its initializer ran (the main process: None)
    exited: float | None
    exit_code: int | None
    signal: str | None
    killed_by_poolctl: bool  # the main process: the run hung, or poolctl was stopped
    thread: bool  # a ThreadPool's worker thread: no exit code of its own
    pool: int | None
    ending: str  # how it ended: a key of looks.ENDINGS

    @property
    def first(self) -> float | None:
        """Its first moment on the timeline: spawned, else ready."""
        return self.spawned if self.spawned is not None else self.ready

    @property
    def killed(self) -> bool:
        """Killed (by a signal, or by poolctl at the timeout or when it was stopped)
        rather than exited."""
        return self.ending in ("timeout", "interrupted", "signal")


@dataclass(frozen=True)
class Marker:
    """One point event (a kind in looks.POINTS) at its time, on its process's lane."""

    kind: str
    t: float
    process: int  # the lane: the worker's pid for a worker's event, else the event's pid
    on_main: bool  # on the main process's lane
    details: dict[str, Any]  # the event's own fields (all but t, pid, role and kind)
    seq: int  # where it is in the document's events


Happening = tuple[Literal["called", "returned", "point"], CallSpan | Marker]


@dataclass(frozen=True)
class Timeline:
    """Everything a timeline view draws, and the time range to draw it in."""

    main: Lifeline
    workers: list[Lifeline]  # in the outcome's order (spawn order)
    calls: list[CallSpan]  # in the order they were called
    tasks: list[TaskBar]  # in the outcome's order (by task)
    markers: list[Marker]  # in the document's order
    end: float  # the time scale's end: the last event or the main exit, at least 1 ms
    until: float  # what never ended is drawn to here: the main exit, else the last event

    def in_order(self) -> list[Happening]:
        """Calls made, calls returned and point events, in the document's order."""
        items: list[tuple[int, Happening]] = [(c.seq, ("called", c)) for c in self.calls]
        items += [(c.end_seq, ("returned", c)) for c in self.calls if c.end_seq is not None]
        items += [(m.seq, ("point", m)) for m in self.markers]
        return [happening for _, happening in sorted(items, key=lambda item: item[0])]


def timeline(document: dict[str, Any]) -> Timeline:
    """The timeline of one run document (``poolctl.run/1``)."""
    outcome, events = document["outcome"], document["events"]
    last = max([e["t"] for e in events] + [0.0])
    # Killed by poolctl: at the timeout (hung), or when it was stopped (interrupted).
    cut = "interrupted" if document.get("interrupted") else "timeout"
    main = _main(outcome, events, cut)
    until = main.exited if main.exited is not None else last
    main_pid = main.pid or 0
    return Timeline(
        main=main,
        workers=[_worker(w, cut) for w in outcome["workers"]],
        calls=_calls(events, until),
        tasks=[
            TaskBar(
                task=run["task"],
                worker=run["worker"],
                pool=run.get("pool"),
                start=run["started"],
                end=run["ended"],
                drawn_to=run["ended"] if run["ended"] is not None else until,
                state=run["status"],
            )
            for run in outcome["task_runs"]
            if run["started"] is not None and run["worker"] is not None
        ],
        markers=[_marker(e, seq, main_pid) for seq, e in enumerate(events) if e["kind"] in POINTS],
        end=max(last, outcome.get("wall_seconds") or 0.0, 1e-3),
        until=until,
    )


def _is_call(event: dict[str, Any], name: str) -> bool:
    # Only the main process calls on a pool. (A ``worker`` field here names the worker a
    # call is about, as in ``kill-worker.called``; the call is still the main process's.)
    return name in STEPS and event["role"] == "main"


def _calls(events: list[dict[str, Any]], until: float) -> list[CallSpan]:
    """Pair each ``.called`` with the next ``.returned`` of the same call on the same pool."""
    opened: dict[tuple[str, int], list[tuple[int, dict[str, Any]]]] = {}
    ended: dict[int, tuple[int, float]] = {}  # the .called's seq → the .returned's seq, time
    for seq, e in enumerate(events):
        name, _, phase = e["kind"].partition(".")
        if not _is_call(e, name):
            continue
        key = (name, e.get("pool", ONE_POOL))
        if phase == "called":
            opened.setdefault(key, []).append((seq, e))
        elif phase == "returned" and opened.get(key):
            ended[opened[key].pop()[0]] = (seq, e["t"])
    spans = []
    for seq, e in enumerate(events):
        name, _, phase = e["kind"].partition(".")
        if phase != "called" or not _is_call(e, name):
            continue
        end_seq, end = ended.get(seq, (None, None))
        raised = None if end is not None else _raised(events, seq, name)
        spans.append(
            CallSpan(
                name=name,
                start=e["t"],
                end=end,
                drawn_to=end if end is not None else raised if raised is not None else until,
                pool=e.get("pool", ONE_POOL),
                details=_details(e),
                seq=seq,
                end_seq=end_seq,
                raised=raised is not None,
            )
        )
    return spans


def _raised(events: list[dict[str, Any]], called: int, name: str) -> float | None:
    """When the call whose ``.called`` is at ``called`` raised: the main process's next
    ``error.raised`` naming that step, before any other call; None if it did not."""
    for e in events[called + 1 :]:
        if e["role"] != "main":
            continue
        if e["kind"] == "error.raised":
            return float(e["t"]) if e.get("step") == name else None
        if e["kind"].endswith(".called") and _is_call(e, e["kind"].partition(".")[0]):
            return None
    return None


def _marker(event: dict[str, Any], seq: int, main_pid: int) -> Marker:
    process = int(event.get("worker") or event["pid"] or main_pid)
    return Marker(event["kind"], event["t"], process, process == main_pid, _details(event), seq)


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in ("t", "pid", "role", "kind")}


def _main(outcome: dict[str, Any], events: list[dict[str, Any]], cut: str) -> Lifeline:
    main = outcome["main"]
    killed = outcome["hung"] or cut == "interrupted"
    started = next((e["t"] for e in events if e["kind"] == "main.started"), None)
    return Lifeline(
        pid=main["pid"],
        spawned=started,
        ready=None,
        exited=main.get("exited"),
        exit_code=main["exit_code"],
        signal=main["signal"],
        killed_by_poolctl=killed,
        thread=False,
        pool=None,
        ending=_ending(main["exit_code"], main["signal"], killed, False, cut),
    )


def _worker(w: dict[str, Any], cut: str) -> Lifeline:
    thread = w.get("thread", False)
    return Lifeline(
        pid=w["pid"],
        spawned=w["spawned"],
        ready=w["ready"],
        exited=w["exited"],
        exit_code=w["exit_code"],
        signal=w["signal"],
        killed_by_poolctl=w["killed_by_poolctl"],
        thread=thread,
        pool=w.get("pool"),
        ending=_ending(w["exit_code"], w["signal"], w["killed_by_poolctl"], thread, cut),
    )


def _ending(code: int | None, signal: str | None, killed: bool, thread: bool, cut: str) -> str:
    """Which of looks.ENDINGS: the outcome's exit, read in the order a reader asks;
    ``cut``: why poolctl killed what it killed ("timeout" or "interrupted")."""
    if killed:
        return cut
    if thread:
        return "stopped"
    if signal:
        return "signal"
    if code is None:
        return "unknown"
    return "exit 0" if code == 0 else "exit code"
