"""Chrome Trace Event format (JSON) for Perfetto's UI and chrome://tracing.

One track per process, named ``main (pid N)`` or ``worker K (pid N)``; task slices and
lifecycle calls as complete events (``ph: "X"``); submissions, errors and exits as
instants. Timestamps are microseconds on the run's own clock. A comparison becomes one
trace in which every run is its own group of processes (its pids offset so that runs
never share a track). Drawn from run documents only.
"""

from __future__ import annotations

from typing import Any

from ..document import title as document_title
from ..steps import CALLS

# Per run in a comparison: pids are offset by this times the run's index.
PID_STRIDE = 10_000_000
INSTANTS = {"task.submitted", "error.raised", "main.finished", "run.timeout", "cleanup.killed"}


def _us(t: float | None) -> float:
    return round((t or 0.0) * 1e6, 3)


def run_events(doc: dict[str, Any], index: int = 0, label: str = "") -> list[dict[str, Any]]:
    """The trace events of one run document."""
    offset = index * PID_STRIDE
    outcome = doc["outcome"]
    main_pid = outcome["main"]["pid"] or 0
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
    for n, w in enumerate(outcome["workers"], start=1):
        kind = "thread" if w.get("thread") else "worker"
        track(w["pid"], f"{kind} {n} (pid {w['pid']})", n)

    def lane(e: dict[str, Any]) -> int:
        return int(e.get("worker") or e["pid"] or main_pid)

    opened: dict[str, dict[str, Any]] = {}
    for e in doc["events"]:
        name, _, phase = e["kind"].partition(".")
        pid = lane(e)
        if name in CALLS and phase == "called":
            opened[name] = e
        elif name in CALLS and phase == "returned" and name in opened:
            start = opened.pop(name)
            events.append(
                _slice(
                    f"{name}()",
                    "lifecycle",
                    main_pid + offset,
                    main_pid,
                    start["t"],
                    e["t"],
                    {"step": name},
                )
            )
        elif e["kind"] in INSTANTS or e["kind"].endswith("exited"):
            args = {k: v for k, v in e.items() if k not in ("t", "pid", "role", "kind")}
            events.append(
                {
                    "ph": "i",
                    "s": "t",
                    "name": e["kind"],
                    "cat": "lifecycle",
                    "pid": pid + offset,
                    "tid": pid,
                    "ts": _us(e["t"]),
                    "args": args,
                }
            )
    end = outcome["wall_seconds"] or max([e["t"] for e in doc["events"]] + [0.0])
    for name, start in opened.items():  # never returned (a hang): open to the end
        events.append(
            _slice(
                f"{name}() (never returned)",
                "lifecycle",
                main_pid + offset,
                main_pid,
                start["t"],
                end,
                {"step": name},
            )
        )
    for run in outcome["task_runs"]:
        if run["started"] is None or run["worker"] is None:
            continue
        events.append(
            _slice(
                f"task {run['task']}",
                "task",
                run["worker"] + offset,
                run["worker"],
                run["started"],
                run["ended"] or end,
                {"task": run["task"], "status": run["status"]},
            )
        )
    return events


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
    """The trace of a run document or of a comparison document."""
    if document["schema"].startswith("poolctl.compare/"):
        events = []
        for index, doc in enumerate(document["runs"], start=1):
            label = f"run {index} {doc['scenario']['name']} {doc['params']['start_method']}"
            events += run_events(doc, index, label)
        name = "poolctl compare"
    else:
        events = run_events(document)
        name = document_title(document)
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"generator": name, "schema": document["schema"]},
    }
