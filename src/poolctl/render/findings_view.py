"""The Findings panel: what went wrong with the pools, and where, as the document says it.

One entry per finding: its kind, the pool, the program's line, what happened and what to
do. ``lines`` is plain text (the exports escape it where they put it: no rich here at
import); ``render`` is the terminal's (rich, imported when called); ``html`` the HTML export's;
``row_cell`` is a compare row's count by kind. Nothing is derived: the findings are the document's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..findings import where
from ..printable import printable
from .markup import escape

if TYPE_CHECKING:
    from rich.text import Text

TITLE = "Findings"
NONE = "none: no pool lost a task, left an exception unread or was left running"


def findings(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's findings (none in a document made before poolctl derived them)."""
    return list(document.get("findings") or [])


def heading(finding: dict[str, Any]) -> str:
    """'lost-to-terminate · pool 1 · prog.py:22 in main'."""
    parts = [finding["kind"]]
    if finding["pool"] is not None:
        parts.append(f"pool {finding['pool']}")
    if finding["site"]:
        parts.append(where(finding["site"]))
    return " · ".join(parts)


def lines(document: dict[str, Any]) -> list[str]:
    """The panel as plain lines: a heading, what happened and what to do for each finding;
    one line saying there is none otherwise. Unescaped: the caller escapes for its format."""
    found = findings(document)
    if not found:
        return [NONE]
    text: list[str] = []
    for finding in found:
        text += [heading(finding), f"  {finding['message']}", f"  → {finding['remedy']}"]
    return text


def render(
    document: dict[str, Any], width: int, *, compact: bool = False, remedy: bool = True
) -> list[Text]:
    """The terminal's panel, laid out for ``width``: a title and each finding (kind in
    red, the line in bold, what to do in cyan), then a blank line. ``compact`` (the
    24-line view): no title, nothing at all when there is no finding, and each finding's
    heading and what to do (its numbers are the outcome's, shown above it); without
    ``remedy``, the heading alone (a screen too short for more)."""
    from rich.text import Text

    from .console import wrap

    found = findings(document)
    title = [] if compact else [Text(TITLE, "bold underline")]
    if not found:
        return [] if compact else [*title, *wrap(Text(NONE, "green"), width), Text("")]
    out: list[Text] = list(title)
    for finding in found:
        entry = Text("⚠ " if compact else "")
        entry.append(printable(finding["kind"]), "bold red")
        if finding["pool"] is not None:
            entry.append(f" · pool {finding['pool']}")
        if finding["site"]:
            entry.append(" · ")
            entry.append(printable(where(finding["site"])), "bold")
        out += wrap(entry, width)
        told = [] if compact else [(finding["message"], "")]
        if remedy:
            told.append(("→ " + finding["remedy"], "cyan"))
        for said, style in told:
            out += [Text("  ") + part for part in wrap(Text(printable(said), style), width - 2)]
    return out if compact else [*out, Text("")]


def html(document: dict[str, Any]) -> str:
    """The panel as an HTML fragment (every string of the document escaped)."""
    found = findings(document)
    if not found:
        return f"<h3>{TITLE}</h3><p class='ok'>{escape(NONE)}</p>"
    items = "".join(
        f"<li class='bad'><b>{escape(heading(f))}</b><br>{escape(f['message'])}"
        f"<br><span class='dim'>→ {escape(f['remedy'])}</span></li>"
        for f in found
    )
    return f"<h3>{TITLE}</h3><ul>{items}</ul>"


def row_cell(row: dict[str, Any]) -> str:
    """A compare row's findings by kind: 'lost-to-terminate ×5' ('' for none)."""
    counts = row.get("findings") or {}
    return ", ".join(f"{kind} ×{n}" for kind, n in sorted(counts.items()))
