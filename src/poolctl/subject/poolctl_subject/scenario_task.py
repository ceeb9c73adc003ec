"""What runs in a pool worker: the initializer and the tutorial's task.

Both are module-level functions so that every start method can pickle them by reference.
In a ThreadPool the workers are threads of the main process: their events carry the
thread's native id as ``worker`` and the role ``worker`` explicitly.
"""

import os
import threading
import time

from . import capture, channel
from .channel import emit


def _me(threads):
    return threading.get_native_id() if threads else os.getpid()


def init_worker(channel_dir, threads=False):
    """Pool initializer: connect the worker to the channel and say it is ready."""
    if threads:
        emit("worker.started", role="worker", worker=_me(True), ppid=os.getpid())
        return
    channel.connect(channel_dir, role="worker")
    capture.install()
    emit("worker.started", worker=os.getpid(), ppid=os.getppid())


def run_task(index, duration, raises=False, threads=False):
    """The tutorial's task: print, sleep ``duration`` seconds, print."""
    role = "worker" if threads else None
    me = _me(threads)
    emit("task.started", role=role, task=index, worker=me)
    try:
        print("Task executing")
        time.sleep(duration)
        if raises:
            raise RuntimeError("task %d failed on purpose" % index)
        print("Task done")
    except Exception as exc:
        emit(
            "task.failed",
            role=role,
            task=index,
            worker=me,
            type=type(exc).__name__,
            message=str(exc)[:500],
        )
        raise
    emit("task.finished", role=role, task=index, worker=me)
    return index


def run_packed(args):
    """``run_task`` for ``map_async``, which passes one argument per item."""
    return run_task(*args)
