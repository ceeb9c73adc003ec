"""``poolctl run``'s live status line: on a terminal's stderr while the run goes on (the
time so far and the timeout), cleared before the report; never in a pipe."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from conftest import CliResult, marked_pids, wait_until
from poolctl.entry import INTERRUPTED_REPORTED

STATUS = b"of --timeout 60 s"
# rich's "erase the line": the transient line is taken away with it.
ERASE_LINE = b"\x1b[2K"


def run_on_a_terminal(*args: str, interrupt_after: float | None = None) -> tuple[int, str, bytes]:
    """``python -m poolctl ARGS`` with stderr on a pseudo-terminal (stdout a pipe); its
    status, stdout and everything its terminal got. Ctrl-C ``interrupt_after`` seconds
    after its run's processes appear, if given."""
    ours, theirs = pty.openpty()
    env = {**os.environ, "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "poolctl", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=theirs,
        env=env,
    )
    os.close(theirs)
    try:
        if interrupt_after is not None:
            marker = env["POOLCTL_TEST_MARKER"]
            up = wait_until(lambda: len(marked_pids(marker, exclude=(proc.pid,))) >= 3, 20)
            assert up, "the run's processes never appeared"
            time.sleep(interrupt_after)
            proc.send_signal(signal.SIGINT)
        shown = b""
        while True:
            try:
                chunk = os.read(ours, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not chunk:
                break
            shown += chunk
        out = proc.stdout.read().decode()  # type: ignore[union-attr]
        proc.wait(timeout=20)
    finally:
        os.close(ours)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
    return proc.returncode, out, shown


@pytest.mark.timeout(40)
def test_a_run_shows_its_time_and_timeout_on_a_terminal(marker: str) -> None:
    """Redrawn while the run goes on (1 s: several times), then erased; the report on
    stdout holds none of it."""
    status, out, shown = run_on_a_terminal("run", "close-join", "--duration", "1")
    assert status == 0
    assert shown.count(STATUS) >= 2, shown
    assert shown.rstrip(b"\r\n").endswith(ERASE_LINE), shown[-200:]
    assert "Timeline" in out
    assert "--timeout" not in out


@pytest.mark.timeout(40)
def test_ctrl_c_clears_the_line_before_the_report(marker: str) -> None:
    """Ctrl-C on a terminal: the line is erased, then the interruption's one line."""
    status, out, shown = run_on_a_terminal(
        "run", "worker-killed", "--timeout", "60", interrupt_after=1.0
    )
    assert status == 130
    assert STATUS in shown
    before, _, line = shown.rpartition(ERASE_LINE)
    assert STATUS in before
    assert line.decode().strip() == f"poolctl: {INTERRUPTED_REPORTED}"
    assert "Timeline" in out


def test_no_status_line_in_a_pipe(cli: Callable[..., CliResult]) -> None:
    """stderr a pipe (as here): nothing but what the run says."""
    result = cli("run", "close-join", "--duration", "0.2")
    assert result.returncode == 0
    assert result.stderr == ""
