"""``--python``: the pool runs under another interpreter, oldest and newest supported."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from conftest import CliResult, require_python

VERSIONS = ("3.8", "3.13")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["close-join", "join-without-close"])
def test_run_under_another_interpreter(
    cli: Callable[..., CliResult], version: str, name: str
) -> None:
    """The run document names the interpreter asked for, and reality matches the docs."""
    python = require_python(version)
    result = cli("run", name, "--python", str(python), "--duration", "0.2", "--json")
    doc = json.loads(result.stdout)
    assert doc["python"]["version"].startswith(f"{version}.")
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
