"""Every interpreter is an axis: ``--python`` finds it where users have it, the
free-threaded build is named as such, PyPy's workers are followed without ``os.waitid``,
and claims or faults that depend on the interpreter are declared and shown as such."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import poolctl
from conftest import require, run_cli, run_pipeline, unpacked_python
from poolctl import expectation, interpreter, interpreter_faults, interpreter_search, matrix
from poolctl.errors import UsageError
from poolctl.expect_conditions import parse
from schema_validation import check


def shared_python(build: str) -> str:
    """The shared CPython ``build`` ("3.14", "3.14t") where .ci/run or the unpack script
    put it (conftest.unpacked_dirs), or skip."""
    found = unpacked_python(build)
    return require(build, str(found) if found else None)


def require_pypy() -> str:
    return require("pypy3", shutil.which("pypy3"))


# --- where --python looks ----------------------------------------------------------------


def fake_binary(path: Path, target: str | None = None) -> Path:
    """An executable at ``path``: a link to ``target``, else an empty script."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if target is not None:
        path.symlink_to(target)
    else:
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    return path


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Empty PATH, pyenv, uv and shared-interpreter directories under ``tmp_path``."""
    dirs = {name: tmp_path / name for name in ("path", "pyenv", "uv", "cache")}
    for directory in dirs.values():
        directory.mkdir()
    monkeypatch.setenv("PATH", str(dirs["path"]))
    monkeypatch.setenv("PYENV_ROOT", str(dirs["pyenv"]))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(dirs["uv"]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(dirs["cache"]))
    return dirs


def test_uv_pythons_newest_patch_and_free_threaded(homes: dict[str, Path]) -> None:
    uv = homes["uv"]
    old = fake_binary(uv / "cpython-3.14.2-linux-x86_64-gnu" / "bin" / "python3.14")
    new = fake_binary(uv / "cpython-3.14.7-linux-x86_64-gnu" / "bin" / "python3.14")
    free = uv / "cpython-3.14.7+freethreaded-linux-x86_64-gnu" / "bin" / "python3.14t"
    fake_binary(free)
    assert interpreter_search.find("3.14") == str(new)
    assert interpreter_search.find("python3.14") == str(new)
    assert interpreter_search.find("3.14.2") == str(old)
    assert interpreter_search.find("3.14t") == str(free)
    with pytest.raises(UsageError, match=r"3\.13: no such command on PATH, nor in pyenv"):
        interpreter_search.find("3.13")


def test_uv_default_directory(homes: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Without UV_PYTHON_INSTALL_DIR, uv keeps its Pythons in $XDG_DATA_HOME/uv/python,
    by default ~/.local/share/uv/python."""
    home = homes["path"].parent / "home"
    monkeypatch.delenv("UV_PYTHON_INSTALL_DIR")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    uv = home / ".local" / "share" / "uv" / "python"
    found = fake_binary(uv / "cpython-3.14.7-linux-x86_64-gnu" / "bin" / "python3.14")
    assert interpreter_search.find("3.14") == str(found)
    data = homes["path"].parent / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    with pytest.raises(UsageError, match=re.escape(f"uv's Pythons ({data / 'uv' / 'python'})")):
        interpreter_search.find("3.14")
    moved = data / "uv" / "python" / "cpython-3.14.6-linux-x86_64-gnu" / "bin" / "python3.14"
    fake_binary(moved)
    assert interpreter_search.find("3.14") == str(moved)


def test_shared_interpreters_and_the_order_of_places(homes: dict[str, Path]) -> None:
    shared = homes["cache"] / "shared-pythons"
    fake_binary(shared / "cpython-3.14.7-linux-x86_64" / "bin" / "python3.14")
    free = fake_binary(shared / "cpython-3.14.7t-linux-x86_64" / "bin" / "python3.14t")
    assert interpreter_search.find("3.14t") == str(free)
    # uv before the shared ones, pyenv before uv, PATH before all.
    uv = fake_binary(homes["uv"] / "cpython-3.14.1-linux-x86_64-gnu" / "bin" / "python3.14")
    assert interpreter_search.find("3.14") == str(uv)
    pyenv = fake_binary(homes["pyenv"] / "versions" / "3.14.0" / "bin" / "python3.14")
    assert interpreter_search.find("3.14") == str(pyenv)
    on_path = fake_binary(homes["path"] / "python3.14")
    assert interpreter_search.find("3.14") == str(on_path)
    assert interpreter_search.find("3.14t") == str(free)


def test_pyenv_free_threaded_and_shims(homes: dict[str, Path]) -> None:
    versions = homes["pyenv"] / "versions"
    free = fake_binary(versions / "3.13.1t" / "bin" / "python3.13t")
    fake_binary(versions / "3.13.1" / "bin" / "python3.13")
    # A shim on PATH is passed over for the install it stands for.
    fake_binary(homes["pyenv"] / "shims" / "python3.13t")
    os.environ["PATH"] += os.pathsep + str(homes["pyenv"] / "shims")
    assert interpreter_search.find("3.13t") == str(free)
    assert interpreter_search.find("python3.13t") == str(free)


def test_pypy_names(homes: dict[str, Path]) -> None:
    with pytest.raises(UsageError, match="pypy: no such command on PATH, nor in pyenv"):
        interpreter_search.find("pypy")
    uv = fake_binary(homes["uv"] / "pypy-3.10.14-linux-x86_64-gnu" / "bin" / "pypy3")
    assert interpreter_search.find("pypy3") == str(uv)
    assert interpreter_search.find("pypy3.10") == str(uv)
    on_path = fake_binary(homes["path"] / "pypy3")
    assert interpreter_search.find("pypy") == str(on_path)
    assert interpreter_search.find("pypy3") == str(on_path)
    with pytest.raises(UsageError, match="no such command on PATH"):
        interpreter_search.find("jython")


def test_a_found_interpreter_is_probed(homes: dict[str, Path]) -> None:
    """A uv-layout link to a real interpreter resolves to it, version and all."""
    major, minor, patch = sys.version_info[:3]
    # A free-threaded poolctl (3.14t) is found as uv names that build.
    threaded = "t" if interpreter.current().free_threaded else ""
    real = Path(sys.base_prefix) / "bin" / f"python{major}.{minor}{threaded}"
    if not real.exists():
        pytest.skip(f"no {real}")
    build = f"{major}.{minor}.{patch}" + ("+freethreaded" if threaded else "")
    where = homes["uv"] / f"cpython-{build}-linux-x86_64-gnu" / "bin"
    link = fake_binary(where / real.name, str(real))
    found = interpreter.resolve(f"{major}.{minor}{threaded}")
    assert found.executable == str(link)
    assert found.version_info[:3] == sys.version_info[:3]
    assert found.label == f"{major}.{minor}.{patch}{threaded}"


def test_a_version_name_must_find_that_version(homes: dict[str, Path]) -> None:
    """A PATH entry named for a version is probed: another version is refused."""
    major, minor = sys.version_info[:2]
    other = f"{major}.{minor + 1}"
    fake_binary(homes["path"] / f"python{other}", sys.executable)
    with pytest.raises(UsageError, match=f"found CPython {major}.{minor}.*, not {other}$"):
        interpreter.resolve(other)
    fake_binary(homes["path"] / "pypy3", sys.executable)
    with pytest.raises(UsageError, match="not PyPy"):
        interpreter.resolve("pypy3")
    assert interpreter_search.mismatch("3.14t", "3.14.7", "CPython", False) == (
        "found CPython 3.14.7, not 3.14t"
    )
    assert interpreter_search.mismatch("3.14", "3.14.7", "CPython", False) is None
    assert interpreter_search.mismatch("3.1", "3.14.7", "CPython", False) is not None


# --- the free-threaded build -------------------------------------------------------------


def test_labels() -> None:
    free = {"version": "3.14.7", "implementation": "CPython", "free_threaded": True}
    assert interpreter.build_label(free) == "3.14.7t"
    assert interpreter.describe({**free, "gil_enabled": False}) == "CPython 3.14.7t, GIL disabled"
    assert interpreter.build_label({"version": "3.9.16", "implementation": "PyPy"}) == (
        "PyPy 3.9.16"
    )
    # A document saved before the fields existed.
    assert interpreter.describe({"version": "3.12.1", "implementation": "CPython"}) == (
        "CPython 3.12.1"
    )


@pytest.mark.timeout(120)
def test_free_threaded_build_named_and_gil_reported() -> None:
    free, gil = shared_python("3.14t"), shared_python("3.14")
    found = interpreter.resolve(free)
    version = ".".join(map(str, found.version_info[:3]))
    assert (found.free_threaded, found.gil_enabled, found.label) == (True, False, version + "t")
    doc = run_pipeline("close-join", python=free, duration=0.05)
    check(doc, "test")
    assert doc["python"]["free_threaded"] is True
    assert doc["python"]["gil_enabled"] is False
    [started] = [e for e in doc["events"] if e["kind"] == "main.started"]
    assert (started["free_threaded"], started["gil_enabled"]) == (True, False)
    other = run_pipeline("close-join", python=gil, duration=0.05)
    assert (other["python"]["free_threaded"], other["python"]["gil_enabled"]) == (False, True)
    # compare keeps them apart, by name too.
    result = run_cli("compare", "close-join", "--python", gil, "--python", free, "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["summary"]["rows"]
    assert [row["python"] for row in rows] == [interpreter.resolve(gil).label, version + "t"]


# --- PyPy: worker endings without os.waitid ------------------------------------------------


def test_exit_status_peeked_without_waitid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``os.waitid`` (PyPy) an exited child's status comes from /proc, unreaped."""
    sys.path.insert(0, str(Path(poolctl.__file__).parent / "subject"))
    try:
        from poolctl_subject import watch
    finally:
        sys.path.pop(0)
    monkeypatch.delattr(os, "waitid")
    exits = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(7)"])
    sleeps = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    sleeps.send_signal(signal.SIGKILL)
    try:
        for child, want in ((exits, 7), (sleeps, -9)):
            deadline = time.monotonic() + 10
            while watch._peek_status(child.pid) is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert watch._peek_status(child.pid) == want
            assert watch._peek_status(child.pid) == want  # still there: not reaped
    finally:
        codes = [exits.wait(), sleeps.wait()]
    assert codes == [7, -9]
    assert watch._peek_status(exits.pid) is None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pypy_records_the_killed_workers_exit(method: str) -> None:
    pypy = require_pypy()
    doc = run_pipeline("idle-worker-killed", python=pypy, start_method=method, timeout=5)
    assert doc["observation"]["complete"], doc["observation"]
    [kill] = [e for e in doc["events"] if e["kind"] == "kill-worker.called"]
    [killed] = [w for w in doc["outcome"]["workers"] if w["pid"] == kill["worker"]]
    assert killed["exit_code"] == -9
    assert doc["python"]["implementation"] == "PyPy"


@pytest.mark.timeout(120)
def test_pypy_terminated_workers_exit_codes() -> None:
    pypy = require_pypy()
    doc = run_pipeline("terminate-join", python=pypy, start_method="fork", duration=0.3)
    assert doc["observation"]["complete"], doc["observation"]
    # Every ending recorded: SIGTERM, or 0 for a worker that took the task handler's exit
    # sentinel first (PyPy starts slowly: the task may not have started yet).
    codes = [w["exit_code"] for w in doc["outcome"]["workers"]]
    assert codes and set(codes) <= {0, -15}, codes
    assert doc["matches"], doc["checks"]


# --- claims and faults that depend on the interpreter ---------------------------------------


CPYTHON = {"version": "3.12.1", "implementation": "CPython"}
PYPY = {"version": "3.9.16", "implementation": "PyPy"}


def test_conditions() -> None:
    assert parse("cpython").holds(CPYTHON) and not parse("cpython").holds(PYPY)
    assert parse("pypy").holds(PYPY)
    assert parse("3.10+").holds(CPYTHON) and not parse("3.10+").holds(PYPY)
    assert not parse("cpython 3.13+").holds(CPYTHON)
    assert str(parse("cpython 3.13+")) == "CPython 3.13+"
    for bad in ("", "jython", "3.13", "cpython3.13+x"):
        assert parse(bad) is None


def outcome_without_warning() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    tasks = {"submitted": 1, "completed": 0}
    return {"tasks": tasks, "error": None}, [{"text": "Main done"}]


def test_a_claim_only_on_cpython_is_not_applicable_on_pypy() -> None:
    expect = {
        "completed": 0,
        "output_mentions": ["ResourceWarning"],
        "only_on": {"output_mentions": {"python": "cpython", "why": "no refcounting"}},
    }
    outcome, output = outcome_without_warning()
    on_cpython = expectation.evaluate(expect, outcome, output, CPYTHON)
    assert [c["ok"] for c in on_cpython] == [True, False]
    assert all("not_applicable" not in c for c in on_cpython)
    on_pypy = expectation.evaluate(expect, outcome, output, PYPY)
    assert on_pypy[1]["ok"] is True
    assert on_pypy[1]["observed"] is False
    assert on_pypy[1]["not_applicable"] == "only on CPython: no refcounting"


WHY = "why = 'w'"
ONLY_ON_BAD = [
    ("not a claim", f"hung = {{ python = 'pypy', {WHY} }}", ":6: expect.only_on.hung: no such"),
    ("unknown claim", f"hugn = {{ python = 'pypy', {WHY} }}", "did you mean 'hung'?"),
    ("bad condition", f"error = {{ python = 'jy', {WHY} }}", "only_on.error.python: expected"),
    ("no why", "error = { python = 'pypy' }", "only_on.error.why: expected a non-empty string"),
    ("not a table", "error = 'pypy'", "expect.only_on.error: expected a table"),
    ("extra key", f"error = {{ python = 'pypy', {WHY}, a = 1 }}", "only_on.error.a: unknown key"),
]


@pytest.mark.parametrize(
    ("rule", "says"), [(r, s) for _, r, s in ONLY_ON_BAD], ids=[i for i, _, _ in ONLY_ON_BAD]
)
def test_only_on_errors_are_located(tmp_path: Path, rule: str, says: str) -> None:
    path = tmp_path / "case.toml"
    path.write_text(
        'summary = "x"\nsteps = []\n[expect]\nerror = "none"\n[expect.only_on]\n' + rule + "\n"
    )
    result = run_cli("run", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"poolctl: {path}:")
    assert says in result.stderr


@pytest.mark.timeout(120)
def test_del_running_pool_on_pypy_matches_with_the_claim_not_applicable() -> None:
    pypy = require_pypy()
    doc = run_pipeline("del-running-pool", python=pypy, start_method="fork")
    check(doc, "test")
    assert doc["matches"] is True
    [skipped] = [c for c in doc["checks"] if "not_applicable" in c]
    assert "ResourceWarning" in skipped["claim"] and skipped["observed"] is False


def test_an_interpreter_fault_is_named() -> None:
    fault = interpreter_faults.breaking(("executor-adjust-process-count",), "executor", "spawn")
    assert fault is not None and "Debian's PyPy" in fault.message
    assert (
        interpreter_faults.breaking(("executor-adjust-process-count",), "executor", "fork") is None
    )
    assert interpreter_faults.breaking(("executor-adjust-process-count",), "pool", "spawn") is None
    assert interpreter.current().faults == ()


@pytest.mark.timeout(120)
def test_pypy_executor_under_spawn_is_the_interpreters_own_fault() -> None:
    pypy = require_pypy()
    found = interpreter.resolve(pypy)
    if "executor-adjust-process-count" not in found.faults:
        pytest.skip("this PyPy's ProcessPoolExecutor works under spawn")
    cells = matrix.plan(["executor-shutdown-wait"], [pypy], "fork,spawn", 1)
    assert cells[0].skip is None
    assert "the interpreter's own fault" in (cells[1].skip or "")
    result = run_cli("run", "executor-shutdown-wait", "--python", pypy, "--start-method", "spawn")
    assert result.returncode == 3
    assert "the interpreter's own fault, not poolctl's" in result.stderr
