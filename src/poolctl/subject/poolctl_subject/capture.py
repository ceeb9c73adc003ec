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
# UTF-8 bytes), so that a line of any length costs the same to record: a partial line is
# at most LINE_CHARS long, so adding a piece to it copies a bounded amount.
LINE_CHARS = 16384


def _bytes(text):
    return len(text.encode("utf-8", "surrogatepass"))


class LineRecorder(io.TextIOBase):
    """A text stream that records every complete line as an event."""

    def __init__(self, stream, original):
        self._stream = stream
        self._original = original
        # The partial line of each thread, by (pid, thread ident): threads printing at
        # once must not mix their pieces, and a forked child (another pid) never sends its
        # parent's. Each thread only touches its own entries, which a dict makes safe,
        # free-threaded builds included.
        self._pending = {}
        self._cut = {}  # what was cut from a partial line, by the same key (rare)

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
            self._pending[key] = self._add(key, self._pending.get(key, ""), text)
            return len(text)
        lines = text.split("\n")
        first = self._add(key, self._pending.pop(key, ""), lines[0])
        self._send(first, True, self._cut.pop(key, 0) if self._cut else 0)
        for line in lines[1:-1]:
            if len(line) > LINE_CHARS:
                self._send(line[:LINE_CHARS], True, _bytes(line[LINE_CHARS:]))
            else:
                self._send(line, True, 0)
        if lines[-1]:
            self._pending[key] = self._add(key, "", lines[-1])
        return len(text)

    def _add(self, key, line, text):
        """``line + text``, kept to LINE_CHARS characters (what is cut is counted)."""
        room = LINE_CHARS - len(line)
        if len(text) <= room:
            return line + text
        self._cut[key] = self._cut.get(key, 0) + _bytes(text[max(room, 0) :])
        return line + text[:room] if room > 0 else line

    def flush(self):
        pid = os.getpid()
        key = (pid, threading.get_ident())
        rest = self._pending.pop(key, "")
        cut = self._cut.pop(key, 0) if self._cut else 0
        if rest or cut:
            self._send(rest, False, cut)
        if self._pending:
            # A thread that ended with a partial line: sent now, as the stream's buffer
            # would have been written at exit. A forked child drops its parent's lines.
            alive = {t.ident for t in threading.enumerate()}
            for key in list(self._pending):
                if key[0] == pid and key[1] in alive:
                    continue
                rest = self._pending.pop(key, "")
                cut = self._cut.pop(key, 0)
                if key[0] == pid and (rest or cut):
                    self._send(rest, False, cut)

    def _send(self, line, newline, cut):
        extra = {}
        if threading.current_thread() is not threading.main_thread():
            extra["thread"] = threading.get_native_id()  # a ThreadPool worker, for one
        if cut:
            extra["cut"] = cut
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
