"""The live status line of ``run`` and ``trace``: on a terminal's stderr while the run goes
on (the time so far of the timeout, the call the main process is in, the events that
matter as they happen), erased before the report; never in a pipe; the program's own
output under ``trace`` never mixed with it."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import textwrap
from pathlib import Path

import pytest

import schema_validation
from conftest import run_cli
from poolctl.entry import INTERRUPTED_REPORTED

# rich's "erase the line": the transient line is taken away with it.
ERASE_LINE = b"\x1b[2K"


# The line's words for a call the main process is in, and the notable event of a worker
# killed mid-task, as the terminal gets them (styles between the words).
def in_call(call: bytes) -> re.Pattern[bytes]:
    """The status line saying main is in ``call`` (``join``, ``get`` ...), with its time."""
    return re.compile(
        rb"(\d+\.\d) s\x1b\[0m\x1b\[2m of \d+ s\x1b\[0m \xc2\xb7 main in \x1b\[1m"
        + re.escape(call + b"()")
    )


IN_JOIN = in_call(b"join")
KILLED = b"killed by SIGKILL while running task 0"
SGR = re.compile(rb"\x1b\[[0-9;]*m")

# A worker SIGKILLed while it runs task 0: its result never comes, join() waits for ever.
HANG = """\
import os, signal, time
from multiprocessing import Pool

def task(n):
    if n == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.1)
    return n

if __name__ == "__main__":
    pool = Pool(2)
    results = [pool.apply_async(task, (n,)) for n in range(2)]
    pool.close()
    pool.join()
"""

# The same worker, while main waits in get() with no timeout: the result never comes.
HANG_IN_GET = """\
import os, signal
from multiprocessing import Pool

def task(n):
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    pool = Pool(1)
    result = pool.apply_async(task, (0,))
    result.get()
"""

# A long task: main waits in a ThreadPool's map() for it.
LONG_MAP = """\
import time
from multiprocessing.pool import ThreadPool

if __name__ == "__main__":
    with ThreadPool(1) as pool:
        pool.map(time.sleep, [2.5])
"""


class Shown:
    """What a command run on a pseudo-terminal produced."""

    def __init__(self, status: int, out: str, shown: bytes) -> None:
        self.status, self.out, self.shown = status, out, shown


def run_on_a_terminal(
    *args: str,
    interrupt_when: bytes | None = None,
    stdout_too: bool = False,
    cwd: Path | None = None,
) -> Shown:
    """``python -m poolctl ARGS`` with stderr on an 80-column pseudo-terminal (stdout a
    pipe, or the terminal too with ``stdout_too``); its status, stdout and everything its
    terminal got. Ctrl-C once the terminal has shown ``interrupt_when``."""
    ours, theirs = pty.openpty()
    fcntl.ioctl(theirs, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "poolctl", *args],
        stdin=subprocess.DEVNULL,
        stdout=theirs if stdout_too else subprocess.PIPE,
        stderr=theirs,
        env=env,
        cwd=cwd,
    )
    os.close(theirs)
    try:
        shown = b""
        while True:
            try:
                chunk = os.read(ours, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not chunk:
                break
            shown += chunk
            if interrupt_when is not None and interrupt_when in shown:
                proc.send_signal(signal.SIGINT)
                interrupt_when = None
        out = "" if stdout_too else proc.stdout.read().decode()  # type: ignore[union-attr]
        proc.wait(timeout=20)
    finally:
        os.close(ours)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return Shown(proc.returncode, out, shown)


def first_in_join(shown: bytes, pattern: re.Pattern[bytes] = IN_JOIN) -> float:
    """The run's time on the first status line that shows main in join() (in ``pattern``'s
    call)."""
    found = pattern.search(shown)
    assert found, shown[-2000:]
    return float(found.group(1))


def assert_hang_shown(shown: bytes, pattern: re.Pattern[bytes] = IN_JOIN) -> None:
    """Within a second of the hang (join() called about 0.1 s in), the line says main is
    in join() (``pattern``'s call), and the killed worker's line was printed above it;
    every line of it fits 80 columns; the line is erased last."""
    assert first_in_join(shown, pattern) <= 1.2
    assert KILLED in shown
    for line in SGR.sub(b"", shown).replace(b"\r\n", b"\n").split(b"\n"):
        for drawn in line.split(b"\r\x1b[2K"):
            assert len(drawn.decode()) < 80, drawn
    assert shown.rstrip(b"\r\n").endswith(ERASE_LINE), shown[-200:]


@pytest.mark.timeout(40)
def test_a_run_shows_its_time_and_timeout_on_a_terminal(marker: str) -> None:
    """Redrawn while the run goes on (1 s: several times), then erased; the report on
    stdout holds none of it."""
    result = run_on_a_terminal("run", "close-join", "--duration", "1")
    assert result.status == 0
    assert result.shown.count(b" of 60 s") >= 2, result.shown
    assert result.shown.rstrip(b"\r\n").endswith(ERASE_LINE), result.shown[-200:]
    assert "Timeline" in result.out
    assert " of 60 s" not in result.out


@pytest.mark.timeout(40)
def test_a_hung_scenario_shows_join_and_the_killed_worker(marker: str) -> None:
    """worker-killed: join() of Pool 1 at its line of show --code, the SIGKILL as it
    happened; the document is as complete as without the line (the live reading took
    nothing from the final one)."""
    result = run_on_a_terminal("run", "worker-killed", "--timeout", "4", "--json")
    assert result.status == 0
    assert_hang_shown(result.shown)
    join_line = (
        run_cli("show", "worker-killed", "--code").stdout.splitlines().index("    pool.join()")
    )
    assert f"(show --code line {join_line + 1})".encode() in result.shown
    doc = json.loads(result.out)
    schema_validation.check(doc, "run worker-killed --json")
    assert doc["matches"] is True
    assert doc["observation"]["complete"] is True
    assert not any(e["kind"] == "channel.incomplete" for e in doc["events"])


@pytest.mark.timeout(40)
def test_a_hung_program_shows_what_it_is_stuck_in(marker: str, tmp_path: Path) -> None:
    """trace: the same within a second, with the program's own file and line; the report
    follows on stdout, untouched (no byte of the line in it)."""
    (tmp_path / "hang.py").write_text(HANG)
    result = run_on_a_terminal("trace", "--timeout", "4", "hang.py", cwd=tmp_path)
    assert result.status == 124
    assert_hang_shown(result.shown)
    assert b"(hang.py:14)" in result.shown
    assert "Timeline" in result.out
    assert "main in" not in result.out and "\x1b[2K" not in result.out


@pytest.mark.timeout(40)
def test_a_program_waiting_for_a_result_that_never_comes(marker: str, tmp_path: Path) -> None:
    """result.get() with no timeout, its worker SIGKILLed: get() of Pool 1 at its line,
    and the SIGKILL, within a second."""
    (tmp_path / "hang.py").write_text(HANG_IN_GET)
    result = run_on_a_terminal("trace", "--timeout", "4", "hang.py", cwd=tmp_path)
    assert result.status == 124
    assert_hang_shown(result.shown, in_call(b"get"))
    assert b"get()\x1b[0m of Pool 1 since" in result.shown
    assert b"(hang.py:10)" in result.shown


@pytest.mark.timeout(40)
def test_a_program_waiting_in_map_shows_map(marker: str, tmp_path: Path) -> None:
    """pool.map() on a long task: map() of ThreadPool 1 (not the get() it waits in), at
    the program's line, within a second; the program then ends as it would."""
    (tmp_path / "waits.py").write_text(LONG_MAP)
    result = run_on_a_terminal("trace", "--timeout", "20", "waits.py", cwd=tmp_path)
    assert result.status == 0
    assert first_in_join(result.shown, in_call(b"map")) <= 1.2
    assert b"map()\x1b[0m of ThreadPool 1 since" in result.shown
    assert b"(waits.py:6)" in result.shown
    assert b"main in \x1b[1mget()" not in result.shown
    assert result.shown.rstrip(b"\r\n").endswith(ERASE_LINE), result.shown[-200:]


def test_nothing_of_it_in_a_pipe(tmp_path: Path, marker: str) -> None:
    """stderr a pipe (as here): nothing but what the run and the program say."""
    result = run_cli("run", "close-join", "--duration", "0.2")
    assert result.returncode == 0
    assert result.stderr == ""
    (tmp_path / "hang.py").write_text(HANG)
    result = run_cli("trace", "--timeout", "1.5", str(tmp_path / "hang.py"))
    assert result.returncode == 124
    assert result.stderr == ""


@pytest.mark.timeout(40)
def test_the_program_output_is_never_mixed_with_the_line(marker: str, tmp_path: Path) -> None:
    """stdout and stderr on one terminal: the line shows in the program's silences (0.7 s)
    and each of its lines arrives whole; not while its cursor is mid-line."""
    (tmp_path / "talk.py").write_text(
        textwrap.dedent(
            """\
            import sys, time
            for n in range(3):
                # One write each: the two streams reach poolctl on two pipes, so only
                # whole writes keep their order of arrival to lines.
                sys.stdout.write(f"line {n} {'x' * 50}\\n")
                sys.stdout.flush()
                sys.stderr.write(f"err {n} {'y' * 50}\\n")
                sys.stderr.flush()
                time.sleep(0.7)
            sys.stdout.write("partial ")
            sys.stdout.flush()
            time.sleep(1.2)
            print("end", flush=True)
            """
        )
    )
    result = run_on_a_terminal("trace", "--timeout", "20", "talk.py", stdout_too=True, cwd=tmp_path)
    assert result.status == 0
    shown = result.shown
    assert shown.count(b" of 20 s") >= 2, shown  # drawn in the silences
    lines = [f"line {n} {'x' * 50}" for n in range(3)] + [f"err {n} {'y' * 50}" for n in range(3)]
    for line in [*lines, "partial end"]:  # no line drawn after "partial "
        at = shown.find(f"{line}\r\n".encode())
        assert at >= 0, (line, shown)
        # At a line's start: after a newline, or where the status line was just erased.
        assert at == 0 or shown[:at].endswith((b"\n", b"\r\x1b[2K")), shown[max(at - 80, 0) : at]


@pytest.mark.timeout(40)
def test_ctrl_c_clears_the_line_before_the_report(marker: str) -> None:
    """Ctrl-C on a terminal: the line is erased, then the interruption's one line."""
    # Once the line says what main is in, the run has recorded something to report.
    result = run_on_a_terminal(
        "run", "worker-killed", "--timeout", "60", interrupt_when=b"main in "
    )
    assert result.status == 130
    assert b" of 60 s" in result.shown
    before, _, line = result.shown.rpartition(ERASE_LINE)
    assert b" of 60 s" in before
    assert line.decode().strip() == f"poolctl: {INTERRUPTED_REPORTED}"
    assert "Timeline" in result.out


def test_no_color_or_quiet_draws_nothing(marker: str) -> None:
    """NO_COLOR's and -q's terminal gets nothing of the line."""
    for args in (["--no-color"], ["-q"]):
        result = run_on_a_terminal("run", "close-join", "--duration", "0.3", *args)
        assert result.status == 0
        assert b" of 60 s" not in result.shown, args
