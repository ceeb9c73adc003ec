"""The rich console every terminal view uses, set up once for colour and width."""

from __future__ import annotations

import os
import sys

from rich.console import Console

# The command line's --color (cli_output): auto, always or never.
_mode = "auto"


def use_color(mode: str) -> None:
    """Colour the views that follow: ``auto`` (a terminal, as ``NO_COLOR`` and
    ``FORCE_COLOR`` say), ``always`` or ``never``."""
    global _mode
    _mode = mode


def make_console(*, no_color: bool = False, stderr: bool = False) -> Console:
    """A console that honours ``--color``, ``--no-color`` and ``NO_COLOR`` with no escape
    codes at all when plain.

    rich alone still emits bold and other attributes under ``NO_COLOR``; without a colour
    system it emits none. Under ``auto``, whether stdout is a terminal (and
    ``FORCE_COLOR``, ``TERM=dumb``) is left to rich; ``always`` colours a pipe too, but a
    pipe is still no place for a live display (not interactive).
    """
    mode = "never" if no_color else _mode
    if mode == "auto" and os.environ.get("NO_COLOR"):
        mode = "never"
    forced = mode == "always"
    return Console(
        color_system=None if mode == "never" else "auto",
        force_terminal=True if forced else None,
        force_interactive=_isatty(sys.stderr if stderr else sys.stdout) if forced else None,
        highlight=False,
        emoji=False,
        stderr=stderr,
    )


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False
