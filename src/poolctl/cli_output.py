"""How the command line speaks, the same for every command: colour, ``-q``, 'wrote FILE'.

- Colour: ``--color=auto`` (the default) colours a terminal only, and honours
  ``NO_COLOR`` (set and not empty: no colour) then ``FORCE_COLOR`` (set and not empty:
  colour even when piped); ``--color=always`` and ``--color=never`` (``--no-color``)
  override both.
- ``-q``/``--quiet``: nothing on stderr but errors (no 'wrote FILE', no progress).
- Every file poolctl writes (``--svg``, ``--html``, ``--trace``, ``new``) is announced
  as one line ``wrote FILE`` on stderr, so stdout stays the document or the view.

No rich import: ``poolctl --version`` and ``list`` stay fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class ColorMode(StrEnum):
    """``--color``'s choices."""

    auto = "auto"
    always = "always"
    never = "never"


COLOR_MODES = tuple(mode.value for mode in ColorMode)


@dataclass(frozen=True)
class Output:
    """A command's output options: its colour mode and whether it is quiet."""

    color: str = "auto"  # one of COLOR_MODES
    quiet: bool = False

    @property
    def no_color(self) -> bool:
        """Plain text, as the terminal views take it."""
        return self.color == "never"

    def wrote(self, path: Path | str) -> None:
        """Announce a file written: 'wrote FILE' on stderr, unless quiet."""
        if not self.quiet:
            from .printable import printable

            sys.stderr.write(f"wrote {printable(str(path))}\n")
            sys.stderr.flush()

    def apply(self) -> None:
        """Give the terminal views this colour mode (before the first of them draws)."""
        from .render.console import use_color

        use_color(self.color)


def output(color: ColorMode | str | None, no_color: bool, quiet: bool) -> Output:
    """The options as given: ``--no-color`` is ``--color=never``; an unknown mode is a
    usage error (Typer checks the choices; the API's callers may not)."""
    from .errors import UsageError

    mode = "never" if no_color else (getattr(color, "value", color) or "auto")
    if mode not in COLOR_MODES:
        raise UsageError(f"--color: '{mode}' is not one of {', '.join(COLOR_MODES)}")
    return Output(color=mode, quiet=quiet)


def run_all_methods(scenario: str) -> str:
    """What ``run --start-method all`` says: run takes one; compare takes them all."""
    import shlex

    return (
        "--start-method all: 'run' runs one start method; to see every one side by side:"
        f" poolctl compare {shlex.quote(scenario)} --start-method all"
    )


NO_SCENARIOS = (
    "compare needs scenarios: name one or more (see 'poolctl list'),"
    " or every bundled one: poolctl compare all"
)
