"""Turn a raw observation into the run's events and output lines.

Subject events arrive as JSON lines with raw ``monotonic_ns`` stamps; here they get ``t``,
seconds since the observer launched the subject (the same clock for every process). The
observer's own facts (the main process's exit, the timeout, processes killed at clean-up)
become events too, so that the outcome is derived from events alone.

The channel is input, not truth: the observed program can write into its files. Every
event is checked against the published schema (``schema_check``); what is not an
event, and what could not be read at all, is dropped, counted, and reported in one
``channel.incomplete`` event, so that a view can say the run was incompletely observed.

Cost proportional to what is kept: the event files are read a batch at a time, and a
traced program's task events are kept for the first ``TASK_DETAIL`` tasks of each pool
(by task number, which follows submission); the rest are counted, per pool, in one
``tasks.counted`` event. A map of millions of items is a few counters, not gigabytes.
"""

from __future__ import annotations

import heapq
import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from . import limits, schema_check
from .observer import workspace
from .observer.observe import Observation
from .observer.output import LINE_BYTES, OUTPUT_BYTES, OUTPUT_LINES

ROLES = {"main", "child", "worker"}
STREAMS = {"stdout", "stderr"}
# The kinds only the observer makes: the channel may not claim them.
OBSERVER_KINDS = {
    "main.exited",
    "run.timeout",
    "run.interrupted",
    "cleanup.killed",
    "channel.incomplete",
    "interrupt.passed",
    "tasks.counted",
}
TASK_KINDS = {"task.submitted", "task.started", "task.finished", "task.failed"}
# The tasks of each pool whose events a traced program's document keeps (its first, by
# task number); the events of the rest are counted (``tasks.counted``). In ``limits``: the
# subject is told it before the run (its map items past it send a chunk's events at once).
TASK_DETAIL = limits.TASK_DETAIL
# What the subject writes when it could reserve no more space (see channel.py).
CHANNEL_FULL = "channel.full"
# The most distinct reasons a channel.incomplete event lists (the rest are counted).
MAX_REASONS = 20


def signal_name(exit_code: int | None) -> str | None:
    """``SIGTERM`` for exit code -15; None for a normal exit or an unknown code."""
    if exit_code is None or exit_code >= 0:
        return None
    try:
        return signal.Signals(-exit_code).name
    except ValueError:
        return f"signal {-exit_code}"


def _seconds(ns: int, t0: int) -> float:
    return round((ns - t0) / 1e9, 6)


def parse(
    obs: Observation, task_detail: int | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return ``(events, output)`` for ``obs``, both in time order.

    Lines that are not valid events are left out; a ``channel.incomplete`` event says how
    many, and why (with the files that could not be read, and processes that stopped
    recording for want of space). With ``task_detail``, the task events of each pool's
    first ``task_detail`` tasks are kept and the rest counted (``tasks.counted``).
    """
    events: list[dict[str, Any]] = []
    output: list[dict[str, Any]] = []
    pending: dict[tuple[int, str], _Pieces] = {}
    problems = _Problems()
    t0 = obs.t0_ns
    latest = time.monotonic_ns()  # no genuine event is stamped after it was read
    shape = schema_check.checker("run-1.schema.json", "event")
    detail = _TaskDetail(task_detail, t0) if task_detail is not None else None
    for raw in _decoded(obs, problems):
        if not _is_event(raw, t0, latest):
            problems.invalid("not an event (t, pid, role or kind)")
            continue
        kind = raw["kind"]
        if detail is not None and kind in TASK_KINDS:
            # Past the bound a task event is a count: only its task, pool and count are
            # used, so only they are checked (the whole check costs a few us an event).
            # A map chunk's event (with a count) is of items past the bound: counted.
            if not _countable(raw):
                problems.invalid(f"an invalid {kind} event")
                continue
            if "count" in raw or not detail.wanted(raw):
                detail.count(raw, raw["t"])  # t is still the raw stamp
                continue
        # In place: t arrives first, as a raw monotonic_ns stamp (50,000 events at 10,000
        # tasks: rebuilding each dict cost a third of a second).
        t = raw["t"] = round((raw["t"] - t0) / 1e9, 6)
        if kind == "output":
            if _is_output(raw):
                _add_output(raw, t, output, pending)
            else:
                problems.invalid("an invalid output event")
            continue
        if kind == CHANNEL_FULL:
            problems.stopped("out of space while recording")
            continue
        refused = _refused(raw, kind, shape)
        if refused is not None:
            problems.invalid(refused)
        elif detail is not None and kind in TASK_KINDS:
            detail.add(raw)
        else:
            events.append(raw)
    if detail is not None:
        events.extend(detail.kept())
        events.extend(detail.counted(obs.pid))
    output.extend(piece.line() for piece in pending.values())
    output.extend(_raw_lines(obs))
    events.extend(_observer_events(obs))
    events.extend(problems.events(obs))
    events.sort(key=lambda e: e["t"])
    output.sort(key=lambda o: o["t"])
    return events, _bounded(output, obs)


def _refused(raw: dict[str, Any], kind: str, shape: schema_check.Checker) -> str | None:
    """Why the channel's event ``raw`` (``t`` already in seconds) is dropped, or None: a
    kind only the observer makes, or a shape the published schema does not take. A worker's
    exit gets its ``signal`` here."""
    if kind in OBSERVER_KINDS:
        return "an observer's event sent by the run"
    if kind == "worker.exited" or kind == "worker.reaped":
        code = raw.get("exit_code")
        raw["signal"] = signal_name(code) if type(code) is int else None
    if shape.valid(raw):
        return None
    return f"an invalid {kind} event" if kind in shape.cases else "an unknown kind of event"


def checked(lines: list[bytes], t0_ns: int) -> list[dict[str, Any]]:
    """The events among ``lines``, read while the run goes on (``live.py``), checked as
    ``parse`` checks them, ``t`` in seconds since ``t0_ns``; output, notes and whatever
    ``parse`` would drop are left out (the final read counts them)."""
    latest = time.monotonic_ns()
    shape = schema_check.checker("run-1.schema.json", "event")
    found = []
    for raw in _decode_all(lines, _Problems()):
        if not _is_event(raw, t0_ns, latest) or raw["kind"] in ("output", CHANNEL_FULL):
            continue
        raw["t"] = round((raw["t"] - t0_ns) / 1e9, 6)
        if _refused(raw, raw["kind"], shape) is None:
            found.append(raw)
    return found


class _TaskDetail:
    """The task events of each pool's ``bound`` lowest task numbers, whatever order the
    files are read in (a max-heap of the numbers kept; a lower one evicts the highest),
    and per pool, how many events of each kind the other tasks had."""

    def __init__(self, bound: int, t0: int) -> None:
        self.bound = bound
        self.t0 = t0
        self.tasks: dict[Any, dict[int, list[dict[str, Any]]]] = {}  # pool → task → events
        self.highest: dict[Any, list[int]] = {}  # pool → its kept numbers, negated (a heap)
        self.beyond: dict[Any, Counter[str]] = {}  # pool → kind → events not kept
        self.last: dict[Any, int] = {}  # pool → the latest event not kept (monotonic_ns)

    def wanted(self, event: dict[str, Any]) -> bool:
        """Whether ``event``'s task is among the lowest of its pool seen so far."""
        pool = event.get("pool", 1)
        kept = self.tasks.get(pool)
        if kept is None or len(kept) < self.bound or event["task"] in kept:
            return True
        return bool(event["task"] < -self.highest[pool][0])

    def add(self, event: dict[str, Any]) -> None:
        """Keep ``event`` with its task's (a ``wanted`` one), evicting the highest task
        kept when the pool has its ``bound`` already."""
        pool = event.get("pool", 1)
        task = event["task"]
        kept = self.tasks.get(pool)
        if kept is None:
            kept = self.tasks[pool] = {}
            self.highest[pool] = []
        mine = kept.get(task)
        if mine is not None:
            mine.append(event)
        elif len(kept) < self.bound:
            kept[task] = [event]
            heapq.heappush(self.highest[pool], -task)
        else:
            evicted = -heapq.heapreplace(self.highest[pool], -task)
            for old in kept.pop(evicted):
                self.count(old, self.t0 + round(old["t"] * 1e9))
            kept[task] = [event]

    def count(self, event: dict[str, Any], ns: int) -> None:
        """Count ``event``, of a task not kept (or a map chunk's, of ``count`` items),
        stamped ``ns``."""
        pool = event.get("pool", 1)
        counts = self.beyond.get(pool)
        if counts is None:
            counts = self.beyond[pool] = Counter()
        kind = event["kind"]
        items = event.get("count", 1)
        if kind == "task.failed" and items > 1:
            # Its item raised after ``finished`` of the chunk's: those finished, the ones
            # after it never started (its task.started counted them all).
            finished = event.get("finished", 0)
            counts["task.failed"] += 1
            counts["task.finished"] += finished
            counts["task.started"] -= items - finished - 1
        else:
            counts[kind] += items
        if ns > self.last.get(pool, 0):
            self.last[pool] = ns

    def kept(self) -> Iterator[dict[str, Any]]:
        """The events of the tasks kept."""
        for kept in self.tasks.values():
            for events in kept.values():
                yield from events

    def counted(self, pid: int) -> list[dict[str, Any]]:
        """One ``tasks.counted`` event per pool whose tasks were not all kept."""
        return [
            {
                "t": _seconds(self.last[pool], self.t0),
                "pid": pid,
                "role": "observer",
                "kind": "tasks.counted",
                "pool": pool,
                "bound": self.bound,
                # Never below 0, whatever a run sent (a chunk's failure without its start).
                **{kind.partition(".")[2]: max(0, counts[kind]) for kind in sorted(TASK_KINDS)},
            }
            for pool, counts in self.beyond.items()
        ]


def _countable(raw: dict[str, Any]) -> bool:
    """A task event's task number, pool and count (a map chunk's items; on its
    ``task.failed``, how many finished before), all a count of it uses, as the schema has
    them."""
    task = raw.get("task")
    pool = raw.get("pool")
    if type(task) is not int or task < 0:
        return False
    if pool is not None and (type(pool) is not int or pool < 1):
        return False
    if "count" not in raw:
        return True
    items = raw["count"]
    finished = raw.get("finished", 0)
    return type(items) is int and items >= 1 and type(finished) is int and 0 <= finished < items


def _decoded(obs: Observation, problems: _Problems) -> Iterator[Any]:
    """The lines of ``obs``, decoded a batch at a time (the event files are closed once
    read, or when this is abandoned)."""
    if obs.event_lines:
        yield from _decode_all(obs.event_lines, problems)
    if obs.event_files is not None:
        with obs.event_files as files:
            for batch in files.batches():
                yield from _decode_all(batch, problems)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: json.loads takes them


def _decode_all(lines: list[bytes], problems: _Problems) -> list[Any]:
    """Decode every line at once (one C-level parse: 10,000 tasks make 50,000 events);
    line by line only when something is wrong, dropping (and counting) what is not JSON.
    Notes from the reader (see workspace.note) are counted here."""
    notes = [line for line in lines if line.startswith(workspace.NOTE)]
    if notes:
        lines = [line for line in lines if not line.startswith(workspace.NOTE)]
        for line in notes:
            category, reason = workspace.read_note(line) or ("", "")
            if category == workspace.STOPPED:
                problems.stopped(reason)
            else:
                problems.unread(reason)
    try:
        raws = json.loads(b"[" + b",".join(lines) + b"]", parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raws = None
    if type(raws) is list and len(raws) == len(lines):
        return raws
    decoded = []
    for line in lines:
        try:
            decoded.append(json.loads(line, parse_constant=_reject_constant))
        except (ValueError, RecursionError):
            problems.invalid("not JSON")
    return decoded


def _is_event(raw: Any, t0: int, latest: int) -> bool:
    """The fields every line has, of the right types (``t`` between launch and now)."""
    return (
        type(raw) is dict
        and type(raw.get("t")) is int
        and t0 <= raw["t"] <= latest
        and type(raw.get("pid")) is int
        and raw["pid"] >= 1
        and raw.get("role") in ROLES
        and type(raw.get("kind")) is str
    )


class _Pieces:
    """A line recorded in pieces (a partial line is sent when the program flushes it),
    joined once at its end: linear in its length, and keeping at most ``LINE_BYTES``."""

    def __init__(self, head: dict[str, Any]) -> None:
        self.head = head
        self.parts: list[str] = []
        self.size = 0
        self.cut = 0

    def add(self, text: str, cut: int) -> None:
        self.cut += cut
        room = LINE_BYTES - self.size
        if room <= 0:
            self.cut += len(text.encode(errors="surrogatepass"))
            return
        data = text.encode(errors="surrogatepass")
        if len(data) > room:
            self.cut += len(data) - room
            text = data[:room].decode(errors="ignore")
        self.parts.append(text)
        self.size += min(len(data), room)

    def line(self) -> dict[str, Any]:
        line = self.head
        line["text"] = "".join(self.parts)
        if self.cut:
            line["cut"] = self.cut
        return line


def _is_output(raw: dict[str, Any]) -> bool:
    """An output event: a piece of a line of one stream (``thread``: a worker thread)."""
    return (
        type(raw.get("text")) is str
        and raw.get("stream", "stdout") in STREAMS
        and type(raw.get("eol", True)) is bool
        and type(raw.get("thread", 0)) is int
    )


class _Problems:
    """What could not be read from the channel or was not an event, counted by reason."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()
        self.unread_files = 0
        self.invalid_lines = 0
        self.stopped_processes = 0

    def unread(self, reason: str) -> None:
        self.unread_files += 1
        self.reasons[reason] += 1

    def invalid(self, reason: str) -> None:
        self.invalid_lines += 1
        self.reasons[reason] += 1

    def stopped(self, reason: str) -> None:
        self.stopped_processes += 1
        self.reasons[reason] += 1

    def events(self, obs: Observation) -> list[dict[str, Any]]:
        """One ``channel.incomplete`` event when anything was wrong, else none."""
        if not self.reasons:
            return []
        ns = max(n for n in (obs.t0_ns, obs.exit_ns, obs.leftovers_ns) if n is not None)
        listed = self.reasons.most_common(MAX_REASONS)
        return [
            {
                "t": _seconds(ns, obs.t0_ns),
                "pid": obs.pid,
                "role": "observer",
                "kind": "channel.incomplete",
                "unread_files": self.unread_files,
                "invalid_lines": self.invalid_lines,
                "stopped_processes": self.stopped_processes,
                "reasons": [{"reason": r, "count": n} for r, n in listed],
            }
        ]


def _add_output(
    raw: dict[str, Any],
    t: float,
    output: list[dict[str, Any]],
    pending: dict[tuple[int, str], _Pieces],
) -> None:
    """Join the pieces of a long line; a line counts from the time of its first piece."""
    key = (raw.get("thread") or raw["pid"], raw.get("stream", "stdout"))
    line = pending.pop(key, None)
    if line is None:
        line = _Pieces({"t": t, "pid": raw["pid"], "stream": key[1], "text": ""})
    if raw.get("thread"):
        line.head["thread"] = raw["thread"]  # printed by a ThreadPool worker thread
    cut = raw.get("cut", 0)
    line.add(str(raw.get("text", "")), cut if isinstance(cut, int) and cut > 0 else 0)
    if raw.get("eol", True):
        output.append(line.line())
    else:
        pending[key] = line


def _raw_lines(obs: Observation) -> list[dict[str, Any]]:
    """Output that bypassed the recorders (a traced program's, C-level writes, crashes):
    no known process. Lines were cut and bounded as they arrived (observer/output.py)."""
    lines: list[dict[str, Any]] = []
    for raw in obs.raw_output.lines:
        line: dict[str, Any] = {
            "t": _seconds(raw.ns, obs.t0_ns),
            "pid": None,
            "stream": raw.stream,
            "text": raw.data.decode(errors="replace"),
        }
        if raw.cut:
            line["cut"] = raw.cut
        lines.append(line)
    return lines


def _bounded(output: list[dict[str, Any]], obs: Observation) -> list[dict[str, Any]]:
    """The first ``OUTPUT_LINES`` lines and ``OUTPUT_BYTES`` characters of ``output``; what is
    left out is counted on a last entry with ``omitted``, which has no text of its own."""
    lines = obs.raw_output.omitted_lines
    size = obs.raw_output.omitted_bytes
    kept = 0
    for n, line in enumerate(output):
        kept += len(line["text"])
        if n >= OUTPUT_LINES or kept > OUTPUT_BYTES:
            lines += len(output) - n
            size += sum(len(o["text"].encode(errors="surrogatepass")) for o in output[n:])
            del output[n:]
            break
    if lines:
        t = output[-1]["t"] if output else 0.0
        output.append(
            {
                "t": t,
                "pid": None,
                "stream": "stdout",
                "text": "",
                "omitted": {"lines": lines, "bytes": size},
            }
        )
    return output


def _observer_events(obs: Observation) -> list[dict[str, Any]]:
    """What the observer itself saw, as events with role ``observer``."""
    found: list[dict[str, Any]] = []
    if obs.interrupted_ns is not None:
        found.append(
            {
                "t": _seconds(obs.interrupted_ns, obs.t0_ns),
                "pid": obs.pid,
                "role": "observer",
                "kind": "interrupt.passed",
                "signal": "SIGINT",
            }
        )
    if obs.timeout_ns is not None:
        found.append(
            {
                "t": _seconds(obs.timeout_ns, obs.t0_ns),
                "pid": obs.pid,
                "role": "observer",
                "kind": "run.timeout",
            }
        )
    if obs.stopped_ns is not None:
        found.append(
            {
                "t": _seconds(obs.stopped_ns, obs.t0_ns),
                "pid": obs.pid,
                "role": "observer",
                "kind": "run.interrupted",
                "signal": obs.stopped_by,
            }
        )
    if obs.exit_ns is not None:
        found.append(
            {
                "t": _seconds(obs.exit_ns, obs.t0_ns),
                "pid": obs.pid,
                "role": "main",
                "kind": "main.exited",
                "exit_code": obs.exit_code,
                "signal": signal_name(obs.exit_code),
                "killed_by_poolctl": obs.hung or obs.stopped_ns is not None,
            }
        )
    if obs.leftovers:
        killed = obs.leftovers_ns or obs.exit_ns or obs.t0_ns
        found.append(
            {
                "t": _seconds(killed, obs.t0_ns),
                "pid": obs.pid,
                "role": "observer",
                "kind": "cleanup.killed",
                "processes": [{"pid": p.pid, "command": p.command} for p in obs.leftovers],
            }
        )
    return found
