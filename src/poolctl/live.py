"""What a run is doing while it goes on, for the status line (``render/status_line``).

Its event files are read as they grow (``observer/tail``), each line checked as the final
read checks it (``events.checked``), and kept as a small state: the call the main process
is in now (its latest ``<call>.called`` without its ``.returned`` or ``error.raised``, or
a read waiting for a result, ``result.waiting`` without its ``result.waited``),
and the events that matter as they happen (``Notable``: a worker killed by a signal, with
the task it was running; a task that raised; a Pool stopped at once; a call that raised).
The words are the findings' and the views' (``findings.where``, ``findings.stopped_by``,
``steps``, ``pool_kinds``). Nothing here is the record: the document comes from the final
read, whatever was seen live. Every text in a ``Notable`` or ``InCall`` comes from the
run: a terminal shows it through ``printable``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from . import events as events_mod
from . import pool_kinds
from .findings import stopped_by, where
from .observer.observe import Observed
from .observer.tail import Tail
from .steps import STEPS

# A worker's death waits this long for its own file to be read (its last task.started),
# when a tick could not read every file to its end.
SETTLE_SECONDS = 0.5
# The most notable events told; then one line says the rest is in the report.
MAX_NOTABLE = 12
# How an open call that is a read waiting for a result is named (then its ``via``).
_WAITING = "result.waiting:"
# The most of an exception's message told.
MESSAGE_CHARS = 100


@dataclass(frozen=True)
class Notable:
    """An event that matters, as it happened: when, what kind, and in words."""

    t: float
    kind: str  # worker-killed, worker-exited, task-failed, pool-stopped, call-raised, more
    message: str


@dataclass(frozen=True)
class InCall:
    """The call the main process is in: ``join()``, its pool, since when, where."""

    call: str
    pool: str  # "Pool 1"; "" for a call on no pool (sleep)
    since: float
    site: str  # "hang.py:15", "show --code line 33"; "" when unknown


@dataclass
class _Worker:
    pool: int = 1
    running: int | None = None  # the task it started and has not ended


@dataclass
class _State:
    pools: dict[int, str] = field(default_factory=dict)  # pool → its api
    stopped: set[int] = field(default_factory=set)  # pools stopped at once by a call
    workers: dict[int, _Worker] = field(default_factory=dict)
    calls: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # open calls
    finished: float | None = None  # when the program's own code ended (main.finished)


class Follow:
    """A run followed from its ``Observed``: ``poll`` reads what was stored since the last
    call (bounded: see ``observer/tail``) and returns the notable events among it."""

    def __init__(self, observed: Observed) -> None:
        self.observed = observed
        self.tail = Tail(observed.directory, observed.pid)
        self.state = _State()
        self.told = 0
        self._deaths: list[tuple[dict[str, Any], int]] = []  # (worker.exited, seen at ns)

    def elapsed(self) -> float:
        """Seconds since the run started, on its events' clock."""
        return (time.monotonic_ns() - self.observed.t0_ns) / 1e9

    def poll(self) -> list[Notable]:
        """Read on; the notable events since the last call, in time order."""
        lines, caught_up = self.tail.read()
        found = events_mod.checked(lines, self.observed.t0_ns) if lines else []
        found.sort(key=lambda e: e["t"])
        notable: list[Notable] = []
        for e in found:
            notable += self._take(e)
        now = time.monotonic_ns()
        waiting = []
        for death, seen in self._deaths:
            if caught_up or now - seen >= SETTLE_SECONDS * 1e9:
                notable += self._death(death)
            else:
                waiting.append((death, seen))
        self._deaths = waiting
        notable.sort(key=lambda n: n.t)
        return self._bounded(notable)

    def in_call(self) -> InCall | None:
        """The call the main process is in now, if any (the innermost)."""
        if not self.state.calls:
            return None
        name, pool, called = self.state.calls[-1]
        if name.startswith(_WAITING):  # a read that waits: get(), map(), next() ...
            via = name[len(_WAITING) :]
            return InCall(f"{via}()", self._pool(pool), called["t"], _site(called.get("site")))
        if name == "sleep":
            return InCall(f"sleep({called.get('seconds', '')})", "", called["t"], "")
        return InCall(_words(name), self._pool(pool), called["t"], _site(called.get("site")))

    def exiting_since(self) -> float | None:
        """When the program's own code ended, if it did (its exit handlers run since)."""
        return self.state.finished

    def close(self) -> None:
        """Let go of the run's files."""
        self.tail.close()

    def _take(self, e: dict[str, Any]) -> list[Notable]:
        """Update the state with ``e``; what it tells at once."""
        state = self.state
        kind = e["kind"]
        pool = e.get("pool")
        pool = pool if isinstance(pool, int) else 1
        name, _, phase = kind.partition(".")
        main = e["role"] == "main" and e["pid"] == self.observed.pid
        if kind in ("pool.creating", "pool.created"):
            state.pools[pool] = e.get("api") or state.pools.get(pool, "")
        elif kind == "task.started":
            state.workers.setdefault(e["worker"], _Worker(pool)).running = e["task"]
        elif kind in ("task.finished", "task.failed"):
            worker = state.workers.get(e["worker"])
            if worker is not None and worker.running == e["task"]:
                worker.running = None
            if kind == "task.failed":
                said = _said(e.get("type"), e.get("message"))
                text = f"task {e['task']} of {self._pool(pool)} raised {said}"
                return [Notable(e["t"], "task-failed", text)]
        elif kind in ("worker.spawned", "worker.started"):
            state.workers.setdefault(e["worker"], _Worker(pool)).pool = pool
        elif kind == "worker.exited" and not e.get("thread") and e.get("exit_code"):
            self._deaths.append((e, time.monotonic_ns()))
        elif kind == "main.finished" and main:
            state.finished = e["t"]
        elif main and kind == "result.waiting":
            state.calls.append((_WAITING + str(e["via"]), pool, e))
        elif main and kind == "result.waited":
            self._close_call(lambda n, p: n == _WAITING + str(e["via"]) and p == pool)
        elif main and name in STEPS and phase == "called":
            state.calls.append((name, pool, e))
            return self._stopping(name, pool, e)
        elif main and name in STEPS and phase == "returned":
            self._close_call(lambda n, p: n == name and p == pool)
        elif main and kind == "error.raised":
            step = e.get("step")
            self._close_call(lambda n, p: n == step)
            if step in STEPS:
                said = _said(e.get("type"), e.get("message"))
                text = f"{_words(step)} of {self._pool(pool)} raised {said}"
                return [Notable(e["t"], "call-raised", text)]
        return []

    def _close_call(self, matches: Any) -> None:
        calls = self.state.calls
        for n in range(len(calls) - 1, -1, -1):
            if matches(calls[n][0], calls[n][1]):
                del calls[n]
                return

    def _stopping(self, name: str, pool: int, called: dict[str, Any]) -> list[Notable]:
        """A call that stops the pool's workers at once (as the findings name them): told;
        the workers it kills are its doing, not told one by one."""
        how = stopped_by(name)
        kind = pool_kinds.kind(self.state.pools.get(pool))
        if how is None or (name == "with-exit" and (kind is None or "close" not in kind.steps)):
            return []  # an executor's with-block waits for its tasks
        self.state.stopped.add(pool)
        site = _site(called.get("site"))
        text = f"{self._pool(pool)} stopped by {how}" + (f" at {site}" if site else "")
        return [Notable(called["t"], "pool-stopped", text)]

    def _death(self, e: dict[str, Any]) -> list[Notable]:
        """A worker that ended by a signal or a failing status, with the task it ran."""
        worker = self.state.workers.get(e["worker"], _Worker())
        pool = e.get("pool")
        pool = pool if isinstance(pool, int) else worker.pool
        task = worker.running
        # Its pool's stop, or the exit-time finalizer ending idle workers: expected.
        if pool in self.state.stopped or (self.state.finished is not None and task is None):
            return []
        code = e["exit_code"]
        how = f"killed by {e['signal']}" if e.get("signal") else f"exited with status {code}"
        doing = f"while running task {task}" if task is not None else "while waiting for a task"
        kind = "worker-killed" if e.get("signal") else "worker-exited"
        text = f"worker {e['worker']} of {self._pool(pool)} {how} {doing}"
        return [Notable(e["t"], kind, text)]

    def _bounded(self, notable: list[Notable]) -> list[Notable]:
        """At most ``MAX_NOTABLE`` in all, then one saying the report has the rest."""
        room = MAX_NOTABLE - self.told
        if room <= 0 or not notable:
            return []
        if len(notable) >= room:
            more = Notable(notable[room - 1].t, "more", "more events: the report has them all")
            notable = [*notable[: room - 1], more]
        self.told += len(notable)
        return notable

    def _pool(self, pool: int) -> str:
        return pool_kinds.name(self.state.pools.get(pool), pool)


def _words(step: str) -> str:
    """A call as the views name it: ``join()``, ``with-block exit``, ``kill a worker``."""
    words = STEPS[step].legend
    return f"{words}()" if words.isidentifier() else words


def _site(site: dict[str, Any] | None) -> str:
    """Where a call was made, short: its file's name (not its folders) and line."""
    if not site:
        return ""
    file = str(site["file"])
    if not file.startswith("<"):  # '<poolctl show NAME --code>': where() says so
        file = PurePath(file).name
    return where({**site, "file": file, "function": "<module>"})


def _said(kind: Any, message: Any) -> str:
    """An exception in a few words: its type, and the start of its message."""
    text = str(message or "")
    if len(text) > MESSAGE_CHARS:
        text = text[: MESSAGE_CHARS - 1] + "…"
    return f"{kind}: {text}" if text else str(kind)
