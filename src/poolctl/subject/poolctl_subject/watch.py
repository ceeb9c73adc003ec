"""Record how every worker ended, from the parent side.

A worker killed by ``terminate()`` cannot report its own death, so the main process does:
a daemon thread waits on the workers' sentinels (readable once a worker has exited) and
sends ``worker.exited`` at that moment. It never reaps a worker, which would change what
the pool sees: the exit status is only peeked at (``waitid`` with ``WNOWAIT``, or on PyPy,
which has no ``os.waitid``, the zombie's status in ``/proc``).

Under forkserver the workers are the fork server's children, not ours, and a sentinel
carries the exit status: once the pool has read it, the sentinel need not stay readable
(measured on CPython 3.11), so it cannot tell us a worker is gone. There a pidfd does
(Linux, Python 3.9+). Everywhere, a worker whose exit status the pool already holds is
gone too; the final report, run at exit after multiprocessing's own clean-up, catches
whatever is left.

The watcher is poolctl's code running inside the program: whatever it raises is caught,
reported as ``observer.failed``, and ends the watching of that pool, never the program.
It also says (``channel.lost``) when the workers it sees start could not create their
event files (``shared_events.check_channel``).
"""

import contextlib
import os
import threading
import time
from multiprocessing.connection import wait

from .channel import emit
from .shared_events import check_channel, observer_failed

# How often the watcher looks for workers the pool started since its last look.
_SCAN_SECONDS = 0.02
# After the pool's own waitpid, Popen sets returncode within microseconds: look for up to
# 2 ms (this thread only; the pool's threads and the workers are not slowed).
_REAP_SPINS = 20

# Every watcher started in this process, in the order the pools were created.
_watches = []


class WorkerWatch:
    """Follows the workers of one pool (of kind ``kind``, a ``pool_kinds`` class) through
    the pool's own collection of workers."""

    def __init__(self, kind, workers, start_method, pool=None, channel_dir=None):
        self._kind = kind
        # The pool's list (or the executor's dict) of workers, which it updates in place.
        # Holding the collection rather than the pool keeps the pool collectable.
        self._workers = workers
        # Which pool of the program (``poolctl trace`` follows several); None: the only one.
        self._tag = {} if pool is None else {"pool": pool}
        self._peek = start_method not in ("forkserver", None)
        self._seen = {}
        self._exited = set()
        self._lock = threading.Lock()
        self._pidfds = {}
        # Exited workers whose exit code was not known yet when their exit was recorded.
        self._unknown = {}
        # Set once poolctl's own code failed here: this pool is no longer followed.
        self._failed = False
        # Where the workers store their events, and the credentials last found able to.
        self._channel_dir = None if kind.threads else channel_dir
        self._credentials = None
        for worker in kind.members(workers):
            self._seen[kind.worker_id(worker)] = worker

    def start(self):
        _watches.append(self)
        self._guarded("watch: start", self._check_channel)
        thread = threading.Thread(target=self._run, name="poolctl-watch", daemon=True)
        thread.start()

    def _run(self):
        self._guarded("watch: the watcher thread", self._follow)

    def _follow(self):
        while not self._failed:
            self._check(timeout=_SCAN_SECONDS)

    def _guarded(self, where, function):
        """Run ``function`` (poolctl's code): if it raises, say so and stop following this
        pool; the program, whose thread this may be, never sees the exception."""
        if self._failed:
            return
        try:
            function()
        except Exception as exc:
            self._failed = True
            observer_failed(where, exc)

    def _check_channel(self):
        """Whether workers started now can store events (again when the program changed its
        user since the last look): ``channel.lost`` if not."""
        if self._channel_dir is None:
            return
        credentials = (os.geteuid(), os.getegid())
        if credentials != self._credentials:
            self._credentials = credentials
            if not check_channel(self._channel_dir, **self._tag):
                self._channel_dir = None  # said once for this pool

    def _check(self, timeout):
        """Record every worker that has exited, waiting up to ``timeout`` for one to.

        Only the watcher thread calls this: it alone opens, waits on and closes pidfds.
        """
        self._scan()
        pending = self._pending()
        self._record_stopped_threads(pending)
        handles = {}
        for process in pending:
            handle = self._handle(process)
            if handle is not None:
                handles[handle] = process
        ready = []
        if handles:
            with contextlib.suppress(OSError, ValueError):
                ready = wait(list(handles), timeout=timeout)
        elif timeout:
            time.sleep(timeout)
        for handle in ready:
            self._record_exit(handles[handle])
        self._record_known_exits(pending)
        self._record_late_codes()
        for pid in [pid for pid in self._pidfds if pid in self._exited]:
            pidfd = self._pidfds.pop(pid)
            if pidfd is not None:
                os.close(pidfd)

    def sync(self):
        """Record the exits the pool already knows of, now (any thread).

        Called before a call that joins the workers (``join()``, ``terminate()``,
        ``shutdown(wait=True)``) is reported as returned: the timeline must never show a
        worker exiting after that. Runs in the program's thread: guarded.
        """
        self._guarded("watch: sync", self._sync)

    def _sync(self):
        self._scan()
        pending = self._pending()
        self._record_stopped_threads(pending)
        self._record_known_exits(pending)

    def live_pids(self):
        """Ids of the workers not known to have exited, oldest first."""
        return [self._kind.worker_id(w) for w in self._pending()]

    def _pending(self):
        with self._lock:
            return [w for wid, w in self._seen.items() if wid not in self._exited]

    def _record_known_exits(self, processes):
        for process in processes:
            if self._kind.exit_code(process) is not None:
                self._record_exit(process)

    def _record_stopped_threads(self, workers):
        for worker in workers:
            if self._kind.threads and not worker.is_alive():
                self._record_exit(worker)

    def _scan(self):
        found = False
        for worker in self._kind.members(self._workers):
            wid = self._kind.worker_id(worker)
            with self._lock:
                if wid in self._seen:
                    continue
                self._seen[wid] = worker
                tag = dict(self._tag, thread=True) if self._kind.threads else self._tag
                emit("worker.spawned", worker=wid, **tag)
            found = True
        if found:
            self._check_channel()

    def _handle(self, process):
        """What to wait on for this worker's exit: its sentinel, a pidfd, or nothing."""
        if self._kind.threads:
            return None
        if self._peek:
            with contextlib.suppress(ValueError):  # the process object was closed
                return process.sentinel
            return None
        if process.pid not in self._pidfds and hasattr(os, "pidfd_open"):
            try:
                self._pidfds[process.pid] = os.pidfd_open(process.pid)
            except OSError:
                self._pidfds[process.pid] = None
        return self._pidfds.get(process.pid)

    def _record_exit(self, process):
        seen_ns = time.monotonic_ns()
        wid = self._kind.worker_id(process)
        thread = self._kind.threads
        code = None if thread else self._exit_code(process)
        # Claim and send under one lock: the interpreter may freeze this daemon thread
        # once the exit handlers are done, so a claimed exit must never wait to be sent.
        with self._lock:
            if wid in self._exited:
                return
            self._exited.add(wid)
            if thread:  # a thread has no exit code
                tag = dict(self._tag, thread=True)
                emit("worker.exited", worker=wid, exit_code=None, ns=seen_ns, **tag)
            else:
                emit("worker.exited", worker=wid, exit_code=code, ns=seen_ns, **self._tag)
                if code is None:
                    self._unknown[wid] = process

    def _record_late_codes(self):
        """Send the exit codes the pool learnt after the exits were recorded.

        A hung run never reaches the final report: this is where its codes come from.
        """
        for wid, process in list(self._unknown.items()):
            code = self._kind.exit_code(process)
            if code is not None:
                del self._unknown[wid]
                emit("worker.reaped", worker=wid, exit_code=code, **self._tag)

    def _exit_code(self, process):
        code = self._kind.exit_code(process)
        if code is None and not self._peek:
            # Not our child (forkserver): its status is in /proc while it is a zombie,
            # which it is between its exit (the pidfd) and the fork server's reaping.
            code = _zombie_status(process.pid)
        if code is None and self._peek:
            code = _peek_status(process.pid)
            if code is None:
                return self._reaped_code(process)
        return code

    def _reaped_code(self, process):
        """The pool reaped the worker first; its Popen records the code a moment later."""
        for _ in range(_REAP_SPINS):
            code = self._kind.exit_code(process)
            if code is not None:
                return code
            time.sleep(0.0001)
        return None

    def final_report(self):
        """Send what is still unsent; runs at exit, after the pool's own clean-up."""
        self._guarded("watch: the final report", self._final_report)

    def _final_report(self):
        self._sync()
        for wid, worker in list(self._seen.items()):
            if self._kind.threads:
                continue
            try:
                code = worker.exitcode
            except ValueError:
                code = None
            emit("worker.reaped", worker=wid, exit_code=code, **self._tag)


def _peek_status(pid):
    """The exit code of our exited child ``pid``, leaving it unreaped; None once reaped.

    ``waitid`` with ``WNOWAIT`` where the interpreter has it; PyPy has no ``os.waitid``:
    there the zombie's status in ``/proc`` says the same (the sentinel was readable, so
    the child has exited; it stays a zombie until the pool reaps it).
    """
    if not hasattr(os, "waitid"):
        return _zombie_status(pid)
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        return None
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _zombie_status(pid):
    """The exit code of ``pid`` if it is a zombie (Linux ``/proc``), else None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # fields[0] is the state (field 3); the wait status is field 52 (Linux 3.5+).
    if fields[0] != b"Z" or len(fields) < 50:
        return None
    status = int(fields[49])
    return -(status & 0x7F) if status & 0x7F else (status >> 8) & 0xFF


def final_report():
    """Finish the report of every pool being watched."""
    for watch in _watches:
        watch.final_report()
