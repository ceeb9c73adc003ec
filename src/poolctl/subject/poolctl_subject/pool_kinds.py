"""The kinds of pool the subject runs and follows, one class each.

Each class says how to create its pool for a scenario, where the pool keeps its live
workers, how to submit one task or a map and read a result, which calls have joined the
workers when they return, and whether the workers are threads. ``pools``,
``scenario_program``, ``instrument`` and ``watch`` reach a pool only through these
classes; the private names of the standard library they use are in ``stdlib_private``.

The classes are matched by ``name`` with the observer's table, src/poolctl/pool_kinds.py.
A new kind is one class here (listed in ``KINDS``), one row there, a scenario file and its
tests. Nothing here imports a pool module: ``poolctl trace`` must not import one before the
program does.
"""

import sys

from . import stdlib_private as private


class PoolKind:
    """What every kind says; the defaults are those of ``multiprocessing.pool.Pool``."""

    name = None  # the scenario's ``api`` and the ``api`` of pool events
    module = None  # the module that defines the class
    class_name = None
    threads = False  # True: the workers are threads of the main process
    getter = "get"  # the method of a result handle that reads the result
    # The calls (method names) after which every worker has been joined.
    joining = ()
    # The calls ``poolctl trace`` reports as ``<call>.called`` / ``<call>.returned``.
    lifecycle = ()
    # How ``instrument`` patches the class ("pool-methods" or "executor-methods"); None: through
    # the base class it inherits its methods from.
    patch = None
    # The names of two of the constructor's parameters (context_option None: it takes none).
    processes_option = "processes"
    context_option = "context"
    # True: its tasks run in subinterpreters, where nothing of poolctl can go: the program's
    # callables and initializer are handed over unwrapped, and ``follow`` reports the
    # workers and tasks from the calling side (``calling_side``).
    in_subinterpreters = False
    # The calls whose names differ from their step's (a method's ``_``, a step's ``-``).
    call_names = {"__exit__": "with-exit"}

    @classmethod
    def follow(cls, pool, numbers, tag, after_initialize=None):
        """Report from the calling side what the workers cannot (``in_subinterpreters``)."""

    @classmethod
    def pool_class(cls, module=None):
        """The class, from ``module`` or the imported module (importing it if need be)."""
        if module is None:
            import importlib

            module = importlib.import_module(cls.module)
        return getattr(module, cls.class_name)

    @classmethod
    def context(cls, start_method):
        """The multiprocessing context a scenario's pool uses; None for threads."""
        if cls.threads:
            return None
        import multiprocessing

        return multiprocessing.get_context(start_method)

    @classmethod
    def create(cls, program, context, initializer, initargs):
        """The pool the scenario ``program`` asks for, with this initializer."""
        raise NotImplementedError

    @classmethod
    def workers(cls, pool):
        """The pool's own live collection of workers, which it updates in place."""
        return private.pool_workers(pool)

    @classmethod
    def members(cls, workers):
        """The workers in the collection ``workers()`` gave, now."""
        return list(workers)

    @classmethod
    def worker_starter(cls, pool):
        """The pool's thread that may start (replace) workers, while it lives; None for
        pools of threads and before the pool has one."""
        return None if cls.threads else private.pool_worker_handler(pool)

    @classmethod
    def worker_id(cls, worker):
        """A process's pid, or a thread's native id."""
        return worker.native_id if cls.threads else worker.pid

    @classmethod
    def exit_code(cls, worker):
        """The exit code the pool already holds for the worker; None for a thread."""
        return None if cls.threads else private.process_returncode(worker)

    @classmethod
    def start_method(cls, pool):
        """The start method of a pool created by the program; None for threads."""
        return None if cls.threads else private.pool_start_method(pool)

    @classmethod
    def submit(cls, pool, function, args):
        """Issue one task ``function(*args)``; return its result handle."""
        return pool.apply_async(function, args)

    @classmethod
    def map_async(cls, pool, function, items):
        """Issue ``function(item)`` for each item; return the one result handle."""
        return pool.map_async(function, items)

    @classmethod
    def read(cls, handle, timeout):
        """The result a handle holds, waiting up to ``timeout`` seconds (None: for ever)."""
        return getattr(handle, cls.getter)(timeout)

    @classmethod
    def result_class(cls, module):
        """The class of the result handles (its ``getter`` is what ``instrument`` patches)."""
        return module.ApplyResult

    @classmethod
    def iterator_class(cls, module):
        """The class of ``imap``'s result iterator (its ``next`` reads a result); None for
        an executor."""
        return module.IMapIterator

    @classmethod
    def result_pool(cls, handle):
        """The pool a result handle belongs to while it is pending, if it says."""
        return private.result_pool(handle)

    @classmethod
    def detail_parameters(cls, call):
        """The parameters of the method ``call`` that its ``<call>.called`` event reports."""
        return ()

    @classmethod
    def call_details(cls, call, values):
        """What a ``<call>.called`` event says of the call's arguments, from ``values`` (the
        ``detail_parameters`` the method has, by name)."""
        return {}

    @classmethod
    def joins(cls, call, options):
        """Whether ``call`` (a method name), made with ``options``, joined the workers."""
        return call in cls.joining


class Pool(PoolKind):
    """``multiprocessing.pool.Pool``: worker processes, replaced as they end."""

    name = "pool"
    module = "multiprocessing.pool"
    class_name = "Pool"
    joining = ("join", "terminate", "__exit__")  # __exit__ terminates
    lifecycle = ("close", "terminate", "join", "__exit__")
    patch = "pool-methods"

    @classmethod
    def create(cls, program, context, initializer, initargs):
        return context.Pool(
            program["workers"],
            initializer=initializer,
            initargs=initargs,
            maxtasksperchild=program["maxtasksperchild"],
        )


class ThreadPool(Pool):
    """``multiprocessing.pool.ThreadPool``: a Pool whose workers are threads."""

    name = "threadpool"
    class_name = "ThreadPool"
    threads = True
    patch = None  # its methods are Pool's

    @classmethod
    def create(cls, program, context, initializer, initargs):
        return cls.pool_class()(program["workers"], initializer=initializer, initargs=initargs)


class Executor(PoolKind):
    """What ``concurrent.futures``' executors share (its ``Executor`` base class): ``submit``,
    ``Future.result()``, ``shutdown(wait, cancel_futures)``, ``__exit__`` that waits."""

    getter = "result"
    joining = ("shutdown", "__exit__")  # shutdown only with wait=True; __exit__ waits
    lifecycle = ("shutdown", "__exit__")
    patch = "executor-methods"
    processes_option = "max_workers"

    @classmethod
    def submit(cls, pool, function, args):
        return pool.submit(function, *args)

    @classmethod
    def map_async(cls, pool, function, items):
        raise ValueError("an executor has no map_async")

    @classmethod
    def result_class(cls, module):
        return private.future_class()

    @classmethod
    def iterator_class(cls, module):
        return None

    @classmethod
    def result_pool(cls, handle):
        return None  # a Future does not know its executor

    @classmethod
    def detail_parameters(cls, call):
        return ("wait", "cancel_futures") if call == "shutdown" else ()

    @classmethod
    def call_details(cls, call, values):
        # As the method takes them: what it does with any object is ask its truth.
        return {name: bool(value) for name, value in values.items()}

    @classmethod
    def joins(cls, call, options):
        return call in cls.joining and (call != "shutdown" or options.get("wait", True))


class ProcessPoolExecutor(Executor):
    """``concurrent.futures.ProcessPoolExecutor``."""

    name = "executor"
    module = "concurrent.futures.process"
    class_name = "ProcessPoolExecutor"
    context_option = "mp_context"

    @classmethod
    def create(cls, program, context, initializer, initargs):
        return cls.pool_class()(
            program["workers"], mp_context=context, initializer=initializer, initargs=initargs
        )

    @classmethod
    def workers(cls, pool):
        return private.executor_workers(pool)

    @classmethod
    def members(cls, workers):
        return list(workers.values())

    @classmethod
    def start_method(cls, pool):
        return private.executor_start_method(pool)

    @classmethod
    def worker_starter(cls, pool):
        return private.executor_manager_thread(pool)

    # 3.14's terminate_workers() and kill_workers(): each calls shutdown(), which does not
    # report (only the outermost call does). ``instrument`` patches those the class has.
    lifecycle = Executor.lifecycle + ("terminate_workers", "kill_workers")
    call_names = dict(
        Executor.call_names, terminate_workers="terminate-workers", kill_workers="kill-workers"
    )


class ThreadPoolExecutor(Executor):
    """``concurrent.futures.ThreadPoolExecutor``: worker threads, started as tasks arrive,
    never replaced; ``shutdown(wait=True)`` joins them."""

    name = "thread-executor"
    module = "concurrent.futures.thread"
    class_name = "ThreadPoolExecutor"
    threads = True
    context_option = None  # it takes none

    @classmethod
    def create(cls, program, context, initializer, initargs):
        return cls.pool_class()(program["workers"], initializer=initializer, initargs=initargs)

    @classmethod
    def workers(cls, pool):
        return private.thread_executor_workers(pool)

    @classmethod
    def members(cls, workers):
        # A copy is one call: the executor adds threads to the set while we look.
        return list(workers.copy())


class InterpreterPoolExecutor(ThreadPoolExecutor):
    """``concurrent.futures.InterpreterPoolExecutor`` (3.14+): a ThreadPoolExecutor whose
    worker threads each run their tasks in a subinterpreter of their own. Its methods are
    ThreadPoolExecutor's (patched there); its workers and tasks are reported from the
    calling side (``calling_side``), the program's callables handed over unwrapped."""

    name = "interpreter-executor"
    module = "concurrent.futures.interpreter"
    class_name = "InterpreterPoolExecutor"
    patch = None  # its methods are ThreadPoolExecutor's, patched when its module is
    in_subinterpreters = True

    @classmethod
    def create(cls, program, context, initializer, initargs):
        # The subject's initializer would run in the subinterpreter: the calling side
        # reports each worker ready instead.
        return cls.pool_class()(program["workers"])

    @classmethod
    def follow(cls, pool, numbers, tag, after_initialize=None):
        from . import calling_side

        calling_side.follow(pool, numbers, tag, after_initialize)


KINDS = {
    kind.name: kind
    for kind in (Pool, ThreadPool, ProcessPoolExecutor, ThreadPoolExecutor, InterpreterPoolExecutor)
}
# The modules whose classes ``poolctl trace`` patches when the program imports them.
MODULES = tuple(sorted({kind.module for kind in KINDS.values()}))


def named(name):
    """The kind a scenario's ``api`` names."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError("unknown pool kind %r" % (name,)) from None


def in_module(module_name):
    """The kinds whose class ``module_name`` defines."""
    return [kind for kind in KINDS.values() if kind.module == module_name]


def of(pool):
    """The kind of a pool object (the nearest kind class it derives from), or None.

    None too for a class of the standard library that derives from a kind's class but is
    no kind poolctl knows (``InterpreterPoolExecutor`` is a ``ThreadPoolExecutor`` whose
    workers run in subinterpreters): following it as its base would change the program.
    Looks only at modules already imported: the pool's own is.
    """
    classes = {}
    for kind in KINDS.values():
        found = getattr(sys.modules.get(kind.module), kind.class_name, None)
        if found is not None:
            classes[found] = kind
    for cls in type(pool).__mro__:
        if cls in classes:
            return classes[cls]
        if cls.__module__.startswith(_STDLIB_POOL_PACKAGES):
            return None
    return None


# Where the standard library's pool classes live.
_STDLIB_POOL_PACKAGES = ("multiprocessing.", "concurrent.futures.")
