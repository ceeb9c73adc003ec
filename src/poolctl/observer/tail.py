"""The run's event files read while it goes on, for the live view (``live.py``).

The final read (``workspace.open_events``, once no process of the run is left) is the
record; this one only shows what is happening, and changes nothing: it opens its own
descriptors, read-only, with the final read's checks (``workspace.open_growing``). Each
tick reads a bounded number of bytes (``TICK_BYTES``, the main process's file first) and
follows at most ``MAX_FILES`` files, so a busy run costs the live view a lag, never the
run its pace.

A file is read up to its first NUL: the subject stores each line into zeroed pages of a
mapping (``channel.py``), and JSON holds no NUL, so every byte before the first NUL is
final. Only complete lines are returned; a line still being stored is kept for the next
tick, up to ``LONGEST_LINE`` bytes (a longer one is no event: dropped).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import workspace

# The most bytes read in one tick, from every file together.
TICK_BYTES = 256 << 10
# The first read of a file in a tick: most files have not grown since the last tick (a
# mapping is zeros past its data: one small read finds the NUL).
PROBE_BYTES = 4096
# The most files followed (one per process of the run); later ones are left to the final read.
MAX_FILES = 256
LONGEST_LINE = 64 << 10
# Lines of these kinds are never used live, and make most of a busy run's lines: skipped
# before they are decoded (the subject writes ``"kind":"..."`` exactly so; a line written
# otherwise is decoded and checked like any other).
SKIPPED = (b'"kind":"task.submitted"', b'"kind":"output"')


@dataclass
class _Followed:
    fd: int
    offset: int = 0
    partial: bytearray = field(default_factory=bytearray)


class Tail:
    """The event files of the run in ``directory``, followed as they grow; the main
    process's (``events-<main_pid>``) is read first."""

    def __init__(self, directory: Path, main_pid: int) -> None:
        self.directory = directory
        self.main = f"events-{main_pid}"
        self.files: dict[str, _Followed] = {}
        self.refused: set[str] = set()
        self._turn = 0  # which of the other files is read first this tick (fairness)

    def read(self) -> tuple[list[bytes], bool]:
        """The complete lines stored since the last call, and whether every file was read
        to its end (False: this tick's bound was reached; the rest comes next time)."""
        self._look()
        others = [name for name in self.files if name != self.main]
        if others:
            self._turn %= len(others)
            others = others[self._turn :] + others[: self._turn]
            self._turn += 1
        order = ([self.main] if self.main in self.files else []) + others
        budget = TICK_BYTES
        lines: list[bytes] = []
        for name in order:
            budget = self._read_one(self.files[name], budget, lines)
            if budget <= 0:
                return [line for line in lines if not any(s in line for s in SKIPPED)], False
        return [line for line in lines if not any(s in line for s in SKIPPED)], True

    def close(self) -> None:
        """Close every descriptor."""
        for followed in self.files.values():
            os.close(followed.fd)
        self.files.clear()

    def _look(self) -> None:
        """Open the files that appeared since the last look (none once ``MAX_FILES`` are
        followed; the directory gone at the run's end: nothing new)."""
        if len(self.files) + len(self.refused) >= MAX_FILES:
            return
        try:
            names = [e.name for e in os.scandir(self.directory) if e.name.startswith("events-")]
        except OSError:
            return
        for name in sorted(names, key=lambda n: n != self.main):
            if name in self.files or name in self.refused:
                continue
            if len(self.files) + len(self.refused) >= MAX_FILES:
                return
            if not name[len("events-") :].isdigit():
                self.refused.add(name)
                continue
            opened = workspace.open_growing(self.directory / name)
            if isinstance(opened, int):
                self.files[name] = _Followed(opened)
            elif opened:  # a note: refused, as the final read will say
                self.refused.add(name)
            # b"": nothing stored yet; looked at again next time

    def _read_one(self, followed: _Followed, budget: int, lines: list[bytes]) -> int:
        """Read ``followed`` from where it was left, within ``budget`` bytes; its complete
        lines go to ``lines``; what is left of the budget."""
        size = PROBE_BYTES
        while budget > 0:
            want = min(size, budget)
            try:
                chunk = os.pread(followed.fd, want, followed.offset)
            except OSError:
                return budget
            end = chunk.find(b"\0")
            data = chunk if end < 0 else chunk[:end]
            followed.offset += len(data)
            budget -= len(data)
            if data:
                pieces = (bytes(followed.partial) + data).split(b"\n")
                lines.extend(piece for piece in pieces[:-1] if piece)
                rest = pieces[-1]
                followed.partial = bytearray(rest if len(rest) <= LONGEST_LINE else b"")
            if end >= 0 or len(chunk) < want:
                return budget  # its end, for now
            size *= 2
        return budget
