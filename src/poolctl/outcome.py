"""Derive how a run ended from its events, and from nothing else.

Tasks: ``completed`` (finished), ``failed`` (raised), ``interrupted`` (started, never
finished: its worker died under it), ``never_started``, ``unknown`` (no start was seen, but
the pool's workers could not record events: poolctl cannot tell). Workers: when each was
spawned, became ready and exited, and how (exit code; a negative code is the signal that
killed it).

``observation`` says what poolctl could not see (a lost event channel, its own failure in
the subject): an incomplete observation is never passed off as a complete one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .events import signal_name
from .steps import STEPS

# The calls that begin a pool's shutdown: the first one starts the shutdown time.
SHUTDOWN_CALLS = tuple(f"{name}.called" for name, step in STEPS.items() if step.begins_shutdown)
TASK_STATES = ("completed", "interrupted", "never_started", "failed", "unknown")


def derive(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The outcome of a run, from its time-ordered events."""
    tasks: dict[int, dict[str, Any]] = {}
    workers: dict[int, dict[str, Any]] = {}
    main: dict[str, Any] = {"pid": None, "exit_code": None, "signal": None, "finished": False}
    error = None
    hung = False
    stopped = False
    leftovers: list[dict[str, Any]] = []
    first_shutdown = None
    pool: dict[str, Any] = {"start_method": None, "size": None, "creating": None, "created": None}
    # Every pool, by id (poolctl trace follows several; a scenario's events carry no id).
    pools: dict[int, dict[str, Any]] = {}
    counted: list[dict[str, Any]] = []  # the tasks whose events were counted, not kept
    raised = None

    def worker(pid: int) -> dict[str, Any]:
        return workers.setdefault(pid, _new_worker(pid))

    for e in events:
        kind, t = e["kind"], e["t"]
        pool_id = e.get("pool", 1)
        if kind == "main.started":
            main["pid"] = e["pid"]
        elif kind == "pool.creating":
            pools[pool_id] = _new_pool(pool_id, e.get("api"), t, e)
            pools[pool_id]["site"] = e.get("site")
        elif kind == "pool.created":
            this = pools.setdefault(pool_id, _new_pool(pool_id, e.get("api"), t, e))
            this.update(start_method=e.get("start_method"), created=t)
            this["site"] = e.get("site") or this["site"]
            this["size"] = len(e.get("workers", []))
            for pid in e.get("workers", []):
                # The first workers are started inside the Pool() call.
                w = worker(pid)
                w["spawned"], w["pool"] = this["creating"], pool_id
        elif kind == "worker.spawned":
            w = worker(e["worker"])
            # The watcher looks every few ms: a thread can be ready before it is seen.
            spawned = t if w["ready"] is None else min(t, w["ready"])
            w["spawned"], w["pool"] = spawned, pool_id
        elif kind == "worker.started":
            w = worker(e["worker"])
            w["ready"], w["pool"] = t, pool_id
        elif kind in ("worker.exited", "worker.reaped"):
            w = worker(e["worker"])
            if kind == "worker.exited":
                w["exited"] = t
                w["thread"] = bool(e.get("thread"))
            if e.get("exit_code") is not None:
                w["exit_code"] = e["exit_code"]
        elif kind == "task.submitted":
            task = tasks.setdefault(e["task"], _new_task(e["task"], t))
            task["submitted"], task["pool"] = t, pool_id
        elif kind == "task.started":
            task = tasks.setdefault(e["task"], _new_task(e["task"], None))
            task["pool"] = pool_id
            task.update(started=t, worker=e["worker"])
            worker(e["worker"])["tasks"].append(e["task"])
        elif kind in ("task.finished", "task.failed"):
            task = tasks.setdefault(e["task"], _new_task(e["task"], None))
            task["ended"] = t
            task["status"] = "completed" if kind == "task.finished" else "failed"
        elif kind == "error.raised" and error is None:
            error = {"type": e.get("type"), "message": e.get("message"), "step": e.get("step")}
        elif kind == "program.raised":
            raised = {"type": e.get("type"), "message": e.get("message")}
        elif kind == "main.finished":
            main["finished"] = True
        elif kind == "main.exited":
            main["pid"] = main["pid"] or e["pid"]
            main["exit_code"] = e.get("exit_code")
            main["signal"] = e.get("signal")
            main["exited"] = t
        elif kind == "run.timeout":
            hung = True
        elif kind == "run.interrupted":
            stopped = True  # by the user: what still ran was killed, as at a timeout
        elif kind == "cleanup.killed":
            leftovers.extend(e.get("processes", []))
        elif kind == "tasks.counted":
            counted.append(e)
        if kind in SHUTDOWN_CALLS and first_shutdown is None:
            first_shutdown = t

    _settle_tasks(tasks, workers, main.get("exited"))
    found = problems(events)
    _unknown_tasks(tasks, found)
    beyond = _counted_tasks(counted, found)
    for w in workers.values():
        w["signal"] = signal_name(w["exit_code"])
        w["killed_by_poolctl"] = (hung or stopped) and w["exited"] is None
    counts = _count(tasks.values(), *beyond.values())
    for this in pools.values():
        this["workers"] = [w["pid"] for w in workers.values() if w["pool"] == this["pool"]]
        these = (t for t in tasks.values() if t["pool"] == this["pool"])
        this["tasks"] = _count(these, *[c for p, c in beyond.items() if p == this["pool"]])
    if pools:
        first = pools[min(pools)]
        pool.update({key: first[key] for key in pool})
    main["uncaught"] = raised
    exits = [w["exited"] for w in workers.values() if w["exited"] is not None]
    shutdown = None
    if first_shutdown is not None and exits:
        shutdown = round(max(exits) - first_shutdown, 6)
    return {
        "pool": pool,
        "pools": [pools[i] for i in sorted(pools)],
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


def problems(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What poolctl could not see in this run, from its events: each problem's ``kind``,
    ``message``, and the ``pool`` or ``pid`` it concerns.

    - ``channel-lost``: the subject found that the workers a pool starts cannot create
      their event files (the program changed its user, the directory is gone or full);
    - ``worker-silent``: a worker process exited normally (status 0), so it ran poolctl's
      initializer, yet recorded no event: its channel was lost, whatever the cause;
    - ``observer-failed``: poolctl's own code raised inside the program;
    - ``events-unread``: event files the observer would not read, lines that were not
      valid events, processes that stopped recording for want of space (``channel.incomplete``).
    """
    found: list[dict[str, Any]] = []
    lost_pools: set[int] = set()
    workers: dict[int, int] = {}  # a worker process the main process saw → its pool
    codes: dict[int, int] = {}
    writers: set[int] = set()
    for e in events:
        kind = e["kind"]
        writers.add(e["pid"])
        if kind == "channel.lost":
            pool = _pool_of(e)
            if pool not in lost_pools:
                lost_pools.add(pool)
                found.append(
                    {
                        "kind": "channel-lost",
                        "message": f"the workers of pool {pool} could not record their events"
                        f" ({e.get('reason')}, as uid {e.get('uid')}): what they did is unknown",
                        "pool": pool,
                    }
                )
        elif kind == "observer.failed":
            found.append({"kind": "observer-failed", "message": _failed(e), "pid": e["pid"]})
        elif kind == "channel.incomplete":
            count = e["unread_files"] + e["invalid_lines"] + e["stopped_processes"]
            message = channel_incomplete(e)
            found.append({"kind": "events-unread", "message": message, "count": count})
        elif kind == "pool.created":
            for pid in e.get("workers", []):
                workers.setdefault(pid, _pool_of(e))
        elif kind == "worker.spawned":
            workers.setdefault(e["worker"], _pool_of(e))
        elif kind in ("worker.exited", "worker.reaped"):
            if e.get("thread"):
                workers.pop(e["worker"], None)  # a thread shares the main process's channel
            elif e.get("exit_code") is not None:
                codes[e["worker"]] = e["exit_code"]
    for pid, pool in workers.items():
        if codes.get(pid) == 0 and pid not in writers and pool not in lost_pools:
            found.append(
                {
                    "kind": "worker-silent",
                    "message": f"worker {pid} of pool {pool} exited normally but recorded no"
                    " event: what it did is unknown",
                    "pid": pid,
                    "pool": pool,
                }
            )
    return found


def _pool_of(e: dict[str, Any]) -> int:
    """The pool an event is about: a scenario's events name none (its one pool, 1), and an
    event may say ``null`` where its pool is not known."""
    pool = e.get("pool")
    return pool if isinstance(pool, int) else 1


def channel_incomplete(e: dict[str, Any]) -> str:
    """What a ``channel.incomplete`` event says, in words."""
    reasons = ", ".join(f"{r['reason']} ×{r['count']}" for r in e["reasons"])
    return (
        f"{e['unread_files']} event files unread, {e['invalid_lines']} lines dropped,"
        f" {e['stopped_processes']} processes stopped recording ({reasons})"
    )


def observer_failure(events: list[dict[str, Any]]) -> str | None:
    """The one line of the first ``observer.failed`` event (None if poolctl never failed):
    the run was not observed, whatever the program did."""
    failed = next((e for e in events if e["kind"] == "observer.failed"), None)
    return None if failed is None else _failed(failed)


def _failed(event: dict[str, Any]) -> str:
    return (
        f"poolctl's observer failed inside the program ({event.get('where')}):"
        f" {event.get('type')}: {event.get('message')}"
    )


def observation(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The document's ``observation``: ``complete`` unless ``problems`` lists any."""
    found = problems(events)
    return {"complete": not found, "problems": found}


def _unknown_tasks(tasks: dict[int, dict[str, Any]], found: list[dict[str, Any]]) -> None:
    """A task seen submitted but never started, in a pool whose workers could not all be
    seen, may have run: its fate is unknown, not 'never started'."""
    blind = {p.get("pool") for p in found if p["kind"] in ("channel-lost", "worker-silent")}
    for task in tasks.values():
        if task["status"] == "never_started" and task["pool"] in blind:
            task["status"] = "unknown"


def _count(tasks: Iterable[dict[str, Any]], *more: dict[str, int]) -> dict[str, int]:
    """How many tasks were submitted, started, and ended in each state (``more``: counts
    to add, those of the tasks whose events were not kept)."""
    counts = dict.fromkeys(("submitted", "started", *TASK_STATES), 0)
    for task in tasks:
        counts["submitted"] += task["submitted"] is not None
        counts["started"] += task["started"] is not None
        counts[task["status"]] += 1
    for other in more:
        for key, n in other.items():
            counts[key] += n
    return counts


def _counted_tasks(
    counted: list[dict[str, Any]], found: list[dict[str, Any]]
) -> dict[Any, dict[str, int]]:
    """Pool → the counts of its tasks known by ``tasks.counted`` events alone: every task
    submitted, started or ended once, so a start without an end is an interrupted task and
    a submission without a start one never started (unknown where workers went unseen)."""
    blind = {p.get("pool") for p in found if p["kind"] in ("channel-lost", "worker-silent")}
    beyond: dict[Any, dict[str, int]] = {}
    for e in counted:
        ended = e["finished"] + e["failed"]
        waiting = max(0, e["submitted"] - e["started"])
        counts = {
            "submitted": e["submitted"],
            "started": e["started"],
            "completed": e["finished"],
            "failed": e["failed"],
            "interrupted": max(0, e["started"] - ended),
            "never_started": 0 if e["pool"] in blind else waiting,
            "unknown": waiting if e["pool"] in blind else 0,
        }
        mine = beyond.setdefault(e["pool"], dict.fromkeys(counts, 0))
        for key, n in counts.items():
            mine[key] += n
    return beyond


def _new_pool(
    pool_id: int, api: str | None, creating: float, event: dict[str, Any]
) -> dict[str, Any]:
    """A pool as its first event says: its owner is the process that created it (the main
    process, a child it forked, a worker)."""
    return {
        "pool": pool_id,
        "api": api,
        "start_method": None,
        "size": None,
        "creating": creating,
        "created": None,
        "site": None,  # where the program created it
        "owner": {"pid": event.get("pid"), "role": event.get("role")},
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
        "pool": None,
        "tasks": [],
    }


def _new_task(index: int, t: float | None) -> dict[str, Any]:
    return {
        "task": index,
        "submitted": t,
        "started": None,
        "ended": None,
        "worker": None,
        "pool": None,
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
