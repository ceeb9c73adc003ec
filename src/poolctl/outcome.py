"""Derive how a run ended from its events, and from nothing else.

Tasks: ``completed`` (finished), ``failed`` (raised), ``interrupted`` (started, never
finished: its worker died under it), ``never_started``. Workers: when each was spawned,
became ready and exited, and how (exit code; a negative code is the signal that killed it).
"""

from __future__ import annotations

from typing import Any

from .events import signal_name

SHUTDOWN_CALLS = ("close.called", "terminate.called", "join.called")
TASK_STATES = ("completed", "interrupted", "never_started", "failed")


def derive(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The outcome of a run, from its time-ordered events."""
    tasks: dict[int, dict[str, Any]] = {}
    workers: dict[int, dict[str, Any]] = {}
    main: dict[str, Any] = {"pid": None, "exit_code": None, "signal": None, "finished": False}
    error = None
    hung = False
    leftovers: list[dict[str, Any]] = []
    first_shutdown = None
    pool: dict[str, Any] = {"start_method": None, "size": None, "creating": None, "created": None}

    def worker(pid: int) -> dict[str, Any]:
        return workers.setdefault(pid, _new_worker(pid))

    for e in events:
        kind, t = e["kind"], e["t"]
        if kind == "main.started":
            main["pid"] = e["pid"]
        elif kind == "pool.creating":
            pool["creating"] = t
        elif kind == "pool.created":
            pool.update(start_method=e.get("start_method"), created=t)
            pool["size"] = len(e.get("workers", []))
            for pid in e.get("workers", []):
                # The first workers are started inside the Pool() call.
                worker(pid)["spawned"] = pool["creating"] if pool["creating"] is not None else t
        elif kind == "worker.spawned":
            worker(e["worker"])["spawned"] = t
        elif kind == "worker.started":
            worker(e["worker"])["ready"] = t
        elif kind in ("worker.exited", "worker.reaped"):
            w = worker(e["worker"])
            if kind == "worker.exited":
                w["exited"] = t
                w["thread"] = bool(e.get("thread"))
            if e.get("exit_code") is not None:
                w["exit_code"] = e["exit_code"]
        elif kind == "task.submitted":
            tasks.setdefault(e["task"], _new_task(e["task"], t))["submitted"] = t
        elif kind == "task.started":
            task = tasks.setdefault(e["task"], _new_task(e["task"], None))
            task.update(started=t, worker=e["worker"])
            worker(e["worker"])["tasks"].append(e["task"])
        elif kind in ("task.finished", "task.failed"):
            task = tasks.setdefault(e["task"], _new_task(e["task"], None))
            task["ended"] = t
            task["status"] = "completed" if kind == "task.finished" else "failed"
        elif kind == "error.raised" and error is None:
            error = {"type": e.get("type"), "message": e.get("message"), "step": e.get("step")}
        elif kind == "main.finished":
            main["finished"] = True
        elif kind == "main.exited":
            main["pid"] = main["pid"] or e["pid"]
            main["exit_code"] = e.get("exit_code")
            main["signal"] = e.get("signal")
            main["exited"] = t
        elif kind == "run.timeout":
            hung = True
        elif kind == "cleanup.killed":
            leftovers.extend(e.get("processes", []))
        if kind in SHUTDOWN_CALLS and first_shutdown is None:
            first_shutdown = t

    _settle_tasks(tasks, workers, main.get("exited"))
    for w in workers.values():
        w["signal"] = signal_name(w["exit_code"])
        w["killed_by_poolctl"] = hung and w["exited"] is None
    counts = {"submitted": sum(1 for t in tasks.values() if t["submitted"] is not None)}
    counts["started"] = sum(1 for t in tasks.values() if t["started"] is not None)
    for state in TASK_STATES:
        counts[state] = sum(1 for t in tasks.values() if t["status"] == state)
    exits = [w["exited"] for w in workers.values() if w["exited"] is not None]
    shutdown = None
    if first_shutdown is not None and exits:
        shutdown = round(max(exits) - first_shutdown, 6)
    return {
        "pool": pool,
        "tasks": counts,
        "task_runs": [tasks[i] for i in sorted(tasks)],
        "error": error,
        "main": main,
        "workers": sorted(workers.values(), key=_spawn_order),
        "hung": hung,
        "leftovers": leftovers,
        "wall_seconds": main.get("exited"),
        "shutdown_seconds": shutdown,
    }


def _spawn_order(w: dict[str, Any]) -> tuple[float, int]:
    first = w["spawned"] if w["spawned"] is not None else (w["ready"] or float("inf"))
    return (first, w["pid"])


def _new_worker(pid: int) -> dict[str, Any]:
    return {
        "pid": pid,
        "spawned": None,
        "ready": None,
        "exited": None,
        "exit_code": None,
        "signal": None,
        "thread": False,
        "tasks": [],
    }


def _new_task(index: int, t: float | None) -> dict[str, Any]:
    return {
        "task": index,
        "submitted": t,
        "started": None,
        "ended": None,
        "worker": None,
        "status": "never_started",
    }


def _settle_tasks(
    tasks: dict[int, dict[str, Any]], workers: dict[int, dict[str, Any]], end: float | None
) -> None:
    """A started task that never ended was interrupted: it ended when its worker did."""
    for task in tasks.values():
        if task["started"] is not None and task["status"] == "never_started":
            task["status"] = "interrupted"
            w = workers.get(task["worker"])
            task["ended"] = (w or {}).get("exited") or end
