"""The event channel: one JSON line per event, written with one ``os.write``.

Every process of the run (main and workers) writes to the same FIFO that the observer
reads. A write of at most PIPE_BUF bytes to a pipe is atomic, so lines from different
processes never interleave. Timestamps are raw ``time.monotonic_ns()`` values: one clock
for every process on the machine; the observer turns them into seconds since its start.
"""

import json
import os
import time

# Linux's PIPE_BUF; POSIX guarantees at least 512, and events stay far below either.
PIPE_BUF = 4096

_fd = None
_role = "main"


def connect(path, role):
    """Open the channel for this process (a forked worker reuses its parent's descriptor)."""
    global _fd, _role
    _role = role
    if _fd is None:
        _fd = os.open(path, os.O_WRONLY)


def emit(kind, **data):
    """Send one event; return False when it could not be sent (no channel, reader gone).

    ``ns`` may be given when the event happened a moment before it could be sent.
    """
    if _fd is None:
        return False
    data.setdefault("ns", time.monotonic_ns())
    data["pid"] = os.getpid()
    data["role"] = _role
    data["kind"] = kind
    line = (json.dumps(data, separators=(",", ":")) + "\n").encode("ascii")
    if len(line) > PIPE_BUF:
        # Callers keep their payloads small; never break atomicity for an oversized one.
        return False
    try:
        os.write(_fd, line)
    except OSError:
        # The observer is gone (EPIPE) or the descriptor was closed during shutdown.
        return False
    return True
