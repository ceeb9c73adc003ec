"""``--json`` through the real entry point: one document, the ``poolctl.run/1`` schema."""

from __future__ import annotations

import json
import math
import platform
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from conftest import ESC, MARKER_VAR, CliResult, nothing_left, run_cli

RUN = ("run", "close-without-join", "--duration", "0.2", "--json")


@pytest.fixture(scope="module")
def result() -> CliResult:
    """``python -m poolctl run close-without-join --duration 0.2 --json``, run once.

    Its processes carry a marker of their own; none may be left once it returns.
    """
    marker = uuid.uuid4().hex
    done = run_cli(*RUN, env={MARKER_VAR: marker})
    nothing_left(marker)
    return done


@pytest.fixture(scope="module")
def doc(result: CliResult) -> dict[str, Any]:
    """The whole of stdout, parsed as one JSON document."""
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


def is_number(value: object) -> bool:
    """A finite int or float, not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_exit_code_and_streams(result: CliResult) -> None:
    """A matching run exits 0, writes nothing on stderr and ends stdout with a newline."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.endswith("}\n")


def test_no_ansi_escapes(cli: Callable[..., CliResult]) -> None:
    """JSON output has no colour, even when colour is forced through the environment."""
    forced = cli(*RUN, env={"FORCE_COLOR": "1", "TERM": "xterm-256color", "CLICOLOR_FORCE": "1"})
    assert forced.returncode == 0, forced.stderr
    assert ESC not in forced.stdout
    assert ESC not in forced.stderr
    assert json.loads(forced.stdout)["schema"] == "poolctl.run/1"


def test_top_level(doc: dict[str, Any]) -> None:
    """The schema, the scenario, what was expected and whether it matched."""
    assert doc["schema"] == "poolctl.run/1"
    assert {"scenario", "params", "python", "events", "output", "outcome"} <= doc.keys()
    assert {"expected", "matches"} <= doc.keys()
    assert doc["scenario"]["name"] == "close-without-join"
    assert doc["matches"] is True
    assert doc["expected"]["completed"] == 0
    assert doc["expected"]["interrupted_worker_exit"] == "SIGTERM"


def test_params(doc: dict[str, Any]) -> None:
    """The run's parameters after defaults: the pool's own size, one task of 0.2 s."""
    params = doc["params"]
    assert set(params) >= {"workers", "tasks", "duration", "start_method", "timeout"}
    assert params["workers"] is None
    assert params["tasks"] == 1
    assert params["duration"] == 0.2
    assert params["start_method"] in {"fork", "spawn", "forkserver"}
    assert params["timeout"] == 60.0


def test_python(doc: dict[str, Any]) -> None:
    """The interpreter the pool ran under: this one, by default."""
    assert doc["python"]["executable"] == sys.executable
    assert doc["python"]["version"] == platform.python_version()


def test_events(doc: dict[str, Any]) -> None:
    """A list of events, each with t, pid, role and kind."""
    events = doc["events"]
    assert isinstance(events, list) and events
    for e in events:
        assert is_number(e["t"]) and e["t"] >= 0
        assert isinstance(e["pid"], int)
        assert e["role"] in {"main", "worker", "observer"}
        assert isinstance(e["kind"], str)
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    assert events[0]["kind"] == "main.started"
    assert events[-1]["kind"] in {"main.exited", "cleanup.killed"}


def test_output(doc: dict[str, Any]) -> None:
    """Output lines, each {t, pid, stream, text}; 'Main done' from the main process."""
    output = doc["output"]
    assert isinstance(output, list) and output
    for line in output:
        assert set(line) == {"t", "pid", "stream", "text"}
        assert is_number(line["t"])
        assert line["pid"] is None or isinstance(line["pid"], int)
        assert line["stream"] in {"stdout", "stderr"}
        assert isinstance(line["text"], str)
    main_pid = doc["outcome"]["main"]["pid"]
    assert {"t", "pid", "stream", "text"} <= output[0].keys()
    assert any(o["text"] == "Main done" and o["pid"] == main_pid for o in output)


def test_outcome(doc: dict[str, Any]) -> None:
    """Tasks, error, the main process's exit, workers, hung, wall time."""
    outcome = doc["outcome"]
    assert outcome["tasks"]["submitted"] == 1
    assert outcome["tasks"]["completed"] == 0
    assert outcome["error"] is None
    assert outcome["main"]["exit_code"] == 0
    assert isinstance(outcome["main"]["pid"], int)
    assert isinstance(outcome["workers"], list) and outcome["workers"]
    for worker in outcome["workers"]:
        assert isinstance(worker["pid"], int)
        assert "exit_code" in worker and "signal" in worker
    assert outcome["hung"] is False
    assert is_number(outcome["wall_seconds"]) and 0 < outcome["wall_seconds"] < 30
