"""Processes that leave the run's process group are ended too, however the run ends.

One traced program leaves the group every way there is at once: a child that calls
``os.setsid()``, one that calls ``os.setpgid(0, 0)``, a ``Popen(start_new_session=True)``,
a double-forked daemon, and a daemon double-forked by a pool worker. Each way poolctl can
end (the program's own end, ``--timeout``, SIGINT, SIGTERM, SIGKILL, and the program's
own ``killpg`` of its group followed by SIGKILL) must leave none of them running. The
``--python`` probe is run the same way: bounded, its processes ended, junk refused.
"""

from __future__ import annotations

import py_compile
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import (
    console_script,
    marked_pids,
    reap_adopted,
    run_cli,
    wait_until,
    zombie_children,
)
from poolctl import interpreter
from poolctl.errors import UsageError
from poolctl.observer import watchdog, workspace

PROGRAM = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    from multiprocessing import get_context

    ready, mode = sys.argv[1], sys.argv[2]

    def touch(name):
        # Written, then renamed: the file is never seen empty. It holds the group left in.
        path = os.path.join(ready, name)
        with open(path + ".part", "w") as f:
            f.write(str(os.getpgrp()))
        os.rename(path + ".part", path)

    def linger(name, leave):
        # In a child: leave the group, say so, stay.
        leave()
        touch(name)
        time.sleep(60)
        os._exit(0)

    def child(name, leave):
        if os.fork() == 0:
            linger(name, leave)

    def daemon(name):
        # The classic double fork: the middle process exits, the daemon is orphaned.
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                linger(name, lambda: None)
            os._exit(0)
        os.wait()

    if __name__ == "__main__" and mode == "killpg-in-group":
        # Nothing leaves the group: a worker stays in it, the program signals it all.
        pool = get_context("fork").Pool(1)
        pool.apply(touch, ("in-group",))
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.killpg(os.getpgrp(), signal.SIGTERM)
        touch("killpg-done")
        time.sleep(60)
    elif __name__ == "__main__":
        child("setsid", os.setsid)
        child("setpgid", lambda: os.setpgid(0, 0))
        stays = (
            "import os, sys, time; open(sys.argv[1] + '.part', 'w').write(str(os.getpgrp()));"
            " os.rename(sys.argv[1] + '.part', sys.argv[1]); time.sleep(60)"
        )
        subprocess.Popen(
            [sys.executable, "-c", stays, os.path.join(ready, "new-session")],
            start_new_session=True,
        )
        daemon("daemon")
        pool = get_context("fork").Pool(1)
        pool.apply(daemon, ("worker-daemon",))
        names = ("setsid", "setpgid", "new-session", "daemon", "worker-daemon")
        while not all(os.path.exists(os.path.join(ready, name)) for name in names):
            time.sleep(0.01)
        for name in names:  # each really is out of the group poolctl started it in
            with open(os.path.join(ready, name)) as f:
                assert int(f.read()) != os.getpgrp(), name
        touch("escaped")
        if mode == "killpg":
            # A common idiom: signal one's own group. Only the program may survive it.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.killpg(os.getpgrp(), signal.SIGTERM)
            touch("killpg-done")
        if mode == "end":
            pool.close()
            pool.join()
        else:
            time.sleep(60)
    """
)


@pytest.fixture
def program(tmp_path: Path) -> tuple[Path, Path]:
    """The program that leaves its group, and the folder its processes report to."""
    path = tmp_path / "leaves.py"
    path.write_text(PROGRAM)
    ready = tmp_path / "ready"
    ready.mkdir()
    return path, ready


def escaped(ready: Path) -> bool:
    """Every process that leaves the group has done so (the program checked)."""
    return (ready / "escaped").exists()


ENDINGS = {
    # ending: (how the program runs, poolctl's extra options, poolctl's exit status)
    "program-ends": ("end", (), 0),
    "timeout": ("hang", ("--timeout", "3"), 124),
    "SIGINT": ("hang", (), 130),
    "SIGTERM": ("hang", (), 143),
    "SIGKILL": ("hang", (), -signal.SIGKILL),
    "killpg-then-SIGKILL": ("killpg", (), -signal.SIGKILL),
}


@pytest.mark.timeout(40)
@pytest.mark.parametrize("ending", list(ENDINGS))
def test_nothing_that_left_the_group_survives(
    marker: str, program: tuple[Path, Path], ending: str
) -> None:
    path, ready = program
    mode, options, status = ENDINGS[ending]
    proc = subprocess.Popen(
        [str(console_script()), "trace", *options, "--no-color", str(path), str(ready), mode],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        if mode != "end":  # the program's own end comes by itself, once all escaped
            assert wait_until(lambda: escaped(ready), 15.0), "the program never left its group"
        if mode == "killpg":
            assert wait_until(lambda: (ready / "killpg-done").exists(), 10.0)
        if ending in ("SIGINT", "SIGTERM", "SIGKILL", "killpg-then-SIGKILL"):
            proc.send_signal(getattr(signal, ending.rsplit("-", 1)[-1]))
        _, err = proc.communicate(timeout=20)
        assert escaped(ready), err.decode()
        assert proc.returncode == status, err.decode()
        gone = wait_until(lambda: not marked_pids(marker), 5.0)
        assert gone, f"still running after poolctl ended: {marked_pids(marker)}"
        # Killed with poolctl, the watchdog is an orphan: this process may have adopted it.
        assert wait_until(reap_adopted, 3.0), f"never reaped: {zombie_children()}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.timeout(30)
def test_the_programs_own_killpg_does_not_reach_the_watchdog(
    marker: str, program: tuple[Path, Path]
) -> None:
    """``os.killpg(os.getpgrp(), SIGTERM)`` by the program, then SIGKILL of poolctl: the
    watchdog, out of the group's reach, still ends the run (nothing left the group)."""
    path, ready = program
    proc = subprocess.Popen(
        [str(console_script()), "trace", str(path), str(ready), "killpg-in-group"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: (ready / "killpg-done").exists(), 15.0)
        assert marked_pids(marker, exclude=(proc.pid,)), "the program did not survive its killpg"
        proc.kill()
        proc.wait(timeout=10)
        gone = wait_until(lambda: not marked_pids(marker), 5.0)
        assert gone, f"still running after poolctl was killed: {marked_pids(marker)}"
        assert wait_until(reap_adopted, 3.0), f"never reaped: {zombie_children()}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- the --python probe -------------------------------------------------------------


def wrapper(tmp_path: Path, body: str) -> Path:
    """An executable shell script standing in for an interpreter; $PY is the real one."""
    path = tmp_path / "python-wrapper"
    path.write_text(f"#!/bin/sh\nPY={sys.executable}\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.fixture(params=["forked", "exec"])
def started(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The watchdog forked (GIL builds) or exec'd (free-threaded ones)."""
    if request.param == "exec":
        monkeypatch.setattr(watchdog, "_can_fork", lambda: False)
    return str(request.param)


@pytest.mark.timeout(20)
def test_a_probe_that_hangs_is_bounded_and_ended(
    marker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: str
) -> None:
    """A wrapper that never answers: one line after the timeout, its children ended."""
    monkeypatch.setattr(interpreter, "_PROBE_TIMEOUT", 0.5)
    path = wrapper(tmp_path, "sleep 60 &\nsleep 60")
    began = time.monotonic()
    with pytest.raises(UsageError, match=r"no answer within 0\.5 s"):
        interpreter.resolve(str(path))
    assert time.monotonic() - began < 5


@pytest.mark.timeout(20)
def test_a_probe_that_leaves_a_child_running_leaves_nothing(
    marker: str, tmp_path: Path, started: str
) -> None:
    """A wrapper that starts a background child and answers: the child is ended too."""
    path = wrapper(tmp_path, 'setsid sleep 60 </dev/null >/dev/null 2>&1 &\nexec "$PY" "$@"')
    found = interpreter.resolve(str(path))
    assert found.start_methods  # it answered, as the interpreter it wraps


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "body",
    [
        '"$PY" "$@"; echo junk',  # junk on the answer's own line
        '"$PY" "$@"; echo; echo junk',  # junk on a line of its own
        "printf '3.12.0 CPython\\n{}'",  # a version, then JSON without the start methods
        "printf '3.12.0 CPython\\n[1]\\n'",
    ],
    ids=["junk-appended", "junk-line", "no-start-methods", "not-an-object"],
)
def test_a_probe_answer_with_junk_is_one_line_exit_2(
    marker: str, tmp_path: Path, body: str
) -> None:
    path = wrapper(tmp_path, body)
    done = run_cli("run", "close-join", "--python", str(path))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    expected = f"poolctl: --python {path}: not a working Python interpreter: unexpected answer"
    assert lines[0].startswith(expected)
    assert "Traceback" not in done.stderr


@pytest.mark.timeout(20)
def test_a_program_that_ends_before_poolctl_reads_its_start_is_seen_to_end(
    marker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watchdog's 'start' and 'exit' lines read at once: the exit is not lost (the
    run is not taken for hung)."""
    from poolctl.observer import observe

    started = watchdog.Watchdog.started

    def late(self: watchdog.Watchdog) -> None:
        time.sleep(0.5)  # long enough for the program to end first
        started(self)

    monkeypatch.setattr(watchdog.Watchdog, "started", late)
    program = tmp_path / "ends.py"
    program.write_text("raise SystemExit(7)\n")
    target = {"argv": [str(program)], "path": str(program)}
    began = time.monotonic()
    obs = observe.observe_program(target, sys.executable, timeout=10)
    assert (obs.exit_code, obs.hung) == (7, False)
    assert time.monotonic() - began < 5


# --- the files a killed run leaves -----------------------------------------------------------

# Binds a fork server's and a manager's Unix sockets in pymp-* of its TMPDIR, says so, hangs.
SERVES = (
    "import multiprocessing, os, sys, time\n"
    "multiprocessing.set_start_method('forkserver')\n"
    "with multiprocessing.Manager() as manager, multiprocessing.Pool(1) as pool:\n"
    "    shared = manager.list([pool.apply(os.getpid)])\n"
    "    open(sys.argv[1], 'w').close()\n"
    "    time.sleep(30)\n"
)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("ending", ["poolctl-died", "kill-asked"])
def test_the_watchdog_removes_the_files_of_the_run_it_kills(
    marker: str, tmp_path: Path, short_tmp: Path, started: str, ending: str
) -> None:
    """The run's pymp-* go in the watchdog's kill phase, however it was asked; the run's
    private directory too when poolctl died (its control pipe's end without ``kill``).
    Nothing else: not another pymp-*, not what a symlink in the run's directory names."""
    if "forkserver" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("forkserver is not available here")
    temp = short_tmp
    run_dir = temp / f"{workspace.PREFIX}x"
    run_dir.mkdir()
    (run_dir / "events-1").write_text("x")
    (temp / "pymp-other").mkdir()  # not the run's: no socket of it there
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "file").write_text("not the run's")
    (run_dir / "link").symlink_to(kept)
    ready = tmp_path / "ready"
    dog = watchdog.start([sys.executable, "-c", SERVES, str(ready)], directory=str(run_dir))
    try:
        assert wait_until(ready.exists, 15.0), "the program never got its pool and manager"
        assert len(list(temp.glob("pymp-*"))) >= 2, sorted(temp.iterdir())
        if ending == "poolctl-died":
            dog.close()  # as poolctl's death closes it: no ``kill`` said
            dog.proc.wait(timeout=5)
        else:
            dog.stop()
        assert wait_until(lambda: not marked_pids(marker), 2.0), marked_pids(marker)
        left = sorted(p.name for p in temp.iterdir())
        if ending == "poolctl-died":
            assert left == ["pymp-other"]
        else:  # poolctl removes its own directory, in its ``finally``
            assert left == sorted(["pymp-other", run_dir.name])
        assert (kept / "file").read_text() == "not the run's"
    finally:
        if dog.proc.poll() is None:
            dog.stop()
        dog.close()


def test_the_exec_watchdog_runs_from_its_pyc_only_while_fresh(
    marker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where importing left a .pyc of the watchdog as its source is now, the exec'd
    watchdog runs it (not compiling its source on every run); a stale one is not run."""
    from poolctl.observer import watchdog_main

    pyc = tmp_path / "watchdog_main.pyc"
    py_compile.compile(
        watchdog_main.__file__,
        cfile=str(pyc),
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
    )
    monkeypatch.setattr(watchdog_main, "__cached__", str(pyc))
    monkeypatch.setattr(watchdog, "_can_fork", lambda: False)
    assert watchdog._script() == str(pyc)
    done = watchdog.run_bounded([sys.executable, "-c", "print(7)"], 10.0)
    assert (done.returncode, done.stdout) == (0, b"7\n")
    data = pyc.read_bytes()
    pyc.write_bytes(data[:8] + bytes(4) + data[12:])  # as if the source had changed since
    assert watchdog._script() == str(watchdog.SCRIPT)
    pyc.unlink()
    assert watchdog._script() == str(watchdog.SCRIPT)
