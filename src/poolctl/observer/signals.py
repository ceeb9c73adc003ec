"""Hold Ctrl-C, SIGTERM and SIGHUP back while poolctl starts or cleans up a run; take
Ctrl-C while a traced program runs.

poolctl's handlers for SIGINT, SIGTERM and SIGHUP (the terminal closing) raise an
exception that unwinds through the observer's clean-up. Two stretches must not be cut
short by it: starting a run (an exception inside ``Popen`` loses the pid of a subject that
has already been forked, and nothing would stop it) and the clean-up itself (a second
Ctrl-C must not abandon it).

The handlers are swapped for a recorder, not the signals blocked: a process started
inside the block inherits the signal mask across exec, and a subject whose workers ignore
``terminate()``'s SIGTERM would no longer be the program under observation.

While a traced program runs, Ctrl-C is taken the same way (``taken``): the observer passes
it on to the program, as a terminal would have delivered it, and gives it back to
poolctl's handler only if the program does not end (see ``observe._watch``).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

DEFERRED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Record SIGINT, SIGTERM and SIGHUP during the block; re-raise them (once each)
    after it. A signal the caller ignores (``nohup``) stays ignored.

    Only the main thread runs Python signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    # An ignored signal is left alone: a process started in the block inherits SIG_IGN
    # across exec, but a handler would reach it as SIG_DFL (nohup would be undone).
    handled = [s for s in DEFERRED if signal.getsignal(s) != signal.SIG_IGN]
    previous = _swap(dict.fromkeys(handled, record))
    try:
        yield
    finally:
        _swap(previous)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)  # the restored handler runs now


def _swap(handlers: dict[signal.Signals, object]) -> dict[signal.Signals, object]:
    """Install ``handlers`` as one step; return the ones they replaced.

    The signals are blocked only while the handlers change, so that none arrives between
    two of them and finds a half-swapped set. A handler installed outside Python (``None``)
    cannot be put back, so it is left alone.
    """
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, handlers)
    replaced: dict[signal.Signals, object] = {}
    try:
        for signum, handler in handlers.items():
            if signal.getsignal(signum) is not None:
                replaced[signum] = signal.signal(signum, handler)  # type: ignore[arg-type]
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return replaced


class Taken:
    """A signal taken from poolctl's handler for a while: counted as it comes (``count``)
    for the observer's loop to act on, until given back (``give_back``)."""

    def __init__(self, signum: signal.Signals, previous: object) -> None:
        self.signum = signum
        self.count = 0
        self._previous = previous
        self._held = True

    def record(self, signum: int, frame: FrameType | None) -> None:
        """The handler while it is taken."""
        self.count += 1

    def release(self) -> None:
        """Put poolctl's handler back (the signals counted were acted on)."""
        if self._held:
            self._held = False
            _swap({self.signum: self._previous})

    def give_back(self) -> None:
        """Put poolctl's handler back and run it now, as if the signal had come only now
        (it may raise: poolctl's raises ``Interrupted``)."""
        self.release()
        signal.raise_signal(self.signum)


@contextlib.contextmanager
def taken(signum: signal.Signals) -> Iterator[Taken | None]:
    """Count ``signum`` during the block instead of running poolctl's handler; the block
    decides what it means, and may give it back. None where it cannot be taken: off the
    main thread (which alone runs handlers), or where the handler is not Python's (an
    ignored signal stays ignored, as the program ignores it too; a default or C-level
    one could not be run later as it would have run)."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    previous = signal.getsignal(signum)
    if not callable(previous):
        yield None
        return
    held = Taken(signum, previous)
    _swap({signum: held.record})
    try:
        yield held
    finally:
        held.release()
