"""Nothing of a run survives it: hung runs, the private temp directory, Ctrl-C and SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import schema_validation
from conftest import kinds, marked_pids, run_pipeline, wait_until, write_scenario
from poolctl.entry import INTERRUPTED_REPORTED
from poolctl.observer import workspace

TIMEOUT = 1.0
# What a hung run may take beyond its --timeout: the kill, the reaping, the drain.
SLACK = 2.0


@pytest.fixture
def hung_scenario(tmp_path: Path) -> Path:
    """close + join on one worker whose task sleeps far longer than any timeout here."""
    return write_scenario(
        tmp_path, "hung", steps=["close", "join"], workers=1, duration=30.0, expect="hung = true"
    )


@pytest.fixture
def private_tmp(short_tmp: Path) -> Iterator[Path]:
    """A temp directory of this test's own, for this process and the ones it starts.

    No other run on the machine writes there, so "no poolctl-* directory is left" is
    exact. The test fails if a run leaves its private directory behind.
    """
    assert tempfile.gettempdir() == str(short_tmp)
    yield short_tmp
    assert run_dirs(short_tmp) == set()


def run_dirs(directory: Path) -> set[str]:
    """The private directories of runs (``poolctl-*``) in ``directory``."""
    return {p.name for p in directory.glob("poolctl-*")}


@pytest.mark.timeout(20)
@pytest.mark.parametrize("start_method", ["fork", "forkserver"], indirect=True)
def test_hung_run_is_stopped_at_the_timeout(
    hung_scenario: Path, start_method: str, marker: str, private_tmp: Path
) -> None:
    """The run is reported hung, returns soon after --timeout, and leaves nothing behind."""
    begun = time.monotonic()
    doc = run_pipeline(hung_scenario, start_method=start_method, timeout=TIMEOUT)
    took = time.monotonic() - begun
    assert took < TIMEOUT + SLACK, took
    outcome = doc["outcome"]
    assert outcome["hung"] is True
    assert doc["matches"] is True
    assert "run.timeout" in kinds(doc)
    timeout_event = next(e for e in doc["events"] if e["kind"] == "run.timeout")
    assert timeout_event["role"] == "observer"
    assert TIMEOUT <= timeout_event["t"] < TIMEOUT + SLACK
    assert outcome["main"]["signal"] == "SIGKILL"
    assert outcome["main"]["finished"] is False
    assert outcome["tasks"]["completed"] == 0
    assert outcome["tasks"]["interrupted"] + outcome["tasks"]["never_started"] == 1
    assert all(w["killed_by_poolctl"] for w in outcome["workers"] if w["exited"] is None)
    assert "Main done" not in [line["text"] for line in doc["output"]]


def test_private_temp_directory_is_removed(marker: str, private_tmp: Path) -> None:
    """A normal run creates its FIFO directory in the temp directory and removes it."""
    before = run_dirs(private_tmp)
    doc = run_pipeline("terminate-join", duration=0.2)
    assert doc["matches"] is True
    assert run_dirs(private_tmp) == before == set()


def test_a_directory_swept_before_it_is_locked_is_made_again(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another poolctl's sweep can remove a new run directory in the instant between its
    creation and its lock: the run makes another, it does not fail."""
    made = []
    real_mkdtemp = tempfile.mkdtemp

    def swept_first(**options: Any) -> str:
        directory = real_mkdtemp(**options)
        made.append(directory)
        if len(made) == 1:
            Path(directory).rmdir()  # what the other poolctl's sweep does
        return directory

    monkeypatch.setattr(tempfile, "mkdtemp", swept_first)
    with workspace.private_dir() as directory:
        assert len(made) == 2 and str(directory) == made[1]
        assert directory.is_dir()


def start_hung_cli(scenario: Path) -> subprocess.Popen[str]:
    """``python -m poolctl run <scenario> --timeout 30`` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "poolctl", "run", str(scenario), "--timeout", "30", "--json"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def interrupt(proc: subprocess.Popen[str], signum: int, marker: str, tmp: Path) -> Any:
    """Once the run's pool is up, send ``signum`` to poolctl; return (status, out, err)."""
    # The run's watchdog, the subject and its worker carry the marker too: wait for all
    # three (the pool is up, its start recorded), not a fixed time.
    running = wait_until(lambda: len(marked_pids(marker, exclude=(proc.pid,))) >= 3, 5.0)
    assert running, "the subject and its worker never appeared"
    assert proc.poll() is None, "poolctl ended before it was signalled"
    assert len(run_dirs(tmp)) == 1, "the run's private directory is where TMPDIR says"
    os.kill(proc.pid, signum)
    out, err = proc.communicate(timeout=5)
    return proc.returncode, out, err


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_signal_stops_every_process_of_the_run(
    hung_scenario: Path, marker: str, private_tmp: Path, signum: int, status: int
) -> None:
    """Ctrl-C (130) or SIGTERM (143) to poolctl: the whole run is gone, and what it had
    recorded is still its document, marked interrupted, then one line."""
    proc = start_hung_cli(hung_scenario)
    try:
        returncode, out, err = interrupt(proc, signum, marker, private_tmp)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert returncode == status
    doc = json.loads(out)
    schema_validation.check(doc, "run --json, interrupted")
    assert doc["interrupted"]["signal"] == signal.Signals(signum).name
    assert "run.interrupted" in kinds(doc)
    # Stopped by the user, not hung: the worker still running was killed by poolctl.
    assert doc["outcome"]["hung"] is False
    assert all(w["killed_by_poolctl"] for w in doc["outcome"]["workers"])
    assert doc["matches"] is False
    assert err.splitlines() == [f"poolctl: {INTERRUPTED_REPORTED}"]
    assert marked_pids(marker) == []


class _SignalledWhileStarting(subprocess.Popen):  # type: ignore[type-arg]
    """``Popen`` that has poolctl signalled just after it forks, before it returns."""

    signum = signal.SIGTERM

    def _execute_child(self, *args: Any, **kwargs: Any) -> None:
        super()._execute_child(*args, **kwargs)  # type: ignore[misc]
        signal.raise_signal(self.signum)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("started", ["forked", "exec"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_starting_still_stops_the_run(
    hung_scenario: Path,
    marker: str,
    private_tmp: Path,
    signum: int,
    started: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A signal just as the watchdog is forked (or, where it is exec'd instead, started
    by Popen: not returned yet) is held until the run is known, then unwinds through its
    clean-up: nothing is left, no zombie."""
    from poolctl.errors import Interrupted
    from poolctl.observer import watchdog

    if started == "forked":
        fork = watchdog._fork

        def signalled_fork(*args: Any) -> Any:
            forked = fork(*args)
            signal.raise_signal(signum)
            return forked

        monkeypatch.setattr(watchdog, "_fork", signalled_fork)
    else:
        monkeypatch.setattr(watchdog, "_can_fork", lambda: False)

    def interrupted(signum: int, frame: object) -> None:
        raise Interrupted(128 + signum)  # what the command line's handlers do

    monkeypatch.setattr(_SignalledWhileStarting, "signum", signum)
    monkeypatch.setattr(subprocess, "Popen", _SignalledWhileStarting)
    previous = {each: signal.signal(each, interrupted) for each in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(Interrupted) as raised:
            run_pipeline(hung_scenario, timeout=10)
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
    assert raised.value.exit_code == 128 + signum
