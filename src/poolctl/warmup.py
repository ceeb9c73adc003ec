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
    """Start importing ``modules`` in a low-priority daemon thread; return the thread."""
    names = list(modules)

    def work() -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        for name in names:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)

    thread = threading.Thread(target=work, name="poolctl-warm-up", daemon=True)
    thread.start()
    return thread
