"""Nothing is left behind: poolctl killed, compare interrupted, a crashed subject, files."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (
    marked_pids,
    reap_adopted,
    run_pipeline,
    wait_until,
    write_scenario,
    zombie_children,
)
from conftest import start_cli as start
from poolctl.entry import INTERRUPTED, INTERRUPTED_REPORTED


@pytest.fixture
def hung(tmp_path: Path) -> Path:
    """A scenario whose task outlives any timeout used here."""
    return write_scenario(
        tmp_path, "hangs", steps=["close", "join"], workers=2, duration=30, expect="hung = true"
    )


def wait_for_run(proc: subprocess.Popen[str], marker: str, at_least: int) -> None:
    """Until the run's processes (subject, workers, ...) are up; never a fixed sleep."""
    up = wait_until(lambda: len(marked_pids(marker, exclude=(proc.pid,))) >= at_least, 10.0)
    assert up, "the run's processes never appeared"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", ["fork", "forkserver"])
@pytest.mark.parametrize("command", ["run", "compare"])
def test_poolctl_killed_by_sigkill_leaves_nothing(
    marker: str, hung: Path, start_methods: list[str], method: str, command: str
) -> None:
    """No Python code of poolctl runs after SIGKILL: the watchdog ends the run anyway."""
    if method not in start_methods:
        pytest.skip(f"{method} is not available here")
    extra = ["close-join", "--jobs", "2"] if command == "compare" else []
    proc = start(command, str(hung), *extra, "--start-method", method, "--timeout", "30")
    try:
        wait_for_run(proc, marker, at_least=3)
        proc.kill()
        proc.communicate(timeout=5)
        gone = wait_until(lambda: not marked_pids(marker), 3.0)
        assert gone, f"still running after poolctl was killed: {marked_pids(marker)}"
        # Killed by the watchdog, the run's processes are orphans: the nearest subreaper
        # adopts them. In real use that is init; here, once an in-process run has made
        # this test process a subreaper, it is us, and reaping them is our job, for as
        # long as the last of them takes to finish dying.
        assert wait_until(reap_adopted, 3.0), f"never reaped: {zombie_children()}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_compare_interrupted_stops_every_run(
    marker: str, hung: Path, signum: int, status: int
) -> None:
    """Ctrl-C or SIGTERM to compare: the right status, every run gone in 3 s; one line
    (after the table of the runs that finished, if any did)."""
    proc = start(
        "compare", str(hung), "close-join", "terminate-join", "--jobs", "3", "--timeout", "30"
    )
    try:
        wait_for_run(proc, marker, at_least=4)
        begun = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=5)
        assert time.monotonic() - begun < 3
        assert proc.returncode == status
        said = err.splitlines()
        assert said in ([f"poolctl: {INTERRUPTED}"], [f"poolctl: {INTERRUPTED_REPORTED}"])
        assert (said == [f"poolctl: {INTERRUPTED_REPORTED}"]) == ("interrupted (" in out)
        assert marked_pids(marker) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def subject_pid(marker: str) -> int | None:
    """The subject's main process, by its command line."""
    for pid in marked_pids(marker):
        try:
            if b"poolctl_subject.scenario_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None


@pytest.mark.timeout(30)
def test_a_subject_killed_from_outside_is_exit_3(marker: str, hung: Path) -> None:
    """poolctl cannot observe a run whose subject was killed by someone else: exit 3."""
    proc = start("run", str(hung), "--timeout", "30")
    try:
        pid = wait_until(lambda: subject_pid(marker), 10.0)
        assert pid
        wait_for_run(proc, marker, at_least=3)
        os.kill(pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 3
        assert err.splitlines() == [
            "poolctl: the subject's main process was killed by SIGKILL (not by poolctl)"
        ]
        assert wait_until(lambda: not marked_pids(marker), 3.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.timeout(30)
def test_files_are_private_and_removed(marker: str, tmp_path: Path, short_tmp: Path) -> None:
    """The run's directory is 0700, its event files 0600 regular files; all gone after.
    A symlink planted where runs live is neither followed nor touched."""
    private = short_tmp
    target = tmp_path / "elsewhere"
    target.mkdir()
    (private / "poolctl-planted").symlink_to(target)
    scenario = write_scenario(
        tmp_path,
        "slow",
        steps=["close", "join"],
        workers=2,
        duration=1.0,
        expect='completed = "all"',
    )
    seen: dict[str, list[int]] = {}

    def look() -> None:
        def files() -> list[Path]:
            return [
                p
                for d in private.glob("poolctl-*")
                if not d.is_symlink()
                for p in d.glob("events-*")
            ]

        if wait_until(lambda: len(files()) >= 3, 10.0):
            run_dir = next(d for d in private.glob("poolctl-*") if not d.is_symlink())
            seen["dir"] = [stat.S_IMODE(run_dir.stat().st_mode)]
            seen["files"] = [
                stat.S_IMODE(p.lstat().st_mode) for p in files() if stat.S_ISREG(p.lstat().st_mode)
            ]

    watcher = threading.Thread(target=look)
    watcher.start()
    doc = run_pipeline(scenario)
    watcher.join()
    assert doc["matches"] is True
    assert seen["dir"] == [0o700]
    assert seen["files"] and set(seen["files"]) == {0o600}
    assert [p.name for p in private.iterdir()] == ["poolctl-planted"]
    assert list(target.iterdir()) == []


@pytest.mark.timeout(20)
def test_a_hung_run_returns_within_timeout_plus_one_second(marker: str, hung: Path) -> None:
    """--timeout 1: reported hung, back in under 2 s."""
    begun = time.monotonic()
    doc = run_pipeline(hung, timeout=1.0)
    assert time.monotonic() - begun < 2.0
    assert doc["outcome"]["hung"] is True
