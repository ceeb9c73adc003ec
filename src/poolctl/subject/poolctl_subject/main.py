"""Entry point of the observed interpreter: ``main(spec_json)``.

The observer starts ``python -I -c`` with a two-line bootstrap that puts this package's
folder on ``sys.path`` and calls ``main``. The spec (JSON) holds the channel's path and the
program to run.
"""

import atexit
import json
import sys

from . import capture, channel


def final_report():
    """At exit: what the watchers still have to say, then ``main.exiting``."""
    watch = sys.modules.get("poolctl_subject.watch")
    if watch is not None:
        watch.final_report()
    channel.emit("main.exiting")


def main(spec_json):
    """Run the scenario program described by ``spec_json``."""
    spec = json.loads(spec_json)
    # Registered before multiprocessing is imported: atexit runs handlers last-in,
    # first-out, so this one runs after multiprocessing's exit function and sees how the
    # exit-time finalizer ended the workers.
    atexit.register(final_report)
    channel.connect(spec["channel"], role="main")
    channel.emit(
        "main.started",
        python=".".join(str(n) for n in sys.version_info[:3]),
        executable=sys.executable,
    )
    capture.install()

    from . import program

    program.run(spec["program"], spec["channel"])
