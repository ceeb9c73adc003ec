"""What both entry points (``scenario_main`` and ``program_main``) do first, in the main
process: announce it, and have the workers' final report sent at exit.

Nothing here imports what a plain ``python`` would not have imported yet (``json``,
``threading``, ``sysconfig``, which imports ``threading``): the spec comes in
``marshal``'s format, which the interpreter itself uses to import.
"""

import atexit
import marshal
import os
import sys

from . import channel, stdlib_private

# The main process's pid: a process forked from it runs the same code, but is not it.
_main_pid = None


def is_main():
    """Whether this is the main process (not a child forked from it)."""
    return os.getpid() == _main_pid


def final_report():
    """At exit: what the watchers still have to say, then ``main.exiting`` (the main
    process only: a forked child runs the exit handlers it inherited too)."""
    watch = sys.modules.get("poolctl_subject.watch")
    if watch is not None:
        watch.final_report()
    if is_main():
        channel.emit("main.exiting")


def start(spec_bytes):
    """Report the main process started; return the spec. Call before importing
    multiprocessing: atexit runs handlers last-in, first-out, so the final report then
    runs after multiprocessing's exit function and sees how its finalizer ended the
    workers."""
    global _main_pid
    spec = marshal.loads(spec_bytes)
    _main_pid = os.getpid()
    atexit.register(final_report)
    channel.connect(spec["channel"], role="main")
    channel.emit(
        "main.started",
        python=".".join(str(n) for n in sys.version_info[:3]),
        executable=sys.executable,
        # A free-threaded build says so in its ABI flags (3.13+: "t").
        free_threaded="t" in getattr(sys, "abiflags", ""),
        # As the run starts: a free-threaded build enables it again for PYTHON_GIL=1 or
        # an extension module that needs it.
        gil_enabled=stdlib_private.gil_enabled(),
    )
    return spec
