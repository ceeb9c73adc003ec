"""``--python``: the pool runs under another interpreter, oldest and newest supported."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from conftest import CliResult, every_python, require, require_python

# close-join on every interpreter present; the second scenario on the oldest and newest
# pyenv CPython only, to keep the suite's time.
RUNS = [
    *[
        pytest.param("close-join", name, path, id=f"close-join-{name}")
        for name, path in every_python()
    ],
    *[
        pytest.param("join-without-close", name, path, id=f"join-without-close-{name}")
        for name, path in every_python()
        if name in ("3.8", "3.13")
    ],
]


@pytest.mark.parametrize(("name", "version", "path"), RUNS)
def test_run_under_another_interpreter(
    cli: Callable[..., CliResult], name: str, version: str, path: str | None
) -> None:
    """The run document names the interpreter asked for, and reality matches the docs."""
    python = require(version, path)
    result = cli("run", name, "--python", python, "--duration", "0.2", "--json")
    doc = json.loads(result.stdout)
    if version != "pypy3":
        assert doc["python"]["version"].startswith(f"{version.rstrip('t')}.")
    assert doc["python"]["executable"] == str(python)
    started = next(e for e in doc["events"] if e["kind"] == "main.started")
    assert started["python"] == doc["python"]["version"]
    assert doc["matches"] is True, [c for c in doc["checks"] if not c["ok"]]
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_bare_name_resolves_to_pyenv_install(cli: Callable[..., CliResult]) -> None:
    """``--python python3.8`` finds the pyenv-installed 3.8 even behind a pyenv shim."""
    require_python("3.8")
    result = cli("run", "close-join", "--python", "python3.8", "--duration", "0.1", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["python"]["version"].startswith("3.8.")
    assert doc["python"]["executable"].endswith("/python3.8")
    assert doc["matches"] is True
