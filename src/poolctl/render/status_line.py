"""The live status line of ``run`` and ``trace``: while a run goes on, on a terminal's
stderr, how long it has run of its ``--timeout``, the call the main process is in and
since when, and above it a line for each event that matters as it happens (``live.py``)::

    ⠋ 2.1 s of 600 s · main in join() of Pool 1 since 0.1 s (hang.py:15)

Only on stderr, and only when it is a terminal that takes colour (a pipe, a file,
``NO_COLOR``, ``--no-color`` or ``-q`` get nothing: a live line is all cursor movement).
The line itself is transient: erased before the report, on Ctrl-C too.

Under ``trace`` the program's output goes to the same terminal (``observer/output.Echo``):
the two share one lock (``Screen``), the output always finds the line erased, and the
line is drawn only once the program has been quiet for ``QUIET_SECONDS`` with its cursor
at a line's start; a chatty program sees nothing of poolctl, a hung one shows what it is
stuck in within a second.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType

from rich.text import Text

from ..live import Follow, Notable
from ..observer.observe import Observed
from ..observer.output import ERASE, Screen
from ..printable import printable
from .console import lines, make_console, rows

# How often the run's events are read and the line redrawn.
REFRESH_PER_SECOND = 4
# How long a traced program must have been quiet on the terminal before the line shows.
QUIET_SECONDS = 0.5
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
# How long leaving waits for the line's thread (a write blocked on a terminal held by
# Ctrl-S must not hold up the report for ever).
STOP_SECONDS = 1.0
STYLES = {
    "worker-killed": "bold red",
    "worker-exited": "bold red",
    "task-failed": "red",
    "call-raised": "red",
    "pool-stopped": "yellow",
    "more": "dim",
}


class StatusLine:
    """The status line, as a context manager: ``observed`` (the pipelines' ``on_observe``)
    starts it as the run starts; leaving the block erases it."""

    def __init__(self, *, no_color: bool = False) -> None:
        self.console = make_console(no_color=no_color, stderr=True)
        self.enabled = self.console.is_interactive and self.console.color_system is not None
        self.fd = sys.stderr.fileno() if self.enabled else -1
        self.encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
        self.follow: Follow | None = None
        self.screen = Screen()
        self.quiet_ns = 0
        self.pending: list[Notable] = []
        self.frame = 0
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def observed(self, observed: Observed) -> None:
        """The run has started: follow its events and show the line."""
        if not self.enabled or self.thread is not None:
            return
        self.follow = Follow(observed)
        if observed.screen is not None:  # trace: the program writes to the terminal too
            self.screen = observed.screen
            self.quiet_ns = int(QUIET_SECONDS * 1e9)
        sys.stderr.flush()  # what poolctl wrote before comes first
        self.thread = threading.Thread(target=self._run, name="poolctl-status", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                self._tick()
                if self.stopping.wait(1 / REFRESH_PER_SECOND):
                    return
        except Exception:  # a live view never takes the run down with it
            return

    def _tick(self) -> None:
        """Read on, then draw the new notable lines and the line, if the terminal is ours."""
        assert self.follow is not None
        self.pending += self.follow.poll()
        screen = self.screen
        if not screen.lock.acquire(blocking=False):
            return  # the program's output is being written: it is not quiet
        try:
            if not screen.may_draw(self.quiet_ns, time.monotonic_ns()):
                return
            width = _width(self.fd) - 1  # never the last column: the line would wrap
            out = ERASE
            if self.pending:
                out += self._ansi(self._notable(width), end="\n")
                self.pending = []
            out += self._ansi([self._status(width)], end="")
            screen.fd = self.fd
            _write_all(self.fd, out)
            screen.shown = True
        finally:
            screen.lock.release()

    def _status(self, width: int) -> Text:
        """The line for ``width`` cells: what fits, by priority (the time, the call the main
        process is in, where it was made, the Ctrl-C hint)."""
        assert self.follow is not None
        follow = self.follow
        now = follow.elapsed()
        line = Text()
        line.append(f"{SPINNER[self.frame]} ", "cyan")
        self.frame = (self.frame + 1) % len(SPINNER)
        line.append(f"{now:.1f} s", "bold cyan")
        line.append(f" of {follow.observed.timeout:g} s", "dim")
        call = follow.in_call()
        extra: list[Text] = []
        if call is not None:
            seg = Text(" · main in ")
            seg.append(printable(call.call), "bold")
            if call.pool:
                seg.append(f" of {printable(call.pool)}")
            # "since" on the run's clock, as the event lines above: the figure stays put
            seg.append(f" since {call.since:.1f} s")
            extra.append(seg)
            if call.site:
                extra.append(Text(f" ({printable(call.site)})", "dim"))
        elif follow.exiting_since() is not None:
            since = follow.exiting_since() or 0.0
            extra.append(Text(f" · main in its exit handlers since {since:.1f} s"))
        extra.append(Text(" · Ctrl-C stops it and shows what was seen", "dim"))
        for n, seg in enumerate(extra):
            if line.cell_len + seg.cell_len > width:
                if n == 0 and call is not None:
                    break  # no site without its call
                continue
            line.append_text(seg)
        line.truncate(max(width, 1))
        return line

    def _notable(self, width: int) -> list[Text]:
        """The notable events, one line each (wrapped between words under a hanging
        indent): their time, then what happened."""
        assert self.follow is not None
        wide = len(f"{self.follow.observed.timeout:.1f} s")
        table = [
            [
                Text(f"{n.t:.1f} s".rjust(wide), "dim"),
                Text(printable(n.message), STYLES.get(n.kind, "")),
            ]
            for n in self.pending
        ]
        return rows(table, width)

    def _ansi(self, texts: list[Text], end: str) -> bytes:
        """``texts`` as the terminal takes them, one per line."""
        with self.console.capture() as captured:
            self.console.print(lines(texts), crop=False, soft_wrap=True, end="")
        # rich ends its last line too: the status line must leave the cursor on itself.
        return (captured.get().removesuffix("\n") + end).encode(self.encoding, "replace")

    def __enter__(self) -> StatusLine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.thread is None:
            return
        self.stopping.set()
        self.thread.join(STOP_SECONDS)
        if self.screen.lock.acquire(timeout=STOP_SECONDS):
            try:
                self.screen.clear()
            finally:
                self.screen.lock.release()
        if not self.thread.is_alive() and self.follow is not None:
            self.follow.close()


def _width(fd: int) -> int:
    """The terminal's columns; 80 when it does not say (a pseudo-terminal never sized)."""
    try:
        return os.get_terminal_size(fd).columns or 80
    except OSError:
        return 80


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
