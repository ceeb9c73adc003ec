"""The reads of a followed pool's results, for ``poolctl trace``.

Each submitting call (``apply_async``, ``map_async``, ``imap``, ``submit``, ``map`` ...) is
a ``Submission`` with a number its tasks carry (``task.submitted``'s ``call``); the result
handles it makes (``ApplyResult``, ``MapResult``, the imap iterator, each ``Future``) are
marked with it as they are made, so that a read of any of them (``get``, ``next``,
``result``, ``exception``), or a callback given to the call, is reported once per call
(``result.read``): what the ``results-never-read`` finding is derived from. A read that
will wait says so (``result.waiting``, then ``result.waited``): the live view's "main in
get()" and the ``result-never-arrives`` finding.
"""

import itertools

from . import call_site, hooking, shared_events
from . import stdlib_private as private

# Each submitting call's number (apply_async, map, imap, submit ...): its tasks and the
# reads of its results name it.
_call_ids = itertools.count(1)


class Submission:
    """One submitting call on a followed pool, shared by the result handles it made:
    ``call`` its number (None: its tasks are numbered elsewhere), ``read`` once a read of
    its results was reported (reported once: a map's thousand futures make one event)."""

    __slots__ = ("pool", "call", "read")

    def __init__(self, pool, numbered=True):
        self.pool = pool
        self.call = next(_call_ids) if numbered else None
        self.read = False

    def reads(self, via):
        """The program read a result of this call (``via``: how); said once."""
        if self.read or self.call is None:
            return
        self.read = True
        shared_events.result_read(self.call, via, pool=self.pool)


def patch(kind, module):
    """Report the reads of a result: one that returns (``result.read``, once per submitting
    call), one that raises (a task's exception surfaces there). The handles a submitting
    call makes are marked as they are made (``__init__``): a Future is concurrent.futures'
    own, made by any executor, and only those of the pools poolctl follows are reported."""
    result_class = kind.result_class(module)
    futures = kind.getter == "result"
    getters = ("result", "exception") if futures else (kind.getter,)
    # get() waits in wait(): its hook says when either waits.
    pending = private.future_pending if futures else None
    for name in getters:
        hooking.install(result_class, name, _reader(name, kind, futures, pending), ("self",))
    if futures:
        hooking.install(result_class, "__init__", _mark_handle, ("self",), around=False)
        return
    inputs = ("self", "callback", "error_callback")
    hooking.install(result_class, "__init__", _mark_result, inputs, around=False)
    hooking.install(result_class, "wait", _waiter, ("self",))
    iterator_class = kind.iterator_class(module)
    hooking.install(iterator_class, "__init__", _mark_handle, ("self",), around=False)
    original = iterator_class.__dict__.get("next")
    reader = _reader("next", kind, False, private.imap_pending)
    hooking.install(iterator_class, "next", reader, ("self",))
    # ``__next__ = next`` in its class: the same copy under both names, as plainly.
    if original is not None and iterator_class.__dict__.get("__next__") is original:
        iterator_class.__next__ = iterator_class.next


def _reader(name, kind, followed_only, pending=None):
    """The hook of a read ``name``; ``followed_only``: only handles marked as made by a
    followed pool (a Future) are reported. ``pending(handle)``: whether the read will
    wait (then ``result.waiting`` now, ``result.waited`` as it ends); checked first, so a
    read of a ready result costs no event. None: the read waits in another (``get()`` in
    ``wait()``), which says so."""

    def read(self):
        submission = getattr(self, hooking.MARK, None)
        if followed_only and submission is None:
            return (None,)
        reading = _Reading(name, kind, self, submission)
        if pending is not None and submission is not None and pending(self):
            reading.waiting = _Waiting(name, submission)
        return (reading,)

    return read


def _waiter(result):
    """The hook of ``ApplyResult.wait()``, which ``get()`` waits in too: reported when it
    will wait, as the program's call (``get``, ``map`` ... or ``wait`` itself)."""
    submission = getattr(result, hooking.MARK, None)
    if submission is None or not private.apply_result_pending(result):
        return (None,)
    return (_Waiting("wait", submission),)


# The program's call a wait is in, by the standard library's function it called (the
# outermost of the read): get() and Pool.map wait in wait(), Executor.map's iterator in
# result().
# Any other: the read's own name.
_WAITS_IN = {
    "get": "get",
    "map": "map",
    "starmap": "starmap",
    "apply": "apply",
    "result_iterator": "map",
}


class _Waiting:
    """A read that waits for a result not ready yet, in the program's call ``via``:
    ``result.waiting`` now (with the program's site), ``result.waited`` when it ends,
    however it ends."""

    __slots__ = ("via", "submission")

    def __init__(self, read, submission):
        site, entered = call_site.entered()
        self.via = _WAITS_IN.get(entered, read)
        self.submission = submission
        shared_events.result_waiting(self.via, submission.call, site, pool=submission.pool)

    def failed(self, exc):
        pass  # the read's own hook reports what it raised

    def exit(self):
        try:
            submission = self.submission
            shared_events.result_waited(self.via, submission.call, pool=submission.pool)
        except Exception as fault:
            hooking.failed(self.via, fault)


def _mark_handle(handle):
    submission = getattr(hooking.local, "marking", None)
    if submission is not None:
        setattr(handle, hooking.MARK, submission)
    return ()


def _mark_result(result, callback, error_callback):
    """An ApplyResult (a MapResult) being made: a callback given is handed each result (an
    error callback, each exception), so the call's results are read."""
    submission = getattr(hooking.local, "marking", None)
    if submission is not None:
        setattr(result, hooking.MARK, submission)
        if callback is not None:
            submission.reads("callback")
        if error_callback is not None and submission.call is not None:
            shared_events.result_read(submission.call, "error_callback", pool=submission.pool)
    return ()


class _Reading:
    """A read of a result: that it returned is reported once per submitting call; what it
    raises is reported, with the pool when it says. An imap iterator's end
    (``StopIteration``) is a read, not an error."""

    __slots__ = ("name", "kind", "handle", "submission", "raised", "waiting")

    def __init__(self, name, kind, handle, submission):
        self.name, self.kind, self.handle = name, kind, handle
        self.submission = submission
        self.raised = False
        self.waiting = None  # a _Waiting when the read waits

    def failed(self, exc):
        if isinstance(exc, StopIteration):
            return
        self.raised = True
        submission = self.submission
        if submission is not None:
            hooking.report_error(self.name, exc, submission.pool, submission.call)
            return
        try:
            owner = getattr(self.kind.result_pool(self.handle), "_poolctl", (None,))[0]
        except Exception as fault:
            hooking.failed(self.name, fault)
            owner = None
        hooking.report_error(self.name, exc, owner)

    def exit(self):
        if self.waiting is not None:
            self.waiting.exit()
        if self.raised or self.submission is None:
            return
        try:
            self.submission.reads(self.name)
        except Exception as fault:
            hooking.failed(self.name, fault)
