"""Write the exports of a document: Chrome trace, SVG, HTML.

A target is written as any command-line tool writes it: a device or a pipe (``/dev/null``,
``/dev/stdout``, ``>(cat)``, a FIFO) is opened and written, never replaced; a symbolic
link is followed and its target written, the link kept. Only a regular file (or a new
one) is written to a temporary file beside it and renamed into place, so a reader never
sees half a file; a new file gets the umask's mode, a replaced one keeps its own.
Targets are checked before anything runs; a write that fails later raises
``ExportError`` only once every other export is written.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..errors import ExportError, UsageError

KINDS = ("trace", "svg", "html")
SCHEMAS = ("poolctl.run/1", "poolctl.compare/1")
# Symbolic links followed before a target is given up as a loop (Linux's own limit).
MAX_LINKS = 40


def check_targets(targets: dict[str, str | None]) -> dict[str, Path]:
    """The output paths that were given, checked before anything runs: each must be a
    file, a character device or a pipe that can be written, or a new file in a directory
    that can be written (else ``UsageError``, exit 2)."""
    checked = {}
    for kind, value in targets.items():
        if value is None:
            continue
        _check(f"--{kind} {value}", Path(value))
        checked[kind] = Path(value)
    return checked


def _check(option: str, path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:  # a loop of links, a file used as a directory, no permission
        raise UsageError(f"{option}: {exc.strerror or exc}") from exc
    if st is None:
        named = _final_name(path)
        if named is None:  # e.g. /dev/fd/9 when 9 is not open: nothing to create
            raise UsageError(f"{option}: no such file")
        # A new file, or a dangling link's target: created in its directory.
        directory = named.parent if path.is_symlink() else path.parent
        if not directory.is_dir():
            raise UsageError(f"{option}: no such directory: {directory}")
        if not _may(directory, os.W_OK | os.X_OK):
            raise UsageError(f"{option}: cannot write in {directory}: {_denied(directory)}")
        return
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(st.st_mode):
            raise UsageError(f"{option}: is {what}; name a file, a character device or a pipe")
    if not _may(path, os.W_OK):
        raise UsageError(f"{option}: cannot write it: {_denied(path)}")


def _may(path: Path, mode: int) -> bool:
    """access(2) with the ids the writes will have (it checks the real ids by default)."""
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _denied(path: Path) -> str:
    """Why ``access`` said no: a read-only file system (which stops root too), or not
    permitted."""
    with contextlib.suppress(OSError):
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return os.strerror(errno.EROFS)
    return os.strerror(errno.EACCES)


def write(
    document: dict[str, Any],
    targets: dict[str, Path],
    wrote: Callable[[Path], None] = lambda path: None,
) -> None:
    """Write every requested export of ``document`` (calling ``wrote`` after each); if
    some could not be written, the others still are, then ``ExportError`` names them."""
    failures = []
    for kind, path in targets.items():
        data = content(kind, document).encode("utf-8")
        try:
            _write_target(path, data)
        except OSError as exc:
            failures.append(f"--{kind} {path}: cannot write it: {exc.strerror or exc}")
        else:
            wrote(path)
    if failures:
        raise ExportError("; ".join(failures))


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


def _write_target(path: Path, data: bytes) -> None:
    try:
        st: os.stat_result | None = path.stat()
    except FileNotFoundError:
        st = None
    stream = _standard_stream(st)
    if stream is not None:
        # The file poolctl's own stdout (or stderr) writes to, e.g. --svg /dev/stdout:
        # through that stream, after what it holds, so neither overwrites the other.
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            stream.write(data.decode("utf-8"))
            stream.flush()
        return
    if st is not None and not stat.S_ISREG(st.st_mode):
        # A device or a pipe: opened and written, as a shell's '>' does; never replaced.
        _write_fd(os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC), data)
        return
    named = _final_name(path)
    if named is None:
        # Reached through a file descriptor's link in /proc: it has no name to replace.
        _write_fd(os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC), data)
        return
    replaceable = st is None or st.st_nlink == 1  # a rename would split hard links
    if replaceable and _may(named.parent, os.W_OK | os.X_OK):
        try:
            _replace(named, data, st)
            return
        except PermissionError:
            if st is None:
                raise
            # e.g. another user's file in a sticky directory such as /tmp: rename refused
    # A file one may write in a directory one may not: written in place, as '>' does.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    _write_fd(os.open(named, flags, 0o666), data)


def _standard_stream(st: os.stat_result | None) -> IO[str] | None:
    if st is None:
        return None
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            own = os.fstat(stream.fileno())
            if (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino):
                return stream
    return None


def _final_name(path: Path) -> Path | None:
    """The name the file at ``path`` has once its symbolic links are followed (the file
    may not exist yet), or None when a link in /proc (a file descriptor's) leads to it."""
    current = path.absolute()
    for _ in range(MAX_LINKS):
        parent = Path(os.path.realpath(current.parent))
        if parent.parts[:2] == ("/", "proc"):
            return None
        current = parent / current.name
        if not current.is_symlink():
            return current
        current = parent / current.readlink()  # relative to its directory, if relative
    return None


def _replace(named: Path, data: bytes, old: os.stat_result | None) -> None:
    """Write a temporary file beside ``named`` and rename it over it."""
    import secrets  # here: 19 ms (hashlib, random) that a run without exports never needs

    temporary = named.with_name(f".{named.name}.{secrets.token_hex(4)}.tmp")
    # A new file: 0666 less the umask (the kernel applies it), as any tool's output file.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o666 if old is None else 0o600)
    try:
        if old is not None:  # a replaced file keeps its owner where we may, and its mode
            with contextlib.suppress(OSError):
                os.fchown(fd, old.st_uid, old.st_gid)
            os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after: a chown clears set-id bits
        _write_fd(fd, data)
        temporary.replace(named)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _write_fd(fd: int, data: bytes) -> None:
    """Write all of ``data`` and close ``fd``; a failure to write or to close raises."""
    with open(fd, "wb", closefd=True) as f:
        f.write(data)


def load(path: str) -> dict[str, Any]:
    """A saved ``--json`` document, checked to be one poolctl can render."""
    found = load_all(path)
    if len(found) != 1:
        raise UsageError(f"{path}: {len(found)} documents (a --jsonl stream); render merges them")
    return found[0]


def load_all(path: str) -> list[dict[str, Any]]:
    """The documents of a saved file: one ``--json`` document, or a ``--jsonl`` stream (a
    run document a line), each checked to be one poolctl can render."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a text file"
        raise UsageError(f"{path}: cannot read it: {reason}") from exc
    try:
        values = [json.loads(text)]
    except ValueError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        if exc.msg != "Extra data" or len(lines) < 2:
            raise UsageError(
                f"{path}: not a JSON document ({exc.msg} at line {exc.lineno})"
            ) from exc
        values = [_line(path, number, line) for number, line in enumerate(lines, start=1)]
    except RecursionError as exc:  # the json module parses nested arrays recursively
        raise UsageError(f"{path}: not a poolctl document (nested too deeply)") from exc
    return [_checked(path, value) for value in values]


def _line(path: str, number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise UsageError(f"{path}: line {number}: not a JSON document ({exc.msg})") from exc
    except RecursionError as exc:
        raise UsageError(f"{path}: line {number}: nested too deeply") from exc


def _checked(path: str, document: Any) -> dict[str, Any]:
    schema = document.get("schema") if isinstance(document, dict) else None
    if schema is None and isinstance(document, dict) and "traceEvents" in document:
        raise UsageError(
            f"{path}: a Chrome/Perfetto trace (what --trace writes), not a run document:"
            " open it in https://ui.perfetto.dev; render the --json document instead"
        )
    if schema not in SCHEMAS:
        raise UsageError(
            f"{path}: unknown document schema {schema!r}; poolctl renders {' and '.join(SCHEMAS)}"
        )
    # The renderers trust the document's shape: check it all here, not in a renderer.
    from ..schema_check import problem

    try:
        found = problem(document)
    except RecursionError:
        found = "nested too deeply"
    if found is not None:
        raise UsageError(f"{path}: not a valid {schema} document: {found}")
    return document
