"""What ``poolctl trace`` puts around the user's own initializer and task functions.

The wrappers are module-level classes and functions holding the user's callable as an
attribute, so they pickle exactly when the user's callable pickles (by reference, for every
start method) and a spawned worker imports this module from the ``sys.path`` it inherits.
Each adds two stores to a task (``task.started`` and ``task.finished``/``task.failed``),
or to a map's chunk past a pool's first items (``Item``); nothing else runs in the worker.
What poolctl's own code raises here is reported (``observer.failed``) and never reaches
the user's initializer or task.

They never show: a task's exception leaves with poolctl's frames taken out of its
traceback (``hidden_frames``), and a callable that cannot be pickled fails as it would
unwrapped (3.14 notes where in the pickled object it was: the wrapper checks the user's
callable first, so the notes are the standard library's own).
"""

import sys
import weakref

from . import hidden_frames, shared_events
from . import stdlib_private as private

# 3.14+ notes, in a pickling error, each object it was serializing ("when serializing
# ... reconstructor arguments"): the wrapper must not be one of them. PyPy's pickler is
# Python code: a traceback through it shows each object it was saving, as frames.
_PICKLING_NOTES = sys.version_info >= (3, 14)
_PYTHON_PICKLER = sys.implementation.name == "pypy"
# The last callable found picklable (a weak reference: it must not outlive the program's
# use of it): a map of many chunks, or a loop of apply_async() with one function, checks
# it once.
_picklable = None


def init_worker(channel_dir, pool, threads, initializer, initargs):
    """Pool initializer: say the worker is ready, then run the user's own initializer."""
    try:
        shared_events.connect_worker(channel_dir, threads)
        shared_events.worker_started(threads, pool=pool)
        if not threads:  # a spawned worker imported its pool module afresh
            from . import instrument

            instrument.hide_handed_over_frames()
    except Exception as exc:
        shared_events.observer_failed("program_wrappers: init_worker", exc)
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as exc:
            _hide(exc, threads)
            raise


def _hide(exc, threads):
    """Take poolctl's frames out of what the user's callable raised, and, in a worker
    process, out of what ends the process (``KeyboardInterrupt`` ...) as it prints it."""
    hidden_frames.hide(exc)
    if not threads:
        hidden_frames.hide_in_dying_worker(exc)


def _check_picklable(function):
    """Pickle ``function`` alone, as multiprocessing would: what it raises is what pickling
    it inside the wrapper would have raised, without the wrapper's notes."""
    global _picklable
    if not (_PICKLING_NOTES or _PYTHON_PICKLER):
        return
    if _picklable is not None and _picklable() is function:
        return
    import io
    from multiprocessing.reduction import ForkingPickler

    # dump() itself, not ForkingPickler.dumps(): a frame of the standard library that the
    # plain pickling error has not. The wrapper's own frames are taken out where the error
    # is handed over (hidden_frames).
    try:
        ForkingPickler(io.BytesIO()).dump(function)
    except BaseException as exc:
        if _PYTHON_PICKLER:
            # The pickler's save() -> the wrapper's __reduce__ -> here.
            _as_if_pickled_in_place(exc, private.caller_frame(2))
        raise
    try:
        _picklable = weakref.ref(function)
    except TypeError:  # not weakly referable: checked each time
        _picklable = None


def _as_if_pickled_in_place(exc, saving):
    """Make a Python pickler's traceback read as if the function had been pickled where the
    wrapper is: without the check's own ``dump()`` (relinked out of the chain, in place,
    whatever a re-raise keeps), nor the ``save()`` that called the wrapper's
    ``__reduce__`` (``saving``, taken out where the error is handed over)."""
    ours = exc.__traceback__
    if ours is not None and ours.tb_next is not None:
        ours.tb_next = ours.tb_next.tb_next
    hidden_frames.hide_also(exc, saving)


class Call:
    """One submitted call (``apply_async``, ``submit``): ``function(*args, **kwargs)``."""

    __slots__ = ("function", "task", "pool", "threads")

    def __init__(self, function, task, pool, threads):
        self.function = function
        self.task = task
        self.pool = pool
        self.threads = threads

    def __reduce__(self):
        _check_picklable(self.function)
        return (Call, (self.function, self.task, self.pool, self.threads))

    def __call__(self, /, *args, **kwargs):
        try:
            return shared_events.run_task(
                self.task, self.threads, self.function, args, kwargs, BaseException, pool=self.pool
            )
        except BaseException as exc:
            _hide(exc, self.threads)
            raise


class Item:
    """One item of a ``map``-family call; the task number travels with the item.

    The executor's ``map`` passes ``*args, task``. A ``Pool``'s ``map`` and ``imap`` number
    their items ``(task, item)`` as the pool takes them; then each task leaves with a copy
    of the wrapper that holds its items' numbers (``numbered_tasks``) and its items as they
    are: pickling one is what it is plainly (3.14's notes of where it was, PyPy's pickler's
    frames).

    A pool's first items (``instrument``: the tasks whose events the observer keeps) each
    send their own events; the items past them are counted, not numbered one by one on the
    wire: the chunk they travel in sends one ``task.submitted``, ``task.started`` and
    ``task.finished`` (or ``task.failed``, naming the item that raised) with their
    ``count``. The pool handles a chunk as one task (its items leave and come back
    together), so nothing is lost: a chunk ended by ``terminate()`` has every item
    interrupted.
    """

    __slots__ = ("function", "pool", "threads", "mode", "tasks", "detail", "done")

    def __init__(self, function, pool, threads, mode, tasks=None, detail=None):
        self.function = function
        self.pool = pool
        self.threads = threads
        self.mode = mode  # "one" (an item a call), "star" (its arguments), "last"
        self.tasks = tasks  # a Pool task's item numbers, in order (its items are bare)
        # How many of them, from the first, have events of their own (the rest: counted).
        self.detail = len(tasks) if detail is None and tasks is not None else detail
        self.done = 0  # the items of the chunk called so far

    def __reduce__(self):
        _check_picklable(self.function)
        args = (self.function, self.pool, self.threads, self.mode, self.tasks, self.detail)
        return (Item, args)

    def numbering(self, numbered):
        """A copy of the wrapper for ``numbered``, ``((task, item), ...)``, and the items.
        A counted item's number comes as ``~task`` (``instrument._numbering``); the counted
        items of a chunk are its last."""
        tasks, items = zip(*numbered) if numbered else ((), ())
        detail = len(tasks)
        if detail and tasks[-1] < 0:
            detail = 0
            while tasks[detail] >= 0:
                detail += 1
            if detail == 0 and tasks[0] - tasks[-1] == len(tasks) - 1:
                tasks = range(~tasks[0], ~tasks[-1] + 1)  # the common case, not item by item
            else:
                tasks = tasks[:detail] + tuple(map(int.__invert__, tasks[detail:]))
        if len(tasks) > 1 and tasks[-1] - tasks[0] == len(tasks) - 1:
            tasks = range(tasks[0], tasks[-1] + 1)  # pickles in a few bytes, not 5 an item
        return Item(self.function, self.pool, self.threads, self.mode, tasks, detail), items

    def submitted(self):
        """``task.submitted`` for the chunk's counted items, if any (its first items sent
        their own as they were numbered)."""
        count = len(self.tasks) - self.detail
        if count:
            try:
                shared_events.chunk_submitted(self.tasks[self.detail], count, pool=self.pool)
            except Exception as exc:
                shared_events.observer_failed("program_wrappers: chunk", exc)

    def __call__(self, *packed):
        tasks = self.tasks
        if tasks is not None:  # a Pool's task: called item by item, in order
            index = self.done
            self.done = index + 1
            args = packed if self.mode == "star" else packed[:1]
            if index >= self.detail:
                return self._counted(index, args)
            task = tasks[index]
        elif self.mode == "last":
            task, args = packed[-1], packed[:-1]
        elif self.mode == "one":  # the pair itself (numbered_tasks could not be installed)
            task, item = packed[0]
            args = (item,)
        else:
            task, args = packed
        try:
            return shared_events.run_task(
                task, self.threads, self.function, args, {}, BaseException, pool=self.pool
            )
        except BaseException as exc:
            _hide(exc, self.threads)
            raise

    def _counted(self, index, args):
        """Run the chunk's item ``index``, one of its counted items: the first of them
        sends the chunk's ``task.started``, the last its ``task.finished``."""
        first = self.detail
        count = len(self.tasks) - first
        if index == first:
            shared_events.chunk_started(self.tasks[first], count, self.threads, pool=self.pool)
        try:
            result = self.function(*args)
        except BaseException as exc:
            shared_events.chunk_failed(
                self.tasks[index], count, index - first, exc, self.threads, pool=self.pool
            )
            _hide(exc, self.threads)
            raise
        if index == len(self.tasks) - 1:
            shared_events.chunk_finished(self.tasks[first], count, self.threads, pool=self.pool)
        return result


class Chunk:
    """A map's chunk whose items are all counted (``Item``): in place of the pool's mapper
    (``mapstar``, ``starmapstar``), which it calls on the program's function and the items,
    so that nothing of poolctl's runs per item. Its ``task.started`` and ``task.finished``
    bracket the mapper; when an item raises, how far the mapper got in the items names it
    (``task.failed``). The pool sees its own mapper's frame and result."""

    __slots__ = ("mapper", "tasks", "pool", "threads")

    def __init__(self, mapper, tasks, pool, threads):
        self.mapper = mapper
        self.tasks = tasks
        self.pool = pool
        self.threads = threads

    def __reduce__(self):
        return (Chunk, (self.mapper, self.tasks, self.pool, self.threads))

    def submitted(self):
        try:
            shared_events.chunk_submitted(self.tasks[0], len(self.tasks), pool=self.pool)
        except Exception as exc:
            shared_events.observer_failed("program_wrappers: chunk", exc)

    def __call__(self, args):
        function, items = args
        left = iter(items)
        tasks, count = self.tasks, len(self.tasks)
        shared_events.chunk_started(tasks[0], count, self.threads, pool=self.pool)
        try:
            result = self.mapper((function, left))
        except BaseException as exc:
            done = _taken(items, left) - 1  # the item that raised: the last one taken
            shared_events.chunk_failed(tasks[done], count, done, exc, self.threads, pool=self.pool)
            _hide(exc, self.threads)
            raise
        shared_events.chunk_finished(tasks[0], count, self.threads, pool=self.pool)
        return result


def _taken(items, left):
    """How many of ``items`` (a tuple) the iterator ``left`` over them has given."""
    try:
        return min(max(len(items) - left.__length_hint__(), 1), len(items))
    except Exception:
        return 1


def numbered_tasks(generate):
    """``Pool._guarded_task_generation`` whose tasks carry their items bare: an ``Item``'s
    numbered items ``(task, item)`` leave as a copy of the ``Item`` that holds their
    numbers, with the items. What the program's iterable raises stays inside ``generate``
    (which hands it on as a task), through no frame of poolctl's."""

    def generation(pool, result_job, func, iterable):
        return _numbered(generate(pool, result_job, func, iterable))

    return generation


def _numbered(tasks):
    for task in tasks:
        job, index, func, args, kwargs = task
        if type(func) is Item:  # imap: an item a task
            func, args = func.numbering(args)
            func.submitted()
            task = (job, index, func, args, kwargs)
        elif len(args) == 1 and type(args[0]) is tuple and len(args[0]) == 2:
            function, chunk = args[0]  # mapstar's or starmapstar's (function, items)
            if type(function) is Item:
                copy, items = function.numbering(chunk)
                if copy.detail == 0:  # all counted: the program's function, as plainly
                    chunked = Chunk(func, copy.tasks, copy.pool, copy.threads)
                    chunked.submitted()
                    task = (job, index, chunked, ((function.function, items),), kwargs)
                else:
                    copy.submitted()
                    task = (job, index, func, ((copy, items),), kwargs)
        yield task
