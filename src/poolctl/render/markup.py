"""Text from outside made safe for the exports: XML (SVG), HTML and JSON.

Every string of a document may come from the observed program (an exception's message,
its output, its file name) or from a saved document someone else wrote, so each one is
escaped where an export writes it, in text and in attributes alike. Characters that
XML 1.0 forbids, or that could hide or reorder what a reader sees, are written as their
Python escapes (``\\x1b``, ``\\u202e``): visible, and never a broken or spoofed file.
"""

from __future__ import annotations

import html
import re
from typing import Any

# C0 controls (all but tab, newline and carriage return) and U+FFFE/U+FFFF are not XML
# 1.0 characters; lone surrogates cannot even be encoded; C1 controls are legal XML but
# HTML's parse errors; the bidirectional controls can make a line read backwards.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufffe\uffff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def visible(text: str) -> str:
    """``text`` with every unsafe character written as its Python escape."""
    return _UNSAFE.sub(_escaped, text)


def escape(value: Any) -> str:
    """``value`` as text for XML or HTML, in an element or in a quoted attribute: unsafe
    characters made visible, then ``& < > " '`` escaped."""
    return html.escape(visible(str(value)), quote=True)


def json_safe(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) made visible: JSON
    escapes all else, but a lone ``\\ud800`` is text many JSON readers refuse."""
    if isinstance(value, str):
        return _SURROGATE.sub(_escaped, value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
