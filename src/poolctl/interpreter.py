"""Find and check the interpreter a run's pool runs under (``--python``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .printable import printable

MINIMUM = (3, 8)

# Runs on any Python (2 included), so that a too-old interpreter is named as such. It
# prints the version first, then, on 3.8+, the start methods as JSON.
_PROBE = (
    "import sys, platform\n"
    "v = sys.version_info\n"
    "sys.stdout.write('%d.%d.%d %s\\n' % (v[0], v[1], v[2], platform.python_implementation()))\n"
    "if v >= (3, 8):\n"
    "    import json, multiprocessing as m\n"
    "    sys.stdout.write(json.dumps({'executable': sys.executable,"
    " 'start_methods': m.get_all_start_methods()}))\n"
)
_PROBE_TIMEOUT = 20.0


@dataclass(frozen=True)
class Interpreter:
    """A checked interpreter: where it is, its version, its start methods.

    Which start method a run used by default is not asked here: the subject reports the
    one its pool really used.
    """

    executable: str
    version: str
    implementation: str
    # None for the interpreter poolctl runs on: asked only when a method is named.
    probed_start_methods: tuple[str, ...] | None = None

    @property
    def version_info(self) -> tuple[int, ...]:
        """The version as numbers, e.g. (3, 8, 18)."""
        return tuple(int(n) for n in self.version.split("."))

    @property
    def start_methods(self) -> tuple[str, ...]:
        """The start methods this interpreter offers."""
        if self.probed_start_methods is not None:
            return self.probed_start_methods
        import multiprocessing

        return tuple(multiprocessing.get_all_start_methods())

    def as_dict(self) -> dict[str, str]:
        """The interpreter as the JSON document shows it."""
        return {
            "executable": self.executable,
            "version": self.version,
            "implementation": self.implementation,
        }


def current() -> Interpreter:
    """The interpreter poolctl itself runs on (no probe needed)."""
    return Interpreter(
        executable=sys.executable,
        version=".".join(str(n) for n in sys.version_info[:3]),
        implementation=sys.implementation.name.replace("cpython", "CPython"),
    )


def resolve(spec: str | None) -> Interpreter:
    """Check the interpreter named by ``--python`` (a path or a command name)."""
    if spec is None:
        return current()
    if not spec.strip():
        raise UsageError("--python: empty interpreter name")
    path = _find(spec)
    # Run as a run is (observer/watchdog.py): bounded, and whatever it starts is ended,
    # a wrapper script's background children included.
    from .observer import watchdog

    try:
        # -E -s rather than -I: Python 2 rejects -I, and should be named as too old.
        done = watchdog.run_bounded([path, "-E", "-s", "-c", _PROBE], _PROBE_TIMEOUT)
    except OSError as exc:
        raise UsageError(f"--python {spec}: not a Python interpreter ({exc.strerror})") from exc
    if done.returncode is None:
        raise UsageError(f"--python {spec}: no answer within {_PROBE_TIMEOUT:g} s")
    lines = done.stdout.decode(errors="replace").splitlines()
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+) (\S+)", lines[0]) if lines else None
    if done.returncode != 0 or match is None:
        said = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        detail = f": {printable(said[-1])}" if said else ""
        raise UsageError(f"--python {spec}: not a working Python interpreter{detail}")
    version = tuple(int(n) for n in match.groups()[:3])
    if version[:2] < MINIMUM or len(lines) < 2:
        raise UsageError(
            f"--python {spec}: Python {'.'.join(map(str, version))} is too old;"
            f" poolctl needs {'.'.join(map(str, MINIMUM))} or newer"
        )
    methods = _start_methods(lines[1:])
    if methods is None:
        # Its end: where a wrapper's junk is.
        shown = printable("\\n".join(lines[1:]))
        shown = shown if len(shown) <= 60 else "..." + shown[-60:]
        raise UsageError(
            f"--python {spec}: not a working Python interpreter: unexpected answer {shown!r}"
        )
    return Interpreter(
        executable=path,
        version=".".join(map(str, version)),
        implementation=match.group(4),
        probed_start_methods=methods,
    )


def _start_methods(lines: list[str]) -> tuple[str, ...] | None:
    """The start methods in the probe's second line; None unless that is all there is."""
    if len(lines) != 1:
        return None  # a wrapper that printed more than the interpreter did
    try:
        info = json.loads(lines[0])
    except ValueError:
        return None
    methods = info.get("start_methods") if isinstance(info, dict) else None
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        return None
    return tuple(methods)


def _find(spec: str) -> str:
    """A path for ``spec``: as given when it has a slash, else from PATH or pyenv."""
    if os.sep in spec or spec.startswith("."):
        path = Path(spec).expanduser()
        if not path.exists():
            raise UsageError(f"--python {spec}: no such file")
        if path.is_dir() or not os.access(path, os.X_OK):
            raise UsageError(f"--python {spec}: not an executable file")
        # Absolute: Path('./python') prints as 'python', which exec would look up on PATH.
        return str(path.absolute())
    found = shutil.which(spec)
    # A pyenv shim for a version that is installed but not selected fails when run, and
    # selecting a version from inside poolctl would be silently ignored: look it up.
    if found is None or "/shims/" in found:
        versioned = _pyenv_install(spec)
        if versioned is not None:
            return versioned
    if found is None:
        raise UsageError(f"--python {spec}: no such command on PATH")
    return found


def _pyenv_install(spec: str) -> str | None:
    """The newest pyenv-installed ``pythonX.Y`` for a ``spec`` like ``python3.8``."""
    match = re.fullmatch(r"python(\d+)\.(\d+)", spec)
    if match is None:
        return None
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    prefix = f"{match.group(1)}.{match.group(2)}."
    candidates = []
    for version_dir in root.glob(f"{prefix}*"):
        patch = version_dir.name[len(prefix) :]
        binary = version_dir / "bin" / spec
        if patch.isdigit() and binary.is_file():
            candidates.append((int(patch), str(binary)))
    return max(candidates)[1] if candidates else None
