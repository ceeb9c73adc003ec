"""A read that waits for a result not ready yet says so (``result.waiting``, with the
program's call and line) and says when the wait ends (``result.waited``); a read of a
ready result says nothing, however often it is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import every_python, require
from schema_validation import check
from tracing import trace, write

# Each blocking read marked with its call's name; the ready ones with "ready".
PROGRAM = """
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.pool import ThreadPool


def slow(i):
    time.sleep(0.2)
    return i


if __name__ == '__main__':
    pool = ThreadPool(2)
    done = pool.apply_async(slow, (1,))
    done.wait()  # wait
    for _ in range(3):
        done.get()  # ready
    done.wait()  # ready
    pool.apply_async(slow, (2,)).get()  # get
    pool.map(slow, [3])  # map
    pool.starmap(slow, [(4,)])  # starmap
    pool.apply(slow, (5,))  # apply
    items = pool.imap(slow, [6, 7])
    next(items)  # next
    time.sleep(0.3)
    next(items)  # ready
    pool.close()
    pool.join()
    with ThreadPoolExecutor(1) as executor:
        future = executor.submit(slow, 8)
        future.exception()  # exception
        future.result()  # ready
        executor.submit(slow, 9).result()  # result
        list(executor.map(slow, [10]))  # map
"""

# The interpreters the reads differ on most: the oldest, free-threaded, PyPy; and ours.
PYTHONS = [p for p in every_python() if p[0] in ("3.8", "3.14t", "pypy3")] + [("own", "")]


def expected_waits(program: Path) -> list[tuple[str, int]]:
    """(via, line) of each line of ``program`` marked as a blocking read."""
    found = []
    for number, text in enumerate(program.read_text().splitlines(), 1):
        mark = text.rpartition("# ")[2]
        if "# " in text and mark != "ready":
            found.append((mark, number))
    return found


@pytest.mark.parametrize(("name", "path"), PYTHONS, ids=[p[0] for p in PYTHONS])
def test_each_read_that_waits_says_so_and_a_ready_one_nothing(
    tmp_path: Path, name: str, path: str | None
) -> None:
    python = ["--python", require(name, path)] if path != "" else []
    program = write(tmp_path, "reads.py", PROGRAM)
    doc = trace(*python, str(program)).doc
    assert doc is not None
    check(doc, f"trace reads.py under {name}")
    waits = [e for e in doc["events"] if e["kind"] in ("result.waiting", "result.waited")]
    begun = [e for e in waits if e["kind"] == "result.waiting"]
    assert [(e["via"], e["site"]["line"]) for e in begun] == expected_waits(program)
    assert all(e["site"]["file"] == str(program) for e in begun)
    # Each wait ends before the next begins (one thread), with the same call and pool.
    assert len(waits) % 2 == 0
    pairs = list(zip(waits[::2], waits[1::2], strict=True))
    for waiting, waited in pairs:
        assert (waiting["kind"], waited["kind"]) == ("result.waiting", "result.waited")
        for field in ("via", "call", "pool"):
            assert waiting[field] == waited[field], (waiting, waited)
        assert waited["t"] - waiting["t"] >= 0.05
    assert not any(e["kind"] == "channel.incomplete" for e in doc["events"])
    assert doc["findings"] == []
