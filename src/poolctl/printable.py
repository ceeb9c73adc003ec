"""Text from outside made safe for a terminal: one line, nothing the terminal acts on.

Every text poolctl did not write itself (scenario files, the program's output and
exceptions, saved documents, paths, error messages) goes through ``printable`` before it
reaches a terminal: an escape sequence could otherwise set the clipboard (OSC 52), plant
a link (OSC 8), clear the screen or hide text, and a bidi control could make a line read
differently from what it holds. The program's own live output under ``poolctl trace`` is
the one exception: that is the program talking to its terminal, passed on byte for byte.
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL (ESC starts every terminal sequence, CSI is also U+009B),
# surrogates, line and paragraph separators, and the bidi controls that reorder what
# follows them (embeddings, overrides, isolates, marks).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escaped(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


def printable(text: str) -> str:
    """``text`` with each control character, surrogate, line or paragraph separator and
    bidi control written as its Python escape (``\\n``, ``\\x1b``, ``\\u202e``): one line
    that a terminal shows as it is, safe in a comment too."""
    return _UNSAFE.sub(_escaped, text)
