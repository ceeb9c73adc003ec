"""A private place for one run: a 0700 temporary directory holding the event FIFO."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def private_fifo() -> Iterator[Path]:
    """Yield the path of a fresh FIFO (mode 0600) in a private directory; remove both after.

    ``mkdtemp`` creates a new directory that only we can enter, so nobody can plant a
    symlink where the FIFO goes, and ``mkfifo`` fails rather than follow one.
    """
    directory = tempfile.mkdtemp(prefix="poolctl-")
    try:
        fifo = Path(directory, "events")
        os.mkfifo(fifo, 0o600)
        yield fifo
    finally:
        shutil.rmtree(directory, ignore_errors=True)
