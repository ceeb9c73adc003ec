"""Record the program's output at its source: which process wrote which line, and when.

``sys.stdout`` and ``sys.stderr`` are replaced by line recorders that send each complete
line as an ``output`` event instead of writing to the shared pipe, where lines from
different processes would interleave. Lines are sent as soon as they are complete, as a
terminal would show them. Output that bypasses ``sys.stdout`` (C-level writes to fd 1 or 2)
still reaches the real pipe, where the observer records it as unattributed.
"""

import io
import os
import sys
import threading

from . import channel

# Each line keeps its first LINE_CHARS characters; the rest is only counted (``cut``, in
# UTF-8 bytes), so that a line of any length costs the same to record.
LINE_CHARS = 16384


class _Partial(object):
    """A line begun by one thread and not ended yet: its pieces, joined once."""

    __slots__ = ("parts", "size", "cut", "thread")

    def __init__(self, thread):
        self.parts = []
        self.size = 0
        self.cut = 0
        self.thread = thread  # the native id of a thread other than the main one, or None

    def add(self, text):
        room = LINE_CHARS - self.size
        if len(text) > room:
            self.cut += _bytes(text[max(room, 0) :])
            text = text[:room] if room > 0 else ""
        if text:
            self.parts.append(text)
            self.size += len(text)


def _bytes(text):
    return len(text.encode("utf-8", "surrogatepass"))


def _this_thread():
    if threading.current_thread() is threading.main_thread():
        return None
    return threading.get_native_id()  # a ThreadPool worker, for one


class LineRecorder(io.TextIOBase):
    """A text stream that records every complete line as an event."""

    def __init__(self, stream, original):
        self._stream = stream
        self._original = original
        # The partial line of each thread, by (pid, thread): threads printing at once must
        # not mix their pieces, and a forked child (another pid) never sees its parent's.
        # Each thread only touches its own entry, which a dict makes safe, free-threaded
        # builds included; the pieces are joined once, at the line's end (linear).
        self._pending = {}

    @property
    def encoding(self):
        return getattr(self._original, "encoding", "utf-8")

    @property
    def errors(self):
        return getattr(self._original, "errors", "strict")

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self._original.fileno()

    def write(self, text):
        key = (os.getpid(), threading.get_ident())
        if "\n" not in text:
            partial = self._pending.get(key)
            if partial is None:
                partial = self._pending[key] = _Partial(_this_thread())
            partial.add(text)
            return len(text)
        lines = text.split("\n")
        partial = self._pending.pop(key, None)
        if partial is None:
            partial = _Partial(_this_thread())
        partial.add(lines[0])
        self._end(partial)
        for line in lines[1:-1]:
            partial = _Partial(partial.thread)
            partial.add(line)
            self._end(partial)
        if lines[-1]:
            partial = self._pending[key] = _Partial(partial.thread)
            partial.add(lines[-1])
        return len(text)

    def flush(self):
        pid = os.getpid()
        partial = self._pending.pop((pid, threading.get_ident()), None)
        if partial is not None:
            self._end(partial, newline=False)
        if self._pending:
            # A thread that ended with a partial line: sent now, as the stream's buffer
            # would have been written at exit.
            alive = {t.ident for t in threading.enumerate()}
            for key in list(self._pending):
                if key[0] == pid and key[1] not in alive:
                    partial = self._pending.pop(key, None)
                    if partial is not None:
                        self._end(partial, newline=False)

    def _end(self, partial, newline=True):
        line = "".join(partial.parts)
        if not line and not newline and not partial.cut:
            return
        extra = {}
        if partial.thread is not None:
            extra["thread"] = partial.thread
        if partial.cut:
            extra["cut"] = partial.cut
        if not channel.emit("output", stream=self._stream, text=line, eol=newline, **extra):
            # No channel (e.g. very late in interpreter shutdown): keep the output.
            self._original.write(line + ("\n" if newline else ""))
            self._original.flush()


def install():
    """Route this process's ``sys.stdout`` and ``sys.stderr`` through line recorders."""
    if not isinstance(sys.stdout, LineRecorder):
        sys.stdout = LineRecorder("stdout", sys.stdout)
    if not isinstance(sys.stderr, LineRecorder):
        sys.stderr = LineRecorder("stderr", sys.stderr)
