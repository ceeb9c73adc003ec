"""multiprocessing's temporary directories (``pymp-*``) of a run that poolctl kills.

multiprocessing makes a ``pymp-*`` directory in the temp directory for its Unix sockets
(the fork server's listener, a manager's address) and removes it at exit. A run that
poolctl kills (at ``--timeout``, on Ctrl-C) never reaches that exit, so poolctl removes it
instead, exactly those of the run: just before the kill, the directories of the sockets the
run's processes have bound are noted (``/proc/<pid>/fd`` → ``/proc/net/unix``), and once
every process is gone they are removed. A scenario's subject keeps its ``TMPDIR`` in the
run's private directory anyway; this is for a traced program, whose ``TMPDIR`` is its own.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

PREFIX = "pymp-"  # multiprocessing.util.get_temp_dir's


def socket_dirs(pids: Iterable[int]) -> set[str]:
    """The ``pymp-*`` directories holding a Unix socket that one of ``pids`` has open."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or not ours
            continue
        for fd in fds:
            try:
                link = str(Path(f"/proc/{pid}/fd/{fd}").readlink())
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[len("socket:[") : -1])
    if not inodes:
        return set()
    found = set()
    try:
        table = Path("/proc/net/unix").read_text(errors="replace").splitlines()[1:]
    except OSError:
        return set()
    for line in table:
        # Num RefCount Protocol Flags Type St Inode Path
        fields = line.split(None, 7)
        if len(fields) == 8 and fields[6] in inodes:
            parent = Path(fields[7]).parent
            if parent.name.startswith(PREFIX):
                found.add(str(parent))
    return found


def remove(directories: Iterable[str]) -> None:
    """Remove each of ``directories`` that is still a real directory of this user's."""
    for directory in directories:
        try:
            seen = os.lstat(directory)
        except OSError:
            continue
        if stat.S_ISDIR(seen.st_mode) and seen.st_uid == os.geteuid():  # lstat: no symlink
            shutil.rmtree(directory, ignore_errors=True)
