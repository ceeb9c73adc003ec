"""What runs in a pool worker: the initializer and the tutorial's task.

Both are module-level functions so that every start method can pickle them by reference.
"""

import os
import time

from . import capture, channel
from .channel import emit


def init_worker(channel_dir):
    """Pool initializer: connect the worker to the channel and say it is ready."""
    channel.connect(channel_dir, role="worker")
    capture.install()
    emit("worker.started", worker=os.getpid(), ppid=os.getppid())


def run_task(index, duration, raises=False):
    """The tutorial's task: print, sleep ``duration`` seconds, print."""
    emit("task.started", task=index, worker=os.getpid())
    try:
        print("Task executing")
        time.sleep(duration)
        if raises:
            raise RuntimeError("task %d failed on purpose" % index)
        print("Task done")
    except Exception as exc:
        emit(
            "task.failed",
            task=index,
            worker=os.getpid(),
            type=type(exc).__name__,
            message=str(exc)[:500],
        )
        raise
    emit("task.finished", task=index, worker=os.getpid())
    return index
