"""The watchdog: each run's own subreaper and its subject's parent (see watchdog_main.py).

Every process a run starts stays the watchdog's descendant whatever it does (``setsid``,
``setpgid``, ``start_new_session``, a double fork): orphans go to the nearest subreaper
ancestor, which is the watchdog, not poolctl or init. So the run's processes are always
"the watchdog's descendants", and the watchdog kills them all when poolctl asks or dies
(SIGKILL included: the kernel closes poolctl's end of the control pipe), and then removes
the files the run would otherwise leave (multiprocessing's ``pymp-*``; the run's private
directory if poolctl died). It lives in a session of its own, out of reach of the run's
``killpg``.

Why a separate process and not poolctl itself: after poolctl's death its orphans go up to
the next subreaper or init, out of anyone's sight. Why not PR_SET_PDEATHSIG or code in the
subject: it would change the observed program, and is not inherited across fork. Why
Python and not ``sh``: a shell can neither be a subreaper nor find and reap orphans. Cost:
one start of this interpreter with ``-I -S`` (about 10 ms, see BENCHMARKS.md).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import select
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ObserveError
from . import process_group, watchdog_main

SCRIPT = Path(__file__).resolve().parent / "watchdog_main.py"
# How long the watchdog may take to start the subject, and to kill everything and leave.
START_SECONDS = 10.0
STOP_SECONDS = 15.0


class _Forked:
    """A watchdog forked from poolctl, waited for as a ``Popen`` would be."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.001)
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


class Watchdog:
    """A started run: the watchdog process, its subject's pid, and its reports.

    ``report_fd`` becomes readable when the subject's exit is known (``poll``);
    ``stdout_fd`` and ``stderr_fd`` are the subject's output pipes (None: not piped).
    """

    def __init__(
        self,
        proc: subprocess.Popen[bytes] | _Forked,
        control: int,
        report: int,
        outputs: tuple[int | None, int],
    ) -> None:
        self.proc = proc
        self.stdout_fd, self.stderr_fd = outputs
        self._control: int | None = control
        self.report_fd = report
        self._pending = b""
        self.pid = 0  # the subject's
        self.t0_ns = 0
        self.returncode: int | None = None  # as Popen's: negative for a signal
        self.exit_ns: int | None = None
        self.gone = False  # the watchdog has closed its report pipe (it has left)

    def _read(self, timeout: float) -> None:
        """Take what the watchdog said within ``timeout`` seconds."""
        if self.gone or not readable([self.report_fd], timeout):
            return
        chunk = os.read(self.report_fd, 4096)
        if not chunk:  # the watchdog is gone
            self.gone = True
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            word, *numbers = line.split()
            values = [int(n) for n in numbers]
            if word == b"start":
                self.pid, self.t0_ns = values
            elif word == b"exit":
                self.returncode = os.waitstatus_to_exitcode(values[0])
                self.exit_ns = values[1]
            elif word == b"error":
                raise OSError(values[0], os.strerror(values[0]))

    def started(self) -> None:
        """Wait until the subject runs; ``OSError`` if it could not be started."""
        deadline = time.monotonic() + START_SECONDS
        while not self.pid:
            if self.gone or time.monotonic() > deadline:
                raise ObserveError("the run's watchdog did not start")
            self._read(deadline - time.monotonic())

    def poll(self) -> int | None:
        """The subject's return code once it has ended (never blocks)."""
        if self.returncode is None:
            self._read(0)
        return self.returncode

    def wait(self, timeout: float) -> int | None:
        """The subject's return code, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        while self.returncode is None and not self.gone:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._read(remaining)
        return self.returncode

    def others(self) -> list[process_group.Member]:
        """The run's live processes besides the subject (while it runs)."""
        found = process_group.descendants(self.proc.pid)
        if self.returncode is None:
            return [m for m in found if m.pid != self.pid]
        return found  # the subject is reaped: its pid may be another's now

    def signal_group(self, signum: int) -> bool:
        """Send ``signum`` to the subject's process group (its own, where its workers are
        too), as a terminal sends Ctrl-C to its foreground job; False once it has ended.

        Only until its exit is known: its pid stays its group's id while the group has a
        member, and the subject's own is held until the watchdog reaps it."""
        if not self.pid or self.poll() is not None:
            return False
        try:
            os.killpg(self.pid, signum)
        except OSError:
            return False
        return True

    def kill(self) -> None:
        """Have every process of the run killed (the watchdog then leaves)."""
        if self._control is not None:
            with contextlib.suppress(OSError):
                os.write(self._control, b"kill\n")

    def stop(self) -> None:
        """Kill the run and wait (bounded) for the watchdog to leave: nothing is left."""
        if self.proc.poll() is not None and self.returncode is None and self.pid:
            self._orphaned()
        self.kill()
        try:
            self.proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            # Not expected: the watchdog's kill phase is bounded. End what can be found.
            for member in process_group.descendants(self.proc.pid):
                process_group.kill_pid(member.pid)
            self.proc.kill()
            self.proc.wait()
        self.wait(1.0)  # the subject's exit, said just before the watchdog left

    def _orphaned(self) -> None:
        """The watchdog was killed (by the program, or by hand) while the subject ran.

        Its orphans went up to poolctl, a subreaper too: the subject, its process group
        and descendants are ended and the subject reaped here. What the subject had
        orphaned already cannot be told from another run's processes, and may be left.
        """
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
            for member in process_group.descendants(self.pid):
                process_group.kill_pid(member.pid)
            process_group.kill_pid(self.pid)
            try:
                if os.waitpid(self.pid, 0)[0]:
                    return
            except ChildProcessError:  # not ours (yet): adopted in a moment, or gone
                if not Path(f"/proc/{self.pid}").exists():
                    return
                time.sleep(0.005)

    def close_output(self, fd: int) -> bool:
        """Close poolctl's end of the subject's stdout or stderr pipe ``fd`` (False: not
        one of them): the run's next write to it fails (EPIPE), as it would for a program
        whose reader went away."""
        if fd == self.stdout_fd:
            self.stdout_fd = None
        elif fd == self.stderr_fd:
            self.stderr_fd = -1
        else:
            return False
        os.close(fd)
        return True

    def close(self) -> None:
        """Close the pipes to the watchdog and from the subject (after ``stop``)."""
        for fd in (self._control, self.report_fd, self.stdout_fd, self.stderr_fd):
            if fd is not None and fd >= 0:
                os.close(fd)
        self._control = self.stdout_fd = None
        self.report_fd = self.stderr_fd = -1


def start(
    argv: list[str],
    stdin: int | None = None,
    stdout: int | None = None,
    directory: str = "",
) -> Watchdog:
    """Start ``argv`` under a new watchdog, reading ``stdin`` (a file descriptor, default
    /dev/null) and writing to ``stdout`` (default: a new pipe) and to a new stderr pipe.
    ``directory``: the run's private directory, which the watchdog removes if poolctl dies
    (its ``finally`` cannot run then).

    Raises ``OSError`` as Popen would when ``argv`` cannot be started.
    """
    closing: list[int] = []  # the subject's ends, ours to close once it has them
    ours: list[int] = []  # poolctl's ends, closed only if the start fails
    try:
        if stdin is None:
            stdin = os.open(os.devnull, os.O_RDONLY)
            closing.append(stdin)
        stdout_fd = None
        if stdout is None:
            stdout_fd, stdout = os.pipe()
            ours.append(stdout_fd)
            closing.append(stdout)
        stderr_fd, stderr = os.pipe()
        ours.append(stderr_fd)
        closing.append(stderr)
        control_r, control_w = os.pipe()
        ours.append(control_w)
        closing.append(control_r)
        report_r, report_w = os.pipe()
        ours.append(report_r)
        closing.append(report_w)
        stdio = (stdin, stdout, stderr)
        if _can_fork():
            proc: subprocess.Popen[bytes] | _Forked = _fork(
                control_r, report_w, argv, stdio, directory
            )
        else:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", _script(), str(control_r), str(report_w)],
                pass_fds=(control_r, report_w),
                start_new_session=True,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
            )
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in closing:
            os.close(fd)
    dog = Watchdog(proc, control_w, report_r, (stdout_fd, stderr_fd))
    try:
        if not isinstance(proc, _Forked):
            command = b"".join(os.fsencode(each) + b"\0" for each in [directory, *argv])
            with os.fdopen(os.dup(control_w), "wb") as control:  # writes it all, blocking
                control.write(b"%d\n%s" % (len(command), command))
        dog.started()
    except BaseException:
        dog.stop()
        dog.close()
        raise
    return dog


def readable(fds: list[int], timeout: float) -> list[int]:
    """Which of ``fds`` can be read within ``timeout`` seconds (poll: any descriptor
    number, where select stops at 1024)."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll(max(timeout, 0) * 1000)]


def _can_fork() -> bool:
    """Whether the watchdog may be a fork of this process (see ``_fork``)."""
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return sys.platform.startswith("linux") and gil


def _script() -> str:
    """What the exec'd watchdog runs: the ``.pyc`` that importing ``watchdog_main`` left,
    if it is that of the source as it is now (Python runs it as it would the source,
    without compiling the source again on every run: about 1 ms of its start), else the
    source itself."""
    cached: str | None = getattr(watchdog_main, "__cached__", None)
    if not cached:
        return str(SCRIPT)
    try:
        source = Path(watchdog_main.__file__).stat()
        with open(cached, "rb") as f:
            header = f.read(16)
    except OSError:  # no .pyc (PYTHONDONTWRITEBYTECODE, a read-only place)
        return str(SCRIPT)
    # As importlib writes a timestamp-based .pyc: magic, flags 0, the source's mtime, size.
    size, mtime = source.st_size & 0xFFFFFFFF, int(source.st_mtime) & 0xFFFFFFFF
    fresh = importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, mtime, size)
    return cached if header == fresh else str(SCRIPT)


def _fork(
    control: int, report: int, argv: list[str], stdio: tuple[int, ...], directory: str
) -> _Forked:
    """The watchdog as a fork of this process (no exec: a fraction of a millisecond).

    Other threads may exist (poolctl's warm-up imports, compare's runs, an API caller's):
    a lock one of them holds stays held in the child. So the child takes none: it imports
    nothing, loads no library (``prctl`` is looked up here, before the fork), logs nothing,
    and leaves by ``os._exit`` whatever happens. The interpreter's own locks (the GIL, the
    import lock) are reset in the child by ``os.fork``; without a GIL (free-threaded
    builds) the objects' own locks are not, and the watchdog is exec'd instead.
    """
    prctl = process_group.prctl()
    pid = os.fork()
    if pid:
        return _Forked(pid)
    code = 1
    try:
        gc.disable()  # nothing of poolctl's may be finalised in here
        os.setsid()
        keep = {control, report, *stdio}
        for fd in _open_fds():
            if fd > 2 and fd not in keep:
                with contextlib.suppress(OSError):
                    os.close(fd)
        code = watchdog_main.serve(control, report, argv, stdio, prctl, directory)
    finally:
        os._exit(code)


def _open_fds() -> list[int]:
    """This process's open file descriptors."""
    try:
        return [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(os.sysconf("SC_OPEN_MAX")))


@dataclass(frozen=True)
class Finished:
    """What a bounded run (``run_bounded``) left: its code (None: hung), its output."""

    returncode: int | None
    stdout: bytes
    stderr: bytes


def run_bounded(argv: list[str], timeout: float, limit: int = 65536) -> Finished:
    """Run ``argv`` as a run is run: under a watchdog, every process it starts ended.

    At most ``timeout`` seconds, and the first ``limit`` bytes of each stream. Raises
    ``OSError`` when ``argv`` cannot be started.
    """
    dog = start(argv)
    assert dog.stdout_fd is not None
    stdout, stderr = bytearray(), bytearray()
    kept = {dog.stdout_fd: stdout, dog.stderr_fd: stderr}
    deadline = time.monotonic() + timeout
    try:
        while kept:
            # Once it has ended, what it left running may hold the pipes: not waited for.
            if dog.poll() is not None:
                deadline = min(deadline, time.monotonic() + 0.2)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            waited = [*kept] + ([] if dog.gone else [dog.report_fd])
            for fd in readable(waited, min(remaining, 0.05)):
                if fd == dog.report_fd:
                    dog.poll()
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    del kept[fd]
                else:
                    kept[fd] += chunk[: max(limit - len(kept[fd]), 0)]
        if dog.returncode is None and deadline > time.monotonic():
            dog.wait(deadline - time.monotonic())
    finally:
        code = dog.returncode
        dog.stop()
        dog.close()
    return Finished(code, bytes(stdout), bytes(stderr))
