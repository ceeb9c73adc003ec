"""A private place for one run: a 0700 temporary directory for the event files, and reading
them back as input, not truth.

No file of a run may outlive it, however poolctl ends. Removing the directory in a
``finally`` covers every ending poolctl's own code sees; SIGKILL is the one it does not:
then the run's watchdog removes it (watchdog_main.py). So each directory is locked
(``flock``) by the poolctl that owns it for as long as the run lasts. The kernel drops the
lock when that process dies, however it dies, so a directory of the kind that nobody holds
is a leftover (the watchdog too was killed): the next run's ``private_dir`` removes it. The
lock is the test: it holds across PID namespaces sharing a ``/tmp`` and cannot be fooled by
a pid reused. Only this user's own directories, never a symlink, and never one locked: a
run under way is never touched. A second safety, for the instant between ``mkdtemp`` and
the lock (when another poolctl's sweep would find the new directory unlocked): the name
holds its poolctl's pid, and a directory whose poolctl is alive is never swept either. A
pid reused or seen from another PID namespace only keeps a leftover a while longer; the
new run retries should its directory be swept all the same.

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

# The name of a run's directory: ``poolctl-run-``, its poolctl's pid, "-", and mkdtemp's
# random part. A name of its own, so that only directories made under this locking rule
# are ever swept.
PREFIX = "poolctl-run-"
_swept: set[str] = set()  # the temp directories already swept by this process
_sweeping = threading.Lock()

# Refuse to start a run with less free space than this where its event files go: each
# process of the run reserves 64 KiB at its first event (a full filesystem would make
# its stores a SIGBUS; the subject then stops recording, see channel.py).
MIN_FREE_BYTES = 1 << 20
# The most read of one file, and of all of them, and the most lines read: the rest is
# left unread and counted. Files are read a batch at a time and what is kept of their
# lines is bounded by the parser (events.parse), so these bound the time spent reading,
# not memory: a 10,000-task run writes about 5 MiB, 50,000 lines; a traced map of 2.2
# million items, three events each, about 600 MiB.
MAX_FILE_BYTES = 1 << 30
MAX_TOTAL_BYTES = 2 << 30
MAX_LINES = 25_000_000
# The most event files read (one per process of the run), and the most kept open to be
# read after the directory is gone (the rest, usually small, are read at once).
MAX_FILES = 100_000
MAX_OPEN = 256
CHUNK_BYTES = 1 << 20
# The most kept of one line while looking for its end (the longest event is far shorter).
LONGEST_LINE = 16 << 20

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
        directory = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
        # A sweep that does not see this pid alive (another PID namespace's) may find the
        # directory in the instant before the lock is taken, and remove it: before it is
        # opened (then it is not there), or while this waits for the lock (then it is not
        # the directory that was made). Either way: another one.
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
        if _owner_alive(entry.name):
            continue
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


def _owner_alive(name: str) -> bool:
    """Whether the poolctl whose pid the directory's name holds is alive (False for a name
    without one: the lock alone decides). A zombie, or another user's process with that
    pid, counts as alive: a leftover kept a while is no harm, a run's directory removed
    is."""
    pid, dash, _ = name[len(PREFIX) :].partition("-")
    if not dash or not (pid.isascii() and pid.isdigit()) or int(pid) == 0:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: no pid is that large
        return False
    except OSError:  # EPERM: alive, another user's; anything else: not known to be dead
        return True
    return True


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
    (``note``) for each file, or rest of a file, that was not read (all in memory: see
    ``open_events`` for the same, a batch at a time)."""
    with open_events(directory) as files:
        return [line for batch in files.batches() for line in batch]


def open_events(directory: Path) -> EventFiles:
    """The run's event files, checked and opened while ``directory`` exists, to be read a
    batch at a time (``EventFiles.batches``) after it is gone.

    A file is read up to its first NUL (the unused rest of the mapping). A last line with
    no newline is a store cut short by the process's death, and is left out.
    """
    files = EventFiles()
    try:
        names = [e.name for e in os.scandir(directory)]
    except OSError as exc:
        files.sources.append(note(UNREAD, f"the event directory: {_why(exc)}"))
        return files
    entries = sorted(name for name in names if name.startswith("events-"))
    # A process that could reserve no space renamed its empty file (see channel.py).
    full = [name for name in names if name.startswith("full-") and name[5:].isdigit()]
    files.sources.extend(note(STOPPED, "no space could be reserved for its events") for _ in full)
    for count, name in enumerate(entries):
        if count == MAX_FILES:
            files.sources.append(note(UNREAD, f"more than {MAX_FILES} files: the rest"))
            break
        if not name[len("events-") :].isdigit():
            files.sources.append(note(UNREAD, "a file not named events-<pid>"))
            continue
        files.sources.append(_open_file(directory / name, keep=files.opened < MAX_OPEN))
        files.opened += isinstance(files.sources[-1], int)
    return files


class EventFiles:
    """The event files of a run, opened: each a descriptor still to read (it outlives the
    directory's removal), its data already read (past ``MAX_OPEN`` files), or a note.

    Read a batch of lines at a time, so that millions of events never sit in memory as
    lines at once: what is kept of them is the parser's choice (``events.parse``).
    """

    def __init__(self) -> None:
        self.sources: list[int | bytes] = []
        self.opened = 0

    def __enter__(self) -> EventFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the descriptors not read yet."""
        for source in self.sources:
            if isinstance(source, int):
                os.close(source)
        self.sources = []

    def batches(self) -> Iterator[list[bytes]]:
        """Lists of complete lines (notes included, each where it arose), each from at most
        ``CHUNK_BYTES`` of one file, within ``MAX_FILE_BYTES``, ``MAX_TOTAL_BYTES`` and
        ``MAX_LINES``; the descriptors are closed as they are read."""
        budget = MAX_TOTAL_BYTES
        room = MAX_LINES
        sources, self.sources = self.sources, []
        try:
            for n, source in enumerate(sources):
                if isinstance(source, bytes) and source.startswith(NOTE):
                    yield [source]
                    continue
                if room == 0:
                    yield [note(UNREAD, f"lines past {MAX_LINES} in all")]
                    continue
                if budget <= 0:
                    yield [note(UNREAD, f"files past {MAX_TOTAL_BYTES >> 20} MiB in all")]
                    continue
                limit = min(budget, MAX_FILE_BYTES)
                if isinstance(source, int):
                    sources[n] = b""  # the reader closes it, read or abandoned
                    chunks = _chunks_to_nul(source, limit)
                else:
                    chunks = _chunks_of(source, limit)
                with contextlib.closing(chunks):
                    for lines, read in _lines(chunks):
                        if lines and lines[0].startswith(NOTE):
                            yield lines  # the file's bound: what follows is unread
                            break
                        budget -= read
                        if len(lines) > room:
                            yield lines[:room]
                            yield [note(UNREAD, f"lines past {MAX_LINES} in all")]
                            room = 0
                            break
                        room -= len(lines)
                        yield [line for line in lines if line]
        finally:
            for source in sources:
                if isinstance(source, int):
                    os.close(source)


def _lines(chunks: Iterator[bytes]) -> Iterator[tuple[list[bytes], int]]:
    """The complete lines of ``chunks``, a list for each chunk that ends one (empty lines
    included, so that a file of newlines counts against ``MAX_LINES``), with the bytes read
    for them; a note as it comes.
    A line is kept to its first ``LONGEST_LINE`` bytes (no event is as long: it will be
    dropped as one that is not JSON), so a file with no newline costs no more memory."""
    parts: list[bytes] = []
    size = 0
    read = 0
    for chunk in chunks:
        if chunk.startswith(NOTE):
            yield [chunk], 0
            return
        read += len(chunk)
        end = chunk.rfind(b"\n") + 1
        if end == 0:
            if size < LONGEST_LINE:
                parts.append(chunk[: LONGEST_LINE - size])
                size += len(parts[-1])
            continue
        lines = b"".join([*parts, chunk[:end]]).split(b"\n")[:-1]
        parts, size = [chunk[end:]], len(chunk) - end
        yield lines, read
        read = 0


def _chunks_of(data: bytes, limit: int) -> Iterator[bytes]:
    """What was read of a file already, as ``_chunks_to_nul`` gives it."""
    yield data[:limit]
    if len(data) > limit:
        yield _cut(limit)


def open_growing(path: Path) -> int | bytes:
    """One event file of a run still under way (``observer/tail``), checked as the final
    read checks it: its descriptor; ``b""`` while it is empty (its process has not stored
    yet: look again later); a note if it is refused."""
    return _open_file(path, keep=True)


def _open_file(path: Path, keep: bool) -> int | bytes:
    """One event file: its descriptor, checked (``keep``), or its data up to its first NUL
    (at most ``MAX_FILE_BYTES``), or a note if it was refused; empty if it was empty."""
    try:
        # lstat first: opening a device file may itself do something.
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):
            return note(UNREAD, _not_regular(mode))
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(path, flags)
    except OSError as exc:
        return note(UNREAD, _why(exc))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # replaced between lstat and open
            return note(UNREAD, _not_regular(info.st_mode))
        if info.st_uid != os.geteuid():
            return note(UNREAD, "owned by another user")
        if info.st_nlink != 1:
            return note(UNREAD, "a hard link to another file")
        if info.st_size == 0:  # killed before its first store: nothing was recorded
            return b""
        if keep:
            kept, fd = fd, -1
            return kept
        # Past MAX_OPEN descriptors: read now (such runs have many small files), a byte
        # past the bound so that the reader notes the cut.
        chunks = _chunks_to_nul(fd, MAX_FILE_BYTES + 1, close=False)
        return b"".join(chunk for chunk in chunks if not chunk.startswith(NOTE))
    except OSError as exc:
        return note(UNREAD, _why(exc))
    finally:
        if fd >= 0:
            os.close(fd)


def _chunks_to_nul(fd: int, limit: int, close: bool = True) -> Iterator[bytes]:
    """Read ``fd`` in chunks up to its first NUL, its end, or ``limit`` bytes (a mapping
    is mostly NULs past its data: a huge sparse file costs one chunk); a note last if the
    limit cut it. An unreadable rest ends it quietly, as the end of the file would."""
    size = 0
    try:
        while True:
            try:
                chunk = os.read(fd, min(CHUNK_BYTES, limit - size + 1))
            except OSError:
                return
            if not chunk:
                return
            end = chunk.find(b"\0")
            if end >= 0:
                chunk = chunk[:end]
            if size + len(chunk) > limit:
                yield chunk[: limit - size]
                yield _cut(limit)
                return
            size += len(chunk)
            yield chunk
            if end >= 0:
                return
    finally:
        if close:
            os.close(fd)


def _cut(limit: int) -> bytes:
    """The note for a file read only to ``limit`` bytes: its own bound, or all files'."""
    if limit < MAX_FILE_BYTES:
        return note(UNREAD, f"files past {MAX_TOTAL_BYTES >> 20} MiB in all")
    return note(UNREAD, f"the part of a file past {MAX_FILE_BYTES >> 20} MiB")


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
