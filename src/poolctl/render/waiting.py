"""``poolctl run``'s live status line: while a run goes on, on a terminal, how long it has
been running and its ``--timeout``, so that a hang is not silence.

On stderr, and only when stderr is a terminal that takes colour (a pipe, a file,
``NO_COLOR`` or ``--no-color`` get nothing: a live line is all cursor movement);
transient: cleared before the report prints, on Ctrl-C too.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.text import Text

from .console import make_console

# How often the line is redrawn.
REFRESH_PER_SECOND = 4


class Waiting:
    """The status line, as a context manager: ``started(timeout)`` shows it (the run's
    clock starts then), leaving the block clears it."""

    def __init__(self, *, enabled: bool, no_color: bool = False) -> None:
        self.enabled = enabled
        self.no_color = no_color
        self.live: Any = None
        self.t0 = 0.0
        self.timeout = 0.0

    def started(self, timeout: float) -> None:
        """The run starts now, and is stopped at ``timeout`` seconds: show the line."""
        if not self.enabled or self.live is not None:
            return
        console = make_console(no_color=self.no_color, stderr=True)
        if not console.is_interactive or console.color_system is None:
            return
        from rich.live import Live

        self.t0, self.timeout = time.monotonic(), timeout
        self.live = Live(
            self,
            console=console,
            refresh_per_second=REFRESH_PER_SECOND,
            transient=True,
            # What poolctl prints meanwhile (nothing, normally) is left alone.
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.live.start()

    def __rich__(self) -> Text:
        """The line as it is now (rich calls this at each refresh)."""
        elapsed = time.monotonic() - self.t0
        line = Text("running ", "bold")
        line.append(f"{elapsed:.1f} s", "bold cyan")
        line.append(f" of --timeout {self.timeout:g} s · Ctrl-C stops it and shows the run", "dim")
        return line

    def __enter__(self) -> Waiting:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
