"""What the trace tests share: running ``poolctl trace`` on a program, and reading its document.

The tests of this folder trace the user's own, unchanged programs, written into
``tmp_path``. Every run goes through the real entry point (``python -m poolctl trace``)
unless a test says CliRunner, under an environment marker of its own: once it returns, no
process of the run (the program, its workers, a fork server, a resource tracker) may be
left.

Why a module and not a conftest.py: pytest imports every conftest.py outside a package
under the one name ``conftest``, so a second one would replace tests/conftest.py for every
``from conftest import ...``. Test files here are named ``test_trace_*.py`` because pytest
imports them by their bare names, which must not clash with those of tests/.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from conftest import (
    CLI_TIMEOUT,
    MARKER_VAR,
    CliResult,
    marked_pids,
    nothing_left,
    reap_adopted,
    run_cli,
    wait_until,
)

# --- running ---------------------------------------------------------------------------


class Traced(NamedTuple):
    """One ``poolctl trace`` run: its status, streams, and the document if --json."""

    status: int
    stdout: str
    stderr: str
    doc: dict[str, Any] | None
    seconds: float
    marker: str  # every process of the run carried MARKER_VAR=marker


def trace(
    *args: str,
    stdin: str | None = None,
    json_doc: bool = True,
    check: bool = True,
    timeout: float = CLI_TIMEOUT,
) -> Traced:
    """``python -m poolctl trace ARGS`` (with ``--json`` unless told not to), then check
    that nothing of it is left (unless ``check`` is false: runs side by side are checked
    once all have returned, as one's exit would look like a zombie to the other's check).
    ``stdin`` is piped to it; otherwise it reads /dev/null."""
    marker = uuid.uuid4().hex
    words = ["trace", *args] if not json_doc else ["trace", "--json", *args]
    begun = time.monotonic()
    done = run_cli(*words, env={MARKER_VAR: marker}, stdin=stdin, timeout=timeout)
    seconds = time.monotonic() - begun
    if check:
        nothing_left(marker)
    doc = None
    if json_doc and done.stdout:
        doc = json.loads(done.stdout)  # the whole of stdout: one JSON document
    return Traced(done.returncode, done.stdout, done.stderr, doc, seconds, marker)


def plain(*args: str, stdin: str | None = None, python: str | None = None) -> CliResult:
    """The same program under plain ``python ARGS`` (``python``: this interpreter unless
    given), for comparison (nothing may be left).

    Plain python is the reference here, not what is tested: if it hangs (an interpreter's
    own race, seen once in hundreds of runs: 3.14t, spawn, pickling errors, a loaded
    machine), its processes are killed and one more run decides; a second hang fails."""
    for attempt in range(2):
        marker = uuid.uuid4().hex
        try:
            proc = subprocess.run(
                [python or sys.executable, *args],
                input=stdin if stdin is not None else "",
                capture_output=True,
                text=True,
                timeout=CLI_TIMEOUT,
                env={**os.environ, MARKER_VAR: marker},
            )
        except subprocess.TimeoutExpired:
            for pid in marked_pids(marker):  # its workers, orphaned once it was killed
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            wait_until(reap_adopted, 5)
            if attempt:
                raise
            continue
        nothing_left(marker, adopted=True)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)
    raise AssertionError("unreachable")


def write(directory: Path, name: str, source: str) -> Path:
    """Write a program (dedented) into ``directory``; return its path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


# --- reading documents -----------------------------------------------------------------


def events(doc: dict[str, Any], kind: str, **match: Any) -> list[dict[str, Any]]:
    """The events of ``kind`` whose fields equal ``match``, in order."""
    return [
        e
        for e in doc["events"]
        if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())
    ]


def position(doc: dict[str, Any], kind: str, **match: Any) -> int:
    """The index of the first event of ``kind`` matching ``match`` (fails if none)."""
    for i, e in enumerate(doc["events"]):
        if e["kind"] == kind and all(e.get(k) == v for k, v in match.items()):
            return i
    raise AssertionError(f"no {kind} {match} event in {[e['kind'] for e in doc['events']]}")


def lifecycle(doc: dict[str, Any]) -> list[tuple[str, int | None]]:
    """The pools' lifecycle calls in order: ('close.called', 1), ..."""
    return [
        (e["kind"], e.get("pool"))
        for e in doc["events"]
        if e["kind"].endswith((".called", ".returned")) and "pool" in e
    ]


def counts(**nonzero: int) -> dict[str, int]:
    """An ``outcome.tasks`` dict: the given counts, every other one 0."""
    keys = (
        "submitted",
        "started",
        "completed",
        "interrupted",
        "never_started",
        "failed",
        "unknown",
    )
    assert set(nonzero) <= set(keys)
    return {k: nonzero.get(k, 0) for k in keys}


def program_stdout(text: str) -> list[str]:
    """The program's own stdout lines from poolctl's stderr under --json."""
    return text.splitlines()


def assert_each_item_a_task(doc: dict[str, Any], phases: list[int]) -> None:
    """Every item of every call is one task: submitted, then started, then finished.

    ``phases`` are the item counts of the program's calls, made one after the other (each
    waits for its results): their tasks are numbered in turn, and no task of a call is
    submitted before every task of the call before it finished.
    """
    total = sum(phases)
    stamps: dict[str, dict[int, float]] = {}
    for kind in ("task.submitted", "task.started", "task.finished"):
        found = events(doc, kind)
        tasks = [e["task"] for e in found]
        assert sorted(tasks) == list(range(total)), (kind, tasks)  # each exactly once
        stamps[kind] = {e["task"]: e["t"] for e in found}
    assert not events(doc, "task.failed")
    for task in range(total):
        submitted, started, finished = (
            stamps[k][task] for k in ("task.submitted", "task.started", "task.finished")
        )
        assert submitted <= started <= finished, (task, submitted, started, finished)
    first = 0
    previous: list[int] = []
    for size in phases:
        these = list(range(first, first + size))
        if these and previous:
            assert max(stamps["task.finished"][t] for t in previous) <= min(
                stamps["task.submitted"][t] for t in these
            ), (previous, these)
        if these:
            previous = these
        first += size


def without_addresses(text: str) -> str:
    """``text`` with object addresses (0x7f...) blanked: they differ from run to run."""
    return re.sub(r"0x[0-9a-f]+", "0x?", text)
