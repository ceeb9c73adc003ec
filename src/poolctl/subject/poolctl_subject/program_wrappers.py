"""What ``poolctl trace`` puts around the user's own initializer and task functions.

The wrappers are module-level classes and functions holding the user's callable as an
attribute, so they pickle exactly when the user's callable pickles (by reference, for every
start method) and a spawned worker imports this module from the ``sys.path`` it inherits.
Each adds two stores to a task (``task.started`` and ``task.finished``/``task.failed``);
nothing else runs in the worker. What poolctl's own code raises here is reported
(``observer.failed``) and never reaches the user's initializer or task.
"""

from . import shared_events


def init_worker(channel_dir, pool, threads, initializer, initargs):
    """Pool initializer: say the worker is ready, then run the user's own initializer."""
    try:
        shared_events.connect_worker(channel_dir, threads)
        shared_events.worker_started(threads, pool=pool)
    except Exception as exc:
        shared_events.observer_failed("program_wrappers: init_worker", exc)
    if initializer is not None:
        initializer(*initargs)


def _run(task, pool, threads, function, args, kwargs):
    # Whatever ends the user's task is reported, KeyboardInterrupt and SystemExit too.
    return shared_events.run_task(task, threads, function, args, kwargs, BaseException, pool=pool)


class Call:
    """One submitted call (``apply_async``, ``submit``): ``function(*args, **kwargs)``."""

    __slots__ = ("function", "task", "pool", "threads")

    def __init__(self, function, task, pool, threads):
        self.function = function
        self.task = task
        self.pool = pool
        self.threads = threads

    def __reduce__(self):
        return (Call, (self.function, self.task, self.pool, self.threads))

    def __call__(self, /, *args, **kwargs):
        return _run(self.task, self.pool, self.threads, self.function, args, kwargs)


class Item:
    """One item of a ``map``-family call; the task number travels with the item.

    ``map``/``imap`` pass ``(task, item)`` as one argument; ``starmap`` passes
    ``task, args``; the executor's ``map`` passes ``*args, task``.
    """

    __slots__ = ("function", "pool", "threads", "mode")

    def __init__(self, function, pool, threads, mode):
        self.function = function
        self.pool = pool
        self.threads = threads
        self.mode = mode  # "one", "star" or "last"

    def __reduce__(self):
        return (Item, (self.function, self.pool, self.threads, self.mode))

    def __call__(self, *packed):
        if self.mode == "one":
            task, item = packed[0]
            args = (item,)
        elif self.mode == "star":
            task, args = packed
        else:
            task, args = packed[-1], packed[:-1]
        return _run(task, self.pool, self.threads, self.function, args, {})
