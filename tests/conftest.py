"""Shared fixtures and helpers: real runs, the real entry point, and "nothing left running".

Every process a run starts (the subject, its workers, the fork server, the resource
tracker) inherits the environment, so a unique environment variable marks them all. The
``marker`` fixture checks after each test that no process on the machine still carries
it: processes are counted by that marker, never by name.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import schema_validation
from poolctl import (
    compare_document,
    compare_merge,
    document,
    interpreter,
    scenario,
    scenario_pipeline,
)

MARKER_VAR = "POOLCTL_TEST_MARKER"
START_METHODS = ("fork", "spawn", "forkserver")
SEED_SCENARIOS = ("close-join", "close-without-join", "join-without-close", "terminate-join")
# How long a test waits for the processes of a run to be gone before it fails.
GONE_SECONDS = 2.0
# A CLI run that does not finish within this is a failure, not a hang of the suite.
CLI_TIMEOUT = 45.0
# The escape character that starts every ANSI colour or cursor sequence.
ESC = "\x1b"


# --- processes -------------------------------------------------------------------------


def marked_pids(marker: str, exclude: tuple[int, ...] = ()) -> list[int]:
    """Pids of live processes whose environment carries ``marker`` (not this one)."""
    needle = f"{MARKER_VAR}={marker}".encode()
    skip = {os.getpid(), *exclude}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def child_states() -> dict[int, bytes]:
    """This process's children, alive or not: pid -> state (b"Z" for a zombie)."""
    me = os.getpid()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == me:
            found[int(entry.name)] = fields[0]
    return found


def zombie_children() -> list[int]:
    """Our own children that exited and were never reaped.

    An in-process run makes this process a child subreaper, so orphans of a run become
    our children: a zombie here is a process poolctl failed to reap.
    """
    return [pid for pid, state in child_states().items() if state == b"Z"]


def describe(pids: list[int]) -> str:
    """The command lines of ``pids``, for a failure message."""
    lines = []
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            command = "(gone)"
        lines.append(f"  {pid}: {command}")
    return "\n".join(lines)


def wait_until(condition: Callable[[], Any], seconds: float, step: float = 0.02) -> Any:
    """Poll ``condition`` until it returns something truthy or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def survivors(marker: str, seconds: float = GONE_SECONDS) -> tuple[list[int], list[int]]:
    """Marked processes and unreaped zombie children still there after ``seconds``."""
    wait_until(lambda: not marked_pids(marker) and not zombie_children(), seconds)
    return marked_pids(marker), zombie_children()


def reap(pids: list[int]) -> None:
    """Reap zombie children ``pids`` (those already reaped elsewhere are skipped)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def reap_adopted() -> bool:
    """Reap this process's zombie children (orphans it adopted, as a subreaper); True
    once none is left. For ``wait_until`` after poolctl itself was killed."""
    reap(zombie_children())
    return not zombie_children()


def nothing_left(marker: str, adopted: bool = False) -> None:
    """Fail if a process carrying ``marker`` is still running, or if a child of this
    process was left unreaped (killing and reaping them first: a failing test must not
    leave them to the tests after it).

    Call it once no run of the test is under way: a run's own exit, not yet reaped by the
    thread that waits for it, would look like a zombie here.

    ``adopted``: the run was plain python, which leaves orphans (its resource tracker
    ends after it); once an in-process run has made this process a child subreaper they
    become its children, so they are reaped as they exit, as init would, instead of
    failing the test (and without waiting out GONE_SECONDS for zombies that stay).
    """
    if adopted:
        # Gone means no child left at all, not only none marked: an orphan on its way out
        # loses its environment (and so its marker) before it turns into a zombie. (No
        # test leaves this process a child that lives on; one would cost GONE_SECONDS.)
        def reaped_and_gone() -> bool:
            reap(zombie_children())
            return not marked_pids(marker) and not child_states()

        wait_until(reaped_and_gone, GONE_SECONDS)
        reap(zombie_children())
    alive, zombies = survivors(marker)
    shown = describe(alive)
    for pid in alive:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    reap(zombies)
    assert not alive, f"processes of the run are still running:\n{shown}"
    assert not zombies, f"zombie children were never reaped: {zombies}"


@pytest.fixture
def marker(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A unique marker every process of the test inherits; none may survive the test."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(MARKER_VAR, value)
    yield value
    nothing_left(value)


# --- temp directories --------------------------------------------------------------------


@pytest.fixture
def short_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A TMPDIR of the test's own, for this process and the ones it starts, short enough
    for multiprocessing's sockets (``<TMPDIR>/pymp-XXXXXXXX/listener-XXXXXXXX``, at most
    107 bytes), which pytest's ``tmp_path`` is not, under pytest-xdist least of all. (After
    ``tmp_path``, which would otherwise be made in it.)"""
    directory = Path(tempfile.mkdtemp(prefix="pt-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    monkeypatch.setenv("TMPDIR", str(directory))
    yield directory
    shutil.rmtree(directory)


# --- the real entry point ----------------------------------------------------------------


class CliResult(NamedTuple):
    """What one run of the command line produced."""

    returncode: int
    stdout: str
    stderr: str


def console_script() -> Path:
    """The ``poolctl`` console script installed next to this interpreter (or skip)."""
    script = Path(sys.executable).parent / "poolctl"
    if not script.is_file():
        pytest.skip(f"no poolctl console script next to {sys.executable}")
    return script


def run_cli(
    *args: str,
    script: bool = False,
    timeout: float = CLI_TIMEOUT,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> CliResult:
    """Run ``python -m poolctl ARGS`` (or the console script) with this environment, plus
    ``env``; ``stdin`` is piped to it, otherwise it reads /dev/null. Every document it
    prints must match its published schema."""
    command = [str(console_script())] if script else [sys.executable, "-m", "poolctl"]
    done = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        env={**os.environ, **(env or {})},
    )
    for doc in schema_validation.documents_in(done.stdout):
        schema_validation.check(doc, f"poolctl {' '.join(args)}")
    return CliResult(done.returncode, done.stdout, done.stderr)


def start_cli(*args: str, script: bool = False, **options: Any) -> subprocess.Popen[str]:
    """``python -m poolctl ARGS`` (or the console script) in the background, its stdin
    /dev/null, its stdout and stderr piped (text); ``options`` go to Popen."""
    command = [str(console_script())] if script else [sys.executable, "-m", "poolctl"]
    return subprocess.Popen(
        [*command, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


@pytest.fixture
def cli(marker: str) -> Callable[..., CliResult]:
    """``run_cli`` under the test's marker, so that its processes are checked too."""
    return run_cli


# --- interpreters ------------------------------------------------------------------------


def pyenv_python(version: str) -> Path | None:
    """The newest pyenv-installed ``pythonX.Y`` for ``version`` "X.Y", if any."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = []
    for binary in root.glob(f"{version}.*/bin/python{version}"):
        patch = binary.parent.parent.name[len(version) + 1 :]
        if patch.isdigit() and os.access(binary, os.X_OK):
            candidates.append((int(patch), binary))
    return max(candidates)[1] if candidates else None


def require_python(version: str) -> Path:
    """The path of a pyenv Python ``version``, or skip the test."""
    found = pyenv_python(version)
    if found is None:
        pytest.skip(f"Python {version} is not installed under ~/.pyenv/versions")
    return found


def unpacked_dirs() -> tuple[Path, ...]:
    """Where the shared CPython builds (``../shared/interpreters/unpack DIR``) may be
    unpacked, first found first: ``$POOLCTL_TEST_PYTHONS`` (set by ``.ci/run``), the unpack
    script's default ``~/.cache/shared-pythons``, then ``/tmp/pyinterp``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    given = os.environ.get("POOLCTL_TEST_PYTHONS")
    return (*([Path(given)] if given else []), cache / "shared-pythons", Path("/tmp/pyinterp"))


UNPACKED_DIRS = unpacked_dirs()
# For skip reasons: where the tests looked.
UNPACKED = ", ".join(str(d) for d in UNPACKED_DIRS)


def unpacked_python(build: str) -> Path | None:
    """The newest unpacked CPython ``build`` ("3.14", or "3.14t" free-threaded), if any,
    from the first place that has one."""
    pattern = "cpython-3.14.*t-*" if build.endswith("t") else "cpython-3.14.*[0-9]-*"
    for directory in UNPACKED_DIRS:
        paths = [
            p for p in sorted(directory.glob(pattern + "/bin/python3")) if os.access(p, os.X_OK)
        ]
        if paths:
            return paths[-1]
    return None


# Every interpreter the subject supports, by the name a test id shows.
PYENV_VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")


def every_python() -> list[tuple[str, str | None]]:
    """(name, path or None) for each interpreter the subject supports: pyenv's 3.8–3.13,
    the shared 3.14 and 3.14t once unpacked, and pypy3 on PATH; None where it is missing,
    so that a parametrized test skips it with the reason (``require``)."""
    found: list[tuple[str, str | None]] = []
    for version in PYENV_VERSIONS:
        path = pyenv_python(version)
        found.append((version, str(path) if path else None))
    for build in ("3.14", "3.14t"):
        path = unpacked_python(build)
        found.append((build, str(path) if path else None))
    found.append(("pypy3", shutil.which("pypy3")))
    return found


def require(name: str, path: str | None) -> str:
    """``path``, or skip the test saying where interpreter ``name`` was looked for."""
    if path is None:
        where = {"pypy3": "PATH"}.get(
            name, UNPACKED if name.startswith("3.14") else "~/.pyenv/versions"
        )
        pytest.skip(f"no Python {name} here (looked in {where})")
    return path


def python_for(needed: tuple[int, int] | None) -> str | None:
    """An interpreter a scenario needing Python ``needed`` runs under: poolctl's own when it
    is new enough (None), else the unpacked 3.14; skip the test when there is none."""
    if needed is None or sys.version_info >= needed:
        return None
    found = unpacked_python("3.14") if needed <= (3, 14) else None
    if found is None:
        pytest.skip(f"needs Python {needed[0]}.{needed[1]}: none unpacked in {UNPACKED}")
    return str(found)


@pytest.fixture(scope="session")
def start_methods() -> list[str]:
    """The start methods this interpreter offers."""
    return multiprocessing.get_all_start_methods()


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest, start_methods: list[str]) -> str:
    """Each start method in turn (or as an indirect parametrize says); skip missing ones."""
    method: str = request.param
    if method not in start_methods:
        pytest.skip(f"start method {method!r} is not available here")
    return method


# --- runs in process ---------------------------------------------------------------------


def run_pipeline(
    name_or_path: str | Path,
    *,
    python: str | None = None,
    timeout: float = 30.0,
    **options: Any,
) -> dict[str, Any]:
    """One real run through ``scenario_pipeline``; returns its ``poolctl.run/1`` document."""
    chosen = scenario.load(str(name_or_path))
    interp = interpreter.resolve(python)
    params = scenario_pipeline.plan(chosen, interp, timeout=timeout, **options)
    return scenario_pipeline.run(chosen, params, interp)


def write_scenario(
    directory: Path,
    name: str,
    *,
    steps: list[str],
    workers: int | None = None,
    count: int = 1,
    duration: float = 0.2,
    expect: str = "",
) -> Path:
    """Write a scenario file ``<name>.toml`` into ``directory``; ``expect`` is TOML lines."""
    lines = [f'summary = "test scenario {name}"', f"steps = {json.dumps(steps)}"]
    if workers is not None:
        lines += ["[pool]", f"workers = {workers}"]
    lines += ["[tasks]", f"count = {count}", f"duration = {duration}", "[expect]", expect]
    text = "\n".join(lines) + "\n"
    path = directory / f"{name}.toml"
    path.write_text(text)
    return path


def kinds(doc: dict[str, Any]) -> list[str]:
    """The kinds of a document's events, in order."""
    return [e["kind"] for e in doc["events"]]


def printed(doc: dict[str, Any]) -> list[str]:
    """The text of every output line of a run."""
    return [line["text"] for line in doc["output"]]


# --- every document against the published schema ------------------------------------------

built_documents = schema_validation.BuiltDocuments()


@pytest.fixture(scope="session", autouse=True)
def _check_built_documents() -> Iterator[None]:
    """Every document built in this process (a run, a trace, a compare; through the
    pipelines, the CLI in process or a test's own call) is checked against its schema."""
    with pytest.MonkeyPatch.context() as patch:
        for module, name in (
            (document, "build_run"),
            (document, "build_trace"),
            (compare_document, "build_compare"),
            (compare_merge, "merge"),
        ):
            patch.setattr(module, name, built_documents.wrap(getattr(module, name)))
        yield


@pytest.fixture(autouse=True)
def _built_documents_match_the_schema() -> Iterator[None]:
    """Fail the test whose documents (or whose fixtures' documents) did not match."""
    yield
    failures = built_documents.failures()
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)
