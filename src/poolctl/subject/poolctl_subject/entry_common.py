"""What both entry points (``scenario_main`` and ``program_main``) do first, in the main
process: announce it, and have the workers' final report sent at exit."""

import atexit
import json
import sys
import sysconfig

from . import channel, stdlib_private


def final_report():
    """At exit: what the watchers still have to say, then ``main.exiting``."""
    watch = sys.modules.get("poolctl_subject.watch")
    if watch is not None:
        watch.final_report()
    channel.emit("main.exiting")


def start(spec_json):
    """Report the main process started; return the spec. Call before importing
    multiprocessing: atexit runs handlers last-in, first-out, so the final report then
    runs after multiprocessing's exit function and sees how its finalizer ended the
    workers."""
    spec = json.loads(spec_json)
    atexit.register(final_report)
    channel.connect(spec["channel"], role="main")
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    channel.emit(
        "main.started",
        python=".".join(str(n) for n in sys.version_info[:3]),
        executable=sys.executable,
        free_threaded=free_threaded,
        # As the run starts: a free-threaded build enables it again for PYTHON_GIL=1 or
        # an extension module that needs it.
        gil_enabled=stdlib_private.gil_enabled(),
    )
    return spec
