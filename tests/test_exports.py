"""Exports: the Chrome trace, the SVG timeline, the HTML page, and poolctl render."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli, run_pipeline
from poolctl.render import exports

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def run_doc() -> dict[str, Any]:
    """One real run with queued tasks: 4 tasks on 2 workers, close() and join()."""
    return run_pipeline("queued-tasks-close-join", workers=2, tasks=4, duration=0.1)


def test_trace_follows_the_trace_event_format(run_doc: dict[str, Any]) -> None:
    """Metadata names each process; slices and instants carry the documented fields."""
    trace = json.loads(exports.content("trace", run_doc))
    events = trace["traceEvents"]
    assert trace["displayTimeUnit"] == "ms"
    assert {e["ph"] for e in events} <= {"M", "X", "i"}
    names = {e["args"]["name"] for e in events if e["name"] == "process_name"}
    main_pid = run_doc["outcome"]["main"]["pid"]
    assert f"main (pid {main_pid})" in names
    assert sum(name.startswith("worker ") for name in names) == len(run_doc["outcome"]["workers"])
    for e in events:
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] == "X":
            assert e["ts"] >= 0 and e["dur"] >= 0 and e["name"] and e["cat"]
        if e["ph"] == "i":
            assert e["s"] == "t" and e["ts"] >= 0
    tasks = [e for e in events if e["ph"] == "X" and e["cat"] == "task"]
    assert sorted(e["args"]["task"] for e in tasks) == [0, 1, 2, 3]
    calls = {e["name"] for e in events if e["ph"] == "X" and e["cat"] == "lifecycle"}
    assert calls == {"close()", "join()"}
    join = next(e for e in events if e["name"] == "join()")
    # In microseconds, from join.called to join.returned (not the whole run: starting the
    # interpreter and the pool, under forkserver and load, can take over a second).
    [called] = [e["t"] for e in run_doc["events"] if e["kind"] == "join.called"]
    [returned] = [e["t"] for e in run_doc["events"] if e["kind"] == "join.returned"]
    assert join["dur"] / 1e6 == pytest.approx(returned - called, abs=1e-5)


def test_svg_has_a_lane_per_process_and_the_markers(run_doc: dict[str, Any]) -> None:
    """A real picture: parseable, one lane per process, bars and call markers."""
    root = ET.fromstring(exports.content("svg", run_doc))
    lanes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "lane"]
    assert len(lanes) == 1 + len(run_doc["outcome"]["workers"])
    markers = {g.get("data-kind") for g in root.iter(f"{SVG}g") if g.get("class") == "marker"}
    assert {"close", "join"} <= markers
    bars = [r for r in root.iter(f"{SVG}rect") if (r.get("class") or "").startswith("task")]
    assert len(bars) == 4
    assert all(bar.get("class") == "task completed" for bar in bars)
    assert any(g.get("class") == "legend" for g in root.iter(f"{SVG}g"))


def test_svg_of_ten_thousand_tasks_stays_small(marker: str) -> None:
    """Bars are merged at scale: well under 1 MB."""
    doc = run_pipeline("close-join", workers=2, tasks=10_000, duration=0.0)
    text = exports.content("svg", doc)
    assert len(text.encode()) < 200_000
    ET.fromstring(text)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)
            if name == "id" and value:
                self.ids.add(value)


@pytest.mark.timeout(60)
def test_compare_html_is_self_contained(marker: str, tmp_path: Path) -> None:
    """The page holds the table, the legend once and one SVG per run, links each row to its
    runs and back (anchors in the page), and fetches nothing."""
    page = tmp_path / "report.html"
    trace = tmp_path / "trace.json"
    result = run_cli(
        "compare",
        "close-join",
        "terminate-join",
        "--duration",
        "0.1",
        "--html",
        str(page),
        "--trace",
        str(trace),
        "--no-color",
    )
    assert result.returncode == 0, result.stderr
    parser = _Collect()
    parser.feed(page.read_text())
    assert parser.urls, "rows link to their runs"
    assert all(url.startswith("#") and url[1:] in parser.ids for url in parser.urls)
    assert {"#run-1", "#run-2", "#row-1", "#row-2"} <= set(parser.urls)
    assert "table" in parser.tags and parser.tags.count("svg") == 3  # the legend, 2 runs
    assert page.read_text().count("<g class='legend'>") == 1  # the legend, once
    assert "✓" in page.read_text()
    runs = json.loads(trace.read_text())["traceEvents"]
    groups = {e["pid"] // 10_000_000 for e in runs}
    assert groups == {1, 2}  # each run its own group of processes


def test_render_redraws_a_saved_document(marker: str, tmp_path: Path) -> None:
    """render: terminal view and exports from a saved --json, without running anything."""
    saved = tmp_path / "run.json"
    saved.write_text(run_cli("run", "close-join", "--duration", "0.1", "--json").stdout)
    shown = run_cli("render", str(saved), "--no-color")
    assert shown.returncode == 0
    assert "Expectation vs reality" in shown.stdout
    svg = tmp_path / "out.svg"
    written = run_cli("render", str(saved), "--svg", str(svg))
    assert written.returncode == 0
    ET.parse(svg)
    assert not list(tmp_path.glob(".out.svg.*.tmp"))  # written atomically, nothing left


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"schema": "poolctl.other/9"}', "unknown document schema 'poolctl.other/9'"),
        ("[1, 2]", "unknown document schema None"),
        ("not json", "not a JSON document"),
    ],
)
def test_render_refuses_what_it_cannot_read(tmp_path: Path, content: str, expected: str) -> None:
    """Exit 2 and one line for an unknown schema or version, or for something else."""
    path = tmp_path / "doc.json"
    path.write_text(content)
    result = run_cli("render", str(path))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"poolctl: {path}: {expected}")


def test_an_output_in_a_missing_directory_is_refused_before_running(cli: Any) -> None:
    """Exit 2 at once: the run does not start."""
    result = cli("run", "close-join", "--svg", "/nonexistent/dir/out.svg")
    assert result.returncode == 2
    assert (
        result.stderr == "poolctl: --svg /nonexistent/dir/out.svg: no such directory: "
        "/nonexistent/dir\n"
    )


def test_leftovers_are_reported_when_they_were_killed() -> None:
    """cleanup.killed carries the moment the observer killed the leftovers, not a guess."""
    from poolctl import events, outcome
    from poolctl.observer.observe import Leftover, Observation

    obs = Observation(t0_ns=1_000_000_000, pid=42, exit_code=0, exit_ns=1_500_000_000)
    obs.event_lines = [b'{"t":1010000000,"pid":42,"role":"main","kind":"main.started"}']
    obs.leftovers = [Leftover(43, "python worker")]
    obs.leftovers_ns = 2_500_000_000
    parsed, _ = events.parse(obs)
    killed = [e for e in parsed if e["kind"] == "cleanup.killed"]
    assert [(e["t"], e["processes"]) for e in killed] == [
        (1.5, [{"pid": 43, "command": "python worker"}])
    ]
    assert outcome.derive(parsed)["leftovers"] == [{"pid": 43, "command": "python worker"}]
