"""Record how every worker ended, from the parent side.

A worker process killed by ``terminate()`` cannot report its own death, so the process
that owns its pool does: one watcher per process (a ``_thread`` thread, so not in
``threading.enumerate()``, ``active_count()`` nor ``threading._dangling``) waits on the
sentinels of the workers of every process pool it follows and sends ``worker.exited``
the moment one becomes readable. It never reaps a worker, which would change what the
pool sees: the exit status is only peeked at (``waitid`` with ``WNOWAIT``, or on PyPy,
which has no ``os.waitid``, the zombie's status in ``/proc``).

Under forkserver the workers are the fork server's children, not ours, and a sentinel
carries the exit status: once the pool has read it, the sentinel need not stay readable
(measured on CPython 3.11), so it cannot tell us a worker is gone. There a pidfd does
(Linux, Python 3.9+). Everywhere, a worker whose exit status the pool already holds is
gone too; the final report, run at exit after multiprocessing's own clean-up, catches
whatever is left.

The watcher costs the program nothing it can see once its pools are gone: it holds no
pool, no worker thread, and a worker process only until its exit code is recorded, and it
ends as soon as no pool it follows has a live worker or a thread that may start one
(Pool's worker handler, the executor's manager thread); a new pool, or a submit that
started workers, starts it again. Between a pool's events it wakes every
``_IDLE_SECONDS`` at most, to notice a pool created meanwhile.

Pools of threads have no watcher: a worker thread reports its own end (``shared_events``:
its thread-local marker is dropped as the thread ends), and a call that joins the workers
(``sync``) or the final report records the ends not reported so (PyPy drops the marker
when its collector runs).

The watcher is poolctl's code running inside the program: whatever it raises is caught,
reported as ``observer.failed``, and ends the watching of that pool, never the program.
It also says (``channel.lost``) when the workers it sees start could not create their
event files (``shared_events.check_channel``).
"""

import os
import time
import weakref

from . import shared_events
from . import stdlib_private as private
from .channel import emit
from .shared_events import check_channel, observer_failed

# How soon the watcher looks again for workers a pool started, after it saw a change: a
# pool replaces a worker within a millisecond or two of its exit, and the replacement may
# run a task and exit within a few more (maxtasksperchild=1).
_SCAN_SECONDS = 0.002
# ... and at most this long when nothing changed (a pool created meanwhile waits this long).
_IDLE_SECONDS = 0.2
# After the pool's own waitpid, Popen sets returncode within microseconds: look for up to
# 2 ms (the watcher only; the pool's threads and the workers are not slowed).
_REAP_SPINS = 20

# Every watch of this process, in the order the pools were created (for the final
# report); those the watcher follows now; whether the watcher runs. The last two change
# under _lock, so a new pool never misses a watcher that is ending.
_watches = []
_followed = []
_lock = private.new_lock()
_running = False


def _forget_parent():
    # A forked child owns none of its parent's pools, nor its watcher thread.
    global _watches, _followed, _lock, _running
    _watches = []
    _followed = []
    _lock = private.new_lock()
    _running = False


os.register_at_fork(after_in_child=_forget_parent)


class _Worker:
    """One worker as the watch knows it: its id, its object, the exit code last known, and
    (forkserver) the pidfd opened for it.

    A worker process's object is held while the worker lives (its pool holds it then too)
    and let go once its exit code is recorded: the pool drops it as it reaps the worker, a
    moment before the code could be read otherwise. A worker thread is only referred to
    weakly (a thread object kept past its end is "dangling" to the program's checks).
    """

    __slots__ = ("wid", "held", "ref", "code", "pidfd")

    def __init__(self, wid, worker, threads):
        self.wid = wid
        self.held = None if threads else worker
        self.ref = weakref.ref(worker) if threads else None
        self.code = None
        self.pidfd = None

    def get(self):
        """The worker's object, or None once it is let go (or collected)."""
        return self.held if self.ref is None else self.ref()


class WorkerWatch:
    """Follows the workers of one pool (of kind ``kind``, a ``pool_kinds`` class) through
    the pool's own collection of workers, holding neither the pool nor its workers."""

    def __init__(self, kind, pool, start_method, pool_id=None, channel_dir=None):
        self._kind = kind
        self._pool = weakref.ref(pool)
        self._owner = os.getpid()
        # Which pool of the program (``poolctl trace`` follows several); None: the only one.
        self._tag = {} if pool_id is None else {"pool": pool_id}
        self._peek = start_method not in ("forkserver", None)
        self._seen = {}  # wid -> _Worker, in the order seen
        self._exited = set()
        self._claim = private.new_lock()
        self._members = -1  # the size of the pool's collection at the last scan
        # Exited workers whose exit code was not known yet when their exit was recorded.
        self._unknown = {}
        # Set once poolctl's own code failed here: this pool is no longer followed.
        self._failed = False
        # Where the workers store their events, and the credentials last found able to.
        self._channel_dir = None if kind.threads else channel_dir
        self._credentials = None
        workers = kind.workers(pool)
        for worker in [] if workers is None else kind.members(workers):
            wid = kind.worker_id(worker)
            self._seen[wid] = _Worker(wid, worker, kind.threads)

    def start(self):
        """Begin following the pool (in the thread that created it)."""
        self._guarded("watch: start", self._check_channel)
        _watches.append(self)
        if not self._kind.threads:
            self._guarded("watch: start", lambda: _follow(self))

    def poke(self):
        """Look for workers the pool started in this call (an executor starts them as tasks
        are submitted); cheap when there are none. Runs in the program's thread: guarded."""
        self._guarded("watch: poke", self._poke)

    def _poke(self):
        pool = self._pool()
        if pool is None:
            return
        workers = self._kind.workers(pool)
        if workers is None or len(workers) == self._members:
            return
        if self._scan() and not self._kind.threads:
            _follow(self)  # the watcher may have ended with the pool's last worker

    def _mine(self):
        # A forked child holds copies of its parent's pools; their workers are not its own.
        return not self._failed and os.getpid() == self._owner

    def _guarded(self, where, function):
        """Run ``function`` (poolctl's code): if it raises, say so and stop following this
        pool; the program, whose thread this may be, never sees the exception."""
        if not self._mine():
            return None
        try:
            return function()
        except Exception as exc:
            self._failed = True
            observer_failed(where, exc)
            return None

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

    def _scan(self):
        """Send ``worker.spawned`` for the workers started since the last look; True if any."""
        pool = self._pool()
        if pool is None:
            return False
        workers = self._kind.workers(pool)
        del pool
        if workers is None:  # an executor shut down lets go of its collection
            return False
        members = self._kind.members(workers)
        self._members = len(members)
        found = False
        for worker in members:
            wid = self._kind.worker_id(worker)
            with self._claim:
                if wid in self._seen:
                    continue
                self._seen[wid] = _Worker(wid, worker, self._kind.threads)
                tag = dict(self._tag, thread=True) if self._kind.threads else self._tag
                emit("worker.spawned", worker=wid, **tag)
            found = True
        if found:
            self._check_channel()
        return found

    def _pending(self):
        with self._claim:
            return [w for wid, w in self._seen.items() if wid not in self._exited]

    def _active(self):
        """Whether the watcher must go on for this pool: a live worker, or a thread of the
        pool's that may start one."""
        if not self._mine():
            return False
        if self._pending() or self._unknown:  # an exit code still to learn: held till then
            return True
        pool = self._pool()
        return pool is not None and self._guarded("watch: active", lambda: self._starter(pool))

    def _starter(self, pool):
        thread = self._kind.worker_starter(pool)
        return thread is not None and thread.is_alive()

    # --- the watcher's side ----------------------------------------------------------

    def watched(self):
        """Whether the watcher must follow this pool now (a pool of processes with a live
        worker, or a thread that may start one)."""
        return not self._kind.threads and self._active()

    def look(self, handles):
        """Look for new workers and known exits; add what to wait on to ``handles``."""
        self._guarded("watch: the watcher thread", self._scan)
        self._guarded("watch: the watcher thread", lambda: self._handles(handles))

    def ready(self, entry, fd):
        """``fd``, one of this watch's handles, became readable."""
        self._guarded("watch: the watcher thread", lambda: self._ready(entry, fd))

    def after_wait(self):
        """Send late exit codes, close the pidfds of exited workers; return how many
        workers were seen and exits recorded (a change tells the watcher to look soon)."""
        self._guarded("watch: the watcher thread", self._after_wait)
        return len(self._seen) + len(self._exited)

    def _handles(self, handles):
        """Record the exits the pool already knows of; add what to wait on for each other
        worker (fd -> (watch, worker)) to ``handles``."""
        for entry in self._pending():
            process = entry.get()
            if process is None or self._kind.exit_code(process) is not None:
                self._record_exit(entry)
                continue
            handle = self._handle(entry, process)
            if handle is not None:
                handles[handle] = (self, entry)

    def _handle(self, entry, process):
        """What to wait on for this worker's exit: its sentinel, a pidfd, or nothing."""
        if self._peek:
            try:
                return process.sentinel
            except ValueError:  # the process object was closed
                return None
        if entry.pidfd is None and hasattr(os, "pidfd_open"):
            try:
                entry.pidfd = os.pidfd_open(entry.wid)
            except OSError:
                entry.pidfd = -1
        return None if entry.pidfd in (None, -1) else entry.pidfd

    def _ready(self, entry, fd):
        """``fd`` became readable: record the exit if it is still this worker's."""
        if entry.pidfd == fd or self._still(entry, fd):
            self._record_exit(entry)

    def _still(self, entry, fd):
        process = entry.get()
        if process is None:
            return True
        try:
            return process.sentinel == fd
        except ValueError:
            return False

    def _after_wait(self):
        self._record_late_codes()
        for entry in list(self._seen.values()):
            if entry.wid in self._exited and entry.pidfd not in (None, -1):
                _close(entry.pidfd)
                entry.pidfd = -1

    # --- any thread --------------------------------------------------------------------

    def sync(self):
        """Record the exits the pool already knows of, now (any thread).

        Called before a call that joins the workers (``join()``, ``terminate()``,
        ``shutdown(wait=True)``) is reported as returned: the timeline must never show a
        worker exiting after that. Runs in the program's thread: guarded.
        """
        self._guarded("watch: sync", self._sync)

    def _sync(self):
        self._scan()
        for entry in self._pending():
            worker = entry.get()
            if worker is None:
                self._record_exit(entry)
            elif self._kind.threads:
                if not worker.is_alive():
                    self._record_exit(entry)
            elif self._kind.exit_code(worker) is not None:
                self._record_exit(entry)
        if not self._kind.threads:
            self._record_late_codes()  # a joining call has reaped them: let them go now

    def live_pids(self):
        """Ids of the workers not known to have exited, oldest first."""
        return [entry.wid for entry in self._pending()]

    def _record_exit(self, entry):
        seen_ns = time.monotonic_ns()
        wid = entry.wid
        if self._kind.threads:
            # A thread has no exit code; it may have said it ended (shared_events).
            with self._claim:
                if wid in self._exited:
                    return
                self._exited.add(wid)
                shared_events.thread_ended(wid, seen_ns, **self._tag)
            return
        code = self._exit_code(entry)
        # Claim and send under one lock: the interpreter may freeze the watcher once the
        # exit handlers are done, so a claimed exit must never wait to be sent.
        with self._claim:
            if wid in self._exited:
                return
            self._exited.add(wid)
            entry.code = code
            emit("worker.exited", worker=wid, exit_code=code, ns=seen_ns, **self._tag)
            if code is None and entry.get() is not None:
                self._unknown[wid] = entry  # held until the pool reaps it
            else:
                entry.held = None

    def _record_late_codes(self):
        """Send the exit codes the pool learnt after the exits were recorded.

        A hung run never reaches the final report: this is where its codes come from.
        """
        for wid, entry in list(self._unknown.items()):
            process = entry.get()
            code = None if process is None else self._kind.exit_code(process)
            if process is not None and code is None:
                continue
            # The watcher and a joining call may both get here: one sends.
            with self._claim:
                if self._unknown.pop(wid, None) is None:
                    continue
                entry.held = None
                if code is not None:
                    entry.code = code
                    emit("worker.reaped", worker=wid, exit_code=code, **self._tag)

    def _exit_code(self, entry):
        process = entry.get()
        code = None if process is None else self._kind.exit_code(process)
        if code is None and not self._peek:
            # Not our child (forkserver): its status is in /proc while it is a zombie,
            # which it is between its exit (the pidfd) and the fork server's reaping.
            code = _zombie_status(entry.wid)
        if code is None and self._peek:
            code = _peek_status(entry.wid)
            if code is None and process is not None:
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
        if self._kind.threads:
            return
        for wid, entry in list(self._seen.items()):
            process = entry.get()
            code = entry.code
            if process is not None:
                code = _exitcode(process, code)
            emit("worker.reaped", worker=wid, exit_code=code, **self._tag)


# --- the watcher thread ------------------------------------------------------------------


def _follow(watch):
    """Have the watcher follow ``watch``'s pool, starting the watcher if it is not running."""
    global _running
    with _lock:
        if watch not in _followed:
            _followed.append(watch)
        if _running:
            return
        _running = True
    try:
        private.start_thread(_watcher)
    except Exception:
        with _lock:
            _running = False
        raise


def _watcher():
    """The watcher thread: wait on the workers' exits until no pool needs following."""
    global _running
    import select  # imported by multiprocessing already: no module the program would not have

    interval = _SCAN_SECONDS
    seen = -1
    while True:
        with _lock:
            _followed[:] = [w for w in _followed if w.watched()]
            watches = list(_followed)
            if not watches:
                _running = False
                return
        handles = {}
        for watch in watches:
            watch.look(handles)
        ready = _wait(select, handles, interval) if handles else _sleep(interval)
        for fd in ready:
            watch, entry = handles[fd]
            watch.ready(entry, fd)
        # Look again soon after a change (a pool replaces a worker right after its exit);
        # otherwise less and less often, up to _IDLE_SECONDS.
        now = sum(watch.after_wait() for watch in watches) + len(watches)
        interval = _SCAN_SECONDS if now != seen else min(interval * 2, _IDLE_SECONDS)
        seen = now


def _wait(select, handles, timeout):
    """The fds of ``handles`` readable within ``timeout`` seconds."""
    poller = select.poll()
    for fd in handles:
        poller.register(fd, select.POLLIN)
    try:
        events = poller.poll(int(timeout * 1000))
    except (OSError, ValueError):
        return _sleep(timeout)
    # An fd no longer open (POLLNVAL) is not an exit: it is looked at again next time.
    ready = [fd for fd, event in events if not event & select.POLLNVAL]
    if events and not ready:
        time.sleep(timeout)  # never spin on descriptors the program closed
    return ready


def _exitcode(process, otherwise):
    try:
        return process.exitcode
    except ValueError:  # the process object was closed
        return otherwise


def _sleep(seconds):
    time.sleep(seconds)
    return []


def _close(fd):
    try:  # noqa: SIM105 (contextlib is the program's to import)
        os.close(fd)
    except OSError:
        pass


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
    """Finish the report of every pool being watched in this process."""
    for watch in list(_watches):
        watch.final_report()
