"""Find, wait for, kill and reap every process of a subject's process group.

The subject runs in a session of its own, so its pid is its process group id and every
process it starts (workers, the resource tracker, the fork server) shares that group.
While a run is under way poolctl is a child subreaper (Linux), so processes orphaned by
the subject's exit become poolctl's children: it can wait for them and reap them instead
of leaving zombies to an init that may not reap. When the last run under way ends, the
setting goes back to what it was: a program that calls poolctl is left as it was found.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
# Runs under way in this process (compare runs several at once, one per thread), and the
# setting found when the first of them began: put back when the last one ends.
_lock = threading.Lock()
_runs = 0
_found: int | None = None


@contextlib.contextmanager
def subreaper() -> Iterator[None]:
    """Be the reaper of orphaned descendants while the block runs (Linux only).

    Blocks may overlap, from any threads: the process is a subreaper while any of them
    runs, and gets back its previous setting when the last one ends.
    """
    global _runs, _found
    with _lock:
        if _runs == 0:
            _found = _get_subreaper()
            if _found == 0:
                _set_subreaper(1)
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0 and _found == 0:
                _set_subreaper(0)


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, where there is one."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _get_subreaper() -> int | None:
    """This process's child-subreaper setting (0 or 1); None where it cannot be read."""
    prctl = _prctl()
    if prctl is None:
        return None
    import ctypes

    value = ctypes.c_int(0)
    if prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0) != 0:
        return None
    return value.value


def _set_subreaper(value: int) -> None:
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_CHILD_SUBREAPER, value, 0, 0, 0)


@dataclass(frozen=True)
class Member:
    """A live process of a group."""

    pid: int
    ppid: int
    zombie: bool

    @property
    def command(self) -> str:
        """The process's command line, for reports ('' once it is gone)."""
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            return ""


def members(pgid: int) -> list[Member]:
    """Processes in group ``pgid``, zombies included (from /proc where there is one)."""
    if not Path("/proc/self").is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [Member(pgid, os.getpid(), zombie=False)]
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the command, which is in parentheses and may contain anything.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[2]) == pgid:
            found.append(Member(int(name), int(fields[1]), zombie=fields[0] == b"Z"))
    return found


def reap(group: list[Member], skip: Collection[int] = ()) -> list[Member]:
    """Reap the group's zombies that are our children; return the processes still there.

    ``skip``: processes whose ``Popen`` objects reap them (the subject, the watchdog).
    """
    alive = []
    me = os.getpid()
    for member in group:
        if member.zombie and member.ppid == me and member.pid not in skip:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(member.pid, os.WNOHANG)
            continue
        if member.zombie and member.ppid != me:
            continue  # dead; someone else's to reap
        alive.append(member)
    return alive


def kill(pgid: int) -> None:
    """SIGKILL every process of the group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
