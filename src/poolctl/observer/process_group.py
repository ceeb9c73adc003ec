"""Find every process of a run, and poolctl's own child-subreaper setting.

A run's processes are its watchdog's descendants (see watchdog.py), found through the
parent links in /proc whatever process group or session they moved to. While a run is
under way poolctl is a child subreaper too (Linux): should the watchdog itself be killed,
what it leaves becomes poolctl's, not init's. When the last run under way ends, the
setting goes back to what it was: a program that calls poolctl is left as it was found.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
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
def prctl() -> Callable[..., int] | None:
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
    libc_prctl = prctl()
    if libc_prctl is None:
        return None
    import ctypes

    value = ctypes.c_int(0)
    if libc_prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0) != 0:
        return None
    return value.value


def _set_subreaper(value: int) -> None:
    libc_prctl = prctl()
    if libc_prctl is not None:
        libc_prctl(_PR_SET_CHILD_SUBREAPER, value, 0, 0, 0)


@dataclass(frozen=True)
class Member:
    """A live process of a run."""

    pid: int
    ppid: int

    @property
    def command(self) -> str:
        """The process's command line, for reports ('' once it is gone)."""
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            return ""


def descendants(root: int) -> list[Member]:
    """Live descendants of ``root`` (zombies left out: dead, their parent reaps them).

    Found through the parent links in /proc: a process that left the run's process group
    or session is still found. Where there is no /proc, the group led by a child of
    ``root`` is all that can be seen (see watchdog_main.py, which kills it too).
    """
    if not Path("/proc/self").is_dir():
        return []
    children: dict[int, list[Member]] = {}
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
        if fields[0] != b"Z":
            member = Member(int(name), int(fields[1]))
            children.setdefault(member.ppid, []).append(member)
    found: list[Member] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child.pid)
    return found


def kill_pid(pid: int) -> None:
    """SIGKILL one process, if it is still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
