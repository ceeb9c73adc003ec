"""The event channel: each process appends JSON lines to its own memory-mapped file.

An event is a store into a shared file mapping, not a system call: the observer reads the
files once the run is over. What a process stored is in the page cache the moment it is
stored, so it survives the process being killed by ``terminate()`` or SIGKILL (a worker
cannot be trusted to flush anything). One file per process means no interleaving between
processes; a lock orders the threads of one process. A write to a FIFO cost about 10 us
a call here, five times per task; a store costs a fraction of that.

Timestamps are raw ``time.monotonic_ns()`` values, one clock for every process on the
machine; on the wire ``t`` holds that stamp, which the observer turns into seconds.
"""

import json
import mmap
import os
import threading
import time

# Initial size of a process's file; it doubles when full.
_INITIAL_BYTES = 1 << 16

_directory = None
_role = "main"
_lock = threading.Lock()
_map = None
_position = 0


def _forget_parent():
    # A forked child must not write into its parent's file, nor inherit a held lock.
    global _map, _position, _lock
    _map = None
    _position = 0
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_parent)


def connect(directory, role):
    """Use ``directory`` for this process's event file (opened at the first event)."""
    global _directory, _role
    _directory = directory
    _role = role


def _open():
    global _map, _position
    path = os.path.join(_directory, "events-%d" % os.getpid())
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.ftruncate(fd, _INITIAL_BYTES)
        _map = mmap.mmap(fd, _INITIAL_BYTES)
    finally:
        os.close(fd)
    _position = 0


def emit(kind, ns=None, role=None, **data):
    """Record one event; return False when it could not be recorded.

    ``ns`` may be given when the event happened a moment before it could be recorded;
    ``role`` for a thread of the main process that acts as a worker (ThreadPool).
    The line is formatted by hand: ``json.dumps`` of the whole event cost 8.9 us against
    2.3 us.
    """
    global _position
    if _directory is None:
        return False
    parts = [
        '{"t":%d,"pid":%d,"role":"%s","kind":"%s"'
        % (time.monotonic_ns() if ns is None else ns, os.getpid(), role or _role, kind)
    ]
    for key, value in data.items():
        parts.append(',"%s":%s' % (key, _encode(value)))
    parts.append("}\n")
    line = "".join(parts).encode("ascii")
    try:
        with _lock:
            if _map is None:
                _open()
            end = _position + len(line)
            if end > len(_map):
                _map.resize(max(2 * len(_map), end))
            _map[_position:end] = line
            _position = end
    except (OSError, ValueError, TypeError):
        # The directory is gone (the observer has finished) or shutdown closed the map.
        return False
    return True


def _encode(value):
    kind = type(value)
    if kind is int:
        return "%d" % value
    if kind is str:
        return _encode_str(value)  # the default encoder: no new encoder per call
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


_encode_str = json.JSONEncoder().encode
