"""A private place for one run: a 0700 temporary directory for the event files."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import signals


@contextmanager
def private_dir() -> Iterator[Path]:
    """Yield a fresh directory only this user can enter; remove it and its files after.

    ``mkdtemp`` creates a new directory with mode 0700, so nobody else can plant a file or
    a symlink where the subject writes its events; the subject also opens its files with
    ``O_EXCL | O_NOFOLLOW``.
    """
    directory = None
    try:
        # A Ctrl-C between creating and yielding it, or during its removal, must not
        # leave the directory behind: it waits until the step is done (see signals.py).
        with signals.deferred():
            directory = tempfile.mkdtemp(prefix="poolctl-")
        yield Path(directory)
    finally:
        if directory is not None:
            with signals.deferred():
                shutil.rmtree(directory, ignore_errors=True)


def read_events(directory: Path) -> list[bytes]:
    """Every complete event line the run's processes stored, file by file.

    A file is read up to its first NUL (the unused rest of the mapping). A last line with
    no newline is a store cut short by the process's death, and is left out.
    """
    lines: list[bytes] = []
    for path in sorted(directory.glob("events-*")):
        data = path.read_bytes()
        end = data.find(b"\0")
        if end >= 0:
            data = data[:end]
        complete = data[: data.rfind(b"\n") + 1]
        lines.extend(line for line in complete.split(b"\n") if line)
    return lines
