"""``poolctl list``: a scenario a line, its summary wrapped to the terminal's width.

Plain Python, no rich: ``list`` starts as fast as ``--version``. Piped, each scenario
stays on one line (``poolctl list | grep kill`` finds whole entries).
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from typing import TextIO

from ..printable import printable

# Below this many columns for the summary, it goes under the name instead of beside it.
LEAST_SUMMARY = 30


def lines(found: list[tuple[str, str]], width: int | None) -> list[str]:
    """Each (name, summary) as lines: names in a column, summaries wrapped between words
    beside them to ``width`` (None: not wrapped)."""
    names = max((len(printable(name)) for name, _ in found), default=0)
    indent = names + 2
    if width is not None and width - indent < LEAST_SUMMARY:
        indent = 4
    out = []
    for name, summary in found:
        name, summary = printable(name), printable(summary)
        if width is None:
            out.append(f"{name:<{names}}  {summary}".rstrip())
            continue
        wrapped = textwrap.wrap(
            summary, width - indent, break_long_words=False, break_on_hyphens=False
        )
        if indent == 4:
            out += [name, *(" " * indent + part for part in wrapped)]
            continue
        first, *rest = wrapped or [""]
        out.append(f"{name:<{names}}  {first}".rstrip())
        out += [" " * indent + part for part in rest]
    return out


def show(found: list[tuple[str, str]], stream: TextIO | None = None) -> None:
    """Print the list: wrapped to the terminal's width, or one line each when piped."""
    stream = stream or sys.stdout
    width = shutil.get_terminal_size().columns if stream.isatty() else None
    stream.write("".join(line + "\n" for line in lines(found, width)))
