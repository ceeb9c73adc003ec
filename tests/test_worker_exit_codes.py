"""Worker exit codes are read even when the run hangs and never reaches its final report."""

from __future__ import annotations

import pytest

from conftest import run_pipeline


@pytest.mark.timeout(60)
@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"], indirect=True)
def test_sigkilled_worker_of_a_hung_run_shows_sigkill(start_method: str) -> None:
    """worker-killed hangs in join(); the busy worker still shows the SIGKILL that ended it.

    Under forkserver the worker is the fork server's child: its status used to be lost
    (null in about 7 runs of 10) when the pool had not read it before the run hung.
    """
    for _ in range(3):
        doc = run_pipeline("worker-killed", start_method=start_method, duration=0.3, timeout=2.0)
        outcome = doc["outcome"]
        assert outcome["hung"]
        killed = [w for w in outcome["workers"] if not w["killed_by_poolctl"]]
        assert [w["signal"] for w in killed] == ["SIGKILL"], outcome["workers"]
