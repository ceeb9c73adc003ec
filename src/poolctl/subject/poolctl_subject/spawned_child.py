"""``poolctl trace``: poolctl goes along with a child started by spawn or forkserver.

Such a child is a fresh interpreter (spawn), or a fork of the fork server, which never
ran poolctl: nothing of the parent's is in it. What it receives is two pickles,
multiprocessing's preparation data and then the ``Process`` it is to run; unpickling the
first sets ``sys.path`` as the parent's, where the subject's folder is, so the second can
name poolctl's code.

So the parent pickles each ``Process`` it launches that way with poolctl's reconstructor
in place of ``copyreg.__newobj__`` (a reducer ``ForkingPickler`` is given for the
process's class, the first time one of that class is launched). Unpickled in the child,
it takes poolctl up (``connect``: the child's own event file, role ``child``, its pools
and tasks numbered apart, the pool classes patched) and makes the object as
``__newobj__`` would; the object's state follows, pickled and restored as plainly. The
child runs the very object it would have run: no attribute is added to it, its argv is
its own, and a state that cannot be pickled fails with the standard library's error and
notes, through no frame of poolctl's. A pool's worker takes poolctl up so too, before its
initializer (``program_wrappers.init_worker``) makes it a ``worker``.
"""

import copyreg
import os
import sys

from . import channel, hidden_frames, shared_events
from . import stdlib_private as private

# The folder the child must find ``poolctl_subject`` in (the parent's ``sys.path`` has it).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_channel_dir = None
# The classes of process whose pickling poolctl was given (once each).
_marked = set()
# This process took poolctl up (a nested process object is unpickled in the same child).
_taken_up = False


def launching(process, channel_dir):
    """The parent is about to pickle ``process`` for a spawn or forkserver start."""
    global _channel_dir
    _channel_dir = channel_dir
    cls = type(process)
    if cls not in _marked:
        _marked.add(cls)
        private.register_forking_reducer(cls, _reduce)


def _reduce(process):
    """``process.__reduce_ex__`` as the pickler would call it, poolctl's reconstructor in
    place of ``__newobj__`` where the child will be able to import it."""
    import pickle  # multiprocessing.reduction imported it

    try:
        reduced = process.__reduce_ex__(pickle.DEFAULT_PROTOCOL)
    except BaseException as exc:  # the program's own reduction: as plainly
        hidden_frames.hide(exc)
        raise
    try:
        if _followable(reduced):
            return (made_in_child, (_channel_dir, reduced[1][0])) + tuple(reduced[2:])
    except Exception as exc:
        shared_events.observer_failed("spawned_child: pickling a process", exc)
    return reduced


def _followable(reduced):
    # Only the standard reduction, (__newobj__, (cls,), state, ...), for a start by spawn or
    # forkserver (the only pickling of a process multiprocessing allows), and only when
    # the child's sys.path (the parent's, now) will hold the subject's folder: a child
    # that cannot import poolctl's reconstructor would die of it.
    return (
        _channel_dir is not None
        and type(reduced) is tuple
        and len(reduced) >= 2
        and reduced[0] is copyreg.__newobj__
        and type(reduced[1]) is tuple
        and len(reduced[1]) == 1
        and private.spawning()
        and _ROOT in sys.path
    )


def made_in_child(channel_dir, cls):
    """Unpickled in the child: take poolctl up, then make the object as
    ``copyreg.__newobj__(cls)`` does (its state is restored after, as plainly)."""
    connect(channel_dir)
    return cls.__new__(cls)


def connect(channel_dir):
    """Take poolctl up in this child, once: its own event file, role ``child``, and its
    pools followed and numbered apart from every other process's."""
    global _taken_up
    if _taken_up:
        return
    _taken_up = True
    try:
        channel.connect(channel_dir, role="child")
        from . import instrument

        instrument.follow_in_child(channel_dir)
    except Exception as exc:
        shared_events.observer_failed("spawned_child: connect", exc)
