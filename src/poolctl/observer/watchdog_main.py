"""The watchdog process of one run: its subreaper, its subject's parent, its executioner.

Run as ``python -I -S watchdog_main.py CONTROL_FD REPORT_FD`` by watchdog.py, in a session
of its own (the run's ``killpg`` cannot reach it). It reads the run's private directory and
the subject's command line from CONTROL_FD (their length in bytes on a line, then the
directory, empty for none, and each argument, each ended by a NUL: not on its own command
line, where ``pkill -f`` would take it for the subject), makes
itself a child subreaper, then spawns the subject in a process group of its own. Every process
the run ever starts is then its descendant, whatever it does: what ``setsid``s or
double-forks away is orphaned to this process, not to poolctl or init, and this stays so
after poolctl dies. It reports on REPORT_FD, one line each::

    start PID T0_NS     the subject is running (T0: just before it was spawned)
    exit STATUS T_NS    the subject ended (STATUS: the raw wait status), reaped at T
    error ERRNO         the subject could not be started

It reaps every orphan it adopts, and kills every descendant (then exits) when CONTROL_FD
says ``kill`` or reaches end-of-file: poolctl asked, or poolctl died (the kernel closes
its end of the pipe however it dies, SIGKILL included).

No file of the run may outlive it either. A killed run never reaches multiprocessing's
own clean-up, which removes the ``pymp-*`` directory its Unix sockets are in (the fork
server's listener, a manager's address): in the caller's TMPDIR for a traced program. So
just before the kill the directories of the sockets the descendants hold are noted
(``/proc/PID/fd`` -> ``/proc/net/unix``), and removed once every descendant is gone. And
when poolctl died (end-of-file without ``kill``), the run's private directory, which
poolctl's own clean-up would have removed, is removed here (poolctl's lock on it died
with poolctl; the next run's sweep, workspace.py, stays as a backstop).

Standard library only, imports kept to what it needs: it starts on every run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import sys
import time
from collections.abc import Callable

_PR_SET_CHILD_SUBREAPER = 36
_PYMP = "pymp-"  # the prefix of multiprocessing.util.get_temp_dir's directories
# How long poolctl's lock on its run directory may outlive the end of its control pipe
# (the kernel closes a dead process's files one by one).
_LOCK_SECONDS = 0.5
# The deepest a tree is removed (each level holds a descriptor); deeper is left alone.
_MAX_DEPTH = 64
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# A bound on the kill phase, so that nothing (e.g. a process stuck in the kernel) keeps
# this process alive for ever.
_KILL_SECONDS = 10.0


def _set_subreaper(prctl: Callable[..., int] | None) -> None:
    """Become a child subreaper, through ``prctl`` if given (already looked up: a forked
    watchdog must not load a library, another thread may hold the loader's lock)."""
    if prctl is None:
        if not sys.platform.startswith("linux"):
            return
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _parents() -> dict[int, int]:
    """pid -> ppid of every process, from /proc (empty where there is none)."""
    found: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/" + name + "/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[0] != b"Z":  # a zombie is dead already: its parent reaps it
            found[int(name)] = int(fields[1])
    return found


def _descendants(root: int) -> list[int]:
    """Live descendants of ``root``, found through the parent links in /proc."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def _kill_all_once(me: int) -> None:
    """SIGKILL every live descendant, through pidfds: a pid reused meanwhile is spared."""
    opened: dict[int, int] = {}
    for pid in _descendants(me):
        try:
            opened[pid] = os.pidfd_open(pid)
        except AttributeError:  # no pidfds here: by pid, as kill(1) would
            _signal_pid(pid)
        except OSError:
            continue  # gone already
    # Opened before this second look, each pidfd names the process seen, not a successor.
    still = set(_descendants(me)) if opened else set()
    for pid, fd in opened.items():
        try:
            if pid in still:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(fd)


def _signal_pid(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def _socket_dirs(pids: list[int]) -> set[str]:
    """The ``pymp-*`` directories holding a Unix socket that one of ``pids`` has open."""
    inodes: set[bytes] = set()
    for pid in pids:
        fds = f"/proc/{pid}/fd/"
        try:
            names = os.listdir(fds)
        except OSError:  # gone already
            continue
        for name in names:
            try:
                link = os.readlink(fds + name)  # noqa: PTH115 (pathlib: see below)
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[len("socket:[") : -1].encode())
    found: set[str] = set()
    if not inodes:
        return found
    try:
        with open("/proc/net/unix", "rb") as f:
            table = f.read().splitlines()[1:]
    except OSError:
        return found
    for line in table:
        # Num RefCount Protocol Flags Type St Inode Path
        fields = line.split(None, 7)
        if len(fields) == 8 and fields[6] in inodes:
            # String work, not pathlib: importing it would slow every run's start.
            parent = os.fsdecode(fields[7]).rpartition("/")[0]
            if parent.startswith("/") and parent.rpartition("/")[2].startswith(_PYMP):
                found.add(parent)
    return found


def _remove_tree(path: str, locked: bool = False) -> None:
    """Remove directory ``path`` and what it holds, if it is a real directory of this
    user's; never through a symlink, at the top or below (the run may have planted one).

    ``locked``: a run directory (workspace.py), removed only once no one holds its
    ``flock`` (poolctl's lock dies with poolctl; a run under way is never touched).
    """
    parent, _, name = path.rpartition("/")
    try:
        parent_fd = os.open(parent, _DIR_FLAGS)
    except OSError:
        return
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)  # a symlink: ELOOP
    except OSError:
        os.close(parent_fd)
        return
    try:
        if os.fstat(fd).st_uid != os.geteuid() or (locked and not _lock(fd)):
            return
        _empty(fd, 0)
        with contextlib.suppress(OSError):
            os.rmdir(name, dir_fd=parent_fd)
    finally:
        os.close(fd)
        os.close(parent_fd)


def _lock(fd: int) -> bool:
    """Take the directory's lock, waiting a little for a dying poolctl to drop it."""
    deadline = time.monotonic() + _LOCK_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)


def _empty(fd: int, depth: int) -> None:
    """Remove what the directory open as ``fd`` holds (not following symlinks)."""
    try:
        with os.scandir(fd) as entries:
            found = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    except OSError:
        return
    for name, is_dir in found:
        with contextlib.suppress(OSError):
            if not is_dir:
                os.unlink(name, dir_fd=fd)
            elif depth < _MAX_DEPTH:
                inner = os.open(name, _DIR_FLAGS, dir_fd=fd)
                try:
                    _empty(inner, depth + 1)
                finally:
                    os.close(inner)
                os.rmdir(name, dir_fd=fd)


class _Watch:
    """The subject, and the line to poolctl."""

    def __init__(self, report_fd: int, subject: int) -> None:
        self.report_fd = report_fd
        self.subject = subject
        self.reported = False

    def say(self, line: str) -> None:
        with contextlib.suppress(OSError):  # poolctl is gone: nobody to tell
            os.write(self.report_fd, (line + "\n").encode())

    def reap(self) -> bool:
        """Reap every child that has ended, report the subject's end; False: no child left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.subject and not self.reported:
                self.reported = True
                self.say(f"exit {status} {time.monotonic_ns()}")

    def kill_all(self) -> None:
        """Kill every descendant until none is left, reaping them as they die; then remove
        the ``pymp-*`` directories they held sockets in (killed, they cannot)."""
        me = os.getpid()
        sockets: set[str] | None = None
        deadline = time.monotonic() + _KILL_SECONDS
        while time.monotonic() < deadline:
            # No child left: no descendant either (every one has an ancestor among our
            # children until it is orphaned to us), and all were reaped. The usual case.
            if not self.reap():
                for directory in sockets or ():
                    _remove_tree(directory)
                return
            if sockets is None:  # before the first kill, while they still hold them
                sockets = _socket_dirs(_descendants(me))
            # The subject's group too: the only way to find it where there is no /proc.
            with contextlib.suppress(OSError):
                os.killpg(self.subject, signal.SIGKILL)
            _kill_all_once(me)
            time.sleep(0.002)


def _read_command(fd: int) -> list[str]:
    """The run's directory ('' for none), then the subject's arguments, as watchdog.py
    sends them ([] if poolctl is gone)."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 65536)
        if not chunk:
            return []
        data += chunk
    size, _, data = data.partition(b"\n")
    while len(data) < int(size):
        chunk = os.read(fd, 65536)
        if not chunk:
            return []
        data += chunk
    return [os.fsdecode(each) for each in data.split(b"\0")[:-1]]


def serve(
    control_fd: int,
    report_fd: int,
    command: list[str],
    stdio: tuple[int, ...],
    prctl: Callable[..., int] | None = None,
    directory: str = "",
) -> int:
    """Spawn ``command`` with ``stdio`` as its standard streams; watch, reap, kill, leave
    (removing the run's ``directory``, if any, should poolctl die first).

    Runs in the watchdog process, whether exec'd (``main``) or forked from poolctl.
    """
    # Above 2, all of them: a poolctl started with a standard stream closed may have been
    # given one of 0-2 for a pipe, which moving the streams into place would overwrite.
    given = (control_fd, report_fd)
    control_fd, report_fd, *moved = (_above_2(fd) for fd in (*given, *stdio))
    for fd in given:
        if fd > 2:
            os.close(fd)
    # Dispositions the subject gets as a child of poolctl would: what poolctl ignored it
    # ignores, the rest back to default (SIGPIPE too, as Popen does).
    ours = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    kept = {each for each in ours if signal.getsignal(each) == signal.SIG_IGN}
    default = [each for each in ours if each not in kept] + [signal.SIGPIPE, signal.SIGXFSZ]
    # The run's signals are not ours: only poolctl (or its death) ends this process.
    for each in (*ours, signal.SIGPIPE):
        signal.signal(each, signal.SIG_IGN)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    _set_subreaper(prctl)
    moves = [(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(moved)]
    t0 = time.monotonic_ns()
    try:
        subject = os.posix_spawnp(
            command[0], command, os.environ, setpgroup=0, setsigdef=default, file_actions=moves
        )
    except OSError as exc:
        os.write(report_fd, f"error {exc.errno or 0}\n".encode())
        return 1
    watch = _Watch(report_fd, subject)
    watch.say(f"start {subject} {t0}")
    # The streams are the subject's: poolctl sees their end once the run's processes close
    # them, never held open by this one.
    for fd in {*stdio, *moved}:
        if fd > 2:
            os.close(fd)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    poller = select.poll()  # not select(): the descriptors may be numbered past 1024
    poller.register(control_fd, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while True:
        ready = [fd for fd, _ in poller.poll()]
        if wake_r in ready:
            os.read(wake_r, 512)
        watch.reap()
        if control_fd in ready:
            try:
                said = os.read(control_fd, 512)
            except OSError:
                said = b""
            if not said or b"kill" in said:
                watch.kill_all()
                watch.reap()
                if not said and directory:  # poolctl died: its clean-up is ours
                    _remove_tree(directory, locked=True)
                return 0


def _above_2(fd: int) -> int:
    """A copy of ``fd`` numbered 3 or more, closed on exec."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def main(argv: list[str]) -> int:
    """The exec'd watchdog: its pipes' numbers in ``argv``, the command on the control pipe."""
    control_fd, report_fd = int(argv[1]), int(argv[2])
    # Ours only: the subject inherits nothing but its standard streams.
    os.set_inheritable(control_fd, False)
    os.set_inheritable(report_fd, False)
    directory, *command = _read_command(control_fd) or [""]
    if not command:
        return 1
    return serve(control_fd, report_fd, command, (0, 1, 2), directory=directory)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
