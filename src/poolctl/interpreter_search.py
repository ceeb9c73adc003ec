"""Where ``--python NAME`` is: a path, a command on PATH, or an interpreter installed by
pyenv, by uv, or unpacked from the shared interpreters.

Names: a path (``./venv/bin/python``), a command (``python3.12``, ``pypy3``), a version
(``3.14``, ``3.14.7``) or a free-threaded version (``3.14t``), ``pypy``/``pypy3``.
Nothing here runs the interpreter: ``interpreter.resolve`` then probes what was found.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from .errors import UsageError

# 'python3.14t', '3.14', '3.14.7t': the version asked for, and whether free-threaded.
_VERSION = re.compile(r"(?:python)?(\d+)\.(\d+)(?:\.(\d+))?(t?)")
# 'pypy', 'pypy3', 'pypy3.9'.
_PYPY = re.compile(r"pypy(\d+)?(?:\.(\d+))?")


def find(spec: str) -> str:
    """A path for ``spec``: as given when it has a slash, else the first place that has
    it: PATH, then pyenv, uv and the shared interpreters (newest patch release first)."""
    if os.sep in spec or spec.startswith("."):
        return _given_path(spec)
    on_path = shutil.which(spec)
    # A pyenv shim for a version that is installed but not selected fails when run, and
    # selecting a version from inside poolctl would be silently ignored: look it up.
    if on_path is not None and "/shims/" not in on_path:
        return on_path
    version = _VERSION.fullmatch(spec)
    pypy = _PYPY.fullmatch(spec)
    if version is not None:
        found = _find_cpython(version)
    elif pypy is not None:
        found = _find_pypy(spec, pypy)
    else:
        found = None
    if found is not None:
        return found
    if on_path is not None:
        return on_path
    if version is None and pypy is None:
        raise UsageError(f"--python {spec}: no such command on PATH")
    raise UsageError(
        f"--python {spec}: no such command on PATH, nor in pyenv ({_pyenv_root()}),"
        f" uv's Pythons ({_uv_root()}) or the shared interpreters ({shared_root()})"
    )


def mismatch(spec: str, version: str, implementation: str, free_threaded: bool) -> str | None:
    """Why the interpreter found for a version name is not the one asked for, if it is not
    (a PATH entry named ``python3.14`` may be anything)."""
    asked = _VERSION.fullmatch(spec)
    if asked is not None:
        major, minor, patch, threaded = asked.groups()
        wanted = ".".join(n for n in (major, minor, patch) if n is not None)
        if not (version + ".").startswith(wanted + ".") or bool(threaded) != free_threaded:
            build = version + ("t" if free_threaded else "")
            return f"found {implementation} {build}, not {wanted}{threaded}"
    elif _PYPY.fullmatch(spec) and implementation != "PyPy":
        return f"found {implementation} {version}, not PyPy"
    return None


def _given_path(spec: str) -> str:
    path = Path(spec).expanduser()
    if not path.exists():
        raise UsageError(f"--python {spec}: no such file")
    if path.is_dir() or not os.access(path, os.X_OK):
        raise UsageError(f"--python {spec}: not an executable file")
    # Absolute: Path('./python') prints as 'python', which exec would look up on PATH.
    return str(path.absolute())


def _find_cpython(version: re.Match[str]) -> str | None:
    major, minor, patch, threaded = version.groups()
    command = f"python{major}.{minor}{threaded}"
    if not version.group(0).startswith("python"):
        found = shutil.which(command)
        if found is not None and "/shims/" not in found and patch is None:
            return found
    free = bool(threaded)
    candidates: list[tuple[tuple[int, ...], str]] = []
    for home in _CPYTHON_HOMES:
        for found_version, found_free, binary in _installed_cpythons(home, major, minor, command):
            if found_free == free and (patch is None or found_version[2] == int(patch)):
                candidates.append((found_version, binary))
        if candidates:  # the first place that has one: PATH, pyenv, uv, shared
            return max(candidates)[1]
    return None


def _versioned_dirs(root: Path, pattern: str, name: re.Pattern[str]):
    """(version, match) of every directory of ``root`` whose name matches ``name``."""
    if not root.is_dir():
        return
    for directory in sorted(root.glob(pattern)):
        match = name.fullmatch(directory.name)
        if match is not None:
            yield directory, match


# Where installed CPythons are kept, in the order they are looked in after PATH: each a
# root and how a version's directory is named there (group 4: a free-threaded build).
_CPYTHON_HOMES = (
    # pyenv: '3.14.7', a free-threaded build '3.14.0t'.
    (lambda: _pyenv_root(), "{major}.{minor}.*", r"({major})\.({minor})\.(\d+)(t?)"),
    # uv: 'cpython-3.14.7-linux-x86_64-gnu', 'cpython-3.14.7+freethreaded-linux-...'.
    (
        lambda: _uv_root(),
        "cpython-{major}.{minor}.*",
        r"cpython-({major})\.({minor})\.(\d+)(\+freethreaded)?-.*",
    ),
    # The shared interpreters' unpack script: 'cpython-3.14.7t-linux-x86_64'.
    (
        lambda: shared_root(),
        "cpython-{major}.{minor}.*",
        r"cpython-({major})\.({minor})\.(\d+)(t?)-.*",
    ),
)


def _installed_cpythons(home: tuple[Any, str, str], major: str, minor: str, command: str):
    """(version, free-threaded, binary) of each ``major.minor`` CPython kept in ``home``."""
    root, pattern, name = home
    found = re.compile(name.format(major=major, minor=minor))
    for directory, m in _versioned_dirs(root(), pattern.format(major=major, minor=minor), found):
        binary = directory / "bin" / command
        if binary.is_file():
            yield _numbers(m), bool(m.group(4)), str(binary)


def _find_pypy(spec: str, pypy: re.Match[str]) -> str | None:
    """``pypy`` or ``pypy3`` on PATH under the other name, else pyenv's or uv's PyPy."""
    major, minor = pypy.groups()
    if major is None:
        found = shutil.which("pypy3")
        if found is not None and "/shims/" not in found:
            return found
    any_minor = r"\d+"
    version = rf"{major or 3}\.{minor or any_minor}"
    sources = (
        (_pyenv_root(), re.compile(rf"pypy({version})-.*"), "pypy3"),
        (_uv_root(), re.compile(rf"pypy-({version})\.\d+-.*"), "pypy3"),
    )
    for root, name, command in sources:
        found_dirs = [
            (tuple(int(n) for n in m.group(1).split(".")), directory)
            for directory, m in _versioned_dirs(root, "pypy*", name)
            if (directory / "bin" / command).is_file()
        ]
        if found_dirs:
            return str(max(found_dirs)[1] / "bin" / command)
    return None


def _numbers(match: re.Match[str]) -> tuple[int, ...]:
    return tuple(int(n) for n in match.groups()[:3])


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def _uv_root() -> Path:
    """uv's managed Pythons: ``UV_PYTHON_INSTALL_DIR``, else ``$XDG_DATA_HOME/uv/python``."""
    given = os.environ.get("UV_PYTHON_INSTALL_DIR")
    if given:
        return Path(given).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "uv" / "python"


def shared_root() -> Path:
    """Where the shared interpreters' ``unpack`` script puts them by default."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "shared-pythons"
