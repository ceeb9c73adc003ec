"""The events both subject paths send alike: the scenario's and ``poolctl trace``'s.

A pool being created, tasks submitted, a call on the pool bracketed by ``<call>.called``
and ``<call>.returned``, an error it raised; in a worker, the worker ready and each task
started and finished or failed. ``tag`` is what the trace path adds to each event
(``pool=<n>``: it follows several pools); the scenario path has one pool and adds nothing.

Two events say what poolctl could not see: ``observer.failed`` (poolctl's own code raised
inside the program: that part goes on unobserved, the program unchanged) and
``channel.lost`` (processes started now could not create their event files).
"""

import contextlib
import os
import threading

from . import channel
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
    with contextlib.suppress(Exception):
        emit("observer.failed", where=where, **failure(exc))


def check_channel(channel_dir, **tag):
    """Whether a process started now, with this process's credentials, can create its event
    file; if not, say so (``channel.lost``): its events will be missing from the record.

    The program may have changed its user (``os.setuid``), the directory may be gone or
    full: the file a worker would create is created, then removed. Called when a pool is
    created, never per event.
    """
    path = os.path.join(channel_dir, "probe-%d-%d" % (os.getpid(), threading.get_ident()))
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


def pool_creating(api, start_method, processes, **tag):
    emit("pool.creating", **tag, api=api, start_method=start_method, processes=processes)


def pool_created(api, start_method, workers, **tag):
    emit("pool.created", **tag, api=api, start_method=start_method, workers=workers)


def task_submitted(task, ns=None, **tag):
    """Stamped ``ns``, when the submitting call began: a worker may start the task before
    the call returns."""
    emit("task.submitted", task=task, **tag, ns=ns)


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
    """This worker's id: its thread's native id in a pool of threads, else its pid."""
    return threading.get_native_id() if threads else os.getpid()


def connect_worker(channel_dir, threads):
    """Give a worker process its own event file (a thread shares its process's)."""
    if not threads:
        channel.connect(channel_dir, role="worker")


def worker_started(threads, **tag):
    """``worker.started``, from the worker itself; a thread says it acts as a worker."""
    if threads:
        emit("worker.started", role="worker", worker=worker_id(True), ppid=os.getpid(), **tag)
    else:
        emit("worker.started", worker=os.getpid(), ppid=os.getppid(), **tag)


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
        emit("task.finished", role=role, task=task, worker=me, **tag)
    except Exception as fault:
        observer_failed("run_task", fault)
    return result
