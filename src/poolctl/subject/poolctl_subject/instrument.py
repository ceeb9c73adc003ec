"""Follow every pool a traced program creates, without touching the program's files.

An import hook patches ``multiprocessing.pool.Pool`` (and so ``ThreadPool``) and
``concurrent.futures.ProcessPoolExecutor`` the moment the program imports them; nothing is
imported before the program asks for it. The patched methods report the pool's lifecycle
from the main process (``pool.created``, ``close.called`` ...) and hand the pool wrapped
callables (see ``traced``) that report each task from the worker that runs it.

Only the outermost call reports: ``Pool.__exit__`` calls ``terminate()``, ``apply()`` calls
``apply_async()``, ``Executor.map`` calls ``submit()``; the user made one call.
"""

import itertools
import sys
import threading
import time

from . import program_wrappers as traced
from .channel import emit

POOL_MODULE = "multiprocessing.pool"
EXECUTOR_MODULE = "concurrent.futures.process"

_channel_dir = None
_pool_ids = itertools.count(1)
_task_ids = itertools.count()
_depth = threading.local()


def install(channel_dir):
    """Patch the pool classes when the program imports them (at once if already imported)."""
    global _channel_dir
    _channel_dir = channel_dir
    for name in (POOL_MODULE, EXECUTOR_MODULE):
        if name in sys.modules:
            _patch(sys.modules[name])
    sys.meta_path.insert(0, _Finder())


class _Finder:
    """A meta path finder that only wraps the loaders of the two pool modules."""

    def find_spec(self, name, path=None, target=None):
        if name not in (POOL_MODULE, EXECUTOR_MODULE):
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


class _Loader:
    """Load the module as its own loader would, then patch it."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _patch(module)

    def __getattr__(self, name):  # get_source, get_code, is_package ...
        return getattr(self._loader, name)


def _patch(module):
    if getattr(module, "_poolctl_patched", False):
        return
    module._poolctl_patched = True
    if module.__name__ == POOL_MODULE:
        _patch_pool(module.Pool, module)
        _patch_result(module.ApplyResult, "get")  # MapResult's too
    else:
        _patch_executor(module.ProcessPoolExecutor, module)
        from concurrent.futures import _base

        _patch_result(_base.Future, "result")


class _Outermost:
    """True inside the first instrumented call of this thread, False in nested ones."""

    def __enter__(self):
        level = getattr(_depth, "level", 0)
        _depth.level = level + 1
        return level == 0

    def __exit__(self, *exc):
        _depth.level -= 1


def _raised(pool_id, name, exc):
    emit("error.raised", pool=pool_id, step=name, type=type(exc).__name__, message=str(exc)[:500])


def _called(pool_id, name, function, after=None, **details):
    """Run a lifecycle call, bracketed by '<name>.called' and '<name>.returned'.

    ``after`` runs before the return is reported: a call that joined the workers must not
    be shown returning before their exits.
    """
    with _Outermost() as outermost:
        if not outermost:
            return function()
        emit(name + ".called", pool=pool_id, **details)
        try:
            result = function()
        except BaseException as exc:
            _raised(pool_id, name, exc)
            raise
        if after is not None:
            after()
        emit(name + ".returned", pool=pool_id)
        return result


def _submitting(pool_id, name, function, /, *args, **kwargs):
    """Run a submission; a call the pool refuses (closed, broken) is reported."""
    try:
        return function(*args, **kwargs)
    except BaseException as exc:
        _raised(pool_id, name, exc)
        raise


def _submitted(pool_id, tasks, ns):
    # Stamped when the call began: a worker may start a task before the call returns.
    for task in tasks:
        emit("task.submitted", task=task, pool=pool_id, ns=ns)


def _numbered(items, pool_id, last=False):
    """The items with their task numbers, each reported as the pool takes it."""
    for item in items:
        task = next(_task_ids)
        emit("task.submitted", task=task, pool=pool_id)
        yield task if last else (task, item)


def _counter(pool_id):
    """Task numbers for the executor's ``map``, which zips them after the user's iterables
    (so none is taken, and none reported, past the shortest of them)."""
    return _numbered(itertools.repeat(None), pool_id, last=True)


def _bind(names, args, kwargs):
    """Positional and keyword arguments as one dict, by the original signature."""
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return bound


def _wrap_initializer(options, pool_id, threads):
    options["initargs"] = (
        _channel_dir,
        pool_id,
        threads,
        options.get("initializer"),
        tuple(options.get("initargs") or ()),
    )
    options["initializer"] = traced.init_worker


def _created(pool, pool_id, api, method, workers, threads):
    """Report the new pool and start following its workers."""
    from .pools import members, worker_id
    from .watch import WorkerWatch  # imports multiprocessing: only once a pool exists

    ids = [worker_id(w) for w in members(workers)]
    emit("pool.created", pool=pool_id, api=api, start_method=method, workers=ids)
    # Started only now: a thread alive during Pool()'s forks would change the program.
    watch = WorkerWatch(workers, method, pool=pool_id)
    watch.start()
    pool._poolctl = (pool_id, threads, watch)


def _lifecycle(original, name, joins=False):
    """A patched lifecycle method (close, terminate, join, shutdown, __exit__)."""
    label = {"__exit__": "with-exit"}.get(name, name)

    def method(self, *args, **kwargs):
        if not hasattr(self, "_poolctl"):  # a pool whose creation was not seen through
            return original(self, *args, **kwargs)
        pool_id, _, watch = self._poolctl
        details = {}
        after = watch.sync if joins else None
        if name == "shutdown":
            details = _bind(("wait",), args, kwargs)
            details.setdefault("wait", True)
            if not details["wait"]:
                after = None
        return _called(
            pool_id, label, lambda: original(self, *args, **kwargs), after=after, **details
        )

    method.__name__ = name
    return method


def _patch_pool(pool_class, module):
    original = {name: getattr(pool_class, name) for name in _POOL_METHODS}
    thread_class = module.ThreadPool
    names = ("processes", "initializer", "initargs", "maxtasksperchild", "context")

    def init(self, *args, **kwargs):
        with _Outermost() as outermost:
            if not outermost:
                original["__init__"](self, *args, **kwargs)
                return
            options = _bind(names, args, kwargs)
            threads = isinstance(self, thread_class)
            pool_id = next(_pool_ids)
            context = options.get("context")
            api = "threadpool" if threads else "pool"
            emit(
                "pool.creating",
                pool=pool_id,
                api=api,
                start_method=None if threads or context is None else context.get_start_method(),
                processes=options.get("processes"),
            )
            _wrap_initializer(options, pool_id, threads)
            _submitting(pool_id, "Pool", original["__init__"], self, **options)
            method = None if threads else self._ctx.get_start_method()
            _created(self, pool_id, api, method, self._pool, threads)

    def apply_async(self, func, args=(), kwds={}, *rest, **options):  # noqa: B006
        with _Outermost() as outermost:
            if not outermost or not hasattr(self, "_poolctl"):
                return original["apply_async"](self, func, args, kwds, *rest, **options)
            pool_id, threads, _ = self._poolctl
            task, ns = next(_task_ids), time.monotonic_ns()
            call = traced.Call(func, task, pool_id, threads)
            result = _submitting(
                pool_id,
                "apply_async",
                original["apply_async"],
                self,
                call,
                args,
                kwds,
                *rest,
                **options,
            )
            _submitted(pool_id, [task], ns)
            return result

    def _map_async(self, func, iterable, mapper, *rest, **options):
        with _Outermost() as outermost:
            if not outermost or not hasattr(self, "_poolctl"):
                return original["_map_async"](self, func, iterable, mapper, *rest, **options)
            pool_id, threads, _ = self._poolctl
            ns = time.monotonic_ns()
            name = "map" if mapper is module.mapstar else "starmap"
            _submitting(pool_id, name, self._check_running)
            # mapstar calls func(item), starmapstar func(*item): (task, item) fits both.
            numbered = [(next(_task_ids), item) for item in iterable]
            wrapped = traced.Item(func, pool_id, threads, "one" if name == "map" else "star")
            result = _submitting(
                pool_id,
                name,
                original["_map_async"],
                self,
                wrapped,
                numbered,
                mapper,
                *rest,
                **options,
            )
            _submitted(pool_id, [task for task, _ in numbered], ns)
            return result

    def lazy(name):
        def imap(self, func, iterable, *rest, **options):
            with _Outermost() as outermost:
                if not outermost or not hasattr(self, "_poolctl"):
                    return original[name](self, func, iterable, *rest, **options)
                pool_id, threads, _ = self._poolctl
                wrapped = traced.Item(func, pool_id, threads, "one")
                items = _numbered(iterable, pool_id)
                return _submitting(
                    pool_id, name, original[name], self, wrapped, items, *rest, **options
                )

        imap.__name__ = name
        return imap

    _install(
        pool_class,
        __init__=init,
        apply_async=apply_async,
        _map_async=_map_async,
        imap=lazy("imap"),
        imap_unordered=lazy("imap_unordered"),
        close=_lifecycle(original["close"], "close"),
        terminate=_lifecycle(original["terminate"], "terminate", joins=True),
        join=_lifecycle(original["join"], "join", joins=True),
        __exit__=_lifecycle(original["__exit__"], "__exit__", joins=True),
    )


_POOL_METHODS = (
    "__init__",
    "apply_async",
    "_map_async",
    "imap",
    "imap_unordered",
    "close",
    "terminate",
    "join",
    "__exit__",
)


def _patch_executor(executor_class, module):
    original = {
        name: getattr(executor_class, name)
        for name in ("__init__", "submit", "map", "shutdown", "__exit__")
    }
    names = ("max_workers", "mp_context", "initializer", "initargs")

    def init(self, *args, **kwargs):
        with _Outermost() as outermost:
            if not outermost:
                original["__init__"](self, *args, **kwargs)
                return
            options = _bind(names, args, kwargs)
            pool_id = next(_pool_ids)
            context = options.get("mp_context")
            emit(
                "pool.creating",
                pool=pool_id,
                api="executor",
                start_method=None if context is None else context.get_start_method(),
                processes=options.get("max_workers"),
            )
            _wrap_initializer(options, pool_id, False)
            _submitting(pool_id, "ProcessPoolExecutor", original["__init__"], self, **options)
            method = self._mp_context.get_start_method()
            _created(self, pool_id, "executor", method, self._processes, False)

    def submit(self, fn, /, *args, **kwargs):
        with _Outermost() as outermost:
            # A chunk submitted by map() is not the user's call: its items are reported.
            chunk = getattr(fn, "func", None) is module._process_chunk
            if not outermost or chunk or not hasattr(self, "_poolctl"):
                return original["submit"](self, fn, *args, **kwargs)
            pool_id = self._poolctl[0]
            task, ns = next(_task_ids), time.monotonic_ns()
            call = traced.Call(fn, task, pool_id, False)
            future = _submitting(pool_id, "submit", original["submit"], self, call, *args, **kwargs)
            _submitted(pool_id, [task], ns)
            return future

    def map(self, fn, *iterables, **options):
        with _Outermost() as outermost:
            if not outermost or not hasattr(self, "_poolctl"):
                return original["map"](self, fn, *iterables, **options)
            pool_id = self._poolctl[0]
            wrapped = traced.Item(fn, pool_id, False, "last")
            return _submitting(
                pool_id,
                "map",
                original["map"],
                self,
                wrapped,
                *iterables,
                _counter(pool_id),
                **options,
            )

    _install(
        executor_class,
        __init__=init,
        submit=submit,
        map=map,
        shutdown=_lifecycle(original["shutdown"], "shutdown", joins=True),
        __exit__=_lifecycle(original["__exit__"], "__exit__", joins=True),
    )


def _patch_result(result_class, name):
    """Report what reading a result raises: a task's exception surfaces there."""
    original = getattr(result_class, name)

    def read(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except BaseException as exc:
            owner = getattr(getattr(self, "_pool", None), "_poolctl", (None,))
            _raised(owner[0], name, exc)
            raise

    _install(result_class, **{name: read})


def _install(cls, **methods):
    for name, function in methods.items():
        function.__name__ = name
        function.__qualname__ = cls.__name__ + "." + name
        setattr(cls, name, function)
