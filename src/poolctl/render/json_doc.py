"""The run document as JSON on a stream (no rich: this path stays lean)."""

from __future__ import annotations

import json
from typing import Any, TextIO


def write(document: dict[str, Any], stream: TextIO) -> None:
    """Write ``document`` as one JSON document followed by a newline."""
    json.dump(document, stream, indent=2)
    stream.write("\n")
    stream.flush()


def write_line(document: dict[str, Any], stream: TextIO) -> None:
    """Write ``document`` as one line of JSON (JSON Lines), flushed at once."""
    stream.write(json.dumps(document, separators=(",", ":")))
    stream.write("\n")
    stream.flush()
