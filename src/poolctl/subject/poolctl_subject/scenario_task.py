"""What runs in a pool worker: the initializer and the tutorial's task.

Both are module-level functions so that every start method can pickle them by reference.
In a ThreadPool the workers are threads of the main process: their events carry the
thread's native id as ``worker`` and the role ``worker`` explicitly.
"""

import time

from . import capture, shared_events


def init_worker(channel_dir, threads=False):
    """Pool initializer: connect the worker to the channel and say it is ready."""
    shared_events.connect_worker(channel_dir, threads)
    if not threads:
        capture.install()
    shared_events.worker_started(threads)


def run_task(index, duration, raises=False, threads=False, returns=False):
    """The tutorial's task: print, sleep ``duration`` seconds, print; it returns ``index``
    only for a program that reads its results (``returns``), and else nothing, as the
    tutorial's.

    Only an ``Exception`` is a failed task, as the pool's worker sees it: a
    ``KeyboardInterrupt`` (a ``kill-worker`` step's SIGINT) ends the worker instead.
    """
    return shared_events.run_task(
        index, threads, _task, (index, duration, raises, returns), {}, Exception
    )


def _task(index, duration, raises, returns):
    print("Task executing")
    time.sleep(duration)
    if raises:
        raise RuntimeError("task %d failed on purpose" % index)
    print("Task done")
    return index if returns else None


def run_in_subinterpreter(index, duration, raises=False, returns=False):
    """The task, run in an ``InterpreterPoolExecutor``'s subinterpreter: only the task itself
    (its worker thread reports it, from the calling side). It prints through the
    subinterpreter's own ``sys.stdout``, straight to the process's stdout: the observer
    records those lines as the process's, not the worker's."""
    return _task(index, duration, raises, returns)


def run_packed(args):
    """``run_task`` for ``map_async``, which passes one argument per item."""
    return run_task(*args)
