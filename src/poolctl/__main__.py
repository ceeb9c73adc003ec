"""``python -m poolctl``."""

import sys

from poolctl.cli import main

if __name__ == "__main__":
    sys.exit(main())
