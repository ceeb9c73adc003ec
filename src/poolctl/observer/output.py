"""The run's raw output: recorded as bounded lines, and passed on without blocking.

What arrives on the subject's pipes (a traced program's own output, or a C-level write)
is cut into lines as it arrives, in time linear in its size: each line keeps its first
``LINE_BYTES`` bytes and the whole record its first ``OUTPUT_LINES`` lines and
``OUTPUT_BYTES`` bytes; what is left out is counted, never kept. A program printing a
64 MiB line or 50 MB of lines costs poolctl megabytes, not the size of its output.

Under ``poolctl trace`` the same bytes are also passed on, unchanged, by a writer thread:
a reader that does not read (a full pipe) blocks that thread, never the observer's loop,
so the timeout holds whatever the reader does. A reader that went away (``| head``) is
told to the observer, which closes that pipe for the program as well.
"""

from __future__ import annotations

import collections
import fcntl
import os
import select
import struct
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

# Each output line keeps this many bytes; the rest of it is counted (``cut``).
LINE_BYTES = 16_384
# The whole output keeps this many lines and bytes (above the most a scenario can print:
# 100,000 tasks print 200,000 lines); further lines are counted (``omitted``).
OUTPUT_LINES = 250_000
OUTPUT_BYTES = 16 << 20
# Output waiting for a slow reader of the pass-through: above this, the observer stops
# reading the program's pipes, so the program waits on its writes as it would under
# plain python, while the observer's loop (and the timeout) goes on.
ECHO_BACKLOG = 1 << 20


@dataclass
class RawLine:
    """One line of a pipe: when its first byte arrived, its kept bytes, how many were cut."""

    ns: int
    stream: str
    data: bytearray
    cut: int = 0
    ended: bool = True  # False: the output ended without a newline
    counted: bool = False  # past the output's bounds: counted, not kept


@dataclass
class RawOutput:
    """The lines of the subject's pipes, bounded; what was left out, counted."""

    lines: list[RawLine] = field(default_factory=list)
    omitted_lines: int = 0
    omitted_bytes: int = 0
    kept_bytes: int = 0
    _open: dict[str, RawLine] = field(default_factory=dict)

    def feed(self, ns: int, stream: str, chunk: bytes) -> None:
        """Add ``chunk`` of ``stream``, read at ``ns``."""
        line = self._open.get(stream)
        if line is None and self._full():
            line = self._open[stream] = RawLine(ns, stream, bytearray(), counted=True)
        if line is not None and line.counted:
            # Nothing more is kept: count lines and bytes at C speed.
            ends = chunk.count(b"\n")
            self.omitted_lines += ends
            self.omitted_bytes += len(chunk) - ends
            if chunk.endswith(b"\n"):
                del self._open[stream]
            return
        pieces = chunk.split(b"\n")
        for piece in pieces[:-1]:
            self._extend(ns, stream, piece)
            self._close(stream)
        if pieces[-1]:
            self._extend(ns, stream, pieces[-1])

    def _extend(self, ns: int, stream: str, piece: bytes) -> None:
        line = self._open.get(stream)
        if line is None:
            line = self._open[stream] = RawLine(ns, stream, bytearray(), counted=self._full())
        if line.counted:
            self.omitted_bytes += len(piece)
            return
        room = LINE_BYTES - len(line.data)
        if room > 0:
            line.data += piece[:room]
        line.cut += len(piece) - max(min(room, len(piece)), 0)

    def _full(self) -> bool:
        return len(self.lines) >= OUTPUT_LINES or self.kept_bytes >= OUTPUT_BYTES

    def _close(self, stream: str, ended: bool = True) -> None:
        line = self._open.pop(stream)
        line.ended = ended
        if line.counted:
            self.omitted_lines += 1
        elif self._full():
            self.omitted_lines += 1
            self.omitted_bytes += len(line.data) + line.cut
        else:
            self.lines.append(line)
            self.kept_bytes += len(line.data)

    def finish(self) -> None:
        """End the lines still open (output without a last newline)."""
        for stream in list(self._open):
            self._close(stream, ended=False)


# What takes poolctl's status line off the terminal: back to the line's start, erase it.
ERASE = b"\r\x1b[2K"


class Screen:
    """The terminal that poolctl's live status line (``render/status_line``) shares with
    the program's pass-through (``Echo``): one lock orders their writes, and the program's
    output always finds the line erased first, so not a byte of it is ever mixed with the
    line's. The status line is drawn only when the program has been quiet a while and its
    last byte on a terminal ended a line (``may_draw``): a chatty program sees nothing of it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fd: int | None = None  # where the line is drawn, once it is
        self.shown = False  # the line is on the terminal now
        self.written_ns = 0  # when the program last wrote to a terminal
        self.mid_line = False  # its last byte on a terminal did not end a line

    def clear(self) -> None:
        """Erase the line if it is shown (the caller holds ``lock``)."""
        if self.shown and self.fd is not None:
            self.shown = False
            try:
                os.write(self.fd, ERASE)
            except OSError:
                self.fd = None  # the terminal is gone: nothing is drawn again

    def wrote(self, chunk: bytes, ns: int) -> None:
        """The program's ``chunk`` just went to a terminal (the caller holds ``lock``)."""
        self.written_ns = ns
        self.mid_line = not chunk.endswith(b"\n")

    def may_draw(self, quiet_ns: int, now_ns: int) -> bool:
        """Whether the line may be drawn now: the program at a line's start, and silent on
        its terminals for ``quiet_ns`` (the caller holds ``lock``)."""
        return not self.mid_line and now_ns - self.written_ns >= quiet_ns


class Echo:
    """Passes chunks on to their targets, in arrival order, from a thread of its own.

    A target with a file descriptor is written with ``os.write``: a write that blocks then
    holds no lock of the file object, so poolctl can still write and exit (a daemon thread
    blocked inside a buffered file's lock makes interpreter shutdown abort). A target that
    fails (its reader went away: ``| head``) is dropped, and its stream listed in
    ``lost`` (the observer then closes that stream for the program too); the rest go on.
    """

    def __init__(self, targets: dict[str, BinaryIO], screen: Screen | None = None) -> None:
        self.targets: dict[str, BinaryIO | int] = {}
        for stream, target in targets.items():
            self.targets[stream] = _descriptor(target)
        # The streams shown on a terminal, where poolctl's status line may be (see Screen).
        self.screen = screen if screen is not None else Screen()
        self.terminals = {s for s, t in self.targets.items() if isinstance(t, int) and _tty(t)}
        self._queue: collections.deque[tuple[str, bytes]] = collections.deque()
        self._waiting = 0  # bytes queued, not yet written
        self._ready = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        # Streams whose target failed, in order, for the observer's loop (appended by the
        # writer thread: a deque is safe to share without a lock).
        self.lost: collections.deque[str] = collections.deque()

    def look_for_lost(self) -> None:
        """List in ``lost`` the targets whose reader has gone (a pipe read by no one: poll
        says POLLERR) before a write fails on them, so the program's very next write can
        fail as it would have (the observer closes its pipe)."""
        for stream, target in list(self.targets.items()):
            if not isinstance(target, int):
                continue
            poller = select.poll()
            poller.register(target, select.POLLOUT)
            try:
                gone = any(events & select.POLLERR for _, events in poller.poll(0))
            except OSError:
                continue
            if gone and self.targets.pop(stream, None) is not None:
                self.lost.append(stream)

    @property
    def backlog(self) -> int:
        """Bytes waiting for a reader."""
        return self._waiting

    def put(self, stream: str, chunk: bytes) -> None:
        """Queue ``chunk`` for ``stream``'s target (if it has one); never blocks."""
        if stream not in self.targets or self._closed:  # closed: interrupted, or finished
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._write, name="poolctl-echo", daemon=True)
            self._thread.start()
        with self._ready:
            self._queue.append((stream, chunk))
            self._waiting += len(chunk)
            self._ready.notify()

    def finish(self) -> None:
        """Wait until everything queued is written (or its target has failed)."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join()

    def discard(self) -> None:
        """Drop what is still queued and stop (the run was interrupted)."""
        with self._ready:
            self._queue.clear()
            self._waiting = 0
            self._closed = True
            self._ready.notify()

    def _write(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                batch = list(self._queue)
                self._queue.clear()
            used: set[str] = set()
            with self.screen.lock:
                self.screen.clear()
                for stream, chunk in batch:
                    if stream in self.targets:
                        self._send(stream, chunk)
                        used.add(stream)
                        if stream in self.terminals:
                            self.screen.wrote(chunk, time.monotonic_ns())
                    with self._ready:
                        self._waiting = max(self._waiting - len(chunk), 0)
            for stream in used:
                target = self.targets.get(stream)
                if target is not None and not isinstance(target, int):
                    self._fail_safe(stream, target.flush)

    def _send(self, stream: str, chunk: bytes) -> None:
        target = self.targets[stream]
        if isinstance(target, int):
            view = memoryview(chunk)
            while view and stream in self.targets:
                written = self._fail_safe(stream, lambda fd=target, part=view: _write(fd, part))
                view = view[written or 0 :]
        else:
            self._fail_safe(stream, lambda: target.write(chunk))

    def _fail_safe(self, stream: str, write: Callable[[], Any]) -> Any:
        try:
            return write()
        except (OSError, ValueError):  # the reader went away (| head)
            if self.targets.pop(stream, None) is not None:
                self.lost.append(stream)
            return None


def record_held(fd: int, stream: str, raw: RawOutput) -> int:
    """Record what the pipe ``fd`` holds now: output the program wrote before its reader
    went away, which closing the pipe would drop (a program that had finished writing
    would lose its last lines from the record). Returns the bytes read. Only what the
    pipe held when asked is read (FIONREAD: whole writes, a pipe's capacity at most), so
    this never waits, and a program still writing cannot keep it reading."""
    left = _held(fd)
    taken = 0
    while left > 0:
        try:
            chunk = os.read(fd, left)
        except OSError:
            break
        if not chunk:
            break
        raw.feed(time.monotonic_ns(), stream, chunk)
        taken += len(chunk)
        left -= len(chunk)
    return taken


def _held(fd: int) -> int:
    """How many bytes the pipe ``fd`` holds, ready to be read."""
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return 0


def _write(fd: int, data: memoryview) -> int:
    """``os.write``, waiting when ``fd`` is non-blocking (a terminal someone set so)."""
    try:
        return os.write(fd, data)
    except BlockingIOError:
        select.select([], [fd], [])
        return 0


def _descriptor(target: BinaryIO) -> BinaryIO | int:
    """``target``'s file descriptor (its buffer flushed first), or ``target`` itself when
    it has none (an ``io.BytesIO`` given to the API)."""
    try:
        target.flush()
        return target.fileno()
    except (OSError, ValueError, AttributeError):
        return target


def _tty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
