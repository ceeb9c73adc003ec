"""Python 3.14's own pools and calls, run for real on 3.14 and 3.14t: InterpreterPoolExecutor
(``interpreter-executor``) and ProcessPoolExecutor's ``terminate_workers()`` and
``kill_workers()`` (the ``terminate-workers`` and ``kill-workers`` steps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import UNPACKED, kinds, printed, run_pipeline, unpacked_python, write_scenario
from poolctl import scenario
from poolctl.errors import UsageError


def python(build: str) -> str:
    """The newest unpacked CPython ``build``, or skip the test."""
    found = unpacked_python(build)
    if found is None:
        pytest.skip(f"no CPython {build} unpacked in {UNPACKED} (../shared/interpreters/unpack)")
    return str(found)


def calls_between(doc: dict[str, Any], call: str) -> list[str]:
    """The calls reported between ``call``'s .called and .returned (none: it is one)."""
    names = kinds(doc)
    begin, end = names.index(call + ".called"), names.index(call + ".returned")
    return [name for name in names[begin + 1 : end] if name.endswith(".called")]


@pytest.mark.parametrize("build", ["3.14", "3.14t"])
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
@pytest.mark.parametrize(("step", "signal"), [("kill", -9), ("terminate", -15)])
def test_force_shutdown_steps(build: str, method: str, step: str, signal: int) -> None:
    """terminate_workers()/kill_workers(): reported as themselves (not as the shutdown they
    make), they return without waiting; nothing completes, the running futures break, the
    queued never start, a worker ends by the signal, the later shutdown() returns at once."""
    doc = run_pipeline(f"executor-{step}-workers", python=python(build), start_method=method)
    assert doc["matches"], doc["checks"]
    assert calls_between(doc, f"{step}-workers") == []
    outcome = doc["outcome"]
    assert outcome["tasks"]["completed"] == 0
    assert outcome["error"]["type"] == "BrokenProcessPool"
    codes = [w["exit_code"] for w in outcome["workers"]]
    assert signal in codes and set(codes) <= {-9, -15}, codes
    if step == "terminate":
        assert set(codes) == {-15}
    assert not outcome["hung"]


@pytest.mark.parametrize("build", ["3.14", "3.14t"])
def test_interpreter_pool_runs_every_task(build: str) -> None:
    """Each task's start and end are reported by its worker thread (the calling side), the
    subinterpreter's own prints reach the output."""
    doc = run_pipeline("interpreter-executor-shutdown-wait", python=python(build))
    assert doc["matches"], doc["checks"]
    assert doc["outcome"]["pools"][0]["api"] == "interpreter-executor"
    assert doc["outcome"]["tasks"]["completed"] == 2
    started = [e for e in doc["events"] if e["kind"] == "task.started"]
    assert {e["role"] for e in started} == {"worker"}
    assert {e["worker"] for e in started} <= {w["pid"] for w in doc["outcome"]["workers"]}
    assert printed(doc).count("Task executing") == printed(doc).count("Task done") == 2


def test_interpreter_pool_cancel_futures() -> None:
    """shutdown(cancel_futures=True): the queued tasks never start."""
    doc = run_pipeline("interpreter-executor-cancel-futures", python=python("3.14"))
    assert doc["matches"], doc["checks"]
    assert doc["outcome"]["tasks"]["never_started"] >= 4


def test_the_new_steps_need_python_314(tmp_path: Path) -> None:
    """A scenario that takes a 3.14 step requires 3.14, whatever it says itself; an older
    interpreter refuses it before running anything."""
    path = write_scenario(tmp_path, "force", steps=["kill-workers"])
    text = path.read_text().replace("[pool]\n", "")
    path.write_text(text.replace("[tasks]", '[pool]\napi = "executor"\n[tasks]'))
    assert scenario.load(str(path)).requires_python == (3, 14)
    for name in ("executor-kill-workers", "interpreter-executor-shutdown-wait"):
        assert scenario.load(name).requires_python == (3, 14)
    import sys

    if sys.version_info < (3, 14):
        with pytest.raises(UsageError, match=r"needs Python 3\.14"):
            run_pipeline("executor-kill-workers")
