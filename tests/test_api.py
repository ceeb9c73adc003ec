"""The Python API: ``import poolctl``, its documents, its errors, and no side effect on the
caller (no output, its subreaper setting and signal handlers as they were, any thread)."""

from __future__ import annotations

import asyncio
import ctypes
import io
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import poolctl
from poolctl import types

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
# Short tasks: each run takes a few tenths of a second.
QUICK = {"tasks": 2, "duration": 0.05}

PROGRAM = """\
import sys
from multiprocessing import Pool

if __name__ == "__main__":
    print("hello from the program", flush=True)
    print("on stderr", file=sys.stderr, flush=True)
    if len(sys.argv) > 1:
        print("read:", sys.stdin.read().strip(), flush=True)
    with Pool(1) as pool:
        pool.map(abs, [-1, -2])
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def subreaper() -> int:
    """This process's child-subreaper setting, read with prctl."""
    value = ctypes.c_int(-1)
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0) == 0
    return value.value


def set_subreaper(value: int) -> None:
    assert ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, value, 0, 0, 0) == 0


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "program.py"
    path.write_text(PROGRAM)
    return path


@pytest.fixture
def before() -> int:
    """The subreaper setting before the test (0 unless something already set it)."""
    return subreaper()


@pytest.fixture
def handlers() -> Iterator[dict[int, Any]]:
    """The signal handlers before the test; the test must leave them as they were."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield before
    after = {s: signal.getsignal(s) for s in before}
    for signum, handler in before.items():
        signal.signal(signum, handler)
    assert after == before


def typed_keys(doc: dict[str, Any], typed: Any) -> None:
    """``doc`` has every required key of the TypedDict ``typed`` and no key it lacks."""
    assert typed.__required_keys__ <= doc.keys(), typed.__name__
    assert doc.keys() <= typed.__annotations__.keys(), typed.__name__


def check_run_document(doc: dict[str, Any]) -> None:
    """The document's shape is the one ``poolctl.types`` describes."""
    typed_keys(doc, types.RunDocument)
    assert doc["schema"] == "poolctl.run/1"
    typed_keys(doc["outcome"], types.Outcome)
    typed_keys(doc["outcome"]["tasks"], types.TaskCounts)
    typed_keys(doc["params"], types.RunParams)
    for worker in doc["outcome"]["workers"]:
        typed_keys(worker, types.Worker)
    for task in doc["outcome"]["task_runs"]:
        typed_keys(task, types.TaskRun)
    for event in doc["events"]:
        assert types.Event.__required_keys__ <= event.keys()
    json.dumps(doc)  # plain JSON data


# --- the surface -------------------------------------------------------------------------


def test_import_is_lazy() -> None:
    """``import poolctl`` imports neither the observer, nor typer, nor rich."""
    code = (
        "import sys, poolctl; print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('typer', 'rich', 'click') or m.startswith('poolctl.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


def test_every_public_name_resolves() -> None:
    """Each name of ``__all__`` is there, and shows in ``dir(poolctl)``."""
    for name in poolctl.__all__:
        assert getattr(poolctl, name) is not None, name
    assert set(poolctl.__all__) <= set(dir(poolctl))
    assert issubclass(poolctl.UsageError, poolctl.PoolctlError)
    with pytest.raises(AttributeError):
        poolctl.no_such_name  # noqa: B018


# --- run -----------------------------------------------------------------------------------


def test_run_returns_the_run_document(marker: str, capfd: pytest.CaptureFixture[str]) -> None:
    """The same document as ``poolctl run --json``; nothing is written to the caller's
    stdout or stderr."""
    doc = poolctl.run("close-join", workers=2, **QUICK)
    check_run_document(doc)
    assert doc["scenario"]["name"] == "close-join"
    assert doc["params"]["tasks"] == 2
    assert doc["outcome"]["tasks"]["completed"] == 2
    assert doc["matches"] is True
    assert poolctl.exit_status(doc) == 0
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("found", [0, 1])
def test_run_leaves_the_subreaper_setting_as_it_was(marker: str, found: int) -> None:
    """A subreaper while the run is under way; afterwards, whatever the caller had."""
    original = subreaper()
    set_subreaper(found)
    try:
        poolctl.run("close-join", **QUICK)
        assert subreaper() == found
    finally:
        set_subreaper(original)


def test_run_leaves_the_signal_handlers_as_they_were(marker: str) -> None:
    """The observer holds Ctrl-C back while a run starts; the caller's handlers come back."""

    def mine(signum: int, frame: object) -> None:
        pass

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, mine)
    try:
        poolctl.run("terminate-join", **QUICK)
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is before[signal.SIGINT]
    finally:
        signal.signal(signal.SIGTERM, before[signal.SIGTERM])


def test_run_from_a_thread(before: int, marker: str, handlers: dict[int, Any]) -> None:
    """From a thread that is not the main one: no signal handler is touched (Python
    allows none there), and the run is observed as from the main thread."""
    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(poolctl.run("close-join", **QUICK)))
    thread.start()
    thread.join(timeout=30)
    assert len(found) == 1
    check_run_document(found[0])
    assert found[0]["outcome"]["tasks"]["completed"] == 2
    assert subreaper() == before


def test_run_inside_a_running_event_loop(marker: str, handlers: dict[int, Any]) -> None:
    """Inside a running asyncio loop (as in a notebook): called as it is, and in a thread
    of the loop; the loop's own SIGINT handler is left in place."""

    async def main() -> tuple[Any, Any, bool]:
        loops_handler = signal.getsignal(signal.SIGINT)
        direct = poolctl.run("close-join", **QUICK)
        threaded = await asyncio.to_thread(poolctl.run, "close-join", **QUICK)
        return direct, threaded, signal.getsignal(signal.SIGINT) is loops_handler

    direct, threaded, kept = asyncio.run(main())
    assert kept
    for doc in (direct, threaded):
        assert doc["outcome"]["tasks"]["completed"] == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: poolctl.run("no-such-scenario"), "no-such-scenario"),
        (lambda: poolctl.run("close-join", workers=0), "workers"),
        (lambda: poolctl.run("close-join", start_method="fork-exec"), "fork-exec"),
        (lambda: poolctl.compare([]), "at least one scenario"),
        (lambda: poolctl.compare("close-join", jobs=0), "--jobs"),
    ],
    ids=["unknown-scenario", "no-workers", "bad-start-method", "no-scenarios", "no-jobs"],
)
def test_bad_input_raises_usage_error(call: Any, message: str) -> None:
    """Bad input is a ``UsageError`` (exit code 2) raised before anything runs."""
    with pytest.raises(poolctl.UsageError, match=message) as caught:
        call()
    assert caught.value.exit_code == 2


# --- compare -------------------------------------------------------------------------------


def test_compare_calls_back_as_runs_start_and_end(
    before: int, marker: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """``on_start`` and ``on_result`` see every run; the document holds them all."""
    started: list[types.CompareRun] = []
    ended: list[types.CompareRun] = []
    doc = poolctl.compare(
        ["close-join", "terminate-join"],
        repeat=2,
        jobs=2,
        on_start=started.append,
        on_result=ended.append,
        **QUICK,
    )
    assert doc["schema"] == "poolctl.compare/1"
    assert len(doc["runs"]) == 4
    assert sorted(run["index"] for run in started) == [0, 1, 2, 3]
    assert sorted(run["index"] for run in ended) == [0, 1, 2, 3]
    assert {run["total"] for run in started + ended} == {4}
    assert all(run["document"] is None for run in started)
    for run in ended:
        assert run["document"] is not None
        check_run_document(run["document"])
    assert [row["scenario"] for row in doc["summary"]["rows"]] == ["close-join", "terminate-join"]
    assert poolctl.exit_status(doc) == 0
    assert capfd.readouterr() == ("", "")
    assert subreaper() == before


def test_an_exception_in_a_callback_stops_the_compare(before: int, marker: str) -> None:
    """The callback's exception reaches the caller; every run is stopped (the marker)."""

    def stop(run: types.CompareRun) -> None:
        raise RuntimeError("seen enough")

    with pytest.raises(RuntimeError, match="seen enough"):
        poolctl.compare("close-join", repeat=3, jobs=1, on_result=stop, **QUICK)
    assert subreaper() == before


# --- trace -------------------------------------------------------------------------------


def test_trace_writes_nothing_by_default(
    marker: str, program: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The program's output is in the document, and nowhere else."""
    doc = poolctl.trace(program)
    check_run_document(doc)
    assert doc["program"]["path"] == str(program)
    texts = {(line["stream"], line["text"]) for line in doc["output"]}
    assert ("stdout", "hello from the program") in texts
    assert ("stderr", "on stderr") in texts
    assert doc["outcome"]["tasks"]["completed"] == 2
    assert poolctl.exit_status(doc) == 0
    assert capfd.readouterr() == ("", "")


def test_trace_copies_the_output_to_the_streams_given(
    before: int, marker: str, program: Path
) -> None:
    """A binary stream for stdout, a function for stderr: each gets its stream, live."""
    out = io.BytesIO()
    err: list[bytes] = []
    during: list[int] = []

    def on_stderr(chunk: bytes) -> None:
        err.append(chunk)
        during.append(subreaper())

    poolctl.trace(program, stdout=out, stderr=on_stderr)
    assert b"hello from the program\n" in out.getvalue()
    assert b"on stderr" not in out.getvalue()
    assert b"".join(err) == b"on stderr\n"
    assert during and set(during) == {1}  # a subreaper while the program ran, not after
    assert subreaper() == before


def test_trace_reads_the_stdin_given(marker: str, program: Path, tmp_path: Path) -> None:
    """``stdin``: a file the program reads; without it, the program reads nothing."""
    given = tmp_path / "input.txt"
    given.write_text("some input\n")
    with given.open("rb") as stdin:
        doc = poolctl.trace(program, ["--read"], stdin=stdin)
    assert "read: some input" in {line["text"] for line in doc["output"]}
    doc = poolctl.trace(program, ["--read"])
    assert "read: " in {line["text"] for line in doc["output"]}


def test_trace_errors(tmp_path: Path) -> None:
    """A program that is not there: ``TraceError`` with 127; none named: 2."""
    with pytest.raises(poolctl.TraceError, match="no such file") as caught:
        poolctl.trace(tmp_path / "missing.py")
    assert caught.value.exit_code == 127
    with pytest.raises(poolctl.TraceError) as caught:
        poolctl.trace()
    assert caught.value.exit_code == 2


# --- render --------------------------------------------------------------------------------


def test_render_functions(marker: str, tmp_path: Path) -> None:
    """SVG, HTML and Perfetto text of a run document, and of the same document saved."""
    doc = poolctl.run("close-join", **QUICK)
    svg = poolctl.render_svg(doc)
    assert svg.startswith(("<svg", "<?xml"))
    assert "close-join" in svg
    html = poolctl.render_html(doc)
    assert html.lstrip().lower().startswith("<!doctype html")
    trace = json.loads(poolctl.render_perfetto(doc))
    assert trace["traceEvents"]
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(doc))
    assert poolctl.render_svg(poolctl.load_document(saved)) == svg
    saved.write_text('{"schema": "other/1"}')
    with pytest.raises(poolctl.UsageError, match="unknown document schema"):
        poolctl.load_document(saved)
