"""The subject's line recorders: one partial line per thread, linear in a line's length.

Threads that print pieces of lines at once (``print(..., end="")``, a progress display
per thread) must each get their own lines, never pieces of another's: on a free-threaded
build (3.14t) the pieces of one process-wide pending line were also raced on.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import poolctl

# The subject's folder is its interpreter's sys.path root: here only for this import.
sys.path.insert(0, str(Path(poolctl.__file__).parent / "subject"))
try:
    from poolctl_subject import capture
finally:
    del sys.path[0]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """What the recorders send, instead of the channel."""
    found: list[dict[str, Any]] = []
    lock = threading.Lock()

    def emit(kind: str, **data: Any) -> bool:
        with lock:
            found.append({"kind": kind, "thread_ident": threading.get_ident(), **data})
        return True

    monkeypatch.setattr(capture.channel, "emit", emit)
    yield found


def test_a_partial_line_of_one_thread_never_takes_in_another_threads(
    sent: list[dict[str, Any]],
) -> None:
    """Thread A begins a line; thread B prints a whole one; A ends its own."""
    recorder = capture.LineRecorder("stdout", sys.__stdout__)
    begun, printed = threading.Event(), threading.Event()

    def a() -> None:
        recorder.write("A begins ")
        begun.set()
        printed.wait(5)
        recorder.write("and ends\n")

    def b() -> None:
        begun.wait(5)
        recorder.write("B whole\n")
        printed.set()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e["text"] for e in sent) == ["A begins and ends", "B whole"]
    assert all(e["eol"] for e in sent)


def test_threads_writing_pieces_at_once_each_get_their_own_lines(
    sent: list[dict[str, Any]],
) -> None:
    """Eight threads, each writing its lines in many pieces at once, flushing some."""
    recorder = capture.LineRecorder("stdout", sys.__stdout__)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    start = threading.Barrier(8)

    def work(n: int) -> None:
        start.wait()
        for line in range(50):
            for piece in range(10):
                recorder.write(f"{n}.{line}.{piece};")
                if piece == 5:
                    recorder.flush()  # a partial line sent (eol false) and continued
            recorder.write("\n")

    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    by_thread: dict[int, str] = {}
    for e in sent:
        by_thread[e["thread_ident"]] = (
            by_thread.get(e["thread_ident"], "") + e["text"] + ("\n" if e["eol"] else "")
        )
    assert len(by_thread) == 8
    for text in by_thread.values():
        n = text.split(".", 1)[0]
        expected = "".join(
            "".join(f"{n}.{line}.{piece};" for piece in range(10)) + "\n" for line in range(50)
        )
        assert text == expected


def test_a_long_line_costs_linear_time_and_keeps_a_bounded_prefix(
    sent: list[dict[str, Any]],
) -> None:
    """A 4 MiB line written in 4 KiB pieces: fast, its first LINE_CHARS kept, the rest
    counted. (The old pending + text made it quadratic: seconds, here milliseconds.)"""
    recorder = capture.LineRecorder("stdout", sys.__stdout__)
    piece = "é" * 4096
    begun = time.monotonic()
    for _ in range(1024):
        recorder.write(piece)
    recorder.write("\n")
    assert time.monotonic() - begun < 1.0
    (line,) = sent
    assert line["text"] == "é" * capture.LINE_CHARS
    assert line["cut"] == 2 * (4096 * 1024 - capture.LINE_CHARS)  # in UTF-8 bytes
