"""Nothing lost on Ctrl-C: what a run recorded until poolctl was stopped is still reported
(the timeline, the outcome, the findings; ``--json``'s document), then one line and 130.

Through the real entry point, a run that would hang for 30 s, stopped once its pool is up.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

import schema_validation
from conftest import marked_pids, wait_until, write_scenario
from conftest import start_cli as start
from poolctl.entry import INTERRUPTED_REPORTED


@pytest.fixture
def hung(tmp_path: Path) -> Path:
    """close + join on four workers, one of them busy for far longer than the test."""
    return write_scenario(
        tmp_path, "hangs", steps=["close", "join"], workers=4, duration=30, expect="hung = true"
    )


def task_running(temp: Path) -> bool:
    """A run's event file under ``temp`` says a task started."""
    for path in temp.glob("poolctl-run-*/*"):
        try:
            if b'"task.started"' in path.read_bytes():
                return True
        except OSError:  # a file or the run's directory going away
            continue
    return False


def stop_when_up(
    proc: subprocess.Popen[str], marker: str, processes: int, temp: Path
) -> tuple[str, str]:
    """Once ``processes`` of the run are up (its watchdog, subject and workers) and its
    task is running (its event files are in ``temp``, its TMPDIR), Ctrl-C to poolctl;
    its (stdout, stderr)."""
    try:
        up = wait_until(lambda: len(marked_pids(marker, exclude=(proc.pid,))) >= processes, 20)
        assert up, "the run's processes never appeared"
        assert wait_until(lambda: task_running(temp), 20), "the run's task never started"
        assert proc.poll() is None, "poolctl ended before it was interrupted"
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def words(text: str) -> str:
    """``text`` with its line breaks and runs of spaces as single spaces (views wrap)."""
    return " ".join(text.split())


@pytest.mark.timeout(40)
def test_ctrl_c_during_run_shows_what_was_recorded(
    marker: str, hung: Path, short_tmp: Path
) -> None:
    """The timeline and outcome of the run so far, said to be stopped by the user (not
    hung, no verdict), then one line; 130; every process gone (the marker fixture)."""
    proc = start("run", str(hung), "--start-method", "fork", "--timeout", "30")
    out, err = stop_when_up(proc, marker, 6, short_tmp)
    assert proc.returncode == 130
    assert err.splitlines() == [f"poolctl: {INTERRUPTED_REPORTED}"]
    said = words(out)
    assert "Timeline" in said
    assert "tasks 1 submitted: 1 interrupted" in said
    assert "interrupted stopped by the user (Ctrl-C) at" in said
    assert "no verdict: the run was stopped before it ended" in said
    assert "hung yes" not in said
    assert marked_pids(marker) == []


@pytest.mark.timeout(40)
def test_ctrl_c_during_run_json_is_a_document_marked_interrupted(
    marker: str, hung: Path, short_tmp: Path
) -> None:
    """--json: the document of what was recorded, valid, with ``interrupted`` and the
    observer's ``run.interrupted`` event; its workers killed by poolctl; no finding
    blames the program for what poolctl killed."""
    proc = start("run", str(hung), "--start-method", "fork", "--timeout", "30", "--json")
    out, err = stop_when_up(proc, marker, 6, short_tmp)
    assert proc.returncode == 130
    assert err.splitlines() == [f"poolctl: {INTERRUPTED_REPORTED}"]
    doc = json.loads(out)
    schema_validation.check(doc, "run --json, interrupted")
    mark = doc["interrupted"]
    assert mark["signal"] == "SIGINT"
    [event] = [e for e in doc["events"] if e["kind"] == "run.interrupted"]
    assert (event["role"], event["signal"], event["t"]) == ("observer", "SIGINT", mark["t"])
    outcome = doc["outcome"]
    assert outcome["hung"] is False
    assert outcome["main"]["finished"] is False
    assert len(outcome["workers"]) == 4
    assert all(w["killed_by_poolctl"] for w in outcome["workers"])
    assert doc["matches"] is False
    assert doc["races"] == []
    assert [f["kind"] for f in doc["findings"] if f["kind"] == "lost-to-terminate"] == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_ctrl_c_during_compare_keeps_the_runs_that_finished(
    marker: str, hung: Path, short_tmp: Path, as_json: bool
) -> None:
    """compare, one run at a time: close-join finishes, then the hung run is stopped. The
    table (or --json's document) of the finished run, marked interrupted after 1 of 2."""
    extra = ["--json"] if as_json else []
    proc = start(
        "compare", "close-join", str(hung), "--start-method", "fork", "--jobs", "1",
        "--timeout", "30", *extra,
    )  # fmt: skip
    # Six processes are the hung run's (close-join has two workers): close-join has ended.
    out, err = stop_when_up(proc, marker, 6, short_tmp)
    assert proc.returncode == 130
    assert err.splitlines() == [f"poolctl: {INTERRUPTED_REPORTED}"]
    if as_json:
        doc = json.loads(out)
        schema_validation.check(doc, "compare --json, interrupted")
        assert doc["interrupted"] == {"signal": "SIGINT", "finished": 1, "total": 2}
        assert [run["scenario"]["name"] for run in doc["runs"]] == ["close-join"]
        assert doc["summary"]["runs"] == 1
    else:
        said = words(out)
        assert "1 runs" in said or "1 run" in said
        assert "interrupted (SIGINT) after 1 of 2 runs" in said
        assert "close-join" in said
        assert "hangs" not in said
    assert marked_pids(marker) == []
