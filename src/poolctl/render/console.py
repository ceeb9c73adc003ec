"""The rich console every terminal view uses, and the line layout they share.

The views lay out their own lines for the console's width (``wrap``, ``rows``, ``flow``):
text is broken only between words, a word longer than a line is kept whole (a path is
never cut), and ``emit`` prints the lines without trailing spaces, so piped output is
plain lines whatever ``COLUMNS`` says.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Container, Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.text import Text

# A word and the spaces after it: lines break only between these, at plain spaces.
_WORD = re.compile(r"[^ ]+ *| +")
# A space no line breaks at (``31507 exit 0`` stays together); ``lines`` makes it a plain
# space once the lines are laid out.
GLUE = "\u00a0"
# Spaces and SGR sequences at the end of a line: rich pads table cells and lines.
_TRAILING = re.compile(r"(?:\x1b\[[0-9;]*m| )+$")
_SGR = re.compile(r"\x1b\[[0-9;]*m")

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


def emit(console: Console, renderable: RenderableType) -> None:
    """Print ``renderable`` uncropped, each line without the spaces rich pads it with."""
    with console.capture() as captured:
        console.print(renderable, crop=False)
    lines = [_TRAILING.sub(_keep_sgr, line) for line in captured.get().split("\n")]
    console.file.write("\n".join(lines))
    console.file.flush()


def _keep_sgr(match: re.Match[str]) -> str:
    return "".join(_SGR.findall(match.group()))


def lines(texts: Iterable[Text]) -> Group:
    """Lines already laid out: printed as they are, never wrapped or cut again."""
    laid = []
    for text in texts:
        text.no_wrap, text.overflow = True, "ignore"
        if GLUE in text.plain:
            text.plain = text.plain.replace(GLUE, " ")  # as long: the styles stay in place
        laid.append(text)
    return Group(*laid)


def wrap(text: Text, width: int) -> list[Text]:
    """``text`` in lines of at most ``width`` cells, broken only between words.

    A word longer than ``width`` stays whole on a line of its own; newlines are kept.
    """
    out: list[Text] = []
    width = max(width, 1)
    for line in text.split(allow_blank=True):
        breaks: list[int] = []
        used = 0
        for word in _WORD.finditer(line.plain):
            size = cell_len(word.group().rstrip())
            if used and used + size > width:
                breaks.append(word.start())
                used = 0
            used += cell_len(word.group())
        for part in line.divide(breaks) if breaks else [line]:
            part.rstrip()
            out.append(part)
    return out or [Text()]


def rows(
    table: Sequence[Sequence[Text]],
    width: int,
    *,
    gap: int = 2,
    right: Container[int] = (),
    min_last: int = 24,
) -> list[Text]:
    """A grid without padding: each column but the last as wide as its widest cell, the
    last wrapped between words under itself (a hanging indent).

    Columns in ``right`` are right-aligned. When fewer than ``min_last`` columns would be
    left for the last one, its text goes on the lines below, indented by four.
    """
    if not table:
        return []
    count = len(table[0])
    widths = [max(row[n].cell_len for row in table) for n in range(count - 1)]
    indent = sum(widths) + gap * (count - 1)
    under = width - indent < min_last
    out: list[Text] = []
    for row in table:
        line = Text()
        for n, cell in enumerate(row[:-1]):
            pad = " " * (widths[n] - cell.cell_len)
            line.append_text(Text(pad) + cell if n in right else cell + Text(pad))
            line.append(" " * gap)
        if under:
            line.rstrip()
            out.append(line)
            out.extend(Text("    ") + part for part in wrap(row[-1], width - 4) if part.plain)
            continue
        first, *rest = wrap(row[-1], width - indent)
        line.append_text(first)
        line.rstrip()
        out.append(line)
        out.extend(Text(" " * indent) + part for part in rest)
    return out


def flow(items: Iterable[Text], width: int, *, gap: int = 2, indent: int = 0) -> list[Text]:
    """Items side by side in lines of at most ``width`` cells; an item is never split."""
    out: list[Text] = []
    line: Text | None = None
    for item in items:
        if line is not None and line.cell_len + gap + item.cell_len <= width:
            line.append(" " * gap)
            line.append_text(item)
            continue
        if line is not None:
            out.append(line)
        line = Text(" " * indent if out else "") + item
    if line is not None:
        out.append(line)
    return out


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False
