"""A private place for one run: a 0700 temporary directory for the event files, and reading
them back as input, not truth.

No file of a run may outlive it, however poolctl ends. Removing the directory in a
``finally`` covers every ending poolctl's own code sees; SIGKILL is the one it does not:
then the run's watchdog removes it (watchdog_main.py). So each directory is locked
(``flock``) by the poolctl that owns it for as long as the run lasts. The kernel drops the
lock when that process dies, however it dies, so a directory of the kind that nobody holds
is a leftover (the watchdog too was killed): the next run's ``private_dir`` removes it. The
lock, not a pid in the name, is the test: it holds across PID namespaces sharing a
``/tmp`` and cannot be fooled by a pid reused. Only this user's own directories, never a
symlink, and never one locked: a run under way is never touched.

The observed program can find the directory (its path is in the subject's command line)
and write there as the same user. So a file is read only if it is a regular file of ours
with one link, opened without following a symlink and without blocking (a FIFO would
block forever), up to a bounded size. What cannot be read is not an error: it becomes a
note (see ``note``), which ``events.parse`` counts into the document.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ObserveError
from . import signals

# The name of a run's directory: ``poolctl-run-`` and mkdtemp's random part. A name of its
# own, so that only directories made under this locking rule are ever swept.
PREFIX = "poolctl-run-"
_swept: set[str] = set()  # the temp directories already swept by this process
_sweeping = threading.Lock()

# Refuse to start a run with less free space than this where its event files go: each
# process of the run reserves 64 KiB at its first event (a full filesystem would make
# its stores a SIGBUS; the subject then stops recording, see channel.py).
MIN_FREE_BYTES = 1 << 20
# The most read of one file, and of all of them, and the most lines kept (each becomes a
# dict of a few hundred bytes): the rest is left unread and counted. A 10,000-task run
# writes about 5 MiB, 50,000 lines; the largest scenario run (100,000 tasks) ten times
# that.
MAX_FILE_BYTES = 64 << 20
MAX_TOTAL_BYTES = 256 << 20
MAX_LINES = 2_000_000
# The most event files read (one per process of the run).
MAX_FILES = 100_000
CHUNK_BYTES = 1 << 20

# A note begins with NUL, which no line read from a file can hold (a file is read up to
# its first NUL), so a note can never come from the run. Then its category, ":", reason.
NOTE = b"\0"
UNREAD = "unread"  # a file not read (or not read to its end): reason given
STOPPED = "stopped"  # a process could reserve no space at all (its file: full-<pid>)


def note(category: str, reason: str) -> bytes:
    """A line that tells ``events.parse`` something about the channel itself."""
    return NOTE + f"{category}:{reason}".encode()


def read_note(line: bytes) -> tuple[str, str] | None:
    """``(category, reason)`` of a note; None for a line read from a file."""
    if not line.startswith(NOTE):
        return None
    category, _, reason = line[1:].decode().partition(":")
    return category, reason


@contextmanager
def private_dir() -> Iterator[Path]:
    """Yield a fresh directory only this user can enter; remove it and its files after.

    ``mkdtemp`` creates a new directory with mode 0700, so nobody else can plant a file or
    a symlink where the subject writes its events; the subject also opens its files with
    ``O_EXCL | O_NOFOLLOW``. Leftovers of runs whose poolctl was killed go first. Raises
    ``ObserveError`` when the filesystem has too little free space for the run's event
    files (nothing is started).
    """
    directory = None
    lock = None
    try:
        # A Ctrl-C between creating and yielding it, or during its removal, must not
        # leave the directory behind: it waits until the step is done (see signals.py).
        with signals.deferred():
            sweep_once(tempfile.gettempdir())
            directory, lock = _claim()
        _require_space(Path(directory))
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
        # Another poolctl's sweep may find it in the instant before the lock is taken, and
        # remove it: before it is opened (then there is nothing to open) or after (then the
        # directory opened is not the one that is there). Either way, make another.
        try:
            lock = _open(directory)
        except FileNotFoundError:
            continue
        fcntl.flock(lock, fcntl.LOCK_EX)
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


def _require_space(directory: Path) -> None:
    """Refuse the run (one line, before anything starts) when the space is not there."""
    try:
        info = os.statvfs(directory)
    except OSError:
        return  # no answer: the subject's own reservation still protects the program
    free = info.f_bavail * info.f_frsize
    if free < MIN_FREE_BYTES:
        raise ObserveError(
            f"not enough free space for the event files in {directory.parent}: "
            f"{free // 1024} KiB free, {MIN_FREE_BYTES // 1024} KiB needed "
            "(set TMPDIR to a roomier place)"
        )


def read_events(directory: Path) -> list[bytes]:
    """Every complete event line the run's processes stored, file by file, and a note
    (``note``) for each file, or rest of a file, that was not read.

    A file is read up to its first NUL (the unused rest of the mapping). A last line with
    no newline is a store cut short by the process's death, and is left out.
    """
    lines: list[bytes] = []
    budget = MAX_TOTAL_BYTES
    room = MAX_LINES
    try:
        names = [e.name for e in os.scandir(directory)]
    except OSError as exc:
        return [note(UNREAD, f"the event directory: {_why(exc)}")]
    entries = sorted(name for name in names if name.startswith("events-"))
    # A process that could reserve no space renamed its empty file (see channel.py).
    full = [name for name in names if name.startswith("full-") and name[5:].isdigit()]
    lines.extend(note(STOPPED, "no space could be reserved for its events") for _ in full)
    for count, name in enumerate(entries):
        if count == MAX_FILES:
            lines.append(note(UNREAD, f"more than {MAX_FILES} files: the rest"))
            break
        if not name[len("events-") :].isdigit():
            lines.append(note(UNREAD, "a file not named events-<pid>"))
            continue
        if budget <= 0:
            lines.append(note(UNREAD, f"files past {MAX_TOTAL_BYTES >> 20} MiB in all"))
            continue
        data, problem = _read_file(directory / name, min(budget, MAX_FILE_BYTES))
        budget -= len(data)
        if problem is not None:
            lines.append(problem)
        complete = data[: data.rfind(b"\n") + 1]
        count = complete.count(b"\n")
        if count > room:  # split no more than the room left: a file of newlines is cheap
            lines.append(note(UNREAD, f"lines past {MAX_LINES} in all"))
            pieces = complete.split(b"\n", room)[:room]
        else:
            pieces = complete.split(b"\n")
        room -= min(count, room)
        lines.extend(line for line in pieces if line)
    return lines


def _read_file(path: Path, limit: int) -> tuple[bytes, bytes | None]:
    """The data of one event file up to its first NUL (at most ``limit`` bytes), and a
    note if it was refused, not read to its end, or empty."""
    try:
        # lstat first: opening a device file may itself do something.
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):
            return b"", note(UNREAD, _not_regular(mode))
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(path, flags)
    except OSError as exc:
        return b"", note(UNREAD, _why(exc))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # replaced between lstat and open
            return b"", note(UNREAD, _not_regular(info.st_mode))
        if info.st_uid != os.geteuid():
            return b"", note(UNREAD, "owned by another user")
        if info.st_nlink != 1:
            return b"", note(UNREAD, "a hard link to another file")
        if info.st_size == 0:  # killed before its first store: nothing was recorded
            return b"", None
        return _read_to_nul(fd, limit)
    except OSError as exc:
        return b"", note(UNREAD, _why(exc))
    finally:
        os.close(fd)


def _read_to_nul(fd: int, limit: int) -> tuple[bytes, bytes | None]:
    """Read ``fd`` in chunks up to its first NUL, its end, or ``limit`` bytes (a mapping
    is mostly NULs past its data: a huge sparse file costs one chunk)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = os.read(fd, min(CHUNK_BYTES, limit - size + 1))
        if not chunk:
            return b"".join(chunks), None
        end = chunk.find(b"\0")
        if end >= 0:
            chunks.append(chunk[:end])
            size += end
            if size > limit:
                break
            return b"".join(chunks), None
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    data = b"".join(chunks)[:limit]
    if limit < MAX_FILE_BYTES:
        return data, note(UNREAD, f"files past {MAX_TOTAL_BYTES >> 20} MiB in all")
    return data, note(UNREAD, f"the part of a file past {MAX_FILE_BYTES >> 20} MiB")


def _not_regular(mode: int) -> str:
    """What a file that is not a regular file is, as a reason."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a device or socket"


def _why(exc: OSError) -> str:
    """An OSError as a reason: its errno's name (ELOOP: a symbolic link)."""
    if exc.errno == errno.ELOOP:
        return "a symbolic link"
    name = errno.errorcode.get(exc.errno or 0, "error")
    return f"unreadable ({name})"
