"""Observing must never kill the observed: with a nearly full TMPDIR (a small tmpfs), the
event files' memory-mapped stores would be a SIGBUS. poolctl refuses to start without the
space a run needs (one line), and once started, a process that cannot reserve more space
stops recording (the document says so) instead of dying.

The tmpfs is mounted for the test (root, or CAP_SYS_ADMIN); where mounting fails the tests
are skipped with the reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import schema_validation
from conftest import MARKER_VAR, nothing_left, require_python
from poolctl.observer import workspace
from poolctl.observer.observe import SUBJECT_ROOT

TMPFS_BYTES = 4 << 20


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of the test's own, unmounted after it."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(directory: Path, leave: int) -> None:
    """Fill ``directory``'s filesystem until only ``leave`` bytes are free."""
    info = os.statvfs(directory)
    free = info.f_bavail * info.f_frsize
    (directory / "filler").write_bytes(b"x" * (free - leave))


def poolctl(tmpdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m poolctl ARGS`` with ``TMPDIR=tmpdir``; nothing of it may be left."""
    marker = uuid.uuid4().hex
    try:
        return subprocess.run(
            [sys.executable, "-m", "poolctl", *args],
            capture_output=True,
            text=True,
            timeout=40,
            stdin=subprocess.DEVNULL,
            env={**os.environ, MARKER_VAR: marker, "TMPDIR": str(tmpdir)},
        )
    finally:
        nothing_left(marker)


def test_a_nearly_full_tmpdir_refuses_the_run_in_one_line(small_tmpfs: Path) -> None:
    """Less than workspace.MIN_FREE_BYTES free: exit 3 (125 for trace), one line, nothing
    started, nothing left in TMPDIR."""
    fill(small_tmpfs, workspace.MIN_FREE_BYTES // 2)
    message = (
        f"poolctl: not enough free space for the event files in {small_tmpfs}: "
        f"{workspace.MIN_FREE_BYTES // 2048} KiB free, {workspace.MIN_FREE_BYTES // 1024} KiB "
        "needed (set TMPDIR to a roomier place)\n"
    )
    done = poolctl(small_tmpfs, "run", "close-join", "--json")
    assert (done.returncode, done.stdout, done.stderr) == (3, "", message)
    program = small_tmpfs.parent / "hello.py"
    program.write_text("print('hello')\n")
    done = poolctl(small_tmpfs, "trace", str(program))
    assert (done.returncode, done.stdout, done.stderr) == (125, "", message)
    assert [p.name for p in small_tmpfs.iterdir()] == ["filler"]


# The program fills TMPDIR itself (as one writing big temporary files would), then runs
# enough tasks that the processes' event files must grow.
FILLER = """\
import tempfile
from multiprocessing import Pool

def task(n):
    return n

if __name__ == "__main__":
    with tempfile.TemporaryFile(buffering=0) as big:
        try:
            while True:
                big.write(b"x" * 65536)
        except OSError:
            print("TMPDIR is full")
        with Pool(2) as pool:
            total = sum(pool.map(task, range(3000), chunksize=1))
    print("total", total)
"""


@pytest.mark.timeout(60)
def test_running_out_of_space_stops_recording_not_the_program(
    small_tmpfs: Path, tmp_path: Path
) -> None:
    """Plain python prints its result and exits 0; so does the traced program, and the
    document says which processes stopped recording (never "killed by SIGBUS")."""
    fill(small_tmpfs, workspace.MIN_FREE_BYTES + (256 << 10))
    program = tmp_path / "filler.py"
    program.write_text(FILLER)
    done = poolctl(small_tmpfs, "trace", "--json", "--timeout", "20", str(program))
    assert done.returncode == 0, done.stderr[-500:]
    doc = json.loads(done.stdout)
    schema_validation.check(doc, "trace of filler.py on a full tmpfs")
    texts = [line["text"] for line in doc["output"] if line["stream"] == "stdout"]
    assert texts == ["TMPDIR is full", f"total {sum(range(3000))}"]
    [incomplete] = [e for e in doc["events"] if e["kind"] == "channel.incomplete"]
    assert incomplete["stopped_processes"] >= 1, incomplete
    reasons = {r["reason"] for r in incomplete["reasons"]}
    assert reasons <= {
        "out of space while recording",
        "no space could be reserved for its events",
    }, reasons


RECORDER = """\
import os, sys
sys.path.insert(0, sys.argv[1])
if sys.argv[3] == "no-fallocate":
    del os.posix_fallocate  # a platform without it: zeros are written instead
from poolctl_subject import channel
channel.connect(sys.argv[2], "main")
recorded = 0
while channel.emit("output", stream="stdout", text="z" * 1000, eol=True):
    recorded += 1
print(recorded)
"""


def interpreter(name: str) -> str:
    """This interpreter, PyPy or the oldest CPython the subject supports (or skip)."""
    if name == "this":
        return sys.executable
    if name == "pypy3":
        found = shutil.which("pypy3")
        if found is None:
            pytest.skip("pypy3 is not on PATH")
        return found
    return str(require_python(name))


@pytest.mark.parametrize("python", ["this", "pypy3", "3.8"])
@pytest.mark.parametrize("reserve", ["fallocate", "no-fallocate"])
def test_the_channel_stops_at_a_full_filesystem_and_says_so(
    small_tmpfs: Path, reserve: str, python: str
) -> None:
    """The subject's channel alone: it records until the space is gone, never SIGBUS, and
    its file ends with the channel.full line written into the reserved tail. (PyPy 7.3's
    posix_fallocate does nothing and says nothing when the space is not there.)"""
    fill(small_tmpfs, 1 << 20)
    done = subprocess.run(
        [interpreter(python), "-c", RECORDER, str(SUBJECT_ROOT), str(small_tmpfs), reserve],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    recorded = int(done.stdout)
    assert 400 <= recorded < 1100  # about 0.5 to 1 MiB of 1 KiB lines
    [file] = small_tmpfs.glob("events-*")
    data = file.read_bytes().split(b"\0")[0]
    lines = data.splitlines()
    assert len(lines) == recorded + 1
    assert json.loads(lines[-1])["kind"] == "channel.full"
