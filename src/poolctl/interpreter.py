"""Find and check the interpreter a run's pool runs under (``--python``)."""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .interpreter_faults import FAULTS, probe_code
from .interpreter_search import find, mismatch

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
    try:
        done = subprocess.run(
            # -E -s rather than -I: Python 2 rejects -I, and should be named as too old.
            [path, "-E", "-s", "-c", _PROBE],
            capture_output=True,
            timeout=_PROBE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise UsageError(f"--python {spec}: no answer within {_PROBE_TIMEOUT:g} s") from exc
    except OSError as exc:
        raise UsageError(f"--python {spec}: not a Python interpreter ({exc.strerror})") from exc
    lines = done.stdout.decode(errors="replace").splitlines()
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+) (\S+)", lines[0]) if lines else None
    if done.returncode != 0 or match is None:
        said = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        detail = f": {said[-1]}" if said else ""
        raise UsageError(f"--python {spec}: not a working Python interpreter{detail}")
    version = tuple(int(n) for n in match.groups()[:3])
    if version[:2] < MINIMUM or len(lines) < 2:
        raise UsageError(
            f"--python {spec}: Python {'.'.join(map(str, version))} is too old;"
            f" poolctl needs {'.'.join(map(str, MINIMUM))} or newer"
        )
    info = json.loads(lines[1])
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
