"""Files poolctl writes (--svg, --html, --trace): special files and links are written
through as any CLI writes them, only a regular file is replaced atomically, the umask is
honoured, targets are checked before anything runs, and a failed export loses no run."""

from __future__ import annotations

import contextlib
import json
import os
import select
import stat
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli, run_pipeline

POOLCTL = [sys.executable, "-m", "poolctl"]
# A character device's numbers on Linux: /dev/null is 1,3 and /dev/full is 1,7.
NULL, FULL = (1, 3), (1, 7)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved run document, for ``poolctl render`` (which runs nothing)."""
    path = tmp_path_factory.mktemp("saved") / "run.json"
    path.write_text(json.dumps(run_pipeline("close-join", duration=0.05)))
    return path


def device(path: Path, numbers: tuple[int, int]) -> Path:
    """A character device of this test's own (a twin of /dev/null or /dev/full), so that
    a poolctl that replaced it could do no harm to the machine."""
    if os.geteuid() != 0:
        pytest.skip("making a character device needs root")
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(*numbers))
        os.close(os.open(path, os.O_WRONLY))  # a filesystem mounted nodev refuses this
    except OSError as exc:
        pytest.skip(f"cannot make or use a character device here: {exc}")
    return path


def poolctl(
    *args: str, umask: int | None = None, pass_fds: tuple[int, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """The real entry point, with a umask of its own if given."""
    return subprocess.run(
        [*POOLCTL, *args],
        capture_output=True,
        text=True,
        timeout=45,
        stdin=subprocess.DEVNULL,
        pass_fds=pass_fds,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def is_svg(text: str) -> bool:
    return ET.fromstring(text).tag == "{http://www.w3.org/2000/svg}svg"


def test_a_character_device_stays_one(saved: Path, tmp_path: Path) -> None:
    """--svg/--html/--trace to a device write to it; the device is never replaced."""
    twin = device(tmp_path / "null", NULL)
    for kind in ("--svg", "--html", "--trace"):
        result = poolctl("render", str(saved), kind, str(twin))
        assert result.returncode == 0, result.stderr
        assert stat.S_ISCHR(twin.stat().st_mode), f"{kind} replaced the device"
    assert os.listdir(tmp_path) == ["null"]  # no temporary file left beside it
    # Only now that a device of our own survived, the system's /dev/null itself.
    before = Path("/dev/null").stat()
    assert poolctl("render", str(saved), "--svg", "/dev/null").returncode == 0
    after = Path("/dev/null").stat()
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_a_symlink_is_written_through_and_kept(saved: Path, tmp_path: Path) -> None:
    """The link's target is written (keeping its mode), the link stays a link; a dangling
    link creates its target."""
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "out.svg"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.svg"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.html"
    dangling.symlink_to(tmp_path / "real" / "new.html")
    result = poolctl("render", str(saved), "--svg", str(link), "--html", str(dangling))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and dangling.is_symlink()
    assert is_svg(target.read_text())
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert "<html" in (tmp_path / "real" / "new.html").read_text()
    assert sorted(os.listdir(tmp_path / "real")) == ["new.html", "out.svg"]


def test_a_fifo_is_written_to_not_replaced(saved: Path, tmp_path: Path) -> None:
    """A named pipe is opened and written, read while poolctl writes it."""
    fifo = tmp_path / "timeline.svg"
    os.mkfifo(fifo)
    # A reader first, so poolctl's open does not wait (a shell's `> fifo` would, too).
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        process = subprocess.Popen(
            [*POOLCTL, "render", str(saved), "--svg", str(fifo)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        chunks = _read_until_done(reader, process)
    finally:
        os.close(reader)
    assert process.returncode == 0
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert is_svg(b"".join(chunks).decode())
    assert os.listdir(tmp_path) == ["timeline.svg"]


def _read_until_done(fd: int, process: subprocess.Popen[bytes]) -> list[bytes]:
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05)
            data = os.read(fd, 65536) if ready else b""
            chunks.append(data)
            if not data and process.poll() is not None:
                return chunks
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=30)


def test_stdout_and_a_pipe_are_written_through(saved: Path) -> None:
    """`--svg /dev/fd/1`, `--svg /dev/stdout` and `--html >(cat)` (a /dev/fd/N pipe)."""
    result = poolctl("render", str(saved), "--svg", "/dev/fd/1")
    assert result.returncode == 0, result.stderr
    assert is_svg(result.stdout)
    # Only now that the same path through /proc worked, /dev/stdout itself.
    result = poolctl("render", str(saved), "--svg", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert is_svg(result.stdout)
    assert Path("/dev/stdout").is_symlink()
    read_end, write_end = os.pipe()
    received: list[bytes] = []
    reading = threading.Thread(target=lambda: received.append(_read_all(read_end)))
    reading.start()
    try:
        result = poolctl(
            "render", str(saved), "--html", f"/dev/fd/{write_end}", pass_fds=(write_end,)
        )
    finally:
        os.close(write_end)
        reading.join(timeout=30)
        os.close(read_end)
    assert result.returncode == 0, result.stderr
    assert received and b"<html" in received[0]


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def read_only_mount(path: Path) -> Iterator[Path]:
    """A small read-only tmpfs at ``path`` (skips the test where it cannot be mounted)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def test_an_unwritable_directory_is_refused_before_running(cli: Any, tmp_path: Path) -> None:
    """Exit 2 and one line at once: nothing runs, nothing is written."""
    with read_only_mount(tmp_path / "ro") as ro:
        target = ro / "out.svg"
        result = cli("run", "close-join", "--duration", "0.05", "--svg", str(target))
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr == (
            f"poolctl: --svg {target}: cannot write in {ro}: Read-only file system\n"
        )


def test_a_failed_export_loses_nothing(cli: Any, tmp_path: Path) -> None:
    """The run's document is printed, the other exports written (and said so), then one
    line, exit 4."""
    full = device(tmp_path / "full", FULL)
    page = tmp_path / "page.html"
    result = cli(
        "run", "close-join", "--duration", "0.05", "--json", "--svg", str(full), "--html", str(page)
    )
    assert result.returncode == 4
    assert json.loads(result.stdout)["schema"] == "poolctl.run/1"
    assert result.stderr == (
        f"wrote {page}\npoolctl: --svg {full}: cannot write it: No space left on device\n"
    )
    assert "<html" in page.read_text()
    assert stat.S_ISCHR(full.stat().st_mode)
    shown = cli("run", "close-join", "--duration", "0.05", "--no-color", "--trace", str(full))
    assert shown.returncode == 4
    assert "Expectation vs reality" in shown.stdout
    assert shown.stderr.count("\n") == 1
    program = tmp_path / "program.py"
    program.write_text("print('the program ran')\n")
    traced = cli("trace", "--svg", str(full), str(program))
    assert traced.returncode == 125  # poolctl failed; the program's own codes stand apart
    assert "the program ran" in traced.stdout
    assert traced.stderr.endswith(": cannot write it: No space left on device\n")


def test_new_exports_honour_the_umask_and_replaced_ones_keep_their_mode(
    saved: Path, tmp_path: Path
) -> None:
    """A new file gets 0666 less the umask; a file replaced keeps its mode."""
    private, shared, kept = tmp_path / "private.svg", tmp_path / "shared.svg", tmp_path / "k.svg"
    kept.write_text("old")
    kept.chmod(0o600)
    assert poolctl("render", str(saved), "--svg", str(private), umask=0o077).returncode == 0
    assert poolctl("render", str(saved), "--svg", str(shared), umask=0o022).returncode == 0
    assert poolctl("render", str(saved), "--svg", str(kept), umask=0o022).returncode == 0
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert is_svg(kept.read_text())


def test_a_regular_file_is_still_replaced_atomically(saved: Path, tmp_path: Path) -> None:
    """A reader holding the old file sees it whole; the new one is in place."""
    target = tmp_path / "out.svg"
    target.write_text("old")
    with target.open() as old:
        assert poolctl("render", str(saved), "--svg", str(target)).returncode == 0
        assert old.read() == "old"
    assert is_svg(target.read_text())
    assert os.listdir(tmp_path) == ["out.svg"]


def test_a_socket_is_refused_before_running(tmp_path: Path, saved: Path) -> None:
    """Not a file one can write: exit 2, one line."""
    import socket

    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        result = run_cli("render", str(saved), "--svg", str(path))
    assert result.returncode == 2
    assert result.stderr == (
        f"poolctl: --svg {path}: is a socket; name a file, a character device or a pipe\n"
    )


def test_targets_that_are_not_files_are_refused(tmp_path: Path) -> None:
    """The checks alone (they write nothing): a directory, a block device, a closed file
    descriptor, a file used as a directory."""
    from poolctl.errors import UsageError
    from poolctl.render.exports import check_targets

    (tmp_path / "adir").mkdir()
    (tmp_path / "file").write_text("")
    cases = {
        str(tmp_path / "adir"): "is a directory; name a file, a character device or a pipe",
        "/dev/fd/987": "no such file",
        str(tmp_path / "file" / "x.svg"): "Not a directory",
    }
    if os.geteuid() == 0:
        block = tmp_path / "block"
        os.mknod(block, stat.S_IFBLK | 0o600, os.makedev(7, 250))
        cases[str(block)] = "is a block device; name a file, a character device or a pipe"
    for target, message in cases.items():
        with pytest.raises(UsageError) as refused:
            check_targets({"svg": target})
        assert str(refused.value) == f"--svg {target}: {message}"


def test_a_hard_linked_file_is_written_in_place(saved: Path, tmp_path: Path) -> None:
    """A rename would split the links: the file is rewritten, every name sees it."""
    target, other = tmp_path / "out.svg", tmp_path / "other.svg"
    target.write_text("old")
    os.link(target, other)
    inode = target.stat().st_ino
    assert poolctl("render", str(saved), "--svg", str(target)).returncode == 0
    assert target.stat().st_ino == inode
    assert is_svg(other.read_text())
