"""Entry point of the observed interpreter for a scenario: ``main(spec_bytes)``.

The observer starts ``python -I -c`` with a two-line bootstrap that puts this package's
folder on ``sys.path`` and calls ``main``. The spec (``marshal``'s format) holds the
channel's path and the program to run.
"""

from . import capture
from .entry_common import start


def main(spec_bytes):
    """Run the scenario program described by ``spec_bytes``."""
    spec = start(spec_bytes)
    capture.install()

    from . import scenario_program as program

    program.run(spec["program"], spec["channel"])
