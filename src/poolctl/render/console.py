"""The rich console every terminal view uses, set up once for colour and width."""

from __future__ import annotations

import os

from rich.console import Console


def make_console(*, no_color: bool = False, stderr: bool = False) -> Console:
    """A console that honours ``--no-color`` and ``NO_COLOR`` with no escape codes at all.

    rich alone still emits bold and other attributes under ``NO_COLOR``; without a colour
    system it emits none. Whether stdout is a terminal (and ``FORCE_COLOR``,
    ``TERM=dumb``) is left to rich.
    """
    plain = no_color or bool(os.environ.get("NO_COLOR"))
    return Console(
        color_system=None if plain else "auto",
        highlight=False,
        emoji=False,
        stderr=stderr,
    )
