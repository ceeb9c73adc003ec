"""Entry point of the observed interpreter for a scenario: ``main(spec_json)``.

The observer starts ``python -I -c`` with a two-line bootstrap that puts this package's
folder on ``sys.path`` and calls ``main``. The spec (JSON) holds the channel's path and the
program to run.
"""

from . import capture
from .entry_common import start


def main(spec_json):
    """Run the scenario program described by ``spec_json``."""
    spec = start(spec_json)
    capture.install()

    from . import scenario_program as program

    program.run(spec["program"], spec["channel"])
