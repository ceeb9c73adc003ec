"""Write the exports of a document: Chrome trace, SVG, HTML. Each file is written to a
temporary file beside it and renamed into place, so a reader never sees half a file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import UsageError

KINDS = ("trace", "svg", "html")
SCHEMAS = ("poolctl.run/1", "poolctl.compare/1")


def check_targets(targets: dict[str, str | None]) -> dict[str, Path]:
    """The output paths that were given, checked before anything runs."""
    checked = {}
    for kind, value in targets.items():
        if value is None:
            continue
        path = Path(value)
        if path.is_dir():
            raise UsageError(f"--{kind} {value}: is a directory; name a file")
        if not path.parent.is_dir():
            raise UsageError(f"--{kind} {value}: no such directory: {path.parent}")
        checked[kind] = path
    return checked


def write(document: dict[str, Any], targets: dict[str, Path]) -> None:
    """Write every requested export of ``document``."""
    for kind, path in targets.items():
        _atomic_write(path, content(kind, document))


def content(kind: str, document: dict[str, Any]) -> str:
    """The text of one export."""
    if kind == "trace":
        from .perfetto_export import trace

        return json.dumps(trace(document), separators=(",", ":")) + "\n"
    if kind == "svg":
        from .svg_export import many_svg, run_svg

        if document["schema"].startswith("poolctl.compare/"):
            return many_svg(document["runs"])
        return run_svg(document)
    from .html_export import page

    return page(document)


def _atomic_write(path: Path, text: str) -> None:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        temporary.chmod(0o644)  # mkstemp makes it 0600; an export is for sharing
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def load(path: str) -> dict[str, Any]:
    """A saved ``--json`` document, checked to be one poolctl can render."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a text file"
        raise UsageError(f"{path}: cannot read it: {reason}") from exc
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path}: not a JSON document ({exc.msg} at line {exc.lineno})") from exc
    except RecursionError as exc:  # the json module parses nested arrays recursively
        raise UsageError(f"{path}: not a poolctl document (nested too deeply)") from exc
    schema = document.get("schema") if isinstance(document, dict) else None
    if schema not in SCHEMAS:
        raise UsageError(
            f"{path}: unknown document schema {schema!r}; poolctl renders {' and '.join(SCHEMAS)}"
        )
    # The renderers trust the document's shape: check it all here, not in a renderer.
    from .document_check import problem

    try:
        found = problem(document)
    except RecursionError:
        found = "nested too deeply"
    if found is not None:
        raise UsageError(f"{path}: not a valid {schema} document: {found}")
    return document
