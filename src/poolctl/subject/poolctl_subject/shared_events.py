"""The events both subject paths send alike: the scenario's and ``poolctl trace``'s.

A pool being created, tasks submitted, a call on the pool bracketed by ``<call>.called``
and ``<call>.returned``, an error it raised; in a worker, the worker ready and each task
started and finished or failed. ``tag`` is what the trace path adds to each event
(``pool=<n>``: it follows several pools); the scenario path has one pool and adds nothing.
"""

import os
import threading

from . import channel
from .channel import emit

# What an event keeps of an exception's message.
_MESSAGE_CHARS = 500


def failure(exc):
    """An exception as events give it: its type's name and its message."""
    return {"type": type(exc).__name__, "message": str(exc)[:_MESSAGE_CHARS]}


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
    emit(name + ".called", **tag, **(details or {}))
    try:
        result = function()
    except reported as exc:
        error_raised(name, exc, **tag)
        raise
    if after is not None:
        after()
    emit(name + ".returned", **tag)
    return result


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
    me = worker_id(threads)
    emit("task.started", role=role, task=task, worker=me, **tag)
    try:
        result = function(*args, **kwargs)
    except reported as exc:
        emit("task.failed", role=role, task=task, worker=me, **tag, **failure(exc))
        raise
    emit("task.finished", role=role, task=task, worker=me, **tag)
    return result
