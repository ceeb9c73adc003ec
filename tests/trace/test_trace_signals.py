"""Ctrl-C and a reader that goes away reach the traced program as they reach it under plain
python: its KeyboardInterrupt handler runs (its workers get SIGINT too) and its status is
poolctl's; ``| head -1`` stops it at its next write (BrokenPipeError)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import schema_validation
from conftest import (
    CLI_TIMEOUT,
    MARKER_VAR,
    START_METHODS,
    marked_pids,
    nothing_left,
    wait_until,
)
from poolctl import api
from poolctl.entry import INTERRUPTED, INTERRUPTED_REPORTED
from poolctl.errors import TraceError
from poolctl.observer import observe
from tracing import write

# A pool whose two tasks wait; Ctrl-C: each task that got it says so, and the program's
# own handler (once they did, or 5 s passed) ends the pool and exits 3. argv: the folder
# it reports to, the start method.
HANDLER = """
import os, sys, time
from multiprocessing import get_context


def work(folder):
    try:
        open(os.path.join(folder, "started-%d" % os.getpid()), "w").close()
        time.sleep(30)
    except KeyboardInterrupt:
        open(os.path.join(folder, "interrupted-%d" % os.getpid()), "w").close()
        raise


if __name__ == "__main__":
    folder, method = sys.argv[1], sys.argv[2]
    pool = get_context(method).Pool(2)
    try:
        pool.map(work, [folder, folder], chunksize=1)
    except KeyboardInterrupt:
        # One write: under PYTHONUNBUFFERED print() writes the text and its newline
        # apart, and a worker's traceback on the shared stream can land in between.
        sys.stdout.write("the program's handler ran\\n")
        sys.stdout.flush()
        # Each worker handles its own SIGINT: let it say so before terminate() ends it.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if sum(n.startswith("interrupted-") for n in os.listdir(folder)) == 2:
                break
            time.sleep(0.01)
        pool.terminate()
        pool.join()
        sys.exit(3)
"""

# Ignores Ctrl-C; says it is ready (a file), then waits.
DEAF = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
open(sys.argv[1], "w").close()
time.sleep(30)
"""


def as_a_foreground_job() -> None:
    """Ctrl-C as a terminal's foreground job has it: the suite itself may run where SIGINT
    is ignored (a background job of a script), which a plain program would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def files(folder: Path, prefix: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(prefix))


def both_started(folder: Path) -> bool:
    return len(files(folder, "started-")) == 2


def start(*words: str, marker: str, **streams: int) -> subprocess.Popen[bytes]:
    """``python -m poolctl WORDS`` under ``marker``."""
    return subprocess.Popen(
        [sys.executable, "-m", "poolctl", *words],
        stdin=subprocess.DEVNULL,
        env={**os.environ, MARKER_VAR: marker},
        **streams,  # type: ignore[call-overload]
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("method", START_METHODS)
def test_ctrl_c_runs_the_programs_handler_as_plain_python(tmp_path: Path, method: str) -> None:
    """Plainly the terminal sends SIGINT to the whole foreground group: the program's
    KeyboardInterrupt handler runs, each busy worker gets it too, and the program exits
    with its own status (3). Traced, Ctrl-C to poolctl does the same, and poolctl exits 3
    with the run reported as any other (no 'interrupted' line)."""
    program = write(tmp_path, "handler.py", HANDLER)
    plain_folder, traced_folder = tmp_path / "plain", tmp_path / "traced"
    plain_folder.mkdir()
    traced_folder.mkdir()

    marker = uuid.uuid4().hex
    plain = subprocess.Popen(
        [sys.executable, str(program), str(plain_folder), method],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group: the terminal's foreground job
        preexec_fn=as_a_foreground_job,
        env={**os.environ, MARKER_VAR: marker},
    )
    try:
        assert wait_until(lambda: both_started(plain_folder), 20), "plain: tasks never started"
        os.killpg(plain.pid, signal.SIGINT)  # what Ctrl-C at the terminal does
        plain_out, _ = plain.communicate(timeout=CLI_TIMEOUT)
    finally:
        if plain.poll() is None:
            os.killpg(plain.pid, signal.SIGKILL)
            plain.wait()
    nothing_left(marker, adopted=True)

    marker = uuid.uuid4().hex
    traced = start(
        "trace",
        "--json",
        str(program),
        str(traced_folder),
        method,
        marker=marker,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_until(lambda: both_started(traced_folder), 20), "traced: tasks never started"
        traced.send_signal(signal.SIGINT)  # Ctrl-C reaches poolctl only: its own session
        document, shown = traced.communicate(timeout=CLI_TIMEOUT)
    finally:
        if traced.poll() is None:
            traced.kill()
            traced.communicate()
    nothing_left(marker)

    assert plain.returncode == 3, plain_out
    assert traced.returncode == 3, shown.decode()
    assert b"the program's handler ran\n" in plain_out
    assert b"the program's handler ran\n" in shown
    assert INTERRUPTED.encode() not in shown
    assert len(files(plain_folder, "interrupted-")) == 2  # the workers got SIGINT plainly
    assert len(files(traced_folder, "interrupted-")) == 2  # and traced
    doc = json.loads(document)
    schema_validation.check(doc, "trace after Ctrl-C")
    assert doc["outcome"]["main"]["exit_code"] == 3
    assert not doc["outcome"]["hung"]
    # What followed, in order: Ctrl-C passed on, the program's handler ending its pool.
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds.index("interrupt.passed") < kinds.index("terminate.called")
    assert kinds.index("terminate.called") < kinds.index("main.exited")
    [passed] = [e for e in doc["events"] if e["kind"] == "interrupt.passed"]
    assert passed["role"] == "observer" and passed["signal"] == "SIGINT"


@pytest.mark.timeout(60)
def test_a_second_ctrl_c_stops_a_program_that_ignores_the_first(tmp_path: Path) -> None:
    """The program ignores SIGINT: it runs on after the first Ctrl-C (passed on, as the
    terminal would); a second one stops every process at once: what was recorded is
    reported, then one line, 130."""
    ready = tmp_path / "ready"
    program = write(tmp_path, "deaf.py", DEAF)
    marker = uuid.uuid4().hex
    proc = start(
        "trace",
        str(program),
        str(ready),
        marker=marker,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_until(ready.exists, 20), "the program never started"
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None, "the first Ctrl-C stopped the program"
        assert marked_pids(marker, exclude=(proc.pid,)), "the program was stopped"
        begun = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=CLI_TIMEOUT)
        took = time.monotonic() - begun
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    nothing_left(marker)
    assert proc.returncode == 130
    assert err.decode().splitlines() == [f"poolctl: {INTERRUPTED_REPORTED}"]
    assert "stopped by the user (Ctrl-C)" in " ".join(out.decode().split())
    assert took < 3, took


@pytest.mark.timeout(60)
def test_after_the_grace_period_poolctls_own_handler_runs(
    tmp_path: Path, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, through the API, in the main thread: Ctrl-C is passed on; the program
    ignores it, so once the grace period is over the caller's own handler runs (Python's:
    KeyboardInterrupt) and every process of the run is gone; the handler is the caller's
    again afterwards."""
    monkeypatch.setattr(observe, "INTERRUPT_GRACE_SECONDS", 0.5)
    ready = tmp_path / "ready"
    program = write(tmp_path, "deaf.py", DEAF)
    # Python's own handler, whatever an earlier test of this process left installed.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = signal.getsignal(signal.SIGINT)
    sent: list[float] = []

    def ctrl_c() -> None:
        if wait_until(ready.exists, 20):
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=ctrl_c)
    sender.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            api.trace(program, [str(ready)])
    finally:
        sender.join()
        after = signal.signal(signal.SIGINT, previous)
    ended = time.monotonic()
    assert sent, "the program never started"
    # Passed on first (the program ran on through the grace period), then given back.
    assert 0.5 <= ended - sent[0] < 10, ended - sent[0]
    assert after is before


# Prints a line every 0.05 s for 5 s, with a pool open (its workers must go too).
LINES = """
import time
from multiprocessing import get_context

if __name__ == "__main__":
    with get_context("fork").Pool(2) as pool:
        for i in range(100):
            print(i, flush=True)
            time.sleep(0.05)
"""


def first_line_then_close(proc: subprocess.Popen[bytes], stream: str) -> float:
    """Read one line of ``proc``'s ``stream``, then close it (``| head -1``); the seconds
    from then until ``proc`` ended."""
    pipe = getattr(proc, stream)
    assert pipe.readline() == b"0\n"
    pipe.close()
    closed = time.monotonic()
    proc.wait(timeout=CLI_TIMEOUT)
    return time.monotonic() - closed


@pytest.mark.timeout(60)
@pytest.mark.parametrize("json_doc", [False, True], ids=["report", "json"])
def test_a_reader_gone_stops_the_program_as_plain_python(tmp_path: Path, json_doc: bool) -> None:
    """``prog | head -1``: plainly the program's next write fails (BrokenPipeError) and it
    stops at once, status 1. Traced, poolctl closes the program's stdout when its own
    reader is gone: the program stops within a second too (not after its 5 s), with the
    status plain python has, which is poolctl's (as 'set -o pipefail' shows plain python's).
    Under --json the program's stdout is shown on poolctl's stderr: closing that stops it,
    and the document still comes out whole."""
    program = write(tmp_path, "lines.py", LINES)
    marker = uuid.uuid4().hex
    plain = subprocess.Popen(
        [sys.executable, str(program)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, MARKER_VAR: marker},
    )
    assert plain.stderr is not None
    plain_took = first_line_then_close(plain, "stdout")
    plain_err = plain.stderr.read()
    plain.stderr.close()
    nothing_left(marker, adopted=True)
    assert plain.returncode == 1, plain_err
    assert b"BrokenPipeError" in plain_err

    marker = uuid.uuid4().hex
    words = ["trace", "--json", str(program)] if json_doc else ["trace", str(program)]
    traced = start(*words, marker=marker, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Under --json the program's stdout is on poolctl's stderr (and so is its own).
        gone = first_line_then_close(traced, "stderr" if json_doc else "stdout")
        rest = (traced.stdout if json_doc else traced.stderr).read()  # type: ignore[union-attr]
    finally:
        if traced.poll() is None:
            traced.kill()
            traced.wait()
        for pipe in (traced.stdout, traced.stderr):
            if pipe is not None:
                pipe.close()
    nothing_left(marker)
    assert traced.returncode == plain.returncode == 1, rest
    assert gone < 3, f"the program ran on for {gone:.1f} s (plainly {plain_took:.2f} s)"
    if json_doc:
        doc = json.loads(rest)
        schema_validation.check(doc, "trace | head -1")
        assert doc["outcome"]["main"]["exit_code"] == 1
        printed = [line["text"] for line in doc["output"] if line["stream"] == "stdout"]
        assert printed[0] == "0" and len(printed) < 100
    else:
        assert b"BrokenPipeError" in rest  # the program's own traceback, as plainly


@pytest.mark.timeout(60)
def test_a_callers_handler_that_returns_gets_the_second_ctrl_c_once(
    tmp_path: Path, marker: str
) -> None:
    """An API caller whose SIGINT handler returns (an event loop's): the first Ctrl-C is
    passed on, the second goes to that handler, once, and the run goes on to its end."""
    ready = tmp_path / "ready"
    program = write(
        tmp_path,
        "deaf_then_done.py",
        """
        import signal, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        open(sys.argv[1], "w").close()
        time.sleep(1.5)
        sys.exit(4)
        """,
    )
    called: list[int] = []

    def ctrl_c() -> None:
        if wait_until(ready.exists, 20):
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)

    previous = signal.signal(signal.SIGINT, lambda signum, frame: called.append(signum))
    sender = threading.Thread(target=ctrl_c)
    sender.start()
    try:
        doc = api.trace(program, [str(ready)])
    finally:
        sender.join()
        signal.signal(signal.SIGINT, previous)
    assert called == [signal.SIGINT]
    assert doc["outcome"]["main"]["exit_code"] == 4
    assert [e["kind"] for e in doc["events"]].count("interrupt.passed") == 1


@pytest.mark.timeout(60)
def test_a_ctrl_c_while_the_program_starts_is_passed_on_too(
    tmp_path: Path, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C just as the program is started (before poolctl knows it has: held back,
    see signals.deferred) is passed on once the program is known, not turned into
    poolctl's own stop at once: the interpreter, still starting, ends of it (as it would
    plainly), and that is said in one line, status 130."""
    from poolctl.observer import watchdog

    start_watchdog = watchdog.start

    def ctrl_c_while_starting(*args: object, **kwargs: object) -> watchdog.Watchdog:
        dog = start_watchdog(*args, **kwargs)  # type: ignore[arg-type]
        os.kill(os.getpid(), signal.SIGINT)
        return dog

    monkeypatch.setattr(watchdog, "start", ctrl_c_while_starting)
    program = write(tmp_path, "sleeps.py", "import time\ntime.sleep(30)\n")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(TraceError) as raised:
            api.trace(program)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert raised.value.exit_code == 130
    assert str(raised.value) == "interrupted (Ctrl-C) before the program started"
