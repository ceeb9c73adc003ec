"""The event channel: each process appends JSON lines to its own memory-mapped file.

An event is a store into a shared file mapping, not a system call: the observer reads the
files once the run is over. What a process stored is in the page cache the moment it is
stored, so it survives the process being killed by ``terminate()`` or SIGKILL (a worker
cannot be trusted to flush anything). One file per process means no interleaving between
processes; a lock orders the threads of one process. A write to a FIFO cost about 10 us
a call here, five times per task; a store costs a fraction of that.

Timestamps are raw ``time.monotonic_ns()`` values, one clock for every process on the
machine; on the wire ``t`` holds that stamp, which the observer turns into seconds.

Observing must never kill the observed: a store into a page of a file that the filesystem
cannot back (a full tmpfs) is a SIGBUS. So every page is reserved (``posix_fallocate``, or
zeros written where a filesystem cannot reserve) before it is mapped; this happens when a
process opens its file and when the file doubles, never per event. When space cannot be
reserved the process stops recording: its empty file renamed ``full-<pid>`` says so (an
empty ``events-<pid>`` is a process killed before its first store), and a grown file ends
with a ``channel.full`` line written into the last ``_TAIL`` bytes, which are kept free
for it. Then ``emit`` returns False (the output recorders fall back to the real streams).
"""

import errno
import mmap
import os
import time

from . import stdlib_private as private

# Initial size of a process's file; it doubles when full.
_INITIAL_BYTES = 1 << 16
# The end of every mapping that events never use: room for the channel.full line.
_TAIL = 256
# Errors that mean "this filesystem cannot reserve space", not "no space".
_CANNOT_RESERVE = {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS, errno.ENOTSUP}

_directory = None
_role = "main"
_lock = private.new_lock()
_map = None
_limit = 0  # where the events of the current mapping must end (its size - _TAIL)
_position = 0
_stopped = False  # space could not be reserved: this process records nothing more
_inode = None  # (st_dev, st_ino) of this process's file
# This process's pid, asked once (each os.getpid() is a system call): a forked child's
# is set by the fork handler.
_pid = os.getpid()
_now = time.monotonic_ns


def _forget_parent():
    # A forked child must not write into its parent's file, nor inherit a held lock. A
    # child of the main process (a ``Process``, a bare ``os.fork()``) is not the main
    # process: its events say ``child`` (a pool's worker says ``worker`` once it starts).
    global _map, _limit, _position, _lock, _stopped, _inode, _role, _pid
    _pid = os.getpid()
    if _role == "main":
        _role = "child"
    _map = None
    _limit = 0
    _position = 0
    _lock = private.new_lock()
    _stopped = False
    _inode = None


os.register_at_fork(after_in_child=_forget_parent)


def pid():
    """This process's pid (kept by the channel, set again in a forked child)."""
    return _pid


def connect(directory, role):
    """Use ``directory`` for this process's event file (opened at the first event)."""
    global _directory, _role
    _directory = directory
    _role = role


def _path():
    return os.path.join(_directory, "events-%d" % os.getpid())


def _reserve(fd, offset, length):
    """Make sure ``length`` bytes from ``offset`` are backed by the filesystem; raise
    OSError (ENOSPC, ...) when they cannot be."""
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is not None:
        try:
            fallocate(fd, offset, length)
        except OSError as exc:
            if exc.errno not in _CANNOT_RESERVE:
                raise
        else:
            # PyPy 7.3 ignores its failure (no error, the file unchanged): believe the size.
            if os.fstat(fd).st_size >= offset + length:
                return
    # No fallocate here (macOS, some filesystems under musl): writing zeros allocates.
    zeros = bytes(min(length, 1 << 16))
    end = offset + length
    while offset < end:
        written = os.pwrite(fd, zeros[: end - offset], offset)
        if written <= 0:
            raise OSError(errno.ENOSPC, "short write")
        offset += written


def _open(ns, role):
    """Create this process's file, reserve its first pages and map them; False when the
    space cannot be reserved (the file is then renamed ``full-<pid>``, which tells the
    observer: an empty ``events-<pid>`` is only a process killed before its first store)."""
    global _map, _limit, _position, _inode
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    # An error here (the directory is gone) is raised: the next event tries again.
    fd = os.open(_path(), flags, 0o600)
    try:
        try:
            _reserve(fd, 0, _INITIAL_BYTES)
            _map = mmap.mmap(fd, _INITIAL_BYTES)
        except OSError:
            _mark_full()
            _stop(ns, role)
            return False
        info = os.fstat(fd)
        _inode = (info.st_dev, info.st_ino)
    finally:
        os.close(fd)
    _limit = _INITIAL_BYTES - _TAIL
    _position = 0
    return True


def _mark_full():
    """Rename this process's (empty) file ``full-<pid>``: a name, no data block needed."""
    try:  # noqa: SIM105 (the channel imports nothing it can do without)
        os.rename(_path(), os.path.join(_directory, "full-%d" % os.getpid()))
    except OSError:
        pass


def _grow(end):
    """Double the mapping (at least to hold ``end`` + the tail), its pages reserved first.

    The file is opened again by name (no descriptor is kept: the program may close or
    reuse any descriptor) and must still be the file that is mapped.
    """
    global _limit
    size = max(2 * len(_map), end + _TAIL)
    fd = os.open(_path(), os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != _inode:
            raise OSError(errno.ESTALE, "the event file was replaced")
        _reserve(fd, len(_map), size - len(_map))
    finally:
        os.close(fd)
    _map.resize(size)
    _limit = size - _TAIL


def _stop(ns, role):
    """Record no more: say so in the reserved tail, and let go of the mapping."""
    global _map, _stopped
    _stopped = True
    if _map is not None:
        line = (
            '{"t":%d,"pid":%d,"role":"%s","kind":"channel.full"}\n' % (ns, os.getpid(), role)
        ).encode("ascii")
        _map[_position : _position + len(line)] = line
        _map = None  # the file keeps what was stored; nothing is stored again


def emit(kind, ns=None, role=None, **data):
    """Record one event; return False when it could not be recorded.

    ``ns`` may be given when the event happened a moment before it could be recorded;
    ``role`` for a thread of the main process that acts as a worker (ThreadPool).
    The line is formatted by hand: ``json.dumps`` of the whole event cost 8.9 us against
    2.3 us; one format, the pid asked once and integers formatted in place (most values
    are) make it about half that again.
    """
    global _position
    if _directory is None:
        return False
    stamp = _now() if ns is None else ns
    fields = [
        (',"%s":%d' % (key, value)) if type(value) is int else (',"%s":%s' % (key, _encode(value)))
        for key, value in data.items()
    ]
    line = ('{"t":%d,"pid":%d,"role":"%s","kind":"%s"%s}\n' % (
        stamp, _pid, role or _role, kind, "".join(fields))).encode("ascii")  # fmt: skip
    try:
        with _lock:
            if _map is None and (_stopped or not _open(stamp, role or _role)):
                return False
            end = _position + len(line)
            if end > _limit:
                try:
                    _grow(end)
                except OSError:
                    _stop(stamp, role or _role)
                    return False
            _map[_position:end] = line
            _position = end
    except (OSError, ValueError, TypeError):
        # The directory is gone (the observer has finished) or shutdown closed the map.
        return False
    return True


class Encoded(str):
    """A value already encoded as JSON text (a call's site, made once per line of the
    program): written into the event as it is."""

    __slots__ = ()


def encoded(value):
    """``value`` encoded once as JSON text, to be written into events as it is."""
    return Encoded(_encode(value))


# What an event keeps of the text of a value JSON cannot hold.
_SHOWN_CHARS = 200


def _encode(value):
    """``value`` as JSON text. Never raises: a value JSON cannot hold (a numpy integer, a
    mock) becomes its repr, cut to ``_SHOWN_CHARS`` (its type's name if that raises).
    Encoded here, not by ``json``: that module is the program's to import (or not)."""
    kind = type(value)
    if kind is int:
        return "%d" % value
    if kind is str:
        return _string(value)
    if kind is Encoded:
        return value
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return repr(value) if value - value == 0 else "null"  # no NaN nor infinity in JSON
    if kind is list or kind is tuple:
        return "[%s]" % ",".join([_encode(item) for item in value])
    if kind is dict:
        return "{%s}" % ",".join([_string(str(k)) + ":" + _encode(v) for k, v in value.items()])
    # Subclasses (an IntEnum, a str subclass) as their base class says them: no code of
    # theirs runs here.
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return _string(str.__str__(value))
    return _string(_shown(value))


def _shown(value):
    try:
        text = repr(value)
    except Exception:
        text = "<%s>" % type(value).__name__
    if type(text) is not str:
        text = "<%s>" % type(value).__name__
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def _string(text):
    """A JSON string, escaped to ASCII."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'  # the common case: nothing to escape
    return _escaped(text)


def _escaped_by_hand(text):
    parts = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            parts.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            parts.append(char)
        elif code < 0x10000:
            parts.append("\\u%04x" % code)
        else:  # a surrogate pair
            code -= 0x10000
            parts.append("\\u%04x\\u%04x" % (0xD800 | code >> 10, 0xDC00 | code & 0x3FF))
    return '"' + "".join(parts) + '"'


_escaper = []


def _escaped(text):
    # The C escaper where the interpreter has one, looked up at the first string that
    # needs escaping (it loads ``_json`` only); PyPy has none: there the loop above.
    if not _escaper:
        _escaper.append(private.json_string_escaper() or _escaped_by_hand)
    return _escaper[0](text)
