"""Every private name of the standard library that the subject reaches, and nothing else.

The subject follows a pool through names the standard library does not document: where a
pool keeps its workers, which method every ``map`` goes through, how ``python -m`` runs a
module. They are all here, each behind a small function or constant, so that a Python
release that moves one breaks one place, and tests/test_subject_private.py can check each
on every interpreter at hand (and fails if any other subject module reaches one itself).

Checked on CPython 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1, 3.13.0, 3.14.7, 3.14.7t
(free-threaded) and PyPy 7.3.11 (Python 3.9.16).
"""

import _thread

# multiprocessing.pool.Pool.map, map_async, starmap and starmap_async all go through this
# method, with ``mapstar`` or ``starmapstar`` as the mapper: patching it sees them all once.
POOL_MAP_ASYNC = "_map_async"


def wrap_pool_task_generation(pool_class, wrap):
    """Replace ``Pool._guarded_task_generation(self, job, func, iterable)`` by
    ``wrap(original)``: the generator of the tasks ``(job, i, func, (item,), {})`` of a
    ``map``/``imap`` (for ``map``, and ``imap`` in chunks: ``func`` is ``mapstar`` or
    ``starmapstar``, each ``item`` a chunk ``(function, items)`` of ``Pool._get_tasks``),
    which the pool's task handler thread takes one at a time, as it sends each.
    Left alone on a class that inherits it (ThreadPool: Pool's is replaced). True when
    replaced."""
    original = vars(pool_class).get("_guarded_task_generation")
    if original is not None:
        pool_class._guarded_task_generation = wrap(original)
        return True
    return False


# Where the standard library hands a task's exception on, to another thread, process or
# text, before the program can see it: (module, class, method, the position of the
# parameter that holds it, and what that is: "traceback", "exception", or "outcome", a
# ``(success, value)`` pair). ``instrument`` takes poolctl's frames out of it there
# (``hidden_frames``). Each exists on every version checked.
EXCEPTION_HANDOVERS = (
    # In a Pool's worker: the traceback formatted as text (RemoteTraceback).
    ("multiprocessing.pool", "ExceptionWithTraceback", "__init__", 2, "traceback"),
    # A Pool's result handler (a ThreadPool's exception object; a pickling error).
    ("multiprocessing.pool", "ApplyResult", "_set", 2, "outcome"),
    ("multiprocessing.pool", "MapResult", "_set", 2, "outcome"),
    ("multiprocessing.pool", "IMapIterator", "_set", 2, "outcome"),
    ("multiprocessing.pool", "IMapUnorderedIterator", "_set", 2, "outcome"),
    # In a ProcessPoolExecutor's worker, and its feeder thread's pickling error.
    ("concurrent.futures.process", "_ExceptionWithTraceback", "__init__", 2, "traceback"),
    ("concurrent.futures.process", "_SafeQueue", "_on_queue_feeder_error", 1, "exception"),
    # Every executor's future (a ThreadPoolExecutor's exception object).
    ("concurrent.futures._base", "Future", "set_exception", 1, "exception"),
)


# The methods that start a child by spawn or forkserver: each pickles the Process it
# starts (its parameter ``process_obj``: ``reduction.dump(process_obj, ...)``, with
# ``ForkingPickler``) while ``get_spawning_popen()`` is set, after the preparation data.
LAUNCHERS = (
    ("multiprocessing.popen_spawn_posix", "Popen", "_launch"),
    ("multiprocessing.popen_forkserver", "Popen", "_launch"),
)


def spawning():
    """Whether this thread is pickling what a spawn or forkserver start sends its child
    (``multiprocessing.context.get_spawning_popen()`` is set)."""
    from multiprocessing.context import get_spawning_popen

    return get_spawning_popen() is not None


def register_forking_reducer(cls, reduce):
    """Have ``ForkingPickler`` pickle the objects of exactly ``cls`` by ``reduce`` (its
    ``_extra_reducers``, copied into each pickler it makes); False, and nothing changed,
    when something already says how (the program registered one, or ``copyreg``)."""
    import copyreg
    from multiprocessing.reduction import ForkingPickler

    if cls in ForkingPickler._extra_reducers or cls in copyreg.dispatch_table:
        return False
    ForkingPickler.register(cls, reduce)
    return True


def pool_workers(pool):
    """``Pool._pool`` (ThreadPool's too): the pool's own list of live workers, which it
    updates in place as it replaces them."""
    return pool._pool


def pool_start_method(pool):
    """The start method of a (process) ``Pool``, from its context ``Pool._ctx``; None for a
    context that does not say (a duck-typed one)."""
    return context_start_method(pool._ctx)


def context_start_method(context):
    """What a multiprocessing context says its start method is; None if it does not say."""
    ask = getattr(context, "get_start_method", None)
    method = ask() if ask is not None else None
    return method if isinstance(method, str) else None


def pool_worker_handler(pool):
    """``Pool._worker_handler``: the thread that replaces the pool's workers as they end
    (and sends them their sentinels); once it has ended, the pool starts no worker again."""
    return pool._worker_handler


def executor_manager_thread(executor):
    """The thread that replaces a ``ProcessPoolExecutor``'s workers and joins them at
    shutdown (``_executor_manager_thread``, 3.9+; ``_queue_management_thread`` on 3.8);
    None before the first submit."""
    thread = getattr(executor, "_executor_manager_thread", None)
    return thread or getattr(executor, "_queue_management_thread", None)


# poolctl's own threads and locks come from ``_thread``, which the interpreter imports to
# start: ``threading`` is the program's to import (or not), and a ``_thread`` thread is
# not in ``threading.enumerate()``, ``active_count()`` nor ``threading._dangling``.
new_lock = _thread.allocate_lock
get_ident = _thread.get_ident
get_native_id = getattr(_thread, "get_native_id", _thread.get_ident)
thread_local = _thread._local


def start_thread(function):
    """Run ``function()`` in a new ``_thread`` thread (a daemon: never waited for)."""
    _thread.start_new_thread(function, ())


def json_string_escaper():
    """``_json.encode_basestring_ascii`` (CPython's C escaper: a str as a JSON string,
    ASCII only), without importing ``json``; None where it is missing (PyPy)."""
    try:
        import _json
    except ImportError:
        return None
    return getattr(_json, "encode_basestring_ascii", None)


def source_file_loader():
    """``SourceFileLoader``, the loader the interpreter gives a script's ``__main__``, from
    the frozen ``_frozen_importlib_external`` the interpreter imported to start, so that
    ``importlib`` is not imported before the program imports it."""
    import sys

    external = sys.modules.get("_frozen_importlib_external")
    if external is None:  # never seen; importlib.machinery says the same
        from importlib.machinery import SourceFileLoader

        return SourceFileLoader
    return external.SourceFileLoader


def pool_check_running(pool):
    """``Pool._check_running()``: raises ValueError as ``map`` does for a pool not running."""
    pool._check_running()


def is_plain_map(mapper, pool_module):
    """True for ``map``'s mapper (``mapstar``: ``func(item)``), False for ``starmap``'s
    (``starmapstar``: ``func(*item)``)."""
    return mapper is pool_module.mapstar


def result_pool(result):
    """``ApplyResult._pool`` (MapResult's too): the pool the result belongs to, None once
    the result is set (``ApplyResult._set`` clears it)."""
    return getattr(result, "_pool", None)


def apply_result_pending(result):
    """Whether ``ApplyResult.get()``/``wait()`` would wait now: its ``_event`` is not set
    (``ready()``, without its call: it is checked on every read)."""
    return not result._event.is_set()


def imap_pending(iterator):
    """Whether ``IMapIterator.next()`` would wait now: no item is ready (``_items``) and
    the iterator has not reached its end (``_index`` short of ``_length``). Read without its
    lock: a result arriving meanwhile only makes a wait that ends at once."""
    return not iterator._items and iterator._index != iterator._length


def future_pending(future):
    """Whether ``Future.result()``/``exception()`` would wait now: its ``_state`` is
    ``PENDING`` or ``RUNNING`` (``done()`` without taking its lock)."""
    return future._state in ("PENDING", "RUNNING")


def executor_workers(executor):
    """``ProcessPoolExecutor._processes``: its own dict pid → process of live workers."""
    return executor._processes


def executor_start_method(executor):
    """The start method of a ``ProcessPoolExecutor``, from ``_mp_context``."""
    return context_start_method(executor._mp_context)


def thread_executor_workers(executor):
    """``ThreadPoolExecutor._threads``: its own set of the threads it started (it adds each
    as it starts it, and keeps them there once they have ended)."""
    return executor._threads


def executor_context_factory(executor):
    """``ThreadPoolExecutor._create_worker_context`` (3.14+, InterpreterPoolExecutor's too):
    called once per worker thread, it makes the context whose ``initialize()`` the thread
    calls first (for an interpreter pool: create the subinterpreter, run the initializer
    there) and whose ``run(task)`` runs each task (in that subinterpreter)."""
    return executor._create_worker_context


def executor_task_resolver(executor):
    """``ThreadPoolExecutor._resolve_work_item_task`` (3.14+): ``submit()`` calls it once
    per accepted task, ``(fn, args, kwargs)`` → the task the worker context's ``run`` gets."""
    return executor._resolve_work_item_task


def set_executor_hooks(executor, create_context, resolve_task):
    """Replace the two above on this one executor."""
    executor._create_worker_context = create_context
    executor._resolve_work_item_task = resolve_task


def context_interpreter(context):
    """``WorkerContext.interp`` of an interpreter pool (3.14+): the worker's subinterpreter,
    once ``initialize()`` created it."""
    return context.interp


def is_map_chunk(function, executor_module):
    """True for what ``ProcessPoolExecutor.map`` submits: ``partial(_process_chunk, ...)``;
    always False for an executor module without ``_process_chunk`` (ThreadPoolExecutor's
    ``map`` is ``Executor.map``, which submits the user's function itself)."""
    chunk = getattr(executor_module, "_process_chunk", None)
    return chunk is not None and getattr(function, "func", None) is chunk


def future_class():
    """``concurrent.futures.Future`` (whose ``result()`` reads an executor's results),
    from the module that defines it, ``concurrent.futures._base``."""
    from concurrent.futures import _base

    return _base.Future


def process_returncode(process):
    """The exit code a ``multiprocessing`` process's ``_popen`` holds, None while the
    process has not been reaped by its owner (or once the object was closed)."""
    return getattr(getattr(process, "_popen", None), "returncode", None)


def runpy_error():
    """``runpy._Error``: what ``runpy`` raises for a module ``python -m`` cannot run."""
    import runpy

    return runpy._Error


def check_main_module(name):
    """Find module ``name`` as ``python -m`` does before it runs anything
    (``runpy._get_module_details``); raises ``runpy_error()``, SyntaxError, ImportError."""
    import runpy

    runpy._get_module_details(name, runpy._Error)


def run_module_as_main(name):
    """Run module ``name`` in the real ``__main__`` module, as ``python -m`` itself does
    (``runpy._run_module_as_main``, which also sets ``sys.argv[0]``)."""
    import runpy

    return runpy._run_module_as_main(name, alter_argv=True)


def caller_frame(depth):
    """``sys._getframe(depth + 1)``: the frame ``depth`` calls above the caller's (0: the
    caller's own). ``call_site`` walks up from it: ``inspect`` and ``traceback`` would
    build an object for every frame."""
    import sys

    return sys._getframe(depth + 1)


def syntax_tree(source, filename):
    """``source`` (a module) parsed by ``compile`` with ``_ast.PyCF_ONLY_AST``: the ``ast``
    module is not imported (the program may never import it)."""
    import _ast

    return compile(source, filename, "exec", _ast.PyCF_ONLY_AST, True)


def syntax_children(node):
    """The syntax nodes right under ``node``, by its ``_fields``."""
    import _ast

    children = []
    for field in node._fields:
        value = getattr(node, field, None)
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, _ast.AST):
                children.append(child)
    return children


def has_position(node):
    """Whether a syntax node has a position of its own (``lineno`` in its ``_attributes``)."""
    return "lineno" in node._attributes


# Checked by tests/test_subject_private.py on every interpreter at hand.
def gil_enabled():
    """``sys._is_gil_enabled()`` (3.13+): whether the GIL is enabled now. Where it does not
    exist (before 3.13) there is no free-threaded build: the GIL is enabled. (No
    ``sysconfig`` here: it imports ``threading``, which is the program's to import.)"""
    import sys

    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_enabled is None else bool(is_enabled())


__all__ = (
    "POOL_MAP_ASYNC",
    "wrap_pool_task_generation",
    "EXCEPTION_HANDOVERS",
    "LAUNCHERS",
    "spawning",
    "register_forking_reducer",
    "pool_workers",
    "pool_start_method",
    "pool_worker_handler",
    "executor_manager_thread",
    "new_lock",
    "get_ident",
    "get_native_id",
    "thread_local",
    "start_thread",
    "json_string_escaper",
    "source_file_loader",
    "context_start_method",
    "pool_check_running",
    "is_plain_map",
    "result_pool",
    "apply_result_pending",
    "imap_pending",
    "future_pending",
    "executor_workers",
    "executor_start_method",
    "thread_executor_workers",
    "executor_context_factory",
    "executor_task_resolver",
    "set_executor_hooks",
    "context_interpreter",
    "is_map_chunk",
    "future_class",
    "process_returncode",
    "runpy_error",
    "check_main_module",
    "run_module_as_main",
    "gil_enabled",
    "caller_frame",
    "syntax_tree",
    "syntax_children",
    "has_position",
)
