"""The pictures tell the whole story (SVG, HTML), and render merges documents from several
machines into one compare, a row per (scenario, start method, interpreter, platform)."""

from __future__ import annotations

import copy
import json
import shlex
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import schema_validation
from conftest import run_cli, run_pipeline
from poolctl import api
from poolctl.compare_document import worker_endings
from poolctl.document import platform_label
from poolctl.interpreter import build_label
from poolctl.render import exports
from poolctl.render.story import story
from poolctl.render.timeline_model import timeline

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def terminated() -> dict[str, Any]:
    """terminate-join with 6 tasks on 2 workers: at most 2 start, the rest never do."""
    return run_pipeline("terminate-join", workers=2, tasks=6, duration=0.2)


@pytest.fixture(scope="module")
def raised() -> dict[str, Any]:
    """join-without-close: join() raises ValueError at once."""
    return run_pipeline("join-without-close", duration=0.1)


def texts(svg: str, cls: str) -> list[str]:
    """The text shown by each <text class=cls> of an SVG (its tooltip left out)."""
    root = ET.fromstring(svg)
    found = [t for t in root.iter(f"{SVG}text") if t.get("class") == cls]
    return [
        (t.text or "") + "".join("".join(c.itertext()) for c in t if c.tag != f"{SVG}title")
        for t in found
    ]


def test_the_svg_states_tasks_workers_error_output_command_and_versions(
    terminated: dict[str, Any],
) -> None:
    """Every fact of the outcome is in the picture, in words."""
    svg = exports.content("svg", terminated)
    facts = texts(svg, "fact")
    tasks = terminated["outcome"]["tasks"]
    never = tasks["never_started"]
    assert never >= 4
    assert any(
        f"{tasks['submitted']} submitted: {tasks['completed']} completed," in fact
        and f"{never} never started" in fact
        for fact in facts
    )
    # How they ended is a race (terminate() may find a worker still starting): as found.
    assert f"workers2 workers: {worker_endings(terminated['outcome'])}" in facts
    assert "errornone" in facts and "mainexit 0" in facts
    # The tasks that never started have a lane of their own, with their number.
    root = ET.fromstring(svg)
    lane = next(g for g in root.iter(f"{SVG}g") if g.get("data-process") == "queue")
    assert f"{never} tasks never started" in "".join(lane.itertext())
    assert any("Main done" in line for line in texts(svg, "output"))
    assert texts(svg, "command")[0].startswith("$ poolctl run terminate-join --workers 2")
    versions = texts(svg, "versions")[0]
    assert platform_label(terminated["platform"]) in versions and "poolctl " in versions


def test_the_error_shows_clear_of_the_join_mark_and_the_axis(raised: dict[str, Any]) -> None:
    """join-without-close: the error's badge and type are under the lane, the 'join' label
    above it and below the axis's tick labels; join() is drawn only until it raised."""
    svg = exports.content("svg", raised)
    root = ET.fromstring(svg)
    join = next(g for g in root.iter(f"{SVG}g") if g.get("data-kind") == "join")
    error = next(g for g in root.iter(f"{SVG}g") if g.get("data-kind") == "error")
    lane_y = float(next(join.iter(f"{SVG}path")).get("d").split()[2]) + 7
    join_label_y = float(next(join.iter(f"{SVG}text")).get("y"))
    error_texts = list(error.iter(f"{SVG}text"))
    assert "ValueError" in "".join(error.itertext())
    assert all(float(t.get("y")) > lane_y + 8 for t in error_texts)  # under the lane
    assert join_label_y < lane_y - 8  # above it
    axis_y = max(float(t.get("y")) for t in root.iter(f"{SVG}text") if t.get("class") == "tick")
    assert join_label_y > axis_y + 10  # clear of the tick labels
    fact = [f for f in texts(svg, "fact") if f.startswith("error")]
    assert fact == ["errorValueError: Pool is still running (raised by join())"]
    (call,) = [c for c in timeline(raised).calls if c.name == "join"]
    error_t = next(e["t"] for e in raised["events"] if e["kind"] == "error.raised")
    assert call.raised and call.end is None and call.drawn_to == error_t


def test_output_is_bounded_and_escaped(raised: dict[str, Any]) -> None:
    """Many and long lines: the first few and the last, a note for the rest, each line cut;
    hostile text stays text."""
    doc = copy.deepcopy(raised)
    pid = doc["outcome"]["main"]["pid"]
    doc["output"] = [
        {"t": 0.1, "pid": pid, "stream": "stdout", "text": f"line {n} <b>&" + "x" * 300}
        for n in range(100)
    ]
    told = story(doc)
    assert len(told.output) == 3 + 1 + 9 and told.output_total == 100
    assert told.output[3].text == "… 88 lines left out …"
    assert told.output[-1].text.startswith("line 99 <b>&")
    assert all(len(line.text) < 140 for line in told.output)
    svg = exports.content("svg", doc)
    ET.fromstring(svg)
    assert "line 99 &lt;b&gt;&amp;" in svg and "<b>" not in svg
    page = exports.content("html", doc)
    assert "line 99 &lt;b&gt;&amp;" in page and "<b>&" not in page
    # The page shows more (the first 10, the last 40), still bounded.
    assert "line 9 " in page and "line 60 " in page and "line 50 " not in page


def test_the_command_line_runs_the_same_run(marker: str, terminated: dict[str, Any]) -> None:
    """The picture's command, given to poolctl, makes a run with the same parameters."""
    words = shlex.split(story(terminated).command)
    assert words[:3] == ["poolctl", "run", "terminate-join"]
    # A CPython is named by its version (found on any machine); here, this very one.
    at = words.index("--python") + 1
    assert words[at] == build_label(terminated["python"])
    words[at] = sys.executable
    done = run_cli(*words[1:], "--duration", "0.05", "--json")
    assert done.returncode == 0, done.stderr
    again = json.loads(done.stdout)
    for key in ("workers", "tasks", "start_method"):
        assert again["params"][key] == terminated["params"][key]


def test_the_run_page_states_the_story(raised: dict[str, Any]) -> None:
    page = exports.content("html", raised)
    assert "ValueError: Pool is still running (raised by join())" in page
    assert "1 submitted:" in page and "<pre class='output'>" in page
    assert "$ poolctl run join-without-close" in page
    assert page.count("<g class='legend'>") == 1


def on_another_machine(doc: dict[str, Any], system: str) -> dict[str, Any]:
    other = copy.deepcopy(doc)
    other["platform"] = {**doc["platform"], "system": system, "machine": "arm64"}
    other["python"]["executable"] = "/opt/elsewhere/bin/python3"
    other["scenario"]["source"] = f"/elsewhere/scenarios/{doc['scenario']['name']}.toml"
    return other


def test_render_merges_runs_from_several_machines(
    tmp_path: Path, terminated: dict[str, Any], raised: dict[str, Any]
) -> None:
    """A run document, a --jsonl stream and a compare document: one compare, a row per
    (scenario, start method, interpreter, platform), valid against the schema."""
    compare = tmp_path / "compare.json"
    made = run_cli("compare", "close-join", "--duration", "0.05", "--json")
    assert made.returncode == 0, made.stderr
    compare.write_text(made.stdout)
    local = tmp_path / "local.json"
    local.write_text(json.dumps(terminated))
    stream = tmp_path / "mac.jsonl"
    stream.write_text(
        "".join(
            json.dumps(on_another_machine(doc, "Darwin")) + "\n" for doc in (terminated, raised)
        )
    )
    merged = api.load_documents([local, stream, compare])
    schema_validation.check(dict(merged), "merged")
    assert merged["merged"] == [str(local), str(stream), str(compare)]
    rows = merged["summary"]["rows"]
    keys = [(r["scenario"], r["platform"].split()[0]) for r in rows]
    assert keys == [
        ("terminate-join", "Linux"),
        ("terminate-join", "Darwin"),
        ("join-without-close", "Darwin"),
        ("close-join", "Linux"),
    ]
    assert len(merged["runs"]) == 4 and merged["summary"]["runs"] == 4
    page = exports.content("html", dict(merged))
    assert "<th>platform</th>" in page and "Darwin" in page
    assert "href='#run-4'" in page and "href='#row-4'" in page
    assert [row["run_indexes"] for row in rows] == [[0], [1], [2], [3]]
    # The command line: --json prints the merged document, --html draws it.
    done = run_cli("render", str(local), str(stream), "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["summary"]["rows"]) == 3


def test_one_run_per_line_of_a_single_jsonl_file_is_merged(
    tmp_path: Path, terminated: dict[str, Any]
) -> None:
    stream = tmp_path / "runs.jsonl"
    stream.write_text(json.dumps(terminated) + "\n" + json.dumps(terminated) + "\n")
    merged = api.load_documents([stream])
    assert merged["schema"] == "poolctl.compare/1"
    (row,) = merged["summary"]["rows"]
    assert row["runs"] == 2 and row["platform"] == platform_label(terminated["platform"])
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(terminated) + "\n{oops\n")
    done = run_cli("render", str(broken))
    assert done.returncode == 2 and "line 2: not a JSON document" in done.stderr
