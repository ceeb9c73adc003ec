"""Record how every worker ended, from the parent side.

A worker killed by ``terminate()`` cannot report its own death, so the main process does:
a daemon thread waits on the workers' sentinels (readable once a worker has exited) and
sends ``worker.exited`` at that moment. It never reaps a worker, which would change what
the pool sees: the exit status is only peeked at (``waitid`` with ``WNOWAIT``). Under
forkserver the workers are the fork server's children, not ours, so their codes come from
the final report, which runs at exit after multiprocessing's own clean-up has joined them.
"""

import contextlib
import os
import threading
from multiprocessing.connection import wait

from .channel import emit

# How often the watcher looks for workers the pool started since its last look.
_SCAN_SECONDS = 0.02

_current = None


class WorkerWatch:
    """Follows the workers of one pool through the pool's own list of processes."""

    def __init__(self, workers, start_method):
        # ``pool._pool``, which the pool mutates in place when it replaces workers. Holding
        # the list rather than the pool keeps the pool collectable (``del pool`` scenarios).
        self._workers = workers
        self._peek = start_method != "forkserver"
        self._seen = {}
        self._exited = set()
        self._lock = threading.Lock()
        for process in list(workers):
            self._seen[process.pid] = process

    def start(self):
        global _current
        _current = self
        thread = threading.Thread(target=self._run, name="poolctl-watch", daemon=True)
        thread.start()

    def _run(self):
        while True:
            self._scan()
            live = self._live()
            try:
                ready = wait(list(live), timeout=_SCAN_SECONDS)
            except (OSError, ValueError):
                ready = []
            for sentinel in ready:
                self._record_exit(live[sentinel])

    def _scan(self):
        for process in list(self._workers):
            if process.pid not in self._seen:
                self._seen[process.pid] = process
                emit("worker.spawned", worker=process.pid)

    def _live(self):
        live = {}
        for pid, process in list(self._seen.items()):
            if pid not in self._exited:
                with contextlib.suppress(ValueError):  # the process object was closed
                    live[process.sentinel] = process
        return live

    def _record_exit(self, process):
        with self._lock:
            if process.pid in self._exited:
                return
            self._exited.add(process.pid)
        emit("worker.exited", worker=process.pid, exit_code=self._exit_code(process))

    def _exit_code(self, process):
        code = getattr(process._popen, "returncode", None)
        if code is None and self._peek:
            try:
                info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:  # the pool reaped it first: its Popen has the code
                return getattr(process._popen, "returncode", None)
            if info is not None:
                code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        return code

    def final_report(self):
        """Send what is still unsent; runs at exit, after the pool's own clean-up."""
        self._scan()
        live = self._live()
        try:
            ready = wait(list(live), timeout=0)
        except (OSError, ValueError):
            ready = []
        for sentinel in ready:
            self._record_exit(live[sentinel])
        for pid, process in list(self._seen.items()):
            try:
                code = process.exitcode
            except ValueError:
                code = None
            emit("worker.reaped", worker=pid, exit_code=code)


def final_report():
    """Finish the report of the pool being watched, if any."""
    if _current is not None:
        _current.final_report()
