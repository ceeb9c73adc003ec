"""The bundled catalogue yields the findings its scenarios are about, each naming the line
of the program ``poolctl show NAME --code`` writes; the correct ones yield none."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import python_for, run_pipeline
from poolctl import codegen, findings, scenario
from poolctl.render import findings_view

LOST = "lost-to-terminate"
# Each scenario's findings, and the call its line in `show --code` makes.
EXPECTED: dict[str, tuple[list[str], str | None]] = {
    "close-join": ([], None),
    "queued-tasks-close-join": ([], None),
    "with-block-close-join": ([], None),
    "threadpool-close-join": ([], None),
    "task-raises": ([], None),
    "maxtasksperchild": ([], None),
    # It hangs when the worker died holding the task queue's lock, or had taken the task.
    "idle-worker-killed": (["join-cannot-return"], "pool.join()"),
    "executor-shutdown-wait": ([], None),
    "executor-shutdown-nowait": ([], None),
    "executor-worker-killed": ([], None),
    "thread-executor-shutdown-wait": ([], None),
    "thread-executor-shutdown-nowait": ([], None),
    "thread-executor-with-block": ([], None),
    "interpreter-executor-shutdown-wait": ([], None),
    "terminate-join": ([LOST], "pool.terminate()"),
    "terminate-without-join": ([LOST], "pool.terminate()"),
    "queued-tasks-terminate": ([LOST], "pool.terminate()"),
    "threadpool-terminate-join": ([LOST], "pool.terminate()"),
    "with-block": ([LOST], "with "),
    "close-without-join": ([LOST], "pool = "),  # the pool the finalizer terminated
    "join-without-close": ([LOST], "pool = "),
    "del-running-pool": ([LOST], "del pool"),
    "executor-terminate-workers": ([LOST], "terminate_workers()"),
    "executor-kill-workers": ([LOST], "kill_workers()"),
    "worker-killed": (["join-cannot-return"], "pool.join()"),
    "executor-cancel-futures": (["cancelled-futures-awaited"], "cancel_futures=True"),
    "thread-executor-cancel-futures": (["cancelled-futures-awaited"], "cancel_futures=True"),
    "interpreter-executor-cancel-futures": (["cancelled-futures-awaited"], "cancel_futures=True"),
}


# Scenarios whose finding comes with a hang that is a race.
RACES = {"idle-worker-killed"}


def test_every_bundled_scenario_has_its_expected_findings() -> None:
    assert set(EXPECTED) == set(scenario.bundled_names())


def program_line(doc: dict[str, Any], site: dict[str, Any]) -> str:
    """The line ``site`` names in the run's program of ``show --code``."""
    chosen = scenario.load(doc["scenario"]["name"])
    params = doc["params"]
    text = codegen.program(
        chosen,
        workers=params["workers"],
        tasks=params["tasks"],
        duration=params["duration"],
        start_method=params["start_method"],
    )
    assert site["file"] == f"<poolctl show {chosen.name} --code>"
    return text.splitlines()[site["line"] - 1]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_catalogue_yields_the_findings_it_is_about(name: str, marker: str) -> None:
    kinds, call = EXPECTED[name]
    chosen = scenario.load(name)
    python = python_for(chosen.requires_python)
    # fork where the scenario's pool starts processes: its workers start at once, so the
    # counts are not a race between the pool's start and its end.
    method = "fork" if chosen.api in ("pool", "executor") else None
    # timeout=None: a scenario that hangs on purpose is stopped at its own (5 s), not 30 s.
    doc = run_pipeline(name, python=python, start_method=method, timeout=None)
    found = doc["findings"]
    if name in RACES and not doc["outcome"]["hung"]:
        kinds = []
    assert [f["kind"] for f in found] == kinds, found
    for finding in found:
        assert call is not None and call in program_line(doc, finding["site"]), finding
        assert finding["pool"] == 1
    if kinds == [LOST]:
        counts = found[0]["counts"]
        assert counts["interrupted"] + counts["never_started"] >= 1
        assert counts["interrupted"] + counts["never_started"] == (
            doc["outcome"]["tasks"]["interrupted"] + doc["outcome"]["tasks"]["never_started"]
        )


def test_every_call_of_a_scenario_carries_its_line() -> None:
    """pool.created, each task.submitted and each step's .called name their line."""
    doc = run_pipeline("close-join", duration=0.05, tasks=2)
    sites = [(e["kind"], program_line(doc, e["site"])) for e in doc["events"] if e.get("site")]
    assert [kind for kind, _ in sites] == [
        "pool.creating",
        "pool.created",
        "task.submitted",
        "task.submitted",
        "close.called",
        "join.called",
    ]
    assert "Pool(" in sites[0][1] and "apply_async" in sites[2][1]
    assert sites[4][1].strip() == "pool.close()" and sites[5][1].strip() == "pool.join()"
    assert doc["outcome"]["pools"][0]["site"]["line"] > 0


def test_the_panel_says_what_and_where() -> None:
    finding = {
        "kind": LOST,
        "pool": 1,
        "site": {"file": "prog.py", "line": 12, "function": "main"},
        "message": "Pool 1 was stopped with 1 task interrupted, 0 never started",
        "counts": {"interrupted": 1, "never_started": 0},
        "remedy": "Call join().",
    }
    assert findings_view.lines({"findings": [finding]}) == [
        "lost-to-terminate · pool 1 · prog.py:12 in main",
        "  Pool 1 was stopped with 1 task interrupted, 0 never started",
        "  → Call join().",
    ]
    assert findings_view.lines({}) == [findings_view.NONE]
    assert findings_view.row_cell({"findings": {LOST: 3, "pool-at-import": 1}}) == (
        "lost-to-terminate ×3, pool-at-import ×1"
    )
    hostile = {**finding, "message": "<script>alert(1)</script>"}
    assert "<script>" not in findings_view.html({"findings": [hostile]})
    assert findings.where({"file": "p.py", "line": 3, "function": "<module>"}) == "p.py:3"


@pytest.mark.timeout(60)
def test_a_compare_row_counts_its_findings(marker: str) -> None:
    import poolctl

    document = poolctl.compare(
        ["terminate-join", "close-join"], start_method="fork", repeat=2, duration=0.1
    )
    rows = {row["scenario"]: row for row in document["summary"]["rows"]}
    assert rows["terminate-join"]["findings"] == {LOST: 2}
    assert rows["close-join"]["findings"] == {}


def test_docs_show_every_kind_of_finding() -> None:
    """docs/findings.md has a section, with a program, for each kind the schema allows."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    schema = json.loads((root / "src/poolctl/schemas/run-1.schema.json").read_text())
    kinds = schema["$defs"]["finding"]["properties"]["kind"]["enum"]
    text = (root / "docs/findings.md").read_text()
    for kind in kinds:
        section = text.split(f"## `{kind}`\n", 1)
        assert len(section) == 2, f"docs/findings.md has no section for {kind}"
        assert "```python" in section[1].split("\n## ", 1)[0], f"no program for {kind}"
