"""A watchdog that ends a run's processes when poolctl itself dies, however it dies.

If poolctl is killed with SIGKILL no Python code of it runs, so something else must end
the subject and its workers. Each run gets a tiny ``sh`` that leads the run's process
group and blocks reading a pipe only poolctl holds the write end of. When poolctl dies the
kernel closes that end, ``read`` returns, and the shell SIGKILLs its own group: itself,
the subject, the workers, the resource tracker and the fork server.

Why not PR_SET_PDEATHSIG: it would need code in the observed interpreter, it is not
inherited across fork (each worker would need it too), and the subject's exit would not
end orphaned workers. The watchdog is a separate, idle process: it changes nothing in the
program under observation, and costs one fork and exec of ``sh`` per run.
"""

from __future__ import annotations

import contextlib
import subprocess

# 'kill 0' signals every process of the shell's own process group.
_SCRIPT = "read -r _; kill -KILL 0"


def start() -> subprocess.Popen[bytes] | None:
    """Start the watchdog in a process group of its own; None where there is no sh."""
    try:
        return subprocess.Popen(
            ["/bin/sh", "-c", _SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0,
        )
    except OSError:
        return None


def stop(watchdog: subprocess.Popen[bytes] | None) -> None:
    """Reap a watchdog that the group's clean-up has killed (or end it first)."""
    if watchdog is None:
        return
    if watchdog.poll() is None:
        watchdog.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        watchdog.wait(timeout=5)
    if watchdog.stdin is not None:
        with contextlib.suppress(OSError):
            watchdog.stdin.close()
