"""Find and check the interpreter a run's pool runs under (``--python``)."""

from __future__ import annotations

import json
import platform
import re
import sys
import sysconfig
from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .interpreter_faults import FAULTS, probe_code
from .interpreter_search import find, mismatch
from .printable import printable

MINIMUM = (3, 8)

# Runs on any Python (2 included), so that a too-old interpreter is named as such. It
# prints the version first, then, on 3.8+, the start methods as JSON.
_PROBE = (
    "import sys, platform\n"
    "v = sys.version_info\n"
    "sys.stdout.write('%d.%d.%d %s\\n' % (v[0], v[1], v[2], platform.python_implementation()))\n"
    "if v >= (3, 8):\n"
    "    import json, multiprocessing as m, sysconfig\n"
    "    gil = getattr(sys, '_is_gil_enabled', None)\n"
    + probe_code()
    + "    sys.stdout.write(json.dumps({'executable': sys.executable,"
    " 'start_methods': m.get_all_start_methods(),"
    " 'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),"
    " 'gil_enabled': gil() if gil else not sysconfig.get_config_var('Py_GIL_DISABLED'),"
    " 'faults': faults}))\n"
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
    # A free-threaded build (``Py_GIL_DISABLED``, 3.13+): its version is named '3.14.7t'.
    free_threaded: bool = False
    # Whether the GIL was enabled when probed (a free-threaded build can enable it again).
    gil_enabled: bool = True
    # Names of the ``interpreter_faults`` this interpreter has (pools it breaks itself).
    faults: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The build as users name it: '3.14.7', '3.14.7t' (free-threaded), 'PyPy 3.9.16'."""
        return build_label(self.as_dict())

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

    def as_dict(self) -> dict[str, Any]:
        """The interpreter as the JSON document shows it."""
        return {
            "executable": self.executable,
            "version": self.version,
            "implementation": self.implementation,
            "free_threaded": self.free_threaded,
            "gil_enabled": self.gil_enabled,
        }


def build_label(python: dict[str, Any]) -> str:
    """'3.14.7', '3.14.7t' or 'PyPy 3.9.16' for a document's ``python`` section."""
    version = python["version"] + ("t" if python.get("free_threaded") else "")
    implementation = python.get("implementation", "CPython")
    return version if implementation == "CPython" else f"{implementation} {version}"


def describe(python: dict[str, Any]) -> str:
    """'CPython 3.14.7t, GIL disabled' for a document's ``python`` section."""
    text = f"{python.get('implementation', 'CPython')} {build_label(python).split()[-1]}"
    if python.get("free_threaded"):
        text += ", GIL " + ("enabled" if python.get("gil_enabled") else "disabled")
    return text


def current() -> Interpreter:
    """The interpreter poolctl itself runs on (no probe needed)."""
    return Interpreter(
        executable=sys.executable,
        version=".".join(str(n) for n in sys.version_info[:3]),
        implementation=platform.python_implementation(),
        free_threaded=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        gil_enabled=_gil_enabled(),
        faults=tuple(f.name for f in FAULTS if _present(f.present)),
    )


def _present(expression: str) -> bool:
    try:
        return bool(eval(expression))  # one of FAULTS' own expressions, never user input
    except Exception:
        return False


def _gil_enabled() -> bool:
    is_enabled = getattr(sys, "_is_gil_enabled", None)  # 3.13+
    return bool(is_enabled()) if is_enabled else not sysconfig.get_config_var("Py_GIL_DISABLED")


def resolve(spec: str | None) -> Interpreter:
    """Check the interpreter named by ``--python`` (a path or a command name)."""
    if spec is None:
        return current()
    if not spec.strip():
        raise UsageError("--python: empty interpreter name")
    path = find(spec)
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
    info = _probe_info(lines[1:])
    if info is None:
        # Its end: where a wrapper's junk is.
        shown = printable("\\n".join(lines[1:]))
        shown = shown if len(shown) <= 60 else "..." + shown[-60:]
        raise UsageError(
            f"--python {spec}: not a working Python interpreter: unexpected answer {shown!r}"
        )
    wrong = mismatch(spec, match.group(0).split()[0], match.group(4), info["free_threaded"])
    if wrong is not None:
        raise UsageError(f"--python {spec}: {path}: {wrong}")
    return Interpreter(
        executable=path,
        version=".".join(map(str, version)),
        implementation=match.group(4),
        probed_start_methods=tuple(info["start_methods"]),
        free_threaded=info["free_threaded"],
        gil_enabled=info["gil_enabled"],
        faults=tuple(info["faults"]),
    )


def _probe_info(lines: list[str]) -> dict[str, Any] | None:
    """What the probe's second line says; None unless that line is all there is and holds
    every field, each of its type (a wrapper may print more, or something else)."""
    if len(lines) != 1:
        return None  # a wrapper that printed more than the interpreter did
    try:
        info = json.loads(lines[0])
    except ValueError:
        return None
    if not isinstance(info, dict):
        return None
    methods, faults = info.get("start_methods"), info.get("faults")
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        return None
    if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
        return None
    if not isinstance(info.get("free_threaded"), bool):
        return None
    if info.get("gil_enabled") is not None and not isinstance(info["gil_enabled"], bool):
        return None
    return info
