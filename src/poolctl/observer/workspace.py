"""A private place for one run: a 0700 temporary directory for the event files.

No file of a run may outlive it, however poolctl ends. Removing the directory in a
``finally`` covers every ending poolctl's own code sees; SIGKILL is the one it does not.
So each directory is locked (``flock``) by the poolctl that owns it for as long as the run
lasts. The kernel drops the lock when that process dies, however it dies, so a directory of
the kind that nobody holds is a leftover: the next run's ``private_dir`` removes it. The
lock, not a pid in the name, is the test: it holds across PID namespaces sharing a
``/tmp`` and cannot be fooled by a pid reused. Only this user's own directories, never a
symlink, and never one locked: a run under way is never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import signals

# The name of a run's directory: ``poolctl-run-`` and mkdtemp's random part. A name of its
# own, so that only directories made under this locking rule are ever swept.
PREFIX = "poolctl-run-"
_swept: set[str] = set()  # the temp directories already swept by this process
_sweeping = threading.Lock()


@contextmanager
def private_dir() -> Iterator[Path]:
    """Yield a fresh directory only this user can enter; remove it and its files after.

    ``mkdtemp`` creates a new directory with mode 0700, so nobody else can plant a file or
    a symlink where the subject writes its events; the subject also opens its files with
    ``O_EXCL | O_NOFOLLOW``. Leftovers of runs whose poolctl was killed go first.
    """
    directory = None
    lock = None
    try:
        # A Ctrl-C between creating and yielding it, or during its removal, must not
        # leave the directory behind: it waits until the step is done (see signals.py).
        with signals.deferred():
            sweep_once(tempfile.gettempdir())
            directory, lock = _claim()
        yield Path(directory)
    finally:
        if directory is not None:
            with signals.deferred():
                shutil.rmtree(directory, ignore_errors=True)
        if lock is not None:
            os.close(lock)  # only now: a half-removed directory is still ours


def _claim() -> tuple[str, int]:
    """A new run directory and the descriptor that holds its lock."""
    while True:
        directory = tempfile.mkdtemp(prefix=PREFIX)
        lock = _open(directory)
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Another poolctl's sweep may have found it in the instant before the lock was
        # taken, and removed it: then it is not the directory that was made.
        with contextlib.suppress(OSError):
            if _same(os.fstat(lock), os.lstat(directory)):
                return directory, lock
        os.close(lock)


def sweep_once(temp: str) -> None:
    """``sweep(temp)``, the first time this process asks for ``temp`` only."""
    with _sweeping:
        if temp in _swept:
            return
        _swept.add(temp)
    sweep(temp)


def sweep(temp: str) -> list[str]:
    """Remove the run directories in ``temp`` that no live poolctl holds; their names."""
    removed = []
    try:
        entries = [e for e in os.scandir(temp) if e.name.startswith(PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        try:
            seen = entry.stat(follow_symlinks=False)
            if not entry.is_dir(follow_symlinks=False) or seen.st_uid != os.geteuid():
                continue
            lock = _open(entry.path)
        except OSError:
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held: its run is under way
            if _same(os.fstat(lock), seen):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.name)
        except OSError:
            pass
        finally:
            os.close(lock)
    return removed


def _open(directory: str) -> int:
    # Not inherited by the run's processes (Python's descriptors are close-on-exec), so the
    # lock dies with poolctl and only with it.
    return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def read_events(directory: Path) -> list[bytes]:
    """Every complete event line the run's processes stored, file by file.

    A file is read up to its first NUL (the unused rest of the mapping). A last line with
    no newline is a store cut short by the process's death, and is left out.
    """
    lines: list[bytes] = []
    for path in sorted(directory.glob("events-*")):
        data = path.read_bytes()
        end = data.find(b"\0")
        if end >= 0:
            data = data[:end]
        complete = data[: data.rfind(b"\n") + 1]
        lines.extend(line for line in complete.split(b"\n") if line)
    return lines
