"""Follow every pool a traced program creates, without touching the program's files.

An import hook patches the class of each kind of pool (``pool_kinds``: ``Pool``, and so
``ThreadPool``, ``ProcessPoolExecutor``, ``ThreadPoolExecutor``) the moment the program
imports its module; nothing is imported before the program asks for it. The patched
methods report the pool's lifecycle from the main process (``pool.created``,
``close.called`` ...) and hand the pool wrapped callables (see ``traced``) that report each
task from the worker that runs it.

A patched method is no wrapper: it is the standard library's own method, copied with a
hook (``same_frame``) that runs first, may replace some of its arguments (the callable, the
iterable, the initializer) and hears how the call ended. The method binds the program's
arguments itself and keeps its signature; no frame of poolctl's is between the program
and the standard library. Where the standard library hands a task's exception on, a
hook takes poolctl's frames out of its traceback (``hide_handed_over_frames``).

The same hook instruments the methods that start a child by spawn or forkserver
(``Popen._launch``), so that poolctl goes along with the child (``spawned_child``).

Only the outermost call reports: ``Pool.__exit__`` calls ``terminate()``, ``apply()`` calls
``apply_async()``, ``Executor.map`` calls ``submit()``; the user made one call.

Each submitting call (``apply_async``, ``map_async``, ``imap``, ``submit``, ``map`` ...) has
a number its tasks carry, and the reads of its results are reported (``result_reads``).

Everything here runs in the program's own threads. poolctl's code is kept apart from the
call the program made (``hooking``): if ours raises, it is reported and the call is made
as if nothing were patched; the program never sees poolctl's exception.
"""

import itertools
import os
import sys
import time

from . import (
    call_site,
    hidden_frames,
    hooking,
    pool_kinds,
    result_reads,
    same_frame,
    shared_events,
    spawned_child,
)
from . import program_wrappers as traced
from . import stdlib_private as private

_channel_dir = None
# How many of each pool's map items send events of their own (the tasks whose events the
# observer keeps: the spec's ``task_detail``); None: every item. Past them, a map's items
# are counted a chunk at a time (``program_wrappers.Item``).
_task_detail = None
# Pool id -> [how many more of its map items have events of their own].
_detail_left = {}
# Whether ``Pool``'s task generation hands each chunk a numbered copy of its Item (without
# it, every item must send its own events).
_chunks_numbered = False
_pool_ids = itertools.count(1)
_task_ids = itertools.count()


def _fresh_in_child():
    # A forked child (a Process, a worker that makes a pool) numbers its pools and tasks
    # apart from its parent's, which it would otherwise continue: from its pid on (a
    # spawned one, which would start from 1 as the main process did, too; the views take
    # the number apart again: poolctl.pool_kinds.CHILD_POOLS). A pool's
    # worker is forked inside Pool(): its calls are outermost calls of its own.
    global _pool_ids, _task_ids
    pid = os.getpid()
    _pool_ids = itertools.count(pid * 10000 + 1)
    _task_ids = itertools.count(pid * 10**9)
    hooking.local.level = 0
    hooking.local.marking = None


os.register_at_fork(after_in_child=_fresh_in_child)


# The modules patched as they are imported: the pool kinds', and those that start a
# child by spawn or forkserver (poolctl goes along, ``spawned_child``).
_MODULES = pool_kinds.MODULES + tuple(module for module, _, _ in private.LAUNCHERS)


def install(channel_dir, task_detail=None):
    """Patch the pool classes when the program imports them (at once if already imported).
    ``task_detail``: how many map items of each pool send events of their own."""
    global _channel_dir, _task_detail
    _channel_dir = channel_dir
    _task_detail = task_detail
    for name in _MODULES:
        if name in sys.modules:
            _patch(sys.modules[name])
    sys.meta_path.insert(0, _Finder())


def follow_in_child(channel_dir):
    """In a child started by spawn or forkserver (``spawned_child``): number its pools and
    tasks apart, and follow them."""
    _fresh_in_child()
    install(channel_dir)


class _Finder:
    """A meta path finder that only wraps the loaders of the modules it patches."""

    def find_spec(self, name, path=None, target=None):
        if name not in _MODULES:
            return None
        try:
            return self._find_spec(name, path, target)
        except Exception as exc:
            hooking.failed("finding " + name, exc)
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
        _patch_launchers(module)
    except Exception as exc:
        hooking.failed("patching " + module.__name__, exc)
    hide_handed_over_frames()


def _patch_kinds(module):
    for kind in pool_kinds.in_module(module.__name__):
        if kind.patch is not None:  # else its methods are its base class's, patched
            _PATCHES[kind.patch](kind, kind.pool_class(module), module)
            result_reads.patch(kind, module)  # MapResult's too


def _patch_launchers(module):
    """Have each process this module starts by spawn or forkserver take poolctl up."""
    for module_name, class_name, method in private.LAUNCHERS:
        if module_name == module.__name__:
            owner = getattr(module, class_name)
            process = same_frame.parameters(getattr(owner, method))[1]
            hooking.install(owner, method, _launching, (process,), around=False)


def _launching(process):
    spawned_child.launching(process, _channel_dir)
    return ()


def _nested():
    """True inside an instrumented call of this thread: the user made the outer one."""
    return getattr(hooking.local, "level", 0) > 0


def _followed(pool):
    """The pool's ``(pool id, kind, watch)`` when poolctl follows it and this call is the
    user's own; else None."""
    if _nested():
        return None
    return getattr(pool, "_poolctl", None)


class _Reported:
    """One outermost call on a followed pool: ``<name>.called`` now (``bracket``),
    ``error.raised`` if it raises, ``<name>.returned`` (``bracket``) and ``on_return``
    when it returns. ``marks``: the submission (a ``result_reads.Submission``) the result
    handles made during the call belong to."""

    __slots__ = ("pool", "name", "after", "bracket", "on_return", "marks", "raised")

    def __init__(self, pool, name, bracket=False, details=None, after=None, on_return=None,
                 marks=None):  # fmt: skip
        self.pool, self.name, self.bracket = pool, name, bracket
        self.after, self.on_return, self.marks = after, on_return, marks
        self.raised = False
        if bracket:
            shared_events.call_called(name, details, {"pool": pool})
        # Last: once counted, the call's exit() (always run) must uncount it.
        hooking.local.level = getattr(hooking.local, "level", 0) + 1
        if marks is not None:
            hooking.local.marking = marks

    def failed(self, exc):
        self.raised = True
        hooking.report_error(self.name, exc, self.pool)

    def exit(self):
        # Never below 0: a child forked inside a call starts at 0 (see _fresh_in_child).
        hooking.local.level = max(getattr(hooking.local, "level", 1) - 1, 0)
        if self.marks is not None:
            hooking.local.marking = None
        if self.raised:
            return
        try:
            if self.bracket:
                shared_events.call_returned(self.name, self.after, {"pool": self.pool})
            if self.on_return is not None:
                self.on_return()
        except Exception as exc:
            hooking.failed(self.name, exc)


def _submitted(pool_id, task, ns, site, call):
    """What reports ``task`` submitted once its call returned, stamped ``ns``, when the call
    began: a worker may start the task before the call returns. ``site``: the call's."""
    return lambda: shared_events.task_submitted(task, ns, site, call, pool=pool_id)


def _numbering(pool_id, site, ns=None, with_item=True, call=None, left=None):
    """A function that numbers one item, reports it submitted (stamped ``ns``, or now) and
    returns ``(task, item)`` (or the task alone). Mapped over the program's iterable by the
    builtin ``map``: items are numbered as the pool takes them, and what the iterable
    raises reaches the program through no frame of poolctl's. ``site``: the program's
    call, found when it was made (the pool may take the items in a thread of its own);
    ``call``: its number. ``left``: the pool's ``[items left with events of their own]``;
    an item past them is not reported here but by its chunk (``program_wrappers.Item``),
    and is returned as ``(~task, item)`` (``-1 - task``) to say so."""

    def number(item):
        task = next(_task_ids)
        if left is not None:
            if left[0] <= 0:
                return (~task, item)
            left[0] -= 1
        try:
            shared_events.task_submitted(task, ns, site, call, pool=pool_id)
        except Exception as exc:
            hooking.failed("task.submitted", exc)
        return (task, item) if with_item else task

    return number


def _map_items(pool_id, site, ns=None, call=None):
    """A function that numbers the items of a map's iterable, ``(task, item)``, as the pool
    takes them (``_numbering``). A pool whose first items had their events already has
    every item of this call counted by its chunk: numbered ``(~task, item)`` by builtins
    alone, without a call of poolctl's per item (one number is spent when the iterable
    ends)."""
    left = _detail(pool_id)
    if left is not None and left[0] <= 0:
        return lambda items: zip(map(int.__invert__, _task_ids), items)
    number = _numbering(pool_id, site, ns, call=call, left=left)
    return lambda items: map(number, items)


class _SizedItems:
    """A sized iterable's items, numbered as the pool takes them. ``map_async`` keeps a
    sized iterable as it is (it only asks its length) and its task handler thread takes the
    items: numbering them in the program's thread would hold the program up for as long as
    the pool takes to chunk them, and leave the handler time it has not plainly."""

    __slots__ = ("items", "numbered")

    def __init__(self, items, numbered):
        self.items, self.numbered = items, numbered

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return self.numbered(self.items)


def _detail(pool_id):
    """The pool's ``[map items left with events of their own]``, or None when every item
    sends its own (no bound, or chunks cannot be numbered)."""
    if _task_detail is None or not _chunks_numbered:
        return None
    left = _detail_left.get(pool_id)
    if left is None:
        left = _detail_left[pool_id] = [_task_detail]
    return left


def _counter(pool_id, site=None, call=None):
    """Task numbers for the executor's ``map``, which zips them after the user's iterables
    (so none is taken, and none reported, past the shortest of them)."""
    return map(_numbering(pool_id, site, with_item=False, call=call), itertools.repeat(None))


def _enter_init(call):
    """The hook of a pool class's ``__init__``: report the pool being created, hand it the
    wrapped initializer, and once it exists, report it and follow its workers."""

    def enter(self, processes, context, initializer, initargs):
        kind = pool_kinds.of(self)
        if kind is None or _nested():  # a pool of a kind poolctl does not follow
            return None, initializer, initargs
        pool_id = next(_pool_ids)
        site = call_site.here()
        method = _start_method(kind, context)
        # The size as the program passed it: shared_events makes it an event's.
        shared_events.pool_creating(kind.name, method, processes, site, pool=pool_id)
        # A non-callable initializer is the pool's to refuse, as it would unwrapped; the
        # program's runs in a subinterpreter as it is.
        if not kind.in_subinterpreters and (initializer is None or callable(initializer)):
            initargs = (_channel_dir, pool_id, kind.threads, initializer, initargs)
            initializer = traced.init_worker
        reported = _Reported(pool_id, call, on_return=lambda: _created(self, kind, pool_id, site))
        return reported, initializer, initargs

    return enter


def _start_method(kind, context):
    """The start method the program's context says (None for threads, or no context)."""
    return None if kind.threads or context is None else private.context_start_method(context)


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


def _enter_lifecycle(name, detail_names):
    """The hook of a lifecycle method (close, terminate, join, shutdown, __exit__ ...)."""

    def enter(self, *values):
        followed = _followed(self)
        if followed is None:
            return (None,)
        pool_id, kind, watch = followed
        details = kind.call_details(name, dict(zip(detail_names, values)))
        details["site"] = call_site.here()
        after = watch.sync if kind.joins(name, details) else None
        label = kind.call_names.get(name, name)
        return (_Reported(pool_id, label, bracket=True, details=details, after=after),)

    return enter


def _patch_lifecycle(kind, pool_class):
    """The kind's lifecycle methods its class has (``kill_workers`` is 3.14's)."""
    for name in kind.lifecycle:
        method = getattr(pool_class, name, None)
        if method is not None:
            present = same_frame.parameters(method)
            details = tuple(p for p in kind.detail_parameters(name) if p in present)
            hooking.install(pool_class, name, _enter_lifecycle(name, details), ("self",) + details)


def _patch_pool(kind, pool_class, module):
    def apply_async(self, func):
        followed = _followed(self)
        if followed is None:
            return None, func
        pool_id, kind, _ = followed
        task, ns = next(_task_ids), time.monotonic_ns()
        site = call_site.here()
        call = traced.Call(func, task, pool_id, kind.threads)
        submission = result_reads.Submission(pool_id)
        on_return = _submitted(pool_id, task, ns, site, submission.call)
        return _Reported(pool_id, "apply_async", on_return=on_return, marks=submission), call

    def map_async(self, mapper, func, iterable):
        followed = _followed(self)
        if followed is None:
            return None, func, iterable
        pool_id, kind, _ = followed
        name = "map" if private.is_plain_map(mapper, module) else "starmap"
        # (task, item) for both mappers; each task leaves with its items bare and their
        # numbers in its own copy of the Item (traced.numbered_tasks).
        submission = result_reads.Submission(pool_id)
        numbering = _map_items(pool_id, call_site.here(), time.monotonic_ns(), submission.call)
        if hasattr(iterable, "__len__"):  # taken in the task handler thread, as it is
            numbered = _SizedItems(iterable, numbering)
        else:  # made a list by map_async itself, in the program's thread
            numbered = numbering(iterable)
        wrapped = traced.Item(func, pool_id, kind.threads, "one" if name == "map" else "star")
        return _Reported(pool_id, name, marks=submission), wrapped, numbered

    def lazy(name):
        def imap(self, func, iterable):
            followed = _followed(self)
            if followed is None:
                return None, func, iterable
            pool_id, kind, _ = followed
            wrapped = traced.Item(func, pool_id, kind.threads, "one")
            submission = result_reads.Submission(pool_id)
            numbered = _map_items(pool_id, call_site.here(), call=submission.call)(iterable)
            return _Reported(pool_id, name, marks=submission), wrapped, numbered

        return imap

    _install_init(pool_class, kind)
    hooking.install(pool_class, "apply_async", apply_async, ("self", "func"), ("func",))
    map_inputs = ("self", "mapper", "func", "iterable")
    hooking.install(pool_class, private.POOL_MAP_ASYNC, map_async, map_inputs, ("func", "iterable"))
    global _chunks_numbered
    try:
        if private.wrap_pool_task_generation(pool_class, traced.numbered_tasks):
            _chunks_numbered = True
    except Exception as exc:
        hooking.failed("patching %s's task generation" % pool_class.__name__, exc)
    for name in ("imap", "imap_unordered"):
        hooking.install(
            pool_class, name, lazy(name), ("self", "func", "iterable"), ("func", "iterable")
        )
    _patch_lifecycle(kind, pool_class)


def _install_init(pool_class, kind):
    """Instrument the class's ``__init__``; ``<class>()`` names it in an ``error.raised``
    (``Pool`` for a ThreadPool too: its ``__init__`` calls Pool's)."""
    call = pool_class.__name__
    inputs = ("self", kind.processes_option, kind.context_option or "None")
    outputs = ("initializer", "initargs")
    hooking.install(
        pool_class, "__init__", _enter_init(call), inputs + outputs, outputs, where=call + "()"
    )


def _patch_executor(kind, executor_class, module):
    def submit(self, fn):
        followed = _followed(self)
        if followed is None:
            return None, fn
        pool_id, kind, watch = followed
        # A task numbered already: what map(buffersize=...) (3.14) submits from its result
        # iterator, after map() returned (an item, or ProcessPoolExecutor's chunk of items).
        numbered = isinstance(fn, traced.Item) or private.is_map_chunk(fn, module)
        if numbered or kind.in_subinterpreters:  # else numbered as accepted (calling_side)
            # Its futures are followed; their tasks' call is the map's (or none).
            marks = result_reads.Submission(pool_id, numbered=False)
            return _Reported(pool_id, "submit", on_return=watch.poke, marks=marks), fn
        task, ns = next(_task_ids), time.monotonic_ns()
        site = call_site.here()
        call = traced.Call(fn, task, pool_id, kind.threads)
        submission = result_reads.Submission(pool_id)
        submitted = _submitted(pool_id, task, ns, site, submission.call)

        def on_return():
            submitted()
            watch.poke()  # an executor starts its workers as tasks arrive: follow them now

        return _Reported(pool_id, "submit", on_return=on_return, marks=submission), call

    def submit_38(args, kwargs):
        # 3.8's submit(*args, **kwargs) takes fn by position, or by keyword (deprecated).
        if len(args) >= 2:
            reported, fn = submit(args[0], args[1])
            return reported, (args[0], fn) + tuple(args[2:]), kwargs
        if len(args) == 1 and "fn" in kwargs:
            reported, fn = submit(args[0], kwargs["fn"])
            return reported, args, dict(kwargs, fn=fn)
        return None, args, kwargs

    def executor_map(self, fn, iterables):
        followed = _followed(self)
        if followed is None:
            return None, fn, iterables
        pool_id, kind, watch = followed
        submission = result_reads.Submission(pool_id, numbered=not kind.in_subinterpreters)
        if not kind.in_subinterpreters:  # else each item a submit(), numbered as accepted
            fn = traced.Item(fn, pool_id, kind.threads, "last")
            counter = _counter(pool_id, call_site.here(), submission.call)
            iterables = tuple(iterables) + (counter,)
        # Its submit()s are nested calls: the workers they started are looked for at its end.
        reported = _Reported(pool_id, "map", on_return=watch.poke, marks=submission)
        return reported, fn, iterables

    _install_init(executor_class, kind)
    if "fn" in same_frame.parameters(executor_class.submit):
        hooking.install(executor_class, "submit", submit, ("self", "fn"), ("fn",))
    else:
        hooking.install(executor_class, "submit", submit_38, ("args", "kwargs"), ("args", "kwargs"))
    hooking.install(
        executor_class, "map", executor_map, ("self", "fn", "iterables"), ("fn", "iterables")
    )
    _patch_lifecycle(kind, executor_class)


# How ``instrument`` patches a kind's class, by the kind's ``patch``.
_PATCHES = {"pool-methods": _patch_pool, "executor-methods": _patch_executor}


# --- poolctl's frames, taken out where the standard library hands an exception on ----


def hide_handed_over_frames():
    """Instrument each handover of ``stdlib_private.EXCEPTION_HANDOVERS`` in the modules
    imported so far (a spawned worker, which imported its pool module afresh, calls it)."""
    for module_name, class_name, method, position, holds in private.EXCEPTION_HANDOVERS:
        owner = getattr(sys.modules.get(module_name), class_name, None)
        if owner is None or same_frame.is_copy(getattr(owner, method, None)):
            continue
        try:
            parameter = same_frame.parameters(getattr(owner, method))[position]
        except Exception as exc:
            hooking.failed("patching %s.%s" % (class_name, method), exc)
            continue
        if holds == "traceback":
            hooking.install(
                owner, method, _hide_traceback, (parameter,), (parameter,), around=False
            )
        else:
            hide = _hide_outcome if holds == "outcome" else _hide_exception
            hooking.install(owner, method, hide, (parameter,), around=False)


def _hide_traceback(tb):
    return (hidden_frames.without_ours(tb),)


def _hide_exception(exc):
    hidden_frames.hide(exc)
    return ()


def _hide_outcome(outcome):
    if type(outcome) is tuple and len(outcome) == 2 and not outcome[0]:
        hidden_frames.hide(outcome[1])
    return ()
