"""The events both subject paths send alike: the scenario's and ``poolctl trace``'s.

A pool being created, tasks submitted, a call on the pool bracketed by ``<call>.called``
and ``<call>.returned``, an error it raised; in a worker, the worker ready and each task
started and finished or failed. ``tag`` is what the trace path adds to each event
(``pool=<n>``: it follows several pools); the scenario path has one pool and adds nothing.

Two events say what poolctl could not see: ``observer.failed`` (poolctl's own code raised
inside the program: that part goes on unobserved, the program unchanged) and
``channel.lost`` (processes started now could not create their event files).
"""

import os
import sys

from . import channel
from . import stdlib_private as private
from .channel import emit

# What an event keeps of an exception's message.
_MESSAGE_CHARS = 500


def failure(exc):
    """An exception as events give it: its type's name and its message."""
    try:
        message = str(exc)
    except Exception:  # the program's exception may have a __str__ that raises
        message = "<unprintable %s>" % type(exc).__name__
    return {"type": type(exc).__name__, "message": message[:_MESSAGE_CHARS]}


def observer_failed(where, exc):
    """``observer.failed``: poolctl's own code raised ``exc`` in ``where``. Never raises:
    the caller carries on without observing that part, and the program runs unchanged."""
    try:  # noqa: SIM105 (contextlib is the program's to import)
        emit("observer.failed", where=where, **failure(exc))
    except Exception:
        pass


def check_channel(channel_dir, **tag):
    """Whether a process started now, with this process's credentials, can create its event
    file; if not, say so (``channel.lost``): its events will be missing from the record.

    The program may have changed its user (``os.setuid``), the directory may be gone or
    full: the file a worker would create is created, then removed. Called when a pool is
    created, never per event.
    """
    path = os.path.join(channel_dir, "probe-%d-%d" % (os.getpid(), private.get_ident()))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        os.close(os.open(path, flags, 0o600))
        os.unlink(path)
    except OSError as exc:
        emit(
            "channel.lost",
            reason=exc.strerror or type(exc).__name__,
            uid=os.geteuid(),
            **tag,
        )
        return False
    return True


def error_raised(step, exc, **tag):
    """``error.raised``: the call ``step`` raised ``exc``."""
    emit("error.raised", **tag, step=step, **failure(exc))


def pool_creating(api, start_method, processes, site=None, **tag):
    """``pool.creating``: the constructor was called with ``processes`` (what the program
    passed: a numpy integer is its number, anything else not a size is null). ``site``:
    where the program created it (``call_site``), as in every event below."""
    emit(
        "pool.creating",
        **tag,
        api=api,
        start_method=_start_method(start_method),
        processes=_size(processes),
        site=site,
    )


def pool_created(api, start_method, workers, site=None, **tag):
    emit(
        "pool.created",
        **tag,
        api=api,
        start_method=_start_method(start_method),
        workers=workers,
        site=site,
    )


# The start methods an event may name; a duck-typed context may answer anything.
_START_METHODS = ("fork", "spawn", "forkserver")


def _start_method(method):
    return method if type(method) is str and method in _START_METHODS else None


def _size(value):
    """A pool size as an event holds it: an integer of at least 1, or None."""
    if type(value) is not int:
        try:
            value = type(value).__index__(value)  # a numpy integer, for one
        except Exception:
            return None
        if type(value) is not int:
            return None
    return value if value >= 1 else None


def task_submitted(task, ns=None, site=None, call=None, **tag):
    """Stamped ``ns``, when the submitting call began: a worker may start the task before
    the call returns. ``call``: the submitting call's number (the tasks of one map share
    it), which a ``result.read`` names."""
    if call is not None:
        tag["call"] = call
    emit("task.submitted", task=task, **tag, ns=ns, site=site)


def result_read(call, via, **tag):
    """``result.read``: the program read the results of the submitting call ``call``
    (``via``: ``get``, ``next``, ``result``, ``exception``, or the ``callback`` /
    ``error_callback`` it gave, which the pool hands each result to)."""
    emit("result.read", **tag, call=call, via=via)


def result_waiting(via, call, site, **tag):
    """``result.waiting``: the program is about to wait for a result not ready yet, in
    ``via`` (``get``, ``wait``, ``map``, ``starmap``, ``apply``, ``next``, ``result``,
    ``exception``), a read of the submitting call ``call`` (when known), made at ``site``.
    Never said of a result that is ready: such a read costs no event."""
    if call is not None:
        tag["call"] = call
    emit("result.waiting", **tag, via=via, site=site)


def result_waited(via, call, **tag):
    """``result.waited``: the wait ``result.waiting`` said has ended (a result, an
    exception, a timeout)."""
    if call is not None:
        tag["call"] = call
    emit("result.waited", **tag, via=via)


def chunk_submitted(task, count, **tag):
    """``task.submitted`` for ``count`` items of a map's chunk at once, numbered from ``task``
    on (their numbers, and whether each has events of its own, are in the chunk's
    ``program_wrappers.Item``)."""
    emit("task.submitted", task=task, count=count, **tag)


def reported_call(name, function, reported, after=None, details=None, tag=None):
    """Run ``function()``, the call ``name``, bracketed by its ``.called``/``.returned``.

    An exception of class ``reported`` is sent as ``error.raised`` and propagates.
    ``after`` runs before the return is sent: a call that joined the workers must not be
    shown returning before their exits.
    """
    tag = tag or {}
    call_called(name, details, tag)
    try:
        result = function()
    except reported as exc:
        error_raised(name, exc, **tag)
        raise
    call_returned(name, after, tag)
    return result


def call_called(name, details, tag):
    """``<name>.called``, with what the call says of its arguments."""
    emit(name + ".called", **tag, **(details or {}))


def call_returned(name, after, tag):
    """``<name>.returned``, once ``after`` (if any) ran."""
    if after is not None:
        after()  # guarded by its owner (the watcher's sync)
    emit(name + ".returned", **tag)


# --- in a worker -------------------------------------------------------------------------


def worker_id(threads):
    """This worker's id: its thread's native id in a pool of threads, else its pid (as the
    channel knows it: no system call per task)."""
    return private.get_native_id() if threads else channel.pid()


def connect_worker(channel_dir, threads):
    """Give a worker process its own event file (a thread shares its process's)."""
    if not threads:
        channel.connect(channel_dir, role="worker")


def worker_started(threads, **tag):
    """``worker.started``, from the worker itself; a thread says it acts as a worker."""
    if threads:
        me = worker_id(True)
        emit("worker.started", role="worker", worker=me, ppid=os.getpid(), **tag)
        if _REFCOUNTED:
            _thread_end.marker = _ThreadEnd(me, tag)
    else:
        emit("worker.started", worker=os.getpid(), ppid=os.getppid(), **tag)


# Worker threads whose end was recorded, by (worker, pool): said once, by the thread's
# marker or by the watch (``watch.WorkerWatch``), whichever sees it first.
_ended = set()
_ended_lock = private.new_lock()
# Each worker thread's marker: dropped as the thread ends (see ``_ThreadEnd``).
_thread_end = private.thread_local()
# Only where objects die as their last reference goes: elsewhere (PyPy) a collection may
# run a ``__del__`` in any thread, one that holds the channel's lock for one.
_REFCOUNTED = sys.implementation.name == "cpython"


def thread_ended(worker, ns=None, **tag):
    """``worker.exited`` for the worker thread ``worker``, once (stamped ``ns``)."""
    with _ended_lock:
        key = (worker, tag.get("pool"))
        if key in _ended:
            return
        _ended.add(key)
        emit("worker.exited", worker=worker, exit_code=None, ns=ns, thread=True, **tag)


class _ThreadEnd:
    """Held in a worker thread's thread-local storage, which the interpreter clears as the
    thread ends (CPython: before ``join()`` returns): its ``__del__`` says the thread ended,
    with no thread of poolctl's watching. Where it runs late or never (PyPy's collector,
    daemon threads frozen at exit), the watch's ``sync`` and the final report say it."""

    __slots__ = ("worker", "tag", "pid")

    def __init__(self, worker, tag):
        self.worker = worker
        self.tag = tag
        self.pid = os.getpid()

    def __del__(self):
        # A forked child clears the other threads' storage of its parent: not its workers.
        # Once the interpreter is finalizing, a daemon thread frozen there may hold the
        # channel's lock for ever (and the final report has run): say nothing.
        if os.getpid() != self.pid or sys.is_finalizing():
            return
        try:
            thread_ended(self.worker, **self.tag)
        except Exception as exc:
            observer_failed("shared_events: thread end", exc)


def run_task(task, threads, function, args, kwargs, reported, **tag):
    """Run one task, ``function(*args, **kwargs)``, between ``task.started`` and
    ``task.finished``, or ``task.failed`` for an exception of class ``reported``."""
    role = "worker" if threads else None
    try:
        me = worker_id(threads)
        emit("task.started", role=role, task=task, worker=me, **tag)
    except Exception as fault:
        observer_failed("run_task", fault)
        return function(*args, **kwargs)  # unobserved, as if nothing were wrapped
    try:
        result = function(*args, **kwargs)
    except reported as exc:
        try:
            emit("task.failed", role=role, task=task, worker=me, **tag, **failure(exc))
        except Exception as fault:
            observer_failed("run_task", fault)
        raise
    try:
        # ``value``: the task returned something to read (a None carries nothing).
        if result is None:
            emit("task.finished", role=role, task=task, worker=me, **tag)
        else:
            emit("task.finished", role=role, task=task, worker=me, value=True, **tag)
    except Exception as fault:
        observer_failed("run_task", fault)
    return result


def chunk_started(task, count, threads, **tag):
    """A map chunk's ``task.started``, for its ``count`` counted items from ``task`` on.
    Never raises (nor do the two below): what poolctl's code raises is ``observer.failed``,
    and the chunk goes on unobserved."""
    try:
        role = "worker" if threads else None
        emit("task.started", role=role, task=task, worker=worker_id(threads), count=count, **tag)
    except Exception as fault:
        observer_failed("chunk_started", fault)


def chunk_finished(task, count, threads, **tag):
    """A map chunk's ``task.finished``: its ``count`` counted items from ``task`` on returned."""
    try:
        role = "worker" if threads else None
        emit("task.finished", role=role, task=task, worker=worker_id(threads), count=count, **tag)
    except Exception as fault:
        observer_failed("chunk_finished", fault)


def chunk_failed(task, count, finished, exc, threads, **tag):
    """A map chunk's ``task.failed``: its item ``task`` raised ``exc``, after ``finished`` of
    its ``count`` counted items returned."""
    try:
        role = "worker" if threads else None
        me = worker_id(threads)
        emit("task.failed", role=role, task=task, worker=me, count=count, finished=finished,
             **tag, **failure(exc))  # fmt: skip
    except Exception as fault:
        observer_failed("chunk_failed", fault)
