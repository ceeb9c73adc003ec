"""The event channel is input, not truth: a traced program can find the private event
directory and write there. Whatever it plants (a FIFO, a symlink to /dev/zero, a huge
sparse file, another user's file, JSON with missing keys or wrong types, binary junk),
poolctl finishes within its timeout, never crashes, keeps the program's own status, and
says in a ``channel.incomplete`` event what it could not read or did not believe."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import schema_validation
from conftest import MARKER_VAR, nothing_left
from poolctl import events
from poolctl.observer import workspace
from poolctl.observer.observe import Observation

# Where the subject keeps the event directory: a program can look it up as easily as it
# can read its own command line.
FIND_DIRECTORY = 'import sys; d = sys.modules["poolctl_subject.channel"]._directory'
# poolctl's own memory, in the runs that plant endless files: a reader that reads them
# whole fails at once (MemoryError) instead of taking the machine's memory.
MEMORY_LIMIT = 2 << 30
NOBODY = 65534

# What a program plants (Python, with ``d`` the directory and ``os``, ``time`` imported),
# and the reason poolctl gives for it.
PLANTED = {
    "fifo": ("os.mkfifo(os.path.join(d, 'events-999901'))", "a FIFO"),
    "symlink to /dev/zero": (
        "os.symlink('/dev/zero', os.path.join(d, 'events-999902'))",
        "a symbolic link",
    ),
    "huge sparse file": (
        "f = open(os.path.join(d, 'events-999903'), 'wb'); f.truncate(1 << 40); f.close()",
        None,  # all NULs: nothing stored, nothing to say; it must just not be read whole
    ),
    "huge file of junk": (
        "f = open(os.path.join(d, 'events-999904'), 'wb'); f.truncate(1 << 40);"
        " f.write(b'x' * 4096); f.close()",
        None,  # read to its first NUL: one line that is not JSON
    ),
    "missing key": (
        "open(os.path.join(d, 'events-999905'), 'w').write("
        '\'{"t":%d,"pid":5,"role":"worker","kind":"task.started"}\\n\''
        " % time.monotonic_ns())",
        "an invalid task.started event",
    ),
    "wrong types": (
        "open(os.path.join(d, 'events-999906'), 'w').write("
        '\'{"t":%d,"pid":5,"role":"worker","kind":"task.started",'
        '"task":"one","worker":true}\\n\' % time.monotonic_ns())',
        "an invalid task.started event",
    ),
    "worker exit code not a number": (
        "open(os.path.join(d, 'events-999907'), 'w').write("
        '\'{"t":%d,"pid":5,"role":"main","kind":"worker.exited",'
        '"worker":6,"exit_code":"-9"}\\n\' % time.monotonic_ns())',
        "an invalid worker.exited event",
    ),
    "binary junk": (
        "open(os.path.join(d, 'events-999908'), 'wb').write(bytes(range(1, 256)) * 40 + b'\\n')",
        "not JSON",
    ),
    "not an event": (
        "open(os.path.join(d, 'events-999909'), 'w')"
        '.write(\'[1]\\n{}\\n"x"\\n{"t": "soon"}\\n\')',
        "not an event (t, pid, role or kind)",
    ),
    "an observer's kind": (
        "open(os.path.join(d, 'events-999910'), 'w').write("
        '\'{"t":%d,"pid":5,"role":"main","kind":"main.exited","exit_code":0,'
        '"signal":null,"killed_by_poolctl":false}\\n\' % time.monotonic_ns())',
        "an observer's event sent by the run",
    ),
    "NaN and deep nesting": (
        "open(os.path.join(d, 'events-999911'), 'w').write("
        '\'{"t":%d,"pid":5,"role":"main","kind":"sleep.called","seconds":NaN}\\n\''
        " % time.monotonic_ns() + '[' * 100000 + '\\n')",
        "not JSON",
    ),
    "another user's file": (
        "p = os.path.join(d, 'events-999912'); open(p, 'w').write('{}\\n');"
        f" os.chown(p, {NOBODY}, {NOBODY})",
        "owned by another user",
    ),
}


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def trace_planting(
    tmp_path: Path, plant: str, *options: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``poolctl trace --timeout 5 OPTIONS`` (``--json`` unless told) of a program that
    plants ``plant``, prints 'done' and exits 3; poolctl itself must be done within 15 s."""
    program = tmp_path / "planter.py"
    program.write_text(
        textwrap.dedent(f"""\
            import os, time
            {FIND_DIRECTORY}
            {plant}
            print("done")
            raise SystemExit(3)
            """)
    )
    marker = uuid.uuid4().hex
    begun = time.monotonic()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "poolctl",
                "trace",
                "--timeout",
                "5",
                *(options or ["--json"]),
                str(program),
            ],
            capture_output=True,
            text=True,
            timeout=15,
            stdin=subprocess.DEVNULL,
            env={**os.environ, MARKER_VAR: marker},
            preexec_fn=limit_memory,
        )
    finally:
        nothing_left(marker)
    return done, time.monotonic() - begun


def incomplete(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The document's channel.incomplete event, if any."""
    found = [e for e in doc["events"] if e["kind"] == "channel.incomplete"]
    assert len(found) <= 1
    return found[0] if found else None


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_file_neither_hangs_nor_crashes_nor_injects(tmp_path: Path, name: str) -> None:
    """The program's status and output stand; the document validates, holds only valid
    events, and names what was refused."""
    plant, reason = PLANTED[name]
    if name == "another user's file" and os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    done, seconds = trace_planting(tmp_path, plant)
    assert seconds < 10, f"poolctl took {seconds:.1f} s"
    assert done.returncode == 3, done.stderr  # the program's own status
    doc = json.loads(done.stdout)
    schema_validation.check(doc, f"trace planting {name}")
    assert [line["text"] for line in doc["output"] if line["stream"] == "stdout"] == ["done"]
    # Nothing forged reached the record: one main.exited (the observer's), no task.
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds.count("main.exited") == 1
    assert doc["outcome"]["tasks"]["submitted"] == 0 and not doc["outcome"]["task_runs"]
    found = incomplete(doc)
    if reason is None:
        return
    assert found is not None, kinds
    assert reason in [r["reason"] for r in found["reasons"]], found


def test_a_clean_run_is_completely_observed(tmp_path: Path) -> None:
    """No channel.incomplete when nothing was planted (the check drops no real event)."""
    done, _ = trace_planting(tmp_path, "pass")
    assert incomplete(json.loads(done.stdout)) is None


def test_the_terminal_view_says_the_run_was_incompletely_observed(tmp_path: Path) -> None:
    """Under the program's verdict, in words: what was not read or not believed."""
    done, _ = trace_planting(tmp_path, PLANTED["fifo"][0], "--no-color")
    assert done.returncode == 3
    said = " ".join(done.stdout.split())  # as wrapped to the terminal's width
    assert "not completely observed: 1 event files unread, 0 lines dropped" in said
    assert "(a FIFO ×1)" in said


# --- the reader and the parser, in process --------------------------------------------------


def event(kind: str, t: int, **details: Any) -> bytes:
    return json.dumps({"t": t, "pid": 7, "role": "main", "kind": kind, **details}).encode()


def parse_lines(lines: list[bytes]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    obs = Observation(t0_ns=1_000, pid=7, event_lines=lines, exit_code=0, exit_ns=9_000)
    parsed, _ = events.parse(obs)
    found = [e for e in parsed if e["kind"] == "channel.incomplete"]
    return parsed, found[0] if found else None


def test_invalid_lines_are_dropped_and_counted() -> None:
    """Valid events stay; the rest are counted by reason, never an error."""
    good = event("main.started", 2_000, python="3.12.1", executable="/usr/bin/python3")
    lines = [
        good,
        event("task.submitted", 3_000),  # no task
        event("task.submitted", 3_000, task=-1),
        event("task.submitted", 3_000, task=1, extra=True),
        event("sleep.called", 3_000, seconds=True),
        event("no.such.kind", 3_000),
        event("main.finished", 10**30),  # after it was read
        b"not json",
        b'{"kind": 1}',
        b'{"t": "soon", "pid": 1}',
    ]
    parsed, found = parse_lines(lines)
    assert [e["kind"] for e in parsed] == ["main.started", "main.exited", "channel.incomplete"]
    assert found is not None
    assert (found["invalid_lines"], found["unread_files"], found["stopped_processes"]) == (9, 0, 0)
    assert {r["reason"]: r["count"] for r in found["reasons"]} == {
        "an invalid task.submitted event": 3,
        "an invalid sleep.called event": 1,
        "an unknown kind of event": 1,
        "not an event (t, pid, role or kind)": 3,
        "not JSON": 1,
    }


def test_the_reader_refuses_what_is_not_a_regular_file_of_ours(tmp_path: Path) -> None:
    """FIFO, symlink, directory, hard link, bad name: a note each, and no blocking."""
    (tmp_path / "events-1").write_bytes(b'{"a":1}\n{"b":2}\n{"cut":')
    os.mkfifo(tmp_path / "events-2")
    (tmp_path / "events-3").symlink_to("/dev/zero")
    (tmp_path / "events-4").mkdir()
    os.link(tmp_path / "events-1", tmp_path / "events-5")
    (tmp_path / "events-x").write_bytes(b"{}\n")
    # Empty: a process killed between creating its file and its first store (a worker
    # that terminate() caught starting up): nothing was recorded, nothing is missing.
    (tmp_path / "events-6").write_bytes(b"")
    (tmp_path / "full-7").write_bytes(b"")  # a process that could reserve no space
    (tmp_path / "other").write_bytes(b"{}\n")  # not an event file: not looked at
    lines = workspace.read_events(tmp_path)
    notes = [workspace.read_note(line) for line in lines if workspace.read_note(line)]
    assert sorted(notes) == sorted(
        [
            ("unread", "a hard link to another file"),  # events-1, once linked
            ("unread", "a FIFO"),
            ("unread", "a symbolic link"),
            ("unread", "a directory"),
            ("unread", "a hard link to another file"),
            ("unread", "a file not named events-<pid>"),
            ("stopped", "no space could be reserved for its events"),
        ]
    )


def test_the_reader_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bound of one file its complete lines are kept and the rest noted; past
    the bound of all files, the rest is noted; so is a file past MAX_FILES."""
    monkeypatch.setattr(workspace, "MAX_FILE_BYTES", 1 << 20)
    monkeypatch.setattr(workspace, "MAX_TOTAL_BYTES", (1 << 20) + 100)
    monkeypatch.setattr(workspace, "CHUNK_BYTES", 4096)
    line = b'{"n":1}\n'
    (tmp_path / "events-1").write_bytes(line * ((2 << 20) // len(line)))
    (tmp_path / "events-2").write_bytes(line * 20)
    (tmp_path / "events-3").write_bytes(line)
    lines = workspace.read_events(tmp_path)
    read = [x for x in lines if not x.startswith(workspace.NOTE)]
    notes = [workspace.read_note(x) for x in lines if x.startswith(workspace.NOTE)]
    assert len(read) == (1 << 20) // len(line) + 100 // len(line)
    assert notes == [
        ("unread", "the part of a file past 1 MiB"),
        ("unread", "files past 1 MiB in all"),
        ("unread", "files past 1 MiB in all"),
    ]
    monkeypatch.setattr(workspace, "MAX_TOTAL_BYTES", 64 << 20)
    monkeypatch.setattr(workspace, "MAX_LINES", 10)
    (tmp_path / "events-0").write_bytes(b"\n" * 5 + line * 3)  # 8 lines, 3 kept
    lines = workspace.read_events(tmp_path)
    past = workspace.note("unread", "lines past 10 in all")
    # events-0: 8 of the 10; events-1: its first 2 (of a file cut at 1 MiB); then none.
    assert [x for x in lines if not x.startswith(workspace.NOTE)] == [line.strip()] * 5
    assert lines.count(past) == 3
    monkeypatch.setattr(workspace, "MAX_LINES", 1000)
    monkeypatch.setattr(workspace, "MAX_FILES", 2)
    monkeypatch.setattr(workspace, "MAX_TOTAL_BYTES", 64 << 20)
    assert workspace.read_note(workspace.read_events(tmp_path)[-1]) == (
        "unread",
        "more than 2 files: the rest",
    )


def test_the_files_are_read_after_their_directory_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opened (and checked) while the directory exists, read a batch at a time after it
    was removed: past MAX_OPEN files the rest are read at once, with the same lines."""
    monkeypatch.setattr(workspace, "CHUNK_BYTES", 64)
    monkeypatch.setattr(workspace, "MAX_OPEN", 2)
    directory = tmp_path / "run"
    directory.mkdir()
    expected = []
    for pid in (1, 2, 3):
        lines = [b'{"n":%d,"pid":%d}' % (n, pid) for n in range(20)]
        (directory / f"events-{pid}").write_bytes(b"\n".join(lines) + b"\n" + b"\0" * 100)
        expected += lines
    open_before = len(os.listdir("/proc/self/fd"))
    files = workspace.open_events(directory)
    assert len(os.listdir("/proc/self/fd")) == open_before + 2  # the first MAX_OPEN files
    shutil.rmtree(directory)
    batches = list(files.batches())
    assert [line for batch in batches for line in batch] == expected
    assert len(batches) > 3  # a few lines a batch, never a line cut in two
    assert len(os.listdir("/proc/self/fd")) == open_before  # each closed once read


def test_a_line_with_no_end_costs_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line longer than any event is kept to its first LONGEST_LINE bytes (then dropped
    as not JSON); the lines after it are read as usual."""
    monkeypatch.setattr(workspace, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(workspace, "LONGEST_LINE", 1000)
    (tmp_path / "events-1").write_bytes(b"x" * 100_000 + b"\n" + b'{"a":1}\n')
    long, short = workspace.read_events(tmp_path)
    assert long.startswith(b"xxx") and len(long) <= 1000 + 4096
    assert short == b'{"a":1}'
