"""Import what is needed after a run while the run is going on.

The subject mostly sleeps or waits; importing the outcome, document and rendering modules
then (rich alone takes tens of milliseconds) takes that time off what the user waits for
after the run. The thread runs at the lowest CPU priority (Linux sets niceness per
thread), so it only uses CPU the observed processes leave idle.

The thread starts only once a run is about to start (``warm_up``, called by the API after
every check), and an exit waits for the import under way and starts no other: a daemon
thread still importing while the interpreter finalizes crashed it about one exit in 50
(SIGSEGV, SIGABRT, after a one-line error). What a caller wants warmed besides (the CLI's
renderer) is asked for beforehand with ``also``.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import threading
from collections.abc import Iterable

# How long the interpreter's exit waits for an import still in flight.
EXIT_WAIT_SECONDS = 2.0

_requested: list[str] = []
_threads: list[threading.Thread] = []
_exiting = threading.Event()


def also(modules: Iterable[str]) -> None:
    """Ask for ``modules`` to be warmed with the next run's (nothing starts now)."""
    _requested.extend(name for name in modules if name not in _requested)


def warm_up(modules: Iterable[str]) -> threading.Thread:
    """Start importing ``modules`` (and those asked for with ``also``) in a low-priority
    daemon thread; return the thread."""
    names = list(dict.fromkeys([*modules, *_requested]))
    _requested.clear()

    def work() -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        for name in names:
            if _exiting.is_set():
                return
            with contextlib.suppress(ImportError):
                importlib.import_module(name)

    thread = threading.Thread(target=work, name="poolctl-warm-up", daemon=True)
    if not _threads:
        atexit.register(_wait_at_exit)
    _threads.append(thread)
    thread.start()
    return thread


def _wait_at_exit() -> None:
    _exiting.set()
    for thread in _threads:
        thread.join(EXIT_WAIT_SECONDS)
