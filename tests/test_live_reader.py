"""The live reader: a run's event files followed as they grow (``observer/tail``), checked
as the final read checks them, and the state the status line shows (``live.Follow``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.text import Text

from poolctl.live import MAX_NOTABLE, Follow
from poolctl.observer.observe import Observed
from poolctl.observer.tail import Tail
from poolctl.render.status_line import StatusLine

MAIN = 1000
WORKER = 1001


def line(t0: int, kind: str, pid: int = MAIN, role: str = "main", **data: Any) -> bytes:
    """An event as the subject writes it (raw monotonic stamp, compact JSON)."""
    event = {"t": t0 + 1000, "pid": pid, "role": role, "kind": kind, **data}
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def store(path: Path, data: bytes, size: int = 1 << 14) -> None:
    """Append ``data`` where the file's data ends, as the subject's mapping does: the rest
    of the file stays zeros."""
    if not path.exists() or path.stat().st_size == 0:
        path.write_bytes(bytes(size))
    current = path.read_bytes()
    end = current.find(b"\0")
    with path.open("r+b") as f:
        f.seek(end)
        f.write(data)


def test_only_complete_lines_and_files_as_they_appear(tmp_path: Path) -> None:
    """A line cut mid-store waits for its end; an empty file (not reserved yet) is looked
    at again; a symlink is refused; a line of a kind never used live is not returned."""
    tail = Tail(tmp_path, MAIN)
    assert tail.read() == ([], True)
    (tmp_path / f"events-{WORKER}").write_bytes(b"")  # created, nothing stored yet
    main = tmp_path / f"events-{MAIN}"
    store(main, b'{"a":1}\n{"b":')
    assert tail.read() == ([b'{"a":1}'], True)
    store(main, b'2}\n{"kind":"task.submitted"}\n')
    store(tmp_path / f"events-{WORKER}", b'{"c":3}\n')
    (tmp_path / "events-1002").symlink_to(main)
    assert tail.read() == ([b'{"b":2}', b'{"c":3}'], True)
    assert "events-1002" in tail.refused
    tail.close()


def test_a_tick_reads_a_bounded_amount(tmp_path: Path) -> None:
    """Megabytes stored at once are read over several ticks, none lost or repeated."""
    main = tmp_path / f"events-{MAIN}"
    lines = [b'{"n":%d,"pad":"%s"}' % (n, b"x" * 100) for n in range(20_000)]
    store(main, b"\n".join(lines) + b"\n", size=4 << 20)
    tail = Tail(tmp_path, MAIN)
    got: list[bytes] = []
    ticks = 0
    while True:
        more, done = tail.read()
        got += more
        ticks += 1
        if done:
            break
    assert got == lines
    assert ticks >= 5
    tail.close()


def follow_of(tmp_path: Path, t0: int) -> Follow:
    return Follow(Observed(tmp_path, t0, MAIN, 600.0))


def test_the_call_main_is_in_and_a_worker_killed_mid_task(tmp_path: Path) -> None:
    t0 = time.monotonic_ns() - 2_000_000_000
    site = {"file": "/somewhere/hang.py", "line": 15, "function": "<module>"}
    main = tmp_path / f"events-{MAIN}"
    store(
        main,
        line(
            t0, "pool.created", api="pool", start_method="fork", workers=[WORKER], pool=1, site=site
        ),
    )
    store(main, line(t0, "close.called", pool=1, site=site) + line(t0, "close.returned", pool=1))
    store(main, line(t0, "join.called", pool=1, site=site))
    store(main, line(t0, "worker.exited", worker=WORKER, exit_code=-9, pool=1))
    worker = tmp_path / f"events-{WORKER}"
    store(worker, line(t0, "task.started", WORKER, "worker", task=0, worker=WORKER, pool=1))
    follow = follow_of(tmp_path, t0)
    notable = follow.poll()
    assert [n.message for n in notable] == [
        f"worker {WORKER} of Pool 1 killed by SIGKILL while running task 0"
    ]
    call = follow.in_call()
    assert call is not None
    assert (call.call, call.pool, call.site) == ("join()", "Pool 1", "hang.py:15")
    assert follow.poll() == []  # told once
    store(main, line(t0, "join.returned", pool=1))
    follow.poll()
    assert follow.in_call() is None
    follow.close()


def test_a_read_waiting_for_a_result_is_the_call_main_is_in(tmp_path: Path) -> None:
    """result.waiting: main in the program's call (map() for a get() inside Pool.map), at
    its line; result.waited ends it, leaving the call it was made in (none here)."""
    t0 = time.monotonic_ns() - 2_000_000_000
    site = {"file": "/somewhere/prog.py", "line": 14, "function": "<module>"}
    main = tmp_path / f"events-{MAIN}"
    created = line(
        t0, "pool.created", api="threadpool", start_method=None, workers=[], pool=1, site=site
    )
    store(main, created + line(t0, "result.waiting", pool=1, call=3, via="map", site=site))
    follow = follow_of(tmp_path, t0)
    assert follow.poll() == []
    call = follow.in_call()
    assert call is not None
    assert (call.call, call.pool, call.site) == ("map()", "ThreadPool 1", "prog.py:14")
    store(main, line(t0, "result.waited", pool=1, call=3, via="map"))
    follow.poll()
    assert follow.in_call() is None
    follow.close()


def test_what_the_final_read_drops_is_dropped_and_text_is_escaped(tmp_path: Path) -> None:
    """An observer's kind sent by the run, a bad shape, a stamp from the future: not
    taken. A task's message with a terminal sequence reaches the terminal escaped; past
    MAX_NOTABLE events, one line says the report has the rest."""
    t0 = time.monotonic_ns() - 2_000_000_000
    main = tmp_path / f"events-{MAIN}"
    store(main, line(t0, "run.timeout"))
    store(main, line(t0, "join.called", pool="one"))
    store(
        main,
        json.dumps({"t": t0 + 10**15, "pid": MAIN, "role": "main", "kind": "join.called"}).encode()
        + b"\n",
    )
    worker = tmp_path / f"events-{WORKER}"
    for n in range(MAX_NOTABLE + 3):
        failed = line(
            t0,
            "task.failed",
            WORKER,
            "worker",
            task=n,
            worker=WORKER,
            type="ValueError",
            message="\x1b]52;c;evil\x07",
        )
        store(worker, failed, size=1 << 16)
    follow = follow_of(tmp_path, t0)
    notable = follow.poll()
    assert follow.in_call() is None
    assert len(notable) == MAX_NOTABLE
    assert notable[-1].kind == "more"
    status = StatusLine()
    status.follow, status.pending = follow, notable[:1]
    shown: list[Text] = status._notable(79)
    assert "\x1b" not in shown[0].plain and "\\x1b]52" in shown[0].plain
    follow.close()
