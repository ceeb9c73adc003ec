"""What went wrong with the pools, and where: a run's findings, from its events, outcome and
output alone.

Each finding names its ``kind`` (docs/findings.md has a minimal program for each), the
``pool`` (null: the program as a whole), the ``site`` of the program's call it is about
(as the events carry it), what happened in numbers (``message``, ``counts``) and one
sentence on what to do (``remedy``). A correct program has none: a pool closed and joined,
its results read, loses nothing and says nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import pool_kinds

Finding = dict[str, Any]

# The calls whose end stops a Pool's workers at once, and how a finding names each.
_STOPPERS = {
    "terminate": "terminate()",
    "with-exit": "the end of its with-block (__exit__ calls terminate())",
    "del": "the exit-time finalizer after del pool (a pool with pending results is not freed)",
    "terminate-workers": "terminate_workers()",
    "kill-workers": "kill_workers()",
}
# The calls that read a result: what a task raised surfaces there.
_READS = ("get", "result", "get-results", "next", "exception")
# How a ``result.read`` read a submitting call's results: those that hand the program its
# tasks' exceptions (the rest hand it their values; ``exception()`` both: it looked).
_SEES_EXCEPTIONS = ("error_callback", "exception")
# What the standard library writes when the main module creates a pool as it is imported by
# a spawn or forkserver worker (multiprocessing.spawn._check_not_importing_main).
# (The message spans lines: this is one of them.)
_BOOTSTRAPPING = "has finished its bootstrapping phase"
# Python 3.12+'s DeprecationWarning for os.fork() in a process with other threads, as the
# warnings module prints it: 'FILE:LINE: DeprecationWarning: This process (pid=N) is
# multi-threaded, use of fork() may lead to deadlocks in the child.'
_FORK_WARNING = re.compile(r"^(?P<file>.+?):(?P<line>\d+): DeprecationWarning: .*use of fork\(\)")
# What a spawn or forkserver worker says when the task's function is not in the main
# module it imports (defined under the __main__ guard, or made after the pool): under fork,
# the worker has it from the parent's memory.
_UNPICKLABLE = re.compile(r"Can't get attribute|module '__mp_main__' has no attribute")
_COMPARE = "poolctl compare --start-method all"


@dataclass
class _Pool:
    """What the events say of one pool."""

    pool: int
    api: str | None = None
    start_method: str | None = None
    site: dict[str, Any] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)  # its `.called` events
    returned: set[str] = field(default_factory=set)  # the calls that returned
    reads_raised: list[dict[str, Any]] = field(default_factory=list)
    submitted_at: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    join_interrupted: bool = False  # its join() ended by a KeyboardInterrupt (a Ctrl-C)
    # The main process's reads of its results that began to wait and never stopped.
    waits: list[dict[str, Any]] = field(default_factory=list)
    # poolctl trace's submitting calls: each task's, the calls whose results the program
    # read (or tried to: a read that raised), those whose exceptions it was handed, and
    # the tasks that returned something other than None.
    call_of: dict[int, int] = field(default_factory=dict)
    read_calls: set[int] = field(default_factory=set)
    seen_exceptions: set[int] = field(default_factory=set)
    valued: set[int] = field(default_factory=set)

    def called(self, name: str) -> dict[str, Any] | None:
        """The first ``name.called`` event on this pool."""
        return next((c for c in self.calls if c["kind"] == f"{name}.called"), None)


def find(
    events: list[dict[str, Any]], outcome: dict[str, Any], output: list[dict[str, Any]]
) -> list[Finding]:
    """Every finding of a run, pool by pool in creation order, then the program's."""
    pools = _pools(events)
    tasks = outcome["task_runs"]
    workers = {w["pid"]: w for w in outcome["workers"]}
    ended = _program_end(events)
    # Killed by poolctl (at --timeout, or when it was stopped): what it cut short was not
    # lost to the program's own terminate().
    cut_short = outcome["hung"] or any(e["kind"] == "run.interrupted" for e in events)
    found: list[Finding] = []
    # The program ended of itself, without an error: what it left unread it never read.
    ended_well = not cut_short and outcome["main"]["exit_code"] == 0
    for pool in pools.values():
        mine = [t for t in tasks if t["pool"] == pool.pool]
        found += _never_retrieved(pool, mine)
        if ended_well:
            found += _never_read(pool, mine)
        found += _join_cannot_return(pool, mine, workers, outcome)
        found += _result_never_arrives(pool, mine, workers, outcome)
        if not cut_short:
            found += _lost(pool, mine, workers, ended)
        found += _cancelled(pool, mine)
    found += _from_output(pools, output)
    return found


def _pools(events: list[dict[str, Any]]) -> dict[int, _Pool]:
    """Each pool's site, calls and submissions (a scenario's events name no pool: it is 1)."""
    pools: dict[int, _Pool] = {}
    for e in events:
        kind = e["kind"]
        if e.get("role") == "observer":
            continue
        number = e.get("pool")
        number = number if isinstance(number, int) else 1
        if kind in ("pool.creating", "pool.created"):
            pool = pools.setdefault(number, _Pool(number))
            pool.api = e.get("api")
            pool.start_method = e.get("start_method") or pool.start_method
            pool.site = e.get("site") or pool.site
        elif number not in pools:
            continue
        elif kind == "task.submitted":
            pools[number].submitted_at.setdefault(e["task"], e.get("site"))
            if "call" in e:
                pools[number].call_of[e["task"]] = e["call"]
        elif kind == "task.finished":
            if e.get("value"):
                pools[number].valued.add(e["task"])
        elif kind == "result.read":
            pool = pools[number]
            pool.read_calls.add(e["call"])
            if e["via"] in _SEES_EXCEPTIONS:
                pool.seen_exceptions.add(e["call"])
        elif kind.endswith(".called"):
            pools[number].calls.append(e)
        elif kind.endswith(".returned"):
            pools[number].returned.add(kind[: -len(".returned")])
        elif kind == "error.raised" and e.get("step") in _READS:
            pools[number].reads_raised.append(e)
            if "call" in e:
                pools[number].read_calls.add(e["call"])
                pools[number].seen_exceptions.add(e["call"])
        elif kind == "error.raised" and e.get("step") == "join":
            pools[number].join_interrupted |= e.get("type") == "KeyboardInterrupt"
        elif kind == "result.waiting" and e.get("role") == "main":
            pools[number].waits.append(e)
        elif kind == "result.waited" and e.get("role") == "main":
            waits = pools[number].waits
            same = [w for w in waits if (w["via"], w.get("call")) == (e["via"], e.get("call"))]
            if same:
                waits.remove(same[-1])
    return pools


def _program_end(events: list[dict[str, Any]]) -> float | None:
    """When the program's own code ended, returning or raising (its exit handlers, the
    exit-time finalizer among them, then run), if it did."""
    ends = ("main.finished", "program.raised")
    return next((e["t"] for e in events if e["kind"] in ends and e.get("role") == "main"), None)


def _finding(
    kind: str,
    pool: _Pool | None,
    site: dict[str, Any] | None,
    message: str,
    remedy: str,
    **counts: int,
) -> Finding:
    return {
        "kind": kind,
        "pool": None if pool is None else pool.pool,
        "site": site,
        "message": message,
        "counts": counts,
        "remedy": remedy,
    }


def _call(event: dict[str, Any]) -> str:
    """The call a ``<call>.called`` event is about: ``with-exit``, ``terminate`` ..."""
    return str(event["kind"]).rsplit(".", 1)[0]


def where(site: dict[str, Any] | None) -> str:
    """A site in words: 'prog.py:12 in main', or for a scenario 'show --code line 12'
    (its program is the one ``poolctl show NAME --code`` prints; the name is the run's);
    '' when unknown."""
    if not site:
        return ""
    function = site["function"]
    inside = "" if function in ("<module>", "") else f" in {function}"
    file = str(site["file"])
    if file.startswith("<poolctl show ") and file.endswith(" --code>"):
        return f"show --code line {site['line']}{inside}"
    return f"{file}:{site['line']}{inside}"


def stopped_by(call: str) -> str | None:
    """How a finding names ``call`` (a step's name) when it stops a Pool's workers at once:
    'terminate()', 'the end of its with-block (...)'; None for any other call."""
    return _STOPPERS.get(call)


def _label(pool: _Pool) -> str:
    return pool_kinds.name(pool.api, pool.pool)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _never_retrieved(pool: _Pool, tasks: list[dict[str, Any]]) -> Iterable[Finding]:
    """Tasks raised, no read of the pool's results raised, and no error callback (nor a
    future's ``exception()``) was handed them: nobody saw the exceptions."""
    failed = [
        t
        for t in tasks
        if t["status"] == "failed" and pool.call_of.get(t["task"]) not in pool.seen_exceptions
    ]
    if not failed or pool.reads_raised:
        return []
    getter = _getter(pool)
    site = pool.submitted_at.get(failed[0]["task"]) or pool.site
    message = (
        f"{_plural(len(failed), 'task')} of {_label(pool)} raised, and no {getter} of its"
        " results raised: the exceptions were silently lost"
    )
    remedy = (
        f"Call {getter} on each result (or pass error_callback=) so that a task's"
        " exception reaches the program."
    )
    return [_finding("exception-never-retrieved", pool, site, message, remedy, failed=len(failed))]


def _never_read(pool: _Pool, tasks: list[dict[str, Any]]) -> Iterable[Finding]:
    """Tasks returned a value (not None) and no read of their submitting call's results
    returned or raised, and no callback was given: nothing the program did saw the values.
    Only ``poolctl trace`` numbers the calls; a scenario's task returns a value only for a
    ``get-results`` step, which reads them all."""
    unread = [
        t
        for t in tasks
        if t["status"] == "completed"
        and t["task"] in pool.valued
        and t["task"] in pool.call_of
        and pool.call_of[t["task"]] not in pool.read_calls
    ]
    if not unread:
        return []
    calls = {pool.call_of[t["task"]] for t in unread}
    site = pool.submitted_at.get(unread[0]["task"]) or pool.site
    getter = _getter(pool)
    message = (
        f"{_plural(len(unread), 'task')} of {_label(pool)} returned a value that nothing read:"
        f" no {getter}, callback or iteration read the results of"
        f" {_plural(len(calls), 'submitting call')}"
    )
    executor = getter == "result()"
    how = "or add_done_callback()" if executor else "pass callback=, or use map()"
    remedy = (
        f"Read each result ({getter}), {how}; if the values are not needed, have the task"
        " return None."
    )
    counts = {"unread": len(unread), "calls": len(calls)}
    return [_finding("results-never-read", pool, site, message, remedy, **counts)]


def _getter(pool: _Pool) -> str:
    kind = pool_kinds.kind(pool.api)
    return kind.getter_label if kind else "get()"


# Why a Pool waits for ever on a task whose worker died, and what to do instead.
_DIED_MID_TASK_REMEDY = (
    "A Pool does not notice a worker that dies mid-task (CPython issue 96062): wait"
    " with result.get(timeout=...) and terminate(), or use"
    " concurrent.futures.ProcessPoolExecutor, which raises BrokenProcessPool."
)


def _killed_mid_task(
    tasks: list[dict[str, Any]],
    workers: dict[int, dict[str, Any]],
    among: Callable[[dict[str, Any]], bool] = lambda task: True,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The first task (of those ``among`` accepts) whose worker was killed by a signal
    while it ran it, not by poolctl (its kill at --timeout is not the cause); its worker."""
    for task in tasks:
        w = workers.get(task["worker"])
        if task["status"] != "interrupted" or not w or not w["signal"]:
            continue
        if not w["killed_by_poolctl"] and among(task):
            return task, w
    return None


def _still_waiting(outcome: dict[str, Any]) -> bool:
    """The main process was still waiting when the run ended: stopped at --timeout, or
    poolctl interrupted."""
    return bool(outcome["hung"]) or outcome["main"]["exit_code"] is None


def _join_cannot_return(
    pool: _Pool,
    tasks: list[dict[str, Any]],
    workers: dict[int, dict[str, Any]],
    outcome: dict[str, Any],
) -> Iterable[Finding]:
    """A join() that never returned, and a worker of the pool killed by a signal: while it
    ran a task (a Pool never learns that task's fate, so join() waits for ever), else while
    it waited for one (it may have died holding the task queue's lock)."""
    join = pool.called("join")
    # Still waiting when the run ended, or the user's Ctrl-C (passed on to the program)
    # ended the wait that would not end.
    waiting = _still_waiting(outcome) or pool.join_interrupted
    if join is None or "join" in pool.returned or not waiting:
        return []
    killed = _killed_mid_task(tasks, workers)
    if killed is not None:
        task, w = killed
        message = (
            f"join() of {_label(pool)} cannot return: worker {w['pid']} was killed by"
            f" {w['signal']} while it ran task {task['task']}, whose result will never arrive"
        )
        counts = {"worker": w["pid"], "task": task["task"]}
        remedy = _DIED_MID_TASK_REMEDY
        return [_finding("join-cannot-return", pool, join.get("site"), message, remedy, **counts)]
    for w in workers.values():
        if w["pool"] != pool.pool or not w["signal"] or w["killed_by_poolctl"]:
            continue
        message = (
            f"join() of {_label(pool)} cannot return: worker {w['pid']} was killed by"
            f" {w['signal']} while it waited for a task; it may have died holding the task"
            " queue's lock, and then no worker takes a task again"
        )
        remedy = (
            "Never kill a Pool's worker: stop the pool with terminate(), or use"
            " concurrent.futures.ProcessPoolExecutor, which raises BrokenProcessPool."
        )
        counts = {"worker": w["pid"]}
        return [_finding("join-cannot-return", pool, join.get("site"), message, remedy, **counts)]
    return []


def _result_never_arrives(
    pool: _Pool,
    tasks: list[dict[str, Any]],
    workers: dict[int, dict[str, Any]],
    outcome: dict[str, Any],
) -> Iterable[Finding]:
    """The main process still waited in a read of the pool's results (get(), map(),
    next() ...) when the run ended, and a worker was killed by a signal while it ran one of
    the tasks that read waits for (the read's submitting call's; any, when not known)."""
    if not pool.waits or not _still_waiting(outcome):
        return []
    wait = pool.waits[-1]
    call = wait.get("call")
    killed = _killed_mid_task(
        tasks, workers, lambda task: call is None or pool.call_of.get(task["task"]) == call
    )
    if killed is None:
        return []
    task, w = killed
    message = (
        f"{wait['via']}() of {_label(pool)} cannot return: worker {w['pid']} was killed by"
        f" {w['signal']} while it ran task {task['task']}, whose result will never arrive"
    )
    counts = {"worker": w["pid"], "task": task["task"]}
    site = wait.get("site")
    return [_finding("result-never-arrives", pool, site, message, _DIED_MID_TASK_REMEDY, **counts)]


def _lost(
    pool: _Pool,
    tasks: list[dict[str, Any]],
    workers: dict[int, dict[str, Any]],
    ended: float | None,
) -> Iterable[Finding]:
    """Tasks a terminate() cut short or never started, by the call that made it: an explicit
    one, the with-block's end, ``del``, or (no call at all) the exit-time finalizer."""
    kind = pool_kinds.kind(pool.api)
    closes = kind is not None and "close" in kind.steps
    stopper = next((c for c in pool.calls if _call(c) in _STOPPERS), None)
    if stopper is None and not closes:
        return []  # an executor left alone is joined at exit: its tasks run
    start = stopper["t"] if stopper is not None else ended
    interrupted = [
        t for t in tasks if t["status"] == "interrupted" and _ended_by_stop(t, workers, start)
    ]
    never = [t for t in tasks if t["status"] == "never_started"]
    # A task whose result the program stopped waiting for (a read that timed out) was
    # given up knowingly, as CPython's own example of get(timeout=1) does: not counted.
    given_up = sum(e.get("type") == "TimeoutError" for e in pool.reads_raised)
    cut = min(given_up, len(interrupted))
    interrupted, never = interrupted[cut:], never[given_up - cut :]
    shut = {_call(c) for c in pool.calls}
    if stopper is None and not (shut & {"close", "join", "terminate"}):
        lost = {"interrupted": len(interrupted), "never_started": len(never)}
        message = f"{_label(pool)} was never closed or joined" + (
            f": the exit-time finalizer terminated it, {_counted(lost)}"
            if any(lost.values())
            else ""
        )
        remedy = (
            "Call close() then join() when its tasks are issued (or use it in a with-block"
            " after waiting for every result)."
        )
        return [_finding("never-closed-or-joined", pool, pool.site, message, remedy, **lost)]
    if not interrupted and not never:
        return []
    counts = {"interrupted": len(interrupted), "never_started": len(never)}
    if stopper is not None:
        name = _call(stopper)
        how, site = _STOPPERS[name], stopper.get("site")
        remedy = (
            "Wait for the tasks first: close() then join() (or read every result) before"
            f" {'the block ends' if name == 'with-exit' else 'stopping the pool'}."
        )
    else:
        how, site = "the exit-time finalizer (terminate())", pool.site
        close = pool.called("close")
        if close is not None and "join" not in shut:
            at = where(close.get("site")) or "an unknown line"
            how += f": close() at {at} was never followed by join()"
        missing = "join()" if close is not None else "close() and join()"
        remedy = f"Call {missing} before the program ends, so that the tasks can finish."
    message = f"{_label(pool)} was stopped with {_counted(counts)}, by {how}"
    return [_finding("lost-to-terminate", pool, site, message, remedy, **counts)]


def _counted(counts: dict[str, int]) -> str:
    return (
        f"{_plural(counts['interrupted'], 'task')} interrupted,"
        f" {counts['never_started']} never started"
    )


def _ended_by_stop(
    task: dict[str, Any], workers: dict[int, dict[str, Any]], start: float | None
) -> bool:
    """Whether an interrupted task ended with (not before) the pool being stopped: a worker
    killed earlier by someone else is another finding."""
    w = workers.get(task["worker"])
    if w is None or start is None or task["ended"] is None:
        return True
    return task["ended"] >= start


def _cancelled(pool: _Pool, tasks: list[dict[str, Any]]) -> Iterable[Finding]:
    """shutdown(cancel_futures=True): the futures it cancelled raise CancelledError when read."""
    shutdown = next(
        (c for c in pool.calls if c["kind"] == "shutdown.called" and c.get("cancel_futures")),
        None,
    )
    if shutdown is None:
        return []
    never = [t for t in tasks if t["status"] == "never_started"]
    if not never:
        return []
    read = sum(e.get("type") == "CancelledError" for e in pool.reads_raised)
    message = (
        f"shutdown(cancel_futures=True) cancelled {_plural(len(never), 'task')} of"
        f" {_label(pool)} that never ran"
        + (f"; {read} of them read afterwards raised CancelledError" if read else "")
    )
    remedy = (
        "Check future.cancelled() (or catch CancelledError) wherever a future is waited on,"
        " or shut down with cancel_futures=False to let queued tasks run."
    )
    counts = {"cancelled": len(never), "read": read}
    return [
        _finding("cancelled-futures-awaited", pool, shutdown.get("site"), message, remedy, **counts)
    ]


def _from_output(pools: dict[int, _Pool], output: list[dict[str, Any]]) -> Iterable[Finding]:
    """What the standard library wrote: a pool created at import time in a spawn or
    forkserver worker, fork() with other threads running, a task no worker could rebuild."""
    found: list[Finding] = []
    bootstrapping = sum(_BOOTSTRAPPING in line["text"] for line in output)
    first = next(iter(pools.values()), None)
    if bootstrapping:
        at_import = next(
            (p for p in pools.values() if p.site and p.site["function"] == "<module>"), first
        )
        message = (
            "a pool is created as the main module is imported: each spawn or forkserver worker"
            f" imports it again and fails ({_plural(bootstrapping, 'worker')} said so)"
        )
        remedy = "Create the pool under if __name__ == '__main__': (or in a function it calls)."
        site = at_import.site if at_import else None
        found.append(
            _finding("pool-at-import", at_import, site, message, remedy, workers=bootstrapping)
        )
    warned = [m for m in map(_FORK_WARNING.match, (line["text"] for line in output)) if m]
    if warned:
        # The warning names the line, not the function.
        site = {"file": warned[0]["file"], "line": int(warned[0]["line"]), "function": ""}
        message = (
            f"fork() was called while other threads ran ({_plural(len(warned), 'warning')}):"
            " a lock one of them held stays locked for ever in the child"
        )
        remedy = (
            "Start the pool before any thread, or use get_context('forkserver') or 'spawn'"
            f" (see {_COMPARE})."
        )
        found.append(
            _finding("fork-with-threads", None, site, message, remedy, warnings=len(warned))
        )
    unpicklable = [line["text"] for line in output if _UNPICKLABLE.search(line["text"])]
    if unpicklable:
        method = first.start_method if first else None
        message = (
            f"a worker started by {method or 'its'} start method could not find the task's"
            f" function ({_plural(len(unpicklable), 'line')}: {unpicklable[0].strip()[:200]})"
        )
        remedy = (
            "Define the task's function at module level of an importable module, and check"
            f" every start method with {_COMPARE}."
        )
        found.append(
            _finding(
                "start-method-dependent",
                first,
                first.site if first else None,
                message,
                remedy,
                lines=len(unpicklable),
            )
        )
    return found
