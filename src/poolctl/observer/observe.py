"""Run the subject once and capture everything it reports.

One selector loop per run reads the subject's raw stdout and stderr and the watchdog's
report of the subject's exit (see watchdog.py: the run's subreaper, so every process the
run starts stays findable). At the timeout the run is declared hung and all its processes
are killed. After the main process exits, the rest of the run (resource tracker, fork
server, any orphaned worker or daemon) gets a short grace period to leave by itself;
whatever is still there is killed, reported, and reaped. Only then, with no writer left,
are the event files read.
"""

from __future__ import annotations

import contextlib
import errno
import marshal
import os
import selectors
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import Cancelled, Interrupted, ObserveError
from . import process_group, signals, watchdog
from .output import ECHO_BACKLOG, Echo, RawOutput, Screen, record_held
from .workspace import EventFiles, open_events, private_dir

SUBJECT_ROOT = Path(__file__).resolve().parent.parent / "subject"
# argv: the subject's root, the file of its spec (a spec of thousands of steps would not
# fit the kernel's limit on one argument, 128 KiB), and its TMPDIR (see _subject_temp).
BOOTSTRAP = (
    "import os, sys\n"
    "if sys.argv[3]: os.environ['TMPDIR'] = sys.argv[3]\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "with open(sys.argv[2], 'rb') as spec: spec = spec.read()\n"
    "from poolctl_subject.scenario_main import main\n"
    "main(spec)"
)
# Shown, not changed: a pool dropped while running warns only under this filter.
SUBJECT_FLAGS = ("-I", "-W", "always::ResourceWarning")
# poolctl trace: no flags (the program gets its usual environment); the subject's folder
# leaves sys.path[0] once program_main is imported.
# argv: the subject's root and the file of its spec (a program's own arguments may be
# long); program_main clears the bootstrap's names from __main__.
TRACE_BOOTSTRAP = (
    "import sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "with open(sys.argv[2], 'rb') as spec: spec = spec.read()\n"
    "from poolctl_subject.program_main import main\n"
    "del sys.path[0]\n"
    "main(spec)"
)
# The longest TMPDIR given to a subject: multiprocessing binds Unix sockets in it
# (<TMPDIR>/pymp-XXXXXXXX/listener-XXXXXXXX), and a socket's path is at most 107 bytes.
SUBJECT_TEMP_MAX = 70

# How long the rest of the group may take to leave after the main process exits.
GRACE_SECONDS = 1.0
# How long a traced program may take to end by itself after a Ctrl-C passed on to it.
INTERRUPT_GRACE_SECONDS = 5.0
# How long to keep reading the pipes once every process is gone (bounded).
DRAIN_SECONDS = 0.5
# How often (without a pidfd) the main process is looked at, and the group while settling.
POLL_SECONDS = 0.005


@dataclass
class Leftover:
    """A process that was still alive after the grace period, and was killed."""

    pid: int
    command: str


@dataclass
class Observation:
    """Everything one run of the subject produced, raw."""

    t0_ns: int
    pid: int
    event_lines: list[bytes] = field(default_factory=list)
    # The run's event files, opened before their directory was removed: read a batch at a
    # time by events.parse (after event_lines), which closes them.
    event_files: EventFiles | None = None
    # What bypassed the recorders (a traced program's whole output), in bounded lines.
    raw_output: RawOutput = field(default_factory=RawOutput)
    exit_code: int | None = None
    exit_ns: int | None = None
    interrupted_ns: int | None = None  # when a Ctrl-C was passed on to the program
    hung: bool = False
    timeout_ns: int | None = None
    # When poolctl was stopped by a signal (Ctrl-C, SIGTERM, a hang-up) and killed the
    # run, and by which: what was recorded until then is still reported.
    stopped_ns: int | None = None
    stopped_by: str | None = None
    leftovers: list[Leftover] = field(default_factory=list)
    leftovers_ns: int | None = None  # when the leftovers were killed


@dataclass(frozen=True)
class Passthrough:
    """Where a traced program's streams go, besides the record: live, as with ``python``.

    None shows a stream nowhere (it is still recorded) and gives the program no stdin.
    """

    stdout: BinaryIO | None = None  # where its stdout is shown (the CLI: stderr under --json)
    stderr: BinaryIO | None = None
    terminal: bool = False  # give it a pseudo-terminal for stdout, as a terminal would
    stdin: int | None = None  # a file descriptor it reads (never a terminal: see trace's docs)


@dataclass(frozen=True)
class Observed:
    """A run as it starts, for whoever follows it live (``live.py``): where its event
    files are written, its clock's zero, its main process, its timeout, and the terminal
    its pass-through shares (``trace``; None: the program's output is not shown)."""

    directory: Path
    t0_ns: int
    pid: int
    timeout: float
    screen: Screen | None = None


# Called with the run's ``Observed`` once its subject has started (in the calling thread).
OnObserve = Callable[[Observed], object]


class _Run:
    """The state of one observed run: its selector, its streams, what has arrived."""

    def __init__(
        self,
        dog: watchdog.Watchdog,
        obs: Observation,
        streams: dict[int, str],
        echo: dict[str, BinaryIO] | None = None,
    ) -> None:
        self.dog = dog
        self.obs = obs
        self.selector = selectors.DefaultSelector()
        for fd, name in streams.items():
            self.selector.register(fd, selectors.EVENT_READ, name)
        # Where each stream is copied as it arrives (poolctl trace), if anywhere: by a
        # thread, so that a reader that does not read never holds up this loop. The
        # terminal it writes to may carry poolctl's status line too (Screen).
        self.screen = Screen() if echo else None
        self.echo = Echo(echo or {}, self.screen)
        # Streams not read while the pass-through waits for its reader (see ECHO_BACKLOG).
        self.paused: dict[int, str] = {}
        self.draining = False  # no writer is left: read what the pipes hold
        self.selector.register(dog.report_fd, selectors.EVENT_READ, "exit")

    def pump(self, timeout: float) -> None:
        """Read whatever is ready within ``timeout`` seconds; note the main process's exit."""
        self._close_lost()
        self._pace()
        for key, _ in self.selector.select(timeout=max(timeout, 0.0)):
            if key.data == "exit":
                if self.dog.poll() is not None or self.dog.gone:
                    self.selector.unregister(key.fd)
                    self._note_exit()
                continue
            try:
                chunk = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            except OSError as exc:  # a pseudo-terminal says EIO once every writer is gone
                if exc.errno != errno.EIO:
                    raise
                chunk = b""
            if not chunk:
                self.selector.unregister(key.fd)
            else:
                self.obs.raw_output.feed(time.monotonic_ns(), key.data, chunk)
                self.echo.put(key.data, chunk)
        # Its exit may have come in one read with its start (a program that ends at once).
        if self.dog.returncode is not None:
            self._note_exit()

    def _pace(self) -> None:
        """Stop reading the program while its pass-through waits for a slow reader (it then
        waits on its own writes, as it would under plain python); resume when it caught up."""
        # Once no writer is left, what a pipe still holds (its capacity, at most 1 MiB) is
        # read too; the bound stays, for a process that escaped the clean-up.
        limit = ECHO_BACKLOG * (4 if self.draining else 1)
        if self.echo.backlog > limit:
            for key in list(self.selector.get_map().values()):
                if key.data != "exit":
                    self.selector.unregister(key.fd)
                    self.paused[key.fd] = key.data
        elif self.paused and self.echo.backlog <= limit // 2:
            for fd, name in self.paused.items():
                self.selector.register(fd, selectors.EVENT_READ, name)
            self.paused.clear()

    def _close_lost(self) -> None:
        """A stream whose pass-through lost its reader (``| head``) is closed for the
        program too: its next write fails (EPIPE, BrokenPipeError) and it stops, as under
        plain python, instead of running on with its output dropped. What the pipe holds
        then (written before, not read yet: the stream may have been paused) is recorded
        first; what it wrote after is not, as it is not read. A pseudo-terminal is left
        alone (a terminal that goes away hangs up: SIGHUP)."""
        self.echo.look_for_lost()
        while self.echo.lost:
            name = self.echo.lost.popleft()
            found = [k.fd for k in self.selector.get_map().values() if k.data == name]
            found += [fd for fd, data in self.paused.items() if data == name]
            for fd in found:
                if fd not in (self.dog.stdout_fd, self.dog.stderr_fd):
                    continue
                if fd in self.paused:
                    del self.paused[fd]
                else:
                    self.selector.unregister(fd)
                record_held(fd, name, self.obs.raw_output)
                self.dog.close_output(fd)

    def _note_exit(self) -> None:
        if self.obs.exit_ns is not None:  # already noted (e.g. killed at the timeout)
            return
        if self.dog.returncode is None:  # the watchdog was killed: see _watch
            return
        self.obs.exit_ns = self.dog.exit_ns
        self.obs.exit_code = self.dog.returncode

    @property
    def open_streams(self) -> int:
        """How many of stdout and stderr have not reached end-of-file yet."""
        reading = sum(1 for key in self.selector.get_map().values() if key.data != "exit")
        return reading + len(self.paused)

    def close(self) -> None:
        self.obs.raw_output.finish()
        self.selector.close()
        self.dog.close()


def observe(
    program: dict[str, object],
    python: str,
    timeout: float,
    cancel: threading.Event | None = None,
    on_observe: OnObserve | None = None,
) -> Observation:
    """Run ``program`` in a subject interpreter ``python`` and return what it reported.

    Raises ``ObserveError`` when the interpreter cannot be started, and ``Cancelled`` soon
    after ``cancel`` is set (runs in worker threads cannot receive signals themselves).
    Whatever happens, every process of the run is gone when this returns or raises.
    ``on_observe`` is told where the run's events go as it starts (the live view).
    """

    def command(directory: Path) -> list[str]:
        spec = _spec_file(directory, {"channel": str(directory), "program": program})
        temp = _subject_temp(directory)
        return [python, *SUBJECT_FLAGS, "-c", BOOTSTRAP, str(SUBJECT_ROOT), spec, temp]

    return _observe(command, python, timeout, cancel, None, on_observe, pass_ctrl_c=False)


def observe_program(
    target: dict[str, object],
    python: str,
    timeout: float,
    passthrough: Passthrough | None = None,
    on_observe: OnObserve | None = None,
    task_detail: int | None = None,
) -> Observation:
    """Run the user's own program (``poolctl trace``) and return what it reported.

    ``target`` holds its ``argv`` and its ``path`` or ``module``. Its output is recorded,
    and shown live as ``passthrough`` says (nowhere without it). The same guarantees as
    ``observe``. ``task_detail``: how many map items of each pool send events of their
    own (the rest, a chunk's at a time); None, every item.

    A Ctrl-C (SIGINT to poolctl, in the main thread, while its handler is Python's) is
    passed on to the program's process group, as the terminal would have delivered it:
    the program ends as it chooses and the run is reported as any other. If it has not
    ended ``INTERRUPT_GRACE_SECONDS`` later, or at a second Ctrl-C, poolctl's own handler
    runs (the command line: ``Interrupted``, every process stopped, 130).
    """

    def command(directory: Path) -> list[str]:
        spec = {
            "channel": str(directory),
            "trace": target,
            "subject_root": str(SUBJECT_ROOT),
            "task_detail": task_detail,
        }
        return [python, "-c", TRACE_BOOTSTRAP, str(SUBJECT_ROOT), _spec_file(directory, spec)]

    return _observe(command, python, timeout, None, passthrough, on_observe, pass_ctrl_c=True)


# marshal's version 2 (no shared references): what every subject interpreter reads.
SPEC_MARSHAL_VERSION = 2


def _spec_file(directory: Path, spec: dict[str, object]) -> str:
    """Write ``spec`` into the run's private directory; its path, for the subject's argv.

    In ``marshal``'s format, not JSON: the subject reads it without importing ``json``,
    which a traced program must find unimported, as under plain ``python``.
    """
    path = directory / "spec.marshal"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(marshal.dumps(spec, SPEC_MARSHAL_VERSION))
    return str(path)


def _subject_temp(directory: Path) -> str:
    """The TMPDIR of a scenario's subject: the run's private directory, so that what
    multiprocessing leaves in it (``pymp-*``, when the run is killed before its clean-up
    ran) goes with the run. Empty (the caller's TMPDIR) where its sockets would not fit.
    A traced program keeps the caller's TMPDIR: its environment is not poolctl's to change.
    """
    return str(directory) if len(str(directory)) <= SUBJECT_TEMP_MAX else ""


def _observe(
    command: Callable[[Path], list[str]],
    python: str,
    timeout: float,
    cancel: threading.Event | None,
    passthrough: Passthrough | None,
    on_observe: OnObserve | None,
    *,
    pass_ctrl_c: bool,
) -> Observation:
    # A subreaper for the run only: the caller gets its own setting back (see process_group).
    with process_group.subreaper(), private_dir() as directory, contextlib.ExitStack() as fds:
        run: _Run | None = None
        finished = False
        try:
            # A traced program's Ctrl-C is taken from the start: one that comes while the
            # program starts (which may be before poolctl knows it has) is passed on too.
            with signals.taken(signal.SIGINT) if pass_ctrl_c else _nothing() as ctrl_c:
                # Ctrl-C or SIGTERM is held back until the run is started and known: raised
                # in Popen, it would lose a subject already forked (see signals.py). It is
                # raised when this block ends, inside the try: the clean-up still runs.
                with signals.deferred():
                    run = _start(command(directory), directory, python, fds, passthrough)
                if on_observe is not None:
                    obs = run.obs
                    on_observe(Observed(directory, obs.t0_ns, obs.pid, timeout, run.screen))
                _watch(run, run.obs.t0_ns + int(timeout * 1e9), cancel, ctrl_c)
            _settle(run)
            finished = True
        except Interrupted as exc:
            if run is not None:
                # The run is stopped below; what it recorded goes with the exception, so
                # that the caller can still report it (see Interrupted.observation).
                _mark_stopped(run, exc)
                exc.observation = run.obs
            raise
        finally:
            # Reached normally, and also on Ctrl-C or SIGTERM: nothing of the run survives.
            if run is not None:
                if not finished:
                    run.echo.discard()  # interrupted: what no reader took yet is dropped
                with signals.deferred():
                    _clean_up(run)
                    # No process of the run is left to write: the files are complete.
                    run.obs.event_files = open_events(directory)
                    if run.obs.stopped_ns is not None and run.obs.exit_ns is None:
                        # Killed by the clean-up: its end is when poolctl stopped it.
                        run.obs.exit_ns = run.obs.stopped_ns
                        run.obs.exit_code = run.dog.returncode
    # The run is over (and every process of it gone): what its pass-through still holds
    # goes to the reader now, at the reader's pace, as a pipe's buffer would.
    run.echo.finish()
    return run.obs


def _mark_stopped(run: _Run, exc: Interrupted) -> None:
    """Note that poolctl was stopped by a signal while the run went on (a run stopped at
    --timeout already is reported hung: that is what it was)."""
    if run.obs.hung:
        return
    run.obs.stopped_ns = time.monotonic_ns()
    run.obs.stopped_by = signal.Signals(exc.exit_code - 128).name


def _start(
    argv: list[str],
    directory: Path,
    python: str,
    fds: contextlib.ExitStack,
    passthrough: Passthrough | None,
) -> _Run:
    """Start the subject under its watchdog (told the run's ``directory``); the run's
    state."""
    stdin: int | None = None
    stdout: int | None = None
    terminal = None
    if passthrough is not None:
        if passthrough.stdin is not None:
            stdin = passthrough.stdin
        if passthrough.terminal and passthrough.stdout is not None:
            terminal, stdout = _pseudo_terminal(passthrough.stdout)
            fds.callback(os.close, terminal)
    try:
        dog = watchdog.start(argv, stdin=stdin, stdout=stdout, directory=str(directory))
    except OSError as exc:
        raise ObserveError(f"could not start {python}: {exc.strerror or exc}") from exc
    finally:
        if terminal is not None:
            os.close(stdout)  # type: ignore[arg-type]  # the program's end: only it writes
    streams = {dog.stderr_fd: "stderr"}
    streams[terminal if terminal is not None else dog.stdout_fd] = "stdout"  # type: ignore[index]
    echo: dict[str, BinaryIO] = {}
    if passthrough is not None:
        shown = {"stdout": passthrough.stdout, "stderr": passthrough.stderr}
        echo = {stream: to for stream, to in shown.items() if to is not None}
    obs = Observation(t0_ns=dog.t0_ns, pid=dog.pid)
    return _Run(dog, obs, streams, echo)


def _clean_up(run: _Run) -> None:
    """Kill and reap every process of the run, read what they left, close the streams."""
    # The watchdog kills every descendant, reaps them, removes the pymp-* directories of
    # their sockets (killed, they cannot), and leaves.
    run.dog.stop()
    _drain(run)
    run.close()


def _pseudo_terminal(like: BinaryIO) -> tuple[int, int]:
    """A pseudo-terminal ``(poolctl's end, the program's end)`` the size of ``like``'s.

    Its output is passed on unchanged (no newline translation): the program sees a
    terminal, so its stdout is line-buffered as it would be, not block-buffered.
    """
    import fcntl
    import termios

    ours, theirs = os.openpty()
    attrs = termios.tcgetattr(theirs)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(theirs, termios.TCSANOW, attrs)
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(like.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(theirs, termios.TIOCSWINSZ, size)
    return ours, theirs


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield None


class _CtrlC:
    """Ctrl-C while a traced program runs (``signals.taken``): the first is passed on to
    the program's process group; a second one, or the program still running
    ``INTERRUPT_GRACE_SECONDS`` later, goes back to poolctl's handler."""

    def __init__(self, taken: signals.Taken) -> None:
        self.taken: signals.Taken | None = taken
        self.give_up_ns: int | None = None  # set once passed on

    def act(self, run: _Run) -> None:
        """Pass on or give back what came since the last look (poolctl's handler may
        raise: ``Interrupted``, through the clean-up)."""
        taken = self.taken
        if taken is None or not taken.count:
            return
        now = time.monotonic_ns()
        if taken.count > 1 or (self.give_up_ns is not None and now >= self.give_up_ns):
            # An API caller's handler may return instead (an event loop's): it has had the
            # Ctrl-C, and the run goes on as if none had been taken.
            self.taken = None
            taken.give_back()
        elif self.give_up_ns is None:
            # False if the program has just ended by itself: its end is noted next.
            run.dog.signal_group(taken.signum)
            run.obs.interrupted_ns = now
            self.give_up_ns = now + int(INTERRUPT_GRACE_SECONDS * 1e9)


def _watch(
    run: _Run, deadline_ns: int, cancel: threading.Event | None, taken: signals.Taken | None
) -> None:
    """Pump until the main process exits or the deadline passes (then: hung); a Ctrl-C
    ``taken`` is passed on to the program (``_CtrlC``)."""
    ctrl_c = _CtrlC(taken) if taken is not None else None
    while run.obs.exit_ns is None:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if run.dog.gone and run.dog.returncode is None:
            raise ObserveError("the run's watchdog was killed: its end could not be seen")
        if ctrl_c is not None:
            ctrl_c.act(run)
        remaining = (deadline_ns - time.monotonic_ns()) / 1e9
        if remaining <= 0:
            run.obs.hung = True
            run.obs.timeout_ns = deadline_ns
            run.dog.kill()
            run.obs.exit_code = run.dog.wait(watchdog.STOP_SECONDS)
            run.obs.exit_ns = time.monotonic_ns()
            return
        run.pump(min(remaining, POLL_SECONDS))


def _settle(run: _Run) -> None:
    """Give the rest of the group a grace period to leave; kill and report what stays."""
    deadline = time.monotonic_ns() + int(GRACE_SECONDS * 1e9)
    while time.monotonic_ns() < deadline:
        if not run.dog.others():
            return
        run.pump(POLL_SECONDS)
    run.obs.leftovers = [Leftover(m.pid, m.command) for m in run.dog.others()]
    run.obs.leftovers_ns = time.monotonic_ns()
    run.dog.kill()


def _drain(run: _Run) -> None:
    """Read what is left in the channel and pipes now that no writer remains."""
    deadline = time.monotonic_ns() + int(DRAIN_SECONDS * 1e9)
    run.draining = True  # at most a pipe's capacity is left to read
    while run.open_streams and time.monotonic_ns() < deadline:
        run.pump(POLL_SECONDS)
