"""Chrome Trace Event format (JSON) for Perfetto's UI and chrome://tracing.

One track per process, named ``main (pid N)`` or ``worker K (pid N)``; task slices and
lifecycle calls as complete events (``ph: "X"``); submissions, errors and exits as
instants. Timestamps are microseconds on the run's own clock. A comparison becomes one
trace in which every run is its own group of processes (its pids offset so that runs
never share a track). Drawn from the timeline model (``timeline_model``) of each run
document; which point events become instants is said in ``looks.POINTS``.
"""

from __future__ import annotations

from typing import Any

from ..document import detail_cut
from ..document import title as document_title
from . import looks
from .markup import json_safe
from .timeline_model import CallSpan, Marker, timeline

# Per run in a comparison: pids are offset by this times the run's index.
PID_STRIDE = 10_000_000


def _us(t: float | None) -> float:
    return round((t or 0.0) * 1e6, 3)


def run_events(doc: dict[str, Any], index: int = 0, label: str = "") -> list[dict[str, Any]]:
    """The trace events of one run document."""
    offset = index * PID_STRIDE
    drawn = timeline(doc)
    main_pid = drawn.main.pid or 0
    prefix = f"{label}: " if label else ""
    events: list[dict[str, Any]] = []

    def track(pid: int, name: str, order: int) -> None:
        events.append(
            {
                "ph": "M",
                "name": "process_name",
                "pid": pid + offset,
                "tid": pid,
                "args": {"name": prefix + name},
            }
        )
        events.append(
            {
                "ph": "M",
                "name": "process_sort_index",
                "pid": pid + offset,
                "tid": pid,
                "args": {"sort_index": offset + order},
            }
        )
        events.append(
            {
                "ph": "M",
                "name": "thread_name",
                "pid": pid + offset,
                "tid": pid,
                "args": {"name": name},
            }
        )

    track(main_pid, f"main (pid {main_pid})", 0)
    for n, w in enumerate(drawn.workers, start=1):
        kind = "thread" if w.thread else "worker"
        track(w.pid or 0, f"{kind} {n} (pid {w.pid})", n)

    for what, thing in drawn.in_order():
        if what == "returned" and isinstance(thing, CallSpan):
            events.append(_call(thing, main_pid, offset, f"{thing.name}()"))
        elif isinstance(thing, Marker) and looks.POINTS[thing.kind].instant:
            events.append(
                {
                    "ph": "i",
                    "s": "t",
                    "name": thing.kind,
                    "cat": "lifecycle",
                    "pid": thing.process + offset,
                    "tid": thing.process,
                    "ts": _us(thing.t),
                    "args": thing.details,
                }
            )
    for span in drawn.calls:  # never returned: raised, or a hang (open to the end)
        if span.end is None:
            how = "raised" if span.raised else "never returned"
            events.append(_call(span, main_pid, offset, f"{span.name}() ({how})"))
    for bar in drawn.tasks:
        events.append(
            _slice(
                f"task {bar.task}",
                "task",
                bar.worker + offset,
                bar.worker,
                bar.start,
                bar.drawn_to,
                {"task": bar.task, "status": bar.state},
            )
        )
    return events


def _call(span: CallSpan, main_pid: int, offset: int, name: str) -> dict[str, Any]:
    return _slice(
        name,
        "lifecycle",
        main_pid + offset,
        main_pid,
        span.start,
        span.drawn_to,
        {"step": span.name},
    )


def _slice(
    name: str, cat: str, pid: int, tid: int, start: float, end: float, args: dict[str, Any]
) -> dict[str, Any]:
    return {
        "ph": "X",
        "name": name,
        "cat": cat,
        "pid": pid,
        "tid": tid,
        "ts": _us(start),
        "dur": max(_us(end) - _us(start), 0.0),
        "args": args,
    }


def trace(document: dict[str, Any]) -> dict[str, Any]:
    """The trace of a run document or of a comparison document. JSON escapes every
    character of its strings but lone surrogates, made visible here (``json_safe``)."""
    if document["schema"].startswith("poolctl.compare/"):
        events = []
        for index, doc in enumerate(document["runs"], start=1):
            label = f"run {index} {doc['scenario']['name']} {doc['params']['start_method']}"
            events += run_events(doc, index, label)
        name = "poolctl compare"
        cut = None
    else:
        events = run_events(document)
        name = document_title(document)
        cut = detail_cut(document)
    other = {"generator": name, "schema": document["schema"]}
    if cut is not None:
        other["tasks_detail"] = cut  # task slices are drawn for the tasks kept only
    return json_safe({"traceEvents": events, "displayTimeUnit": "ms", "otherData": other})
