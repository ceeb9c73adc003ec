"""Take poolctl's own frames out of a traceback, so that the program never sees them.

A traceback is a chain of entries, one per frame the exception went through; an entry's
``tb_next`` can be relinked (Python 3.7+). poolctl's frames are those of its modules (the
task wrappers a worker runs, a ``__reduce__`` the pickler calls, the bootstrap): the
copies ``same_frame`` makes of the standard library's methods run in the standard library's
own frames, and stay.

On CPython 3.11+ a bare ``raise`` re-raises with the exception's ``__traceback__`` as it
is, so the outermost wrapper hides its frames at the source. Before 3.11, and on PyPy, a
re-raise keeps the frame it leaves: there the entry is taken out where the standard
library hands the exception over (``stdlib_private.EXCEPTION_HANDOVERS``), before anyone
can see it; and what ends a worker process (``hide_in_dying_worker``) in the worker's
exit handlers, before the process prints it.
"""

import sys

_OURS = __name__.rpartition(".")[0] + "."
# Frames of the standard library spent on poolctl's objects, by the id of the exception
# whose traceback they must leave too (``hide_also``): ``(exception, frame)``, popped by
# ``hide``. A few at most (not every interpreter's exceptions take weak references).
_also = {}
_ALSO_KEPT = 16


def _is_ours(entry):
    return entry.tb_frame.f_globals.get("__name__", "").startswith(_OURS)


def hide_also(exc, frame):
    """Have ``hide(exc)`` take ``frame``'s entry out too (PyPy's pickler's, which called a
    wrapper's ``__reduce__``)."""
    if len(_also) >= _ALSO_KEPT:
        _also.clear()
    _also[id(exc)] = (exc, frame)


def without_ours(tb, also=None):
    """``tb`` relinked without poolctl's entries, nor ``also``'s (the first entry left, or
    None)."""
    kept = []
    while tb is not None:
        if not _is_ours(tb) and tb.tb_frame is not also:
            kept.append(tb)
        tb = tb.tb_next
    for entry, following in zip(kept, kept[1:] + [None]):
        if entry.tb_next is not following:
            entry.tb_next = following
    return kept[0] if kept else None


def hide(exc):
    """Take poolctl's entries out of ``exc``'s traceback and those of its causes and
    contexts, in place."""
    seen = set()
    waiting = [exc]
    while waiting:
        exc = waiting.pop()
        if not isinstance(exc, BaseException) or id(exc) in seen:
            continue
        seen.add(id(exc))
        also = _also.pop(id(exc), (None, None))
        tb = exc.__traceback__
        if tb is not None:
            cleaned = without_ours(tb, also[1] if also[0] is exc else None)
            if cleaned is not tb:
                exc.__traceback__ = cleaned
        waiting += (exc.__cause__, exc.__context__)


# Before 3.11 (PyPy too) a re-raise puts back the entry of the frame it leaves.
_RERAISE_KEEPS_FRAME = sys.version_info < (3, 11) or sys.implementation.name == "pypy"


def hide_in_dying_worker(exc):
    """``exc``, a task's or initializer's ``BaseException`` that no pool catches
    (``KeyboardInterrupt`` ...), is about to end this worker process, which prints it
    (``Process._bootstrap``). Where a re-raise keeps the wrapper's frame, take it out on the
    way: ``_bootstrap`` runs the process's exit handlers (``multiprocessing.util``'s
    finalizers) in a ``finally`` the exception passes, its traceback complete by then."""
    if not _RERAISE_KEEPS_FRAME or isinstance(exc, Exception):
        return
    from multiprocessing import util

    util.Finalize(None, _hide_passing, args=(exc,), exitpriority=sys.maxsize)


def _hide_passing(exc):
    passing = sys.exc_info()
    if passing[1] is exc and passing[2] is not None:
        without_ours(passing[2])  # the head is _bootstrap's own entry: it stays
