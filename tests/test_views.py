"""The terminal views at a real terminal's size and piped: the compact run view fits 24
lines, compare keeps its verdict and whole names at 80 columns, text breaks only between
words, no line ends in spaces, the legend names what is drawn."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console

from conftest import CliResult, python_for, run_pipeline
from poolctl import api, matrix, scenario
from poolctl.catalogue import summaries
from poolctl.pool_kinds import KINDS
from poolctl.render import compare_view, lanes, list_view, looks, run_view

NAMES = scenario.bundled_names()
SCREEN = 24
ESC = "\x1b"


def plain(renderable: Any, width: int) -> str:
    """What a piped console of ``width`` columns prints, as the views print it."""
    from poolctl.render.console import emit

    out = io.StringIO()
    emit(Console(file=out, width=width, color_system=None, highlight=False), renderable)
    return out.getvalue()


def check_lines(text: str, width: int) -> list[str]:
    """The lines of ``text``: plain, none ending in a space, none longer than ``width``
    unless it holds a word that could not fit on any line (a path, kept whole)."""
    assert ESC not in text
    lines = text.splitlines()
    for line in lines:
        assert line == line.rstrip(), f"trailing whitespace: {line!r}"
        if len(line) > width:
            longest = max(len(word) for word in line.split())
            assert longest > width // 2, f"a line over {width} columns: {line!r}"
    return lines


def words_whole(words_of: list[str], text: str) -> None:
    """Each of these texts' words is a word of ``text``: nothing was split mid-word."""
    shown = set(text.split())
    for source in words_of:
        for word in source.split():
            assert word in shown, f"{word!r} was split: {source!r}"


# --- run ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_every_scenario_fits_a_24_line_screen(name: str, marker: str) -> None:
    """The compact view of each bundled scenario's real run, at 80 columns: at most 24
    lines, no events list, plain lines; --events shows every event kind and every output
    line whole."""
    chosen = scenario.load(name)
    # timeout=None: a scenario that hangs on purpose is stopped at its own (5 s), not 30 s.
    doc = run_pipeline(name, python=python_for(chosen.requires_python), duration=0.1, timeout=None)
    console = Console(file=io.StringIO(), width=80, color_system=None)
    compact = check_lines(plain(run_view.render(doc, console), 80), 80)
    assert len(compact) <= SCREEN, "\n".join(compact)
    assert "Events" not in compact
    assert compact[0].startswith(f"{name}  ")
    assert "None" not in " ".join(compact[:3])
    assert any(line.startswith("Expectation vs reality") for line in compact)
    assert any(line.startswith("Timeline ") for line in compact)
    whole = plain(run_view.render(doc, console, events=True), 80)
    check_lines(whole, 80)
    assert "Events" in whole.splitlines()
    for kind in {e["kind"] for e in doc["events"]} - run_view.QUIET_KINDS:
        if kind not in run_view.BULK_KINDS:
            assert f" {kind}" in whole
    texts = [line["text"] for line in doc["output"] if "text" in line]
    if len(texts) > run_view.MAX_OUTPUT:
        texts = texts[: run_view.OUTPUT_HEAD] + texts[-run_view.OUTPUT_TAIL :]
    words_whole([text[: run_view.SHOWN_CHARS] for text in texts], whole)


def test_run_is_compact_and_events_asks_for_the_whole(cli: Callable[..., CliResult]) -> None:
    """`poolctl run` piped at 80 columns: the compact view (no events, the outcome, the
    verdict); with --events the events list; COLUMNS=200 pads nothing."""
    args = ("run", "close-join", "--duration", "0.05")
    short = cli(*args, env={"COLUMNS": "80"})
    assert short.returncode == 0, short.stderr
    lines = check_lines(short.stdout, 80)
    assert len(lines) <= SCREEN
    assert not any(" pool.created " in line for line in lines)
    assert any(line.startswith("tasks    1 submitted: 1 completed") for line in lines)
    whole = cli(*args, "--events", env={"COLUMNS": "200"})
    assert whole.returncode == 0, whole.stderr
    lines = check_lines(whole.stdout, 200)
    assert "Events" in lines
    assert any(" pool.created " in line for line in lines)
    # The executable's path, whole, in the whole view's header.
    assert f"({sys.executable})" in whole.stdout


@pytest.mark.timeout(60)
def test_back_to_back_tasks_show_where_each_begins(marker: str) -> None:
    """Six queued tasks on two workers: each worker's lane marks where its next task
    began (the bars would otherwise draw as one); the legend names the mark."""
    doc = run_pipeline("queued-tasks-close-join", duration=0.15)
    picture = lanes.picture(doc, 100)
    runs = doc["outcome"]["task_runs"]
    bar, begins = looks.TASKS["completed"].mark, looks.TASK_START.mark
    for worker, line in zip(doc["outcome"]["workers"], picture.lines[2:], strict=False):
        ran = sum(1 for run in runs if run["worker"] == worker["pid"])
        lane = line.plain[lanes.LABEL :]
        # Each task is seen to begin: at a bar after something else, or at its own mark.
        starts = len(re.findall(f"(?<![{bar}{begins}]){bar}", lane)) + lane.count(begins)
        assert starts == ran, line.plain
    assert looks.TASK_START in picture.shown


@pytest.mark.timeout(60)
def test_the_legend_names_only_what_is_drawn_in_its_colours(marker: str) -> None:
    """close-join draws no terminate and no kill: its legend does not name them; each
    mark in the legend has its lane's style."""
    doc = run_pipeline("close-join", duration=0.05)
    picture = lanes.picture(doc, 80)
    legend = lanes.legend(picture.shown, 80)
    text = "\n".join(line.plain for line in legend)
    assert "C close" in text and "J join" in text and "━ task completed" in text
    assert "T terminate" not in text and looks.KILLED.legend not in text
    assert all(len(line.plain) <= 80 for line in legend)
    styles = {
        line.plain[span.start : span.end]: str(span.style) for line in legend for span in line.spans
    }
    assert styles["P"] == looks.POINTS["pool.created"].style
    assert styles["━"] == looks.TASKS["completed"].style


@pytest.mark.timeout(60)
def test_a_thread_pool_header_names_no_start_method(marker: str) -> None:
    """A ThreadPool has no start method: the header says nothing, not 'None'."""
    doc = run_pipeline("threadpool-close-join", duration=0.05)
    top = "\n".join(line.plain for line in run_view.header(doc, 80, executable=False))
    assert "None" not in top and "· 2 workers ·" in top


# --- compare -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compared() -> dict[str, Any]:
    """A real compare: a race, a long error, a thread pool, and (before 3.14) a skipped
    scenario with the longest name."""
    names = ["terminate-join", "executor-worker-killed", "threadpool-terminate-join"]
    names.append("interpreter-executor-cancel-futures")
    return dict(api.compare(names, repeat=2, duration=0.05))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("width", [80, 60, 120])
def test_compare_keeps_every_verdict_and_whole_names(compared: dict[str, Any], width: int) -> None:
    """At 80 (and 60, 120) columns: each scenario's name whole on a line, each row's
    verdict on its row's first line, the error's words whole, nothing says None."""
    text = plain(compare_view.render(compared, width), width)
    lines = check_lines(text, width)
    rows = compared["summary"]["rows"]
    for row in rows:
        assert row["scenario"] in lines
    # A row's first line: its start method (its interpreter beside or under it).
    firsts = [line for line in lines if re.match(r"  (fork|spawn|forkserver|default)\b", line)]
    assert len(firsts) == len(rows)
    for line, row in zip(firsts, rows, strict=True):
        verdict = "skipped" if row["skipped"] else ("✓" if row["matched"] else "✗")
        assert verdict in line.split(), line
    errors = [e for row in rows for e in row["observed"]["error"] if e != "none"]
    assert errors
    words_whole(errors, text)
    assert "None" not in text


def test_a_skipped_run_is_said_skipped_in_jsonl(cli: Callable[..., CliResult]) -> None:
    """--jsonl on an interpreter too old for the scenario: 'skipped: … needs Python', never
    'not observed: … None'."""
    if sys.version_info >= (3, 14):
        pytest.skip("this interpreter runs interpreter-executor scenarios")
    result = cli("compare", "interpreter-executor-cancel-futures", "--jsonl")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "skipped: interpreter-executor-cancel-futures" in result.stderr
    assert "needs Python 3.14+" in result.stderr
    assert "None" not in result.stderr


def test_the_progress_label_names_the_start_method_used() -> None:
    """Left to the default, a run's label names the interpreter's default (what the table
    will say), and a pool of threads names none."""
    cells = matrix.plan(["close-join", "threadpool-close-join"], [], None, 1)
    first, threads = cells[0].label, cells[-1].label
    default = cells[0].interpreter.start_methods[0]
    assert first == f"close-join · {default} · {cells[0].interpreter.label}"
    assert not KINDS[cells[-1].scenario.api].starts_processes
    assert threads == f"threadpool-close-join · {cells[-1].interpreter.label}"


# --- list --------------------------------------------------------------------------------


def test_list_wraps_between_words_to_the_terminal() -> None:
    """At 80 and 50 columns every line fits and every summary's words are whole; piped
    (no width) each scenario is one line."""
    found = summaries()
    for width in (80, 50):
        lines = list_view.lines(found, width)
        assert all(len(line) <= width and line == line.rstrip() for line in lines)
        words_whole([summary for _, summary in found], "\n".join(lines))
        assert [line.split()[0] for line in lines if not line.startswith(" ")] == NAMES
    assert len(list_view.lines(found, None)) == len(found)


@pytest.mark.timeout(60)
def test_a_long_output_is_folded_to_fit(marker: str) -> None:
    """100,000 output lines and a traceback: the compact view still fits 24 lines, shows
    the traceback's first line and its exception, and says how many lines it left out;
    a taller terminal shows more of it."""
    doc = run_pipeline("close-join", duration=0.05)
    main = doc["outcome"]["main"]["pid"]

    def line(text: str, stream: str = "stdout") -> dict[str, Any]:
        return {"t": 0.5, "pid": main, "stream": stream, "text": text}

    frames = ['  File "x.py", line 1, in <module>', "    f()"] * 5
    traceback = [run_view.TRACEBACK, *frames, "ValueError: bad"]
    doc["output"] = [line(t, "stderr") for t in traceback]
    console = Console(file=io.StringIO(), width=80, color_system=None)
    shown = check_lines(plain(run_view.render(doc, console), 80), 80)
    assert len(shown) <= SCREEN
    text = "\n".join(shown)
    assert run_view.TRACEBACK in text and "ValueError: bad" in text
    assert "… 10 lines of traceback" in text and "line 1, in" not in text
    doc["output"] += [line(f"line {n}") for n in range(100_000)]
    shown = check_lines(plain(run_view.render(doc, console), 80), 80)
    assert len(shown) <= SCREEN
    assert any(s.endswith("line 99999") for s in shown)
    assert any("more lines (--events shows every line)" in s for s in shown)
    tall = Console(file=io.StringIO(), width=80, height=60, color_system=None, force_terminal=True)
    taller = plain(run_view.render(doc, tall), 80).splitlines()
    assert SCREEN < len(taller) <= 59
