"""Find, wait for, kill and reap every process of a subject's process group.

The subject runs in a session of its own, so its pid is its process group id and every
process it starts (workers, the resource tracker, the fork server) shares that group.
poolctl makes itself a child subreaper (Linux), so processes orphaned by the subject's exit
become poolctl's children: it can wait for them and reap them instead of leaving zombies
to an init that may not reap.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36
_subreaper = False


def become_subreaper() -> None:
    """Make this process the reaper of its orphaned descendants (Linux only; once)."""
    global _subreaper
    if _subreaper or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        _subreaper = False


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
