"""The timeline model (what every view draws, computed once) and the looks (declared once)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from conftest import run_pipeline
from poolctl.render import exports, lanes, looks
from poolctl.render.timeline_model import timeline
from poolctl.steps import STEPS

SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def hung_doc() -> dict[str, Any]:
    """worker-killed: kill-worker, close, then a join() that never returns (stopped at 2 s).

    fork: the workers must be up and busy well within the timeout, on any Python and
    under load (forkserver, 3.14's default, took over 1 s to get there)."""
    return run_pipeline(
        "worker-killed", workers=2, tasks=2, duration=0.1, timeout=2.0, start_method="fork"
    )


def test_calls_are_paired_and_a_hung_call_stays_open(hung_doc: dict[str, Any]) -> None:
    """Each .called meets its .returned; join() never returned and is drawn to the main exit."""
    drawn = timeline(hung_doc)
    assert [c.name for c in drawn.calls] == ["kill-worker", "close", "join"]
    kill, close, join = drawn.calls
    for call in (kill, close):
        assert call.end is not None and call.start <= call.end == call.drawn_to
    assert join.end is None and join.end_seq is None
    assert drawn.main.exited is not None
    assert join.drawn_to == drawn.until == drawn.main.exited
    assert kill.details["worker"] in {w.pid for w in drawn.workers}
    assert {c.pool for c in drawn.calls} == {1}  # a scenario's one pool, as in the outcome
    happened = [(what, getattr(thing, "name", getattr(thing, "kind", ""))) for what, thing in
                drawn.in_order()]  # fmt: skip
    assert happened.index(("called", "close")) < happened.index(("returned", "close"))
    assert ("returned", "join") not in happened
    assert drawn.main.ending == "timeout" and drawn.main.killed
    assert drawn.end >= drawn.main.exited


def test_task_bars_and_lifelines_are_the_outcomes(hung_doc: dict[str, Any]) -> None:
    """A bar's state, a worker's exit: read from the outcome, never re-derived from events."""
    doc = copy.deepcopy(hung_doc)
    runs = [r for r in doc["outcome"]["task_runs"] if r["started"] is not None]
    assert runs
    runs[0]["status"] = "failed"  # a state the events do not support: the outcome wins
    doc["outcome"]["workers"][0].update(exit_code=7, signal=None, killed_by_poolctl=False)
    drawn = timeline(doc)
    assert drawn.tasks[0].task == runs[0]["task"] and drawn.tasks[0].state == "failed"
    assert drawn.workers[0].ending == "exit code" and drawn.workers[0].exit_code == 7
    svg = ET.fromstring(exports.content("svg", doc))
    classes = [
        r.get("class") for r in svg.iter(f"{SVG}rect") if r.get("class", "").startswith("task")
    ]
    assert "task failed" in classes
    assert "exit 7" in exports.content("svg", doc)


def test_a_kill_worker_call_is_drawn_in_every_view(hung_doc: dict[str, Any]) -> None:
    """Its event names the target worker; it is still the main process's call (it once
    vanished from the terminal timeline and the SVG for that)."""
    main_lane = lanes.render(hung_doc, 120)[1].plain
    assert main_lane.startswith("main ") and "K" in main_lane and "C" in main_lane
    svg = ET.fromstring(exports.content("svg", hung_doc))
    kinds = [g.get("data-kind") for g in svg.iter(f"{SVG}g") if g.get("class") == "marker"]
    assert kinds[:3] == ["kill-worker", "close", "join"]
    trace = json.loads(exports.content("trace", hung_doc))["traceEvents"]
    slices = [e["name"] for e in trace if e["ph"] == "X" and e["cat"] == "lifecycle"]
    assert slices == ["kill-worker()", "close()", "join() (never returned)"]


def test_the_exports_import_no_rich(hung_doc: dict[str, Any], tmp_path: Path) -> None:
    """SVG, trace and HTML are drawn without rich (the model and the looks are plain)."""
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(hung_doc))
    code = (
        "import json, sys\n"
        "from poolctl.render import exports\n"
        f"doc = json.loads(open({str(saved)!r}).read())\n"
        "for kind in ('svg', 'trace', 'html'):\n"
        "    exports.content(kind, doc)\n"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_legends_are_built_from_the_looks() -> None:
    """Every call's and point event's mark is in the terminal legend, in lines under 80
    columns; the README shows that legend; the SVG legend names the task states."""
    legend = lanes.LEGEND
    for step in STEPS.values():
        assert f"{step.mark} {step.legend}" in legend
    for look in looks.POINTS.values():
        if look.mark:
            assert f"{look.mark} {look.legend}" in legend
    assert all(len(line) < 80 for line in legend.splitlines())
    assert legend in (ROOT / "README.md").read_text()
    boxes, shapes = looks.svg_legend()
    assert [words for _, words in boxes][:3] == [look.legend for look in looks.TASKS.values()]
    assert looks.EXITED.legend in shapes and looks.KILLED.legend in shapes
