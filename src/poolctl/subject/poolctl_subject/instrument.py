"""Follow every pool a traced program creates, without touching the program's files.

An import hook patches the class of each kind of pool (``pool_kinds``: ``Pool``, and so
``ThreadPool``, ``ProcessPoolExecutor``, ``ThreadPoolExecutor``) the moment the program
imports its module; nothing is imported before the program asks for it. The patched
methods report the pool's lifecycle from the main process (``pool.created``,
``close.called`` ...) and hand the pool wrapped callables (see ``traced``) that report each
task from the worker that runs it.

Only the outermost call reports: ``Pool.__exit__`` calls ``terminate()``, ``apply()`` calls
``apply_async()``, ``Executor.map`` calls ``submit()``; the user made one call.

Everything here runs in the program's own threads. poolctl's code is kept apart from the
call the program made: if ours raises, it is reported (``observer.failed``) and the call
is made as if nothing were patched; the program never sees poolctl's exception.
"""

import itertools
import os
import sys
import time

from . import call_site, pool_kinds, shared_events
from . import program_wrappers as traced
from . import stdlib_private as private

_channel_dir = None
_pool_ids = itertools.count(1)
_task_ids = itertools.count()
_depth = private.thread_local()  # not threading's: that module is the program's to import


def _fresh_in_child():
    # A forked child (a Process, a worker that makes a pool) numbers its pools and tasks
    # apart from its parent's, which it would otherwise continue: from its pid on. A pool's
    # worker is forked inside Pool(): its calls are outermost calls of its own.
    global _pool_ids, _task_ids
    pid = os.getpid()
    _pool_ids = itertools.count(pid * 10000 + 1)
    _task_ids = itertools.count(pid * 10**9)
    _depth.level = 0


os.register_at_fork(after_in_child=_fresh_in_child)


def install(channel_dir):
    """Patch the pool classes when the program imports them (at once if already imported)."""
    global _channel_dir
    _channel_dir = channel_dir
    for name in pool_kinds.MODULES:
        if name in sys.modules:
            _patch(sys.modules[name])
    sys.meta_path.insert(0, _Finder())


def _failed(where, exc):
    shared_events.observer_failed("instrument: " + where, exc)


class _Finder:
    """A meta path finder that only wraps the loaders of the pool modules."""

    def find_spec(self, name, path=None, target=None):
        if name not in pool_kinds.MODULES:
            return None
        try:
            return self._find_spec(name, path, target)
        except Exception as exc:
            _failed("finding " + name, exc)
            return None  # the import system goes on to the next finder, as unpatched

    def _find_spec(self, name, path, target):
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
    try:
        _patch_kinds(module)
    except Exception as exc:
        _failed("patching " + module.__name__, exc)


def _patch_kinds(module):
    for kind in pool_kinds.in_module(module.__name__):
        if kind.patch is not None:  # else its methods are its base class's, patched
            _PATCHES[kind.patch](kind, kind.pool_class(module), module)
            _patch_result(kind, kind.result_class(module))  # MapResult's too


class _Outermost:
    """True inside the first instrumented call of this thread, False in nested ones."""

    def __enter__(self):
        level = getattr(_depth, "level", 0)
        _depth.level = level + 1
        return level == 0

    def __exit__(self, *exc):
        # Never below 0: a child forked inside a call starts at 0 (see _fresh_in_child).
        _depth.level = max(getattr(_depth, "level", 1) - 1, 0)


def _called(pool_id, name, function, after=None, **details):
    """Run a lifecycle call, bracketed by '<name>.called' and '<name>.returned'; ``after``
    runs before the return is reported."""
    with _Outermost() as outermost:
        if not outermost:
            return function()
        return shared_events.reported_call(
            name, function, BaseException, after=after, details=details, tag={"pool": pool_id}
        )


def _submitting(pool_id, name, function, /, *args, **kwargs):
    """Run a submission; a call the pool refuses (closed, broken) is reported."""
    try:
        return function(*args, **kwargs)
    except BaseException as exc:
        _report_error(name, exc, pool_id)
        raise


def _report_error(name, exc, pool_id):
    """``error.raised``; what it raises itself is poolctl's failure, not the program's."""
    try:
        shared_events.error_raised(name, exc, pool=pool_id)
    except Exception as fault:
        _failed(name, fault)


def _submitted(pool_id, tasks, ns, site):
    # Stamped when the call began: a worker may start a task before the call returns.
    for task in tasks:
        shared_events.task_submitted(task, ns, site, pool=pool_id)


def _numbered(items, pool_id, last=False, site=None):
    """The items with their task numbers, each reported as the pool takes it (``site``:
    the program's call, found once when it was made: the pool may take them in its own
    thread)."""
    for item in items:
        task = next(_task_ids)
        shared_events.task_submitted(task, site=site, pool=pool_id)
        yield task if last else (task, item)


def _counter(pool_id, site=None):
    """Task numbers for the executor's ``map``, which zips them after the user's iterables
    (so none is taken, and none reported, past the shortest of them)."""
    return _numbered(itertools.repeat(None), pool_id, last=True, site=site)


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


def _init(original, call):
    """A patched ``__init__``: report the pool's creation and follow its workers.

    ``call`` names the constructor in an ``error.raised`` (``Pool`` for a ThreadPool too:
    its ``__init__`` is Pool's).
    """

    def init(self, *args, **kwargs):
        with _Outermost() as outermost:
            if not outermost:
                original(self, *args, **kwargs)
                return
            try:
                kind = pool_kinds.of(self)
                if kind is None:  # a pool of a kind poolctl does not follow
                    original(self, *args, **kwargs)
                    return
                options = _bind(kind.parameters, args, kwargs)
                pool_id = next(_pool_ids)
                site = call_site.here()
                context = options.get(kind.context_option)
                method = None if kind.threads or context is None else context.get_start_method()
                shared_events.pool_creating(
                    kind.name, method, options.get(kind.processes_option), site, pool=pool_id
                )
                if not kind.in_subinterpreters:  # else the program's runs there, as is
                    _wrap_initializer(options, pool_id, kind.threads)
            except Exception as exc:
                _failed(call + "()", exc)
                original(self, *args, **kwargs)
                return
            _submitting(pool_id, call, original, self, **options)
            try:
                _created(self, kind, pool_id, site)
            except Exception as exc:
                _failed(call + "()", exc)

    return init


def _created(pool, kind, pool_id, site):
    """Report the new pool and start following its workers."""
    from .watch import WorkerWatch  # imported once a pool exists

    method = kind.start_method(pool)
    workers = kind.workers(pool)
    ids = [kind.worker_id(w) for w in kind.members(workers)]
    shared_events.pool_created(kind.name, method, ids, site, pool=pool_id)
    kind.follow(pool, _counter(pool_id), {"pool": pool_id})
    # Started only now: a thread alive during Pool()'s forks would change the program.
    watch = WorkerWatch(kind, pool, method, pool_id=pool_id, channel_dir=_channel_dir)
    watch.start()
    pool._poolctl = (pool_id, kind, watch)


def _lifecycle(original, name, label):
    """A patched lifecycle method (close, terminate, join, shutdown, __exit__ ...), reported
    as the call ``label``."""

    def method(self, *args, **kwargs):
        if not hasattr(self, "_poolctl"):  # a pool whose creation was not seen through
            return original(self, *args, **kwargs)
        try:
            pool_id, kind, watch = self._poolctl
            details = kind.call_details(name, args, kwargs)
            details["site"] = call_site.here()
            after = watch.sync if kind.joins(name, details) else None
        except Exception as exc:
            _failed(label, exc)
            return original(self, *args, **kwargs)
        return _called(
            pool_id, label, lambda: original(self, *args, **kwargs), after=after, **details
        )

    method.__name__ = name
    return method


def _lifecycles(kind, original):
    """The kind's lifecycle methods its class has (``kill_workers`` is 3.14's)."""
    return {
        name: _lifecycle(original[name], name, kind.call_names.get(name, name))
        for name in kind.lifecycle
        if name in original
    }


def _patch_pool(kind, pool_class, module):
    map_async = private.POOL_MAP_ASYNC
    names = ("__init__", "apply_async", map_async, "imap", "imap_unordered") + kind.lifecycle
    original = {name: getattr(pool_class, name) for name in names}

    def apply_async(self, func, args=(), kwds={}, *rest, **options):  # noqa: B006
        with _Outermost() as outermost:
            if not outermost or not hasattr(self, "_poolctl"):
                return original["apply_async"](self, func, args, kwds, *rest, **options)
            try:
                pool_id, kind, _ = self._poolctl
                task, ns = next(_task_ids), time.monotonic_ns()
                site = call_site.here()
                call = traced.Call(func, task, pool_id, kind.threads)
            except Exception as exc:
                _failed("apply_async", exc)
                return original["apply_async"](self, func, args, kwds, *rest, **options)
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
            _submitted(pool_id, [task], ns, site)
            return result

    def any_map_async(self, func, iterable, mapper, *rest, **options):
        with _Outermost() as outermost:
            if not outermost or not hasattr(self, "_poolctl"):
                return original[map_async](self, func, iterable, mapper, *rest, **options)
            try:
                pool_id, kind, _ = self._poolctl
                ns = time.monotonic_ns()
                site = call_site.here()
                name = "map" if private.is_plain_map(mapper, module) else "starmap"
            except Exception as exc:
                _failed("map", exc)
                return original[map_async](self, func, iterable, mapper, *rest, **options)
            _submitting(pool_id, name, private.pool_check_running, self)
            # mapstar calls func(item), starmapstar func(*item): (task, item) fits both.
            # (The program's iterable is consumed here, as the pool itself would.)
            numbered = [(next(_task_ids), item) for item in iterable]
            wrapped = traced.Item(func, pool_id, kind.threads, "one" if name == "map" else "star")
            result = _submitting(
                pool_id,
                name,
                original[map_async],
                self,
                wrapped,
                numbered,
                mapper,
                *rest,
                **options,
            )
            _submitted(pool_id, [task for task, _ in numbered], ns, site)
            return result

    def lazy(name):
        def imap(self, func, iterable, *rest, **options):
            with _Outermost() as outermost:
                if not outermost or not hasattr(self, "_poolctl"):
                    return original[name](self, func, iterable, *rest, **options)
                try:
                    pool_id, kind, _ = self._poolctl
                    wrapped = traced.Item(func, pool_id, kind.threads, "one")
                    items = _numbered(iterable, pool_id, site=call_site.here())
                except Exception as exc:
                    _failed(name, exc)
                    return original[name](self, func, iterable, *rest, **options)
                return _submitting(
                    pool_id, name, original[name], self, wrapped, items, *rest, **options
                )

        imap.__name__ = name
        return imap

    methods = {
        "__init__": _init(original["__init__"], pool_class.__name__),
        "apply_async": apply_async,
        map_async: any_map_async,
        "imap": lazy("imap"),
        "imap_unordered": lazy("imap_unordered"),
    }
    methods.update(_lifecycles(kind, original))
    _install(pool_class, methods)


def _patch_executor(kind, executor_class, module):
    names = ("__init__", "submit", "map") + kind.lifecycle
    original = {
        name: getattr(executor_class, name) for name in names if hasattr(executor_class, name)
    }

    def submit(self, fn, /, *args, **kwargs):
        future = submit_once(self, fn, *args, **kwargs)
        # An executor starts its workers as tasks arrive: follow the new ones now.
        watching = getattr(self, "_poolctl", None)
        if watching is not None:
            watching[2].poke()
        return future

    def submit_once(self, fn, /, *args, **kwargs):
        with _Outermost() as outermost:
            if not outermost or not hasattr(self, "_poolctl"):
                return original["submit"](self, fn, *args, **kwargs)
            try:
                # A chunk submitted by map() is not the user's call: its items are reported.
                chunk = private.is_map_chunk(fn, module)
                pool_id, kind, _ = self._poolctl
                # Its tasks are numbered as the executor accepts them (calling_side).
                unwrapped = kind.in_subinterpreters
                if not unwrapped:
                    task, ns = next(_task_ids), time.monotonic_ns()
                    site = call_site.here()
                    call = traced.Call(fn, task, pool_id, kind.threads)
            except Exception as exc:
                _failed("submit", exc)
                chunk = True  # submitted as if unpatched
            if chunk:
                return original["submit"](self, fn, *args, **kwargs)
            if unwrapped:
                return _submitting(pool_id, "submit", original["submit"], self, fn, *args, **kwargs)
            future = _submitting(pool_id, "submit", original["submit"], self, call, *args, **kwargs)
            _submitted(pool_id, [task], ns, site)
            return future

    def map(self, fn, *iterables, **options):
        with _Outermost() as outermost:
            if not outermost or not hasattr(self, "_poolctl"):
                return original["map"](self, fn, *iterables, **options)
            try:
                pool_id, kind, _ = self._poolctl
                # Each item is a submit(), numbered as the executor accepts it.
                unwrapped = kind.in_subinterpreters
                if not unwrapped:
                    wrapped = traced.Item(fn, pool_id, kind.threads, "last")
                    numbers = _counter(pool_id, call_site.here())
            except Exception as exc:
                _failed("map", exc)
                return original["map"](self, fn, *iterables, **options)
            if unwrapped:
                return _submitting(pool_id, "map", original["map"], self, fn, *iterables, **options)
            return _submitting(
                pool_id,
                "map",
                original["map"],
                self,
                wrapped,
                *iterables,
                numbers,
                **options,
            )

    methods = {
        "__init__": _init(original["__init__"], executor_class.__name__),
        "submit": submit,
        "map": map,
    }
    methods.update(_lifecycles(kind, original))
    _install(executor_class, methods)


# How ``instrument`` patches a kind's class, by the kind's ``patch``.
_PATCHES = {"pool-methods": _patch_pool, "executor-methods": _patch_executor}


def _patch_result(kind, result_class):
    """Report what reading a result raises: a task's exception surfaces there."""
    name = kind.getter
    original = getattr(result_class, name)
    if getattr(original, "_poolctl_reads", False):
        return  # patched already: executors of two kinds share concurrent.futures' Future

    def read(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except BaseException as exc:
            try:
                owner = getattr(kind.result_pool(self), "_poolctl", (None,))[0]
            except Exception as fault:
                _failed(name, fault)
                owner = None
            _report_error(name, exc, owner)
            raise

    read._poolctl_reads = True
    _install(result_class, {name: read})


def _install(cls, methods):
    for name, function in methods.items():
        function.__name__ = name
        function.__qualname__ = cls.__name__ + "." + name
        setattr(cls, name, function)
