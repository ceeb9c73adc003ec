"""Import what is needed after a run while the run is going on.

The subject mostly sleeps or waits; importing the outcome, document and rendering modules
then (rich alone takes tens of milliseconds) takes that time off what the user waits for
after the run. The thread runs at the lowest CPU priority (Linux sets niceness per
thread), so it only uses CPU the observed processes leave idle.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Iterable


def warm_up(modules: Iterable[str]) -> threading.Thread:
    """Start importing ``modules`` in a low-priority thread; return the thread."""
    names = list(modules)

    def work() -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        for name in names:
            if not threading.main_thread().is_alive():
                return  # poolctl is exiting: no more imports
            with contextlib.suppress(ImportError):
                importlib.import_module(name)

    # Not a daemon: a daemon thread still importing when the interpreter finalizes (a
    # run refused at once, e.g. for want of space) crashed it about one exit in 50
    # (SIGSEGV, SIGABRT). Exit waits for the import under way, and starts no other.
    thread = threading.Thread(target=work, name="poolctl-warm-up", daemon=False)
    thread.start()
    return thread
