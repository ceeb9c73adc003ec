"""Leftovers and exit codes: however poolctl ends, one line, the documented status, and no
file of the run left (docs/bad-input.md, "Endings and leftovers")."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    CliResult,
    console_script,
    marked_pids,
    run_pipeline,
    start_cli,
    wait_until,
    write_scenario,
)
from poolctl.errors import UsageError
from poolctl.observer import workspace

INTERRUPTED = "poolctl: interrupted; every process of the run was stopped"
# The same, once what the run recorded until then was reported on stdout.
REPORTED = "poolctl: interrupted; every process was stopped; what was recorded is above"


def leftovers(directory: Path) -> list[str]:
    """Whatever a run left in the temp directory."""
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def hung(tmp_path: Path) -> Path:
    """A scenario whose task outlives every timeout used here."""
    return write_scenario(
        tmp_path, "hangs", steps=["close", "join"], workers=1, duration=30, expect="hung = true"
    )


def start(*args: str, **options: object) -> subprocess.Popen[str]:
    """The real entry point (the console script) in the background."""
    return start_cli(*args, script=True, **options)


def wait_for_run(proc: subprocess.Popen[str], marker: str, at_least: int = 2) -> None:
    """Until the run's processes are up (the subject and its worker)."""
    up = wait_until(lambda: len(marked_pids(marker, exclude=(proc.pid,))) >= at_least, 10.0)
    assert up, "the run's processes never appeared"
    assert proc.poll() is None, "poolctl ended before it was signalled"


def default_hangup() -> None:
    """SIGHUP as a terminal's session leader would have it (not ignored by our caller)."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


# --- signals -------------------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_hangup_stops_the_run_and_removes_its_files(
    marker: str, hung: Path, short_tmp: Path, start_methods: list[str], method: str
) -> None:
    """The terminal closing (SIGHUP): 129, what was recorded reported, then one line; no
    process and no file of the run (not its private directory, not multiprocessing's
    pymp-* of a forkserver run)."""
    if method not in start_methods:
        pytest.skip(f"{method} is not available here")
    proc = start(
        "run", str(hung), "--start-method", method, "--timeout", "30", preexec_fn=default_hangup
    )
    try:
        wait_for_run(proc, marker, at_least=3)  # the watchdog, the subject, a worker
        if method == "forkserver":
            assert wait_until(lambda: list(short_tmp.rglob("pymp-*")), 5.0), leftovers(short_tmp)
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 129
    assert err.splitlines() == [REPORTED]
    assert "stopped by the user (a hang-up)" in " ".join(out.split())
    assert marked_pids(marker) == []
    assert leftovers(short_tmp) == []


def ignore_hangup() -> None:
    """SIGHUP as ``nohup`` leaves it: ignored."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


@pytest.mark.timeout(30)
def test_a_hangup_ignored_by_the_caller_stays_ignored(marker: str, short_tmp: Path) -> None:
    """Under ``nohup`` the terminal closing does not stop poolctl: the run ends normally."""
    proc = start("run", "close-join", "--duration", "0.5", preexec_fn=ignore_hangup)
    try:
        wait_for_run(proc, marker)
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, err) == (0, "")
    assert "matches  all 8 claims hold" in out  # the view's last line: shown whole
    assert leftovers(short_tmp) == []


@pytest.mark.timeout(20)
def test_a_hung_forkserver_run_leaves_no_pymp_directory(
    marker: str, short_tmp: Path, tmp_path: Path
) -> None:
    """Killed at --timeout before multiprocessing could clean up: its temp directory goes
    with the run's own."""
    if "forkserver" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("forkserver is not available here")
    scenario = write_scenario(tmp_path, "hangs", steps=["close", "join"], workers=1, duration=30)
    doc = run_pipeline(scenario, start_method="forkserver", timeout=1.0)
    assert doc["outcome"]["hung"] is True
    assert leftovers(short_tmp) == []


def catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (its SigCgt in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signum - 1) & 1)


@pytest.mark.timeout(30)
def test_a_hung_traced_program_leaves_no_pymp_directory(
    cli: Callable[..., CliResult], short_tmp: Path, tmp_path: Path
) -> None:
    """A traced program keeps the caller's TMPDIR; what multiprocessing made there for the
    fork server is removed when poolctl kills the program at --timeout."""
    if "forkserver" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("forkserver is not available here")
    program = tmp_path / "hangs.py"
    program.write_text(
        "import multiprocessing, time\n"
        "if __name__ == '__main__':\n"
        "    multiprocessing.set_start_method('forkserver')\n"
        "    with multiprocessing.Pool(1) as pool:\n"
        "        pool.apply(time.sleep, (30,))\n"
    )
    result = cli("trace", "--timeout", "1", "--json", str(program))
    assert result.returncode == 124, result.stderr
    assert leftovers(short_tmp) == []


# A Ctrl-C whose Interrupted is raised inside a weakref callback (as the import system's
# module locks have), where Python prints an exception and drops it.
DROPPED = """
import time, weakref
from poolctl import entry
from poolctl.errors import Interrupted

entry.install_handlers()


class Held:
    pass


def callback(ref):
    raise Interrupted(130)  # what the SIGINT handler raises, landing here


held = Held()
ref = weakref.ref(held, callback)
try:
    del held
    time.sleep(10)
    print("lost")
except Interrupted as exc:
    print("taken", exc.exit_code)
"""


@pytest.mark.timeout(30)
def test_a_ctrl_c_dropped_by_python_is_taken_again(tmp_path: Path) -> None:
    """An Interrupted that Python can only drop (a weakref callback's, ``__del__``'s) is
    not printed as a traceback: its signal is sent again and taken where it unwinds (seen
    as a Ctrl-C during poolctl's imports that printed a traceback and was lost)."""
    program = tmp_path / "dropped.py"
    program.write_text(DROPPED)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=20
    )
    assert (done.stdout, done.stderr) == ("taken 130\n", "")
    assert time.monotonic() - began < 5


@pytest.mark.timeout(60)
def test_ctrl_c_at_any_moment_is_one_line_and_130(marker: str, short_tmp: Path) -> None:
    """Ctrl-C while poolctl is still starting (importing its libraries) or running: one
    line and 130, never a traceback of poolctl. Each Ctrl-C comes a little later after
    Python can take it; before poolctl's first line (the interpreter's start-up, the
    console script's ``import re``, the package's ``__init__``) it is Python's, as for any
    Python command: poolctl's entry point takes signals from its first line."""
    for delay in [0.025 * i for i in range(11)]:  # 0 to 250 ms: imports, then the run
        proc = start("run", "close-join", "--duration", "0.3")
        pid = proc.pid
        wait_until(lambda: catches(pid, signal.SIGINT), 5.0, step=0.001)  # noqa: B023
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        if proc.returncode != 130:  # before poolctl's first line: Python's own ending
            ours = [f for f in err.splitlines() if "/poolctl/" in f and "__init__.py" not in f]
            assert ours == [], (delay, err)
            # Python 3.14 ends a Ctrl-C during its own start-up (importing site) as a fatal
            # error naming the KeyboardInterrupt, with no Python frame: still Python's.
            startup = err.startswith("Fatal Python error: init_import_site") and (
                "KeyboardInterrupt" in err
            )
            assert err.rstrip().endswith("KeyboardInterrupt") or err == "" or startup, (
                delay,
                err,
            )
            continue
        # Before the run recorded anything: one line; after, what it recorded, then a line.
        said = err.splitlines()
        assert proc.returncode == 130 and said in ([INTERRUPTED], [REPORTED]), (delay, out, err)
        reported = "stopped by the user (Ctrl-C)" in " ".join(out.split())
        assert (said == [REPORTED]) == reported, (delay, out, err)
    assert leftovers(short_tmp) == []


# What SIGKILL of poolctl may take to be undone: the watchdog sees its control pipe's end
# at once, kills the run, then removes its files.
SIGKILL_GRACE = 1.0

# A traced program with a fork server and a manager: both bind a Unix socket in a
# ``pymp-*`` directory of the caller's TMPDIR. It says it is ready, then hangs.
FORKSERVER_AND_MANAGER = """\
import multiprocessing, os, sys, time
if __name__ == "__main__":
    multiprocessing.set_start_method("forkserver")
    with multiprocessing.Manager() as manager, multiprocessing.Pool(1) as pool:
        shared = manager.list([pool.apply(os.getpid)])
        open(sys.argv[1], "w").close()
        time.sleep(30)
"""


def sigkill_and_wait(proc: subprocess.Popen[str]) -> None:
    """SIGKILL poolctl and wait for it (not for the run: that is the watchdog's job)."""
    proc.kill()
    proc.communicate(timeout=5)
    assert proc.returncode == -signal.SIGKILL


def nothing_of_the_run_left(marker: str, temp: Path) -> bool:
    return not marked_pids(marker) and leftovers(temp) == []


@contextlib.contextmanager
def sigkilled_at_the_end(proc: subprocess.Popen[str], marker: str, temp: Path) -> Iterator[None]:
    """The block checks the run under way; poolctl is then SIGKILLed (killed whatever the
    block did), and within the grace nothing of its run may be left in ``temp``."""
    try:
        yield
        sigkill_and_wait(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    gone = wait_until(lambda: nothing_of_the_run_left(marker, temp), SIGKILL_GRACE)
    assert gone, (marked_pids(marker), leftovers(temp))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_sigkill_of_poolctl_leaves_no_file_of_a_scenario_run(
    marker: str, hung: Path, short_tmp: Path, start_methods: list[str], method: str
) -> None:
    """SIGKILL: no code of poolctl runs; the run's watchdog kills the run and removes its
    private directory (and multiprocessing's pymp-* in it) within a second."""
    if method not in start_methods:
        pytest.skip(f"{method} is not available here")
    proc = start("run", str(hung), "--start-method", method, "--timeout", "30")
    with sigkilled_at_the_end(proc, marker, short_tmp):
        wait_for_run(proc, marker)
        if method == "forkserver":
            assert wait_until(lambda: list(short_tmp.rglob("pymp-*")), 5.0), leftovers(short_tmp)
        assert [p.name[: len(workspace.PREFIX)] for p in short_tmp.iterdir()] == [workspace.PREFIX]


@pytest.mark.timeout(30)
def test_sigkill_of_poolctl_leaves_no_file_of_a_traced_program(
    marker: str, short_tmp: Path, tmp_path: Path
) -> None:
    """``poolctl trace`` of a program with a fork server and a manager, SIGKILLed: the
    watchdog removes the run's directory and the program's pymp-* (in the caller's TMPDIR,
    which the program keeps) within a second."""
    if "forkserver" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("forkserver is not available here")
    program = tmp_path / "serves.py"
    program.write_text(FORKSERVER_AND_MANAGER)
    ready = tmp_path / "ready"
    proc = start("trace", str(program), str(ready))
    with sigkilled_at_the_end(proc, marker, short_tmp):
        assert wait_until(ready.exists, 15.0), "the program never got its pool and manager"
        names = leftovers(short_tmp)
        assert sum(n.startswith("pymp-") for n in names) >= 1, names
        assert sum(n.startswith(workspace.PREFIX) for n in names) == 1, names


def test_a_stale_run_directory_is_removed_by_the_next_run(marker: str, short_tmp: Path) -> None:
    """The backstop (a watchdog killed along with poolctl): a run directory nobody holds
    is removed by the next run, and nothing else is."""
    stale = short_tmp / f"{workspace.PREFIX}stale"
    stale.mkdir()
    (stale / "events-1").write_text("x")
    (short_tmp / "mine.txt").write_text("not poolctl's")
    doc = run_pipeline("close-join", duration=0.05)
    assert doc["matches"] is True
    assert leftovers(short_tmp) == ["mine.txt"]


def test_a_run_directory_in_use_is_never_swept(tmp_path: Path) -> None:
    """Only this user's unlocked directories of poolctl's own prefix go: not one locked
    (a run under way), not a symlink, not anything else."""
    held = tmp_path / f"{workspace.PREFIX}held"
    stale = tmp_path / f"{workspace.PREFIX}stale"
    other = tmp_path / "poolctl-older"
    elsewhere = tmp_path / "elsewhere"
    for directory in (held, stale, other, elsewhere):
        directory.mkdir()
        (directory / "events-1").write_text("x")
    (tmp_path / f"{workspace.PREFIX}link").symlink_to(elsewhere)
    lock = os.open(held, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert workspace.sweep(str(tmp_path)) == [stale.name]
    finally:
        os.close(lock)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [held.name, other.name, elsewhere.name, f"{workspace.PREFIX}link"]
    )
    assert (elsewhere / "events-1").exists()


def test_a_directory_whose_poolctl_lives_is_never_swept(tmp_path: Path) -> None:
    """The second safety: a run directory's name holds its poolctl's pid; unlocked, it is
    still kept while that process lives. A dead pid's, or a name with no pid, goes."""
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process (pid reuse aside)
    alive = tmp_path / f"{workspace.PREFIX}{os.getpid()}-alive"
    dead = tmp_path / f"{workspace.PREFIX}{gone.pid}-dead"
    huge = tmp_path / f"{workspace.PREFIX}{'9' * 30}-huge"  # no process has that pid
    for directory in (alive, dead, huge):
        directory.mkdir()
    assert sorted(workspace.sweep(str(tmp_path))) == sorted([dead.name, huge.name])
    assert [p.name for p in tmp_path.iterdir()] == [alive.name]


@pytest.mark.parametrize("seen", ["alive", "from another pid namespace"])
def test_a_sweep_before_the_lock_is_taken_loses_no_run(
    seen: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another poolctl's sweep between ``mkdtemp`` and the lock (the race behind a run's
    'internal error: FileNotFoundError: /tmp/poolctl-run-...'): a pid it sees alive keeps
    the directory; one it cannot see (another PID namespace) costs the run a new one."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    if seen != "alive":
        monkeypatch.setattr(workspace, "_owner_alive", lambda name: False, raising=False)
    made: list[str] = []
    swept: list[str] = []
    real = tempfile.mkdtemp

    def made_then_swept(*args: Any, **kwargs: Any) -> str:
        made.append(real(*args, **kwargs))
        if len(made) == 1:  # another poolctl's first run, in that very instant
            swept.extend(workspace.sweep(str(tmp_path)))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", made_then_swept)
    with workspace.private_dir() as directory:
        (directory / "spec.json").write_text("{}")
        assert str(directory) == made[-1]
        assert sorted(p.name for p in tmp_path.iterdir()) == [directory.name]
    assert list(tmp_path.iterdir()) == []
    first = Path(made[0]).name
    assert (swept, len(made)) == (([], 1) if seen == "alive" else ([first], 2))


# The race as it happens: several processes, each sweeping as a poolctl's first run does
# and starting runs in the same temp directory.
CLAIMING = """
import os, sys, time
from poolctl.observer import workspace
failures, end = 0, time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    try:
        workspace.sweep(os.environ["TMPDIR"])
        with workspace.private_dir() as directory:
            (directory / "spec.json").write_text("{}")
    except OSError as exc:
        failures += 1
        print(exc, file=sys.stderr)
sys.exit(min(failures, 1))
"""


@pytest.mark.timeout(30)
def test_runs_started_at_once_by_many_processes_keep_their_directories(
    short_tmp: Path,
) -> None:
    """Four processes sweeping and starting runs for two seconds: not one run loses its
    directory (before the fix: dozens did), and none is left."""
    procs = [
        subprocess.Popen([sys.executable, "-c", CLAIMING, "2"], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    try:
        errors = "".join(proc.communicate(timeout=25)[1] for proc in procs)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert [proc.returncode for proc in procs] == [0] * 4, errors[:500]
    assert leftovers(short_tmp) == []


# --- a closed stdout -----------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_closed_stdout_ends_compare_quietly_with_141(marker: str, short_tmp: Path) -> None:
    """``compare --jsonl | head -c 10``: the runs after the reader left are stopped; no
    message, status 141 (as the shell shows a command killed by SIGPIPE)."""
    names = ["close-join", "terminate-join", "close-without-join", "join-without-close"]
    proc = start("compare", *names, "--jobs", "1", "--duration", "0.3", "--jsonl")
    try:
        assert proc.stdout is not None
        assert proc.stdout.read(10) == '{"schema":'
        # From the reader leaving: the first run's own time (over 2 s under forkserver and
        # load) is not what is measured.
        begun = time.monotonic()
        proc.stdout.close()
        err = proc.stderr.read() if proc.stderr is not None else ""
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    took = time.monotonic() - begun
    assert (proc.returncode, err) == (141, "")
    assert took < 3.0, f"the remaining runs were not stopped promptly: {took:.1f} s"
    assert leftovers(short_tmp) == []


@pytest.mark.parametrize("args", [["compare", "--help"], ["list"]])
def test_a_reader_gone_before_anything_is_written_is_141(marker: str, args: list[str]) -> None:
    """``poolctl compare --help | head -1``: rich meets the broken pipe first (it points
    stdout at /dev/null and exits 1); still quietly 141, never an internal error."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before poolctl writes a byte
    try:
        done = subprocess.run(
            [str(console_script()), *args],
            stdin=subprocess.DEVNULL,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


def test_a_closed_stdout_is_one_line_and_nothing_runs(marker: str) -> None:
    """``poolctl run close-join >&-`` (fd 1 closed): one line, exit 2, no run started
    (was: an internal error, then a traceback at the last flush)."""
    done = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" >&-', str(console_script()), "run", "close-join", "--json"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "poolctl: standard output is closed: there is nowhere to write the result\n"
    )
    assert marked_pids(marker) == []


# --- bad input -----------------------------------------------------------------------------


def nested_toml(depth: int) -> str:
    return f'summary = "deep"\nsteps = ["close", "join"]\nx = {"[" * depth}{"]" * depth}\n'


@pytest.mark.parametrize("depth", [200, 900, 5000])
def test_a_deeply_nested_scenario_is_bad_input(
    cli: Callable[..., CliResult], tmp_path: Path, depth: int
) -> None:
    """Nested beyond what the parser recurses into: exit 2 and one line, not exit 3."""
    path = tmp_path / "deep.toml"
    path.write_text(nested_toml(depth))
    result = cli("run", str(path))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"poolctl: {path}"), line
    assert "internal error" not in line


@pytest.mark.parametrize("version", ["3.\u0669", "\u0663.9", "3.\uff19", "3.9\u0660"])
def test_requires_python_takes_ascii_digits_only(tmp_path: Path, version: str) -> None:
    """'3.٩' is not 3.9: int() reads any Unicode digit, a version is ASCII."""
    from poolctl import scenario

    path = tmp_path / "odd.toml"
    path.write_text(f'summary = "x"\nrequires_python = "{version}"\nsteps = ["close"]\n')
    with pytest.raises(UsageError, match="requires_python: expected a version"):
        scenario.load(str(path))


@pytest.mark.timeout(60)
def test_thousands_of_steps_do_not_overflow_the_command_line(marker: str, tmp_path: Path) -> None:
    """7,000 steps make a spec far beyond one argument's 128 KiB: it goes through a file."""
    steps = ", ".join(['{ step = "sleep", seconds = 0 }'] * 7000)
    path = tmp_path / "many.toml"
    path.write_text(
        f'summary = "many"\nsteps = [{steps}, "close", "join"]\n[tasks]\nduration = 0.05\n'
    )
    # Not through ``cli``: checking 14,000 events against the schema takes 20 s.
    done = subprocess.run(
        [str(console_script()), "run", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=50,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert sum(e["kind"] == "sleep.called" for e in doc["events"]) == 7000


@pytest.mark.timeout(60)
def test_a_traced_program_takes_arguments_beyond_128_kib(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """2,000 arguments of 100 bytes reach the program, as with plain python."""
    program = tmp_path / "count.py"
    program.write_text("import sys\nprint(len(sys.argv) - 1, len(''.join(sys.argv[1:])))\n")
    words = [f"{i:04d}" + "a" * 96 for i in range(2000)]
    result = cli("trace", "--json", str(program), *words)
    assert result.returncode == 0, result.stderr
    assert "2000 200000" in result.stderr


def saved_run(tmp_path: Path) -> dict[str, object]:
    doc = run_pipeline("close-join", duration=0.05)
    return json.loads(json.dumps(doc))


@pytest.mark.timeout(60)
def test_render_refuses_a_document_missing_fields(
    marker: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """The right schema but not its shape: one line naming what is wrong, exit 2."""
    doc = saved_run(tmp_path)
    broken: list[tuple[str, Callable[[dict[str, object]], None]]] = [
        ("$: missing 'scenario'", lambda d: d.pop("scenario")),
        ("$.outcome.tasks: missing 'completed'", lambda d: d["outcome"]["tasks"].pop("completed")),  # type: ignore[index,union-attr]
        ("$.events[0].t: expected number, not string", lambda d: d["events"][0].update(t="x")),  # type: ignore[index,union-attr]
    ]
    for expected, spoil in broken:
        copy = json.loads(json.dumps(doc))
        spoil(copy)
        path = tmp_path / "spoiled.json"
        path.write_text(json.dumps(copy))
        for extra in ([], ["--svg", str(tmp_path / "out.svg")]):
            result = cli("render", str(path), *extra)
            assert result.returncode == 2, result
            assert result.stderr.splitlines() == [
                f"poolctl: {path}: not a valid poolctl.run/1 document: {expected}"
            ]
    path = tmp_path / "deep.json"
    path.write_text('{"schema": "poolctl.run/1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = cli("render", str(path))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "internal error" not in result.stderr


# --- output the terminal cannot encode -------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "env",
    [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}],
    ids=["PYTHONIOENCODING=ascii", "LC_ALL=C"],
)
def test_output_degrades_where_the_encoding_lacks_characters(
    cli: Callable[..., CliResult], env: dict[str, str]
) -> None:
    """The run is shown, its characters escaped (\\u2713), never lost to an error."""
    result = cli("run", "close-join", "--duration", "0.05", "--no-color", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "matches  all 8 claims hold" in result.stdout  # the view's last line
    assert "\\u2713" in result.stdout
