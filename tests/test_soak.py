"""Long use: many runs back to back and in parallel leave the process as they found it.

The short form runs by default (CI); POOLCTL_SOAK=1 runs it long (hundreds of runs).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from conftest import SEED_SCENARIOS, marked_pids, run_pipeline
from poolctl import matrix

LONG = os.environ.get("POOLCTL_SOAK") == "1"
ROUNDS = 60 if LONG else 2


def children() -> int:
    """Live (or unreaped) children of this process."""
    me = os.getpid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            if int(stat[stat.rfind(b")") + 2 :].split()[1]) == me:
                count += 1
    return count


def rss_mb() -> float:
    """This process's resident memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fds() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def one_round() -> list[bool]:
    """The seed scenarios back to back, then all four at once through compare."""
    verdicts = [run_pipeline(name, duration=0.05)["matches"] for name in SEED_SCENARIOS]
    cells = matrix.plan(list(SEED_SCENARIOS), [], None, 1, duration=0.05)
    verdicts += [
        r.document is not None and r.document["matches"] for r in matrix.run_all(cells, jobs=4)
    ]
    return verdicts


@pytest.mark.soak
@pytest.mark.timeout(1800 if LONG else 60)
def test_many_runs_leave_nothing_and_flip_nothing(marker: str) -> None:
    """Processes, descriptors and threads return to the baseline; memory stays flat."""
    assert all(one_round())  # warm-up: imports, caches, the subreaper
    base = {"children": children(), "fds": fds(), "threads": threading.active_count()}
    memory = rss_mb()
    for _ in range(ROUNDS):
        verdicts = one_round()
        assert all(verdicts), "a deterministic outcome flipped"
    assert marked_pids(marker) == []
    assert children() == base["children"]
    assert abs(fds() - base["fds"]) <= 2
    assert threading.active_count() == base["threads"]
    assert rss_mb() - memory < 20
