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


class LineRecorder(io.TextIOBase):
    """A text stream that records every complete line as an event."""

    def __init__(self, stream, original):
        self._stream = stream
        self._original = original
        # Pending partial line per process: a forked child must not inherit its parent's.
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
        pid = os.getpid()
        lines = (self._pending.pop(pid, "") + text).split("\n")
        for line in lines[:-1]:
            self._send(line)
        if lines[-1]:
            self._pending[pid] = lines[-1]
        return len(text)

    def flush(self):
        rest = self._pending.pop(os.getpid(), "")
        if rest:
            self._send(rest, newline=False)

    def _send(self, line, newline=True):
        extra = {}
        if threading.current_thread() is not threading.main_thread():
            extra["thread"] = threading.get_native_id()  # a ThreadPool worker, for one
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
