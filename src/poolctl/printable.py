"""Text that stays on one line: messages, comments in generated files, error output."""

from __future__ import annotations

import unicodedata

# Characters that would end or garble a line of a message, a comment or a program.
_UNPRINTABLE = {"Cc", "Cs", "Zl", "Zp"}


def printable(text: str) -> str:
    """``text`` with each control character, surrogate and line or paragraph separator
    written as its Python escape (``\\n``, ``\\x00``...): one line, safe in a comment."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) in _UNPRINTABLE else c for c in text)
