"""Condense many run documents into one row per (scenario, start method, interpreter).

Each observed quantity becomes a distribution (value → how many runs), so a race shows as
a race (``completed: {"0": 13, "1": 7}``) and a deterministic row says so. Renderers
draw the compare table from these rows and derive nothing.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .document import incomplete, platform_label, platform_section
from .python_differences import differences

if TYPE_CHECKING:  # merging saved documents (``render``) needs no matrix
    from .matrix import Result

COMPARE_SCHEMA = "poolctl.compare/1"


def worker_endings(outcome: dict[str, Any]) -> str:
    """How a run's workers ended, e.g. ``2× SIGTERM`` or ``1× SIGTERM + 1× exit 0``."""
    endings: Counter[str] = Counter()
    for w in outcome["workers"]:
        if w["killed_by_poolctl"]:
            endings["killed at timeout"] += 1
        elif w.get("thread"):
            endings["stopped"] += 1
        elif w["signal"]:
            endings[w["signal"]] += 1
        elif w["exit_code"] is None:
            endings["unknown"] += 1
        else:
            endings[f"exit {w['exit_code']}"] += 1
    return " + ".join(f"{n}× {ending}" for ending, n in sorted(endings.items())) or "none"


def task_counts(outcome: dict[str, Any]) -> str:
    """A run's tasks as ``done/interrupted/never started`` (``/failed`` when any failed,
    ``/unknown`` when the fate of any is unknown)."""
    tasks = outcome["tasks"]
    text = f"{tasks['completed']}/{tasks['interrupted']}/{tasks['never_started']}"
    text += f"/{tasks['failed']} failed" if tasks["failed"] else ""
    return text + (f"/{tasks['unknown']} unknown" if tasks.get("unknown") else "")


def _error(outcome: dict[str, Any]) -> str:
    error = outcome["error"]
    return f"{error['type']}: {error['message']}" if error else "none"


@dataclass(frozen=True)
class RunRecord:
    """One run as a compare row counts it: the row it belongs to, and what it produced
    (its document; or why it was not observed, or skipped)."""

    key: tuple[str, ...]  # its row: runs of one key are one row
    scenario: str
    source: str
    steps: list[str]
    start_method: str  # the method the run used (reported by its subject), else as asked
    requested_start_method: str  # as asked; 'default' when none was
    python: str  # the interpreter's label: 3.14.7, 3.14.7t, PyPy 3.9.16
    executable: str
    platform: str  # document.platform_label of the machine it ran on
    document: dict[str, Any] | None = None
    error: str | None = None
    skipped: str | None = None


def record(result: Result) -> RunRecord:
    """A run of this machine's matrix as a compare row counts it."""
    cell, doc = result.cell, result.document
    method = (doc and doc["params"]["start_method"]) or cell.params.start_method or "default"
    return RunRecord(
        # The file, not the name: two files may share a name and claim different things.
        key=(cell.scenario.source, method, cell.interpreter.executable),
        scenario=cell.scenario.name,
        source=cell.scenario.source,
        steps=[step.name for step in cell.scenario.steps],
        start_method=method,
        # As asked: left to the default, 3.13 reports fork and 3.14 forkserver.
        requested_start_method=cell.params.start_method or "default",
        python=cell.interpreter.label,
        executable=cell.interpreter.executable,
        platform=platform_label(doc.get("platform") if doc else platform_section()),
        document=doc,
        error=result.error,
        skipped=result.skipped,
    )


def _new_row(run: RunRecord) -> dict[str, Any]:
    return {
        "scenario": run.scenario,
        "source": run.source,
        "start_method": run.start_method,
        "requested_start_method": run.requested_start_method,
        "python": run.python,
        "executable": run.executable,
        "platform": run.platform,
        "steps": list(run.steps),
        "runs": 0,
        "observed_runs": 0,
        "skipped": None,
        "matched": 0,
        "incomplete": 0,
        "hung": 0,
        "unobserved": [],
        "run_indexes": [],
        "observed": {
            key: Counter()
            for key in (
                "tasks",
                "completed",
                "interrupted",
                "never_started",
                "failed",
                "error",
                "workers",
                "main_exit_code",
                "hung",
            )
        },
        "failed_checks": Counter(),
        "findings": Counter(),  # kind → how many, over the row's runs
        "not_applicable": {},
        "races": {},
        "differs": [],
        "_shutdown": [],
    }


def summarize(results: list[Result]) -> dict[str, Any]:
    """The compare summary: rows in plan order and the totals."""
    return summarize_records([record(r) for r in sorted(results, key=lambda r: r.cell.index)])


def summarize_records(records: list[RunRecord]) -> dict[str, Any]:
    """The summary of runs in this order: a row per key (in the order first seen) and the
    totals. A row's ``run_indexes`` are the places of its runs among the observed ones, in
    this order: the document's ``runs`` are listed in the same order."""
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    observed = 0
    for result in records:
        row = rows.setdefault(result.key, _new_row(result))
        if result.skipped is not None:
            row["skipped"] = result.skipped
            continue
        row["runs"] += 1
        doc = result.document
        if doc is None:
            row["unobserved"].append(result.error)
            continue
        outcome = doc["outcome"]
        row["observed_runs"] += 1
        row["run_indexes"].append(observed)
        observed += 1
        row["matched"] += doc["matches"]
        unseen = bool(incomplete(doc))  # no verdict: its checks are not counted
        row["incomplete"] += unseen
        row["hung"] += outcome["hung"]
        seen = row["observed"]
        for key in ("completed", "interrupted", "never_started", "failed"):
            seen[key][str(outcome["tasks"][key])] += 1
        seen["tasks"][task_counts(outcome)] += 1
        seen["error"][_error(outcome)] += 1
        seen["workers"][worker_endings(outcome)] += 1
        seen["main_exit_code"][str(outcome["main"]["exit_code"])] += 1
        seen["hung"][str(outcome["hung"]).lower()] += 1
        for check in [] if unseen else doc["checks"]:
            if not check["ok"]:
                row["failed_checks"][check["claim"]] += 1
        for finding in doc.get("findings", []):
            row["findings"][finding["kind"]] += 1
        for check in doc["checks"]:
            if "not_applicable" in check:
                row["not_applicable"][check["claim"]] = check["not_applicable"]
        for race in doc["races"]:
            label = race.get("output", "hangs")
            counts = row["races"].setdefault(label, {"printed": 0, "runs": 0})
            counts["printed"] += race.get("printed", race.get("happened", False))
            counts["runs"] += 1
        if outcome["shutdown_seconds"] is not None:
            row["_shutdown"].append(outcome["shutdown_seconds"])
    finished = [_finish(row) for row in rows.values()]
    return {
        "rows": finished,
        "differences": differences(finished),
        "runs": len(records),
        "matched": sum(r["matched"] for r in finished),
        "mismatched": sum(r["observed_runs"] - r["matched"] - r["incomplete"] for r in finished),
        "incomplete": sum(r["incomplete"] for r in finished),
        "hung": sum(r["hung"] for r in finished),
        "unobserved": sum(len(r["unobserved"]) for r in finished),
        "skipped": sum(1 for r in finished if r["skipped"]),
    }


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    times = row.pop("_shutdown")
    row["shutdown_seconds"] = (
        {"median": round(statistics.median(times), 6), "min": min(times), "max": max(times)}
        if times
        else None
    )
    row["observed"] = {key: dict(counter) for key, counter in row["observed"].items()}
    row["failed_checks"] = dict(row["failed_checks"])
    row["findings"] = dict(row["findings"])
    row["deterministic"] = all(len(values) <= 1 for values in row["observed"].values())
    return row


def compare_params(
    scenarios: list[str],
    *,
    start_method: str | None = None,
    pythons: list[str] | None = None,
    workers: int | None = None,
    tasks: int | None = None,
    duration: float | None = None,
    timeout: float | None = None,
    repeat: int = 1,
    jobs: int = 1,
) -> dict[str, Any]:
    """A compare document's ``params``: the options it was made with (None: not given)."""
    return {
        "scenarios": scenarios,
        "start_method": start_method,
        "pythons": pythons or [],
        "workers": workers,
        "tasks": tasks,
        "duration": duration,
        "timeout": timeout,
        "repeat": repeat,
        "jobs": jobs,
    }


def build_compare(results: list[Result], params: dict[str, Any]) -> dict[str, Any]:
    """The ``poolctl.compare/1`` document: every run document plus the summary."""
    from . import __version__

    ordered = sorted(results, key=lambda r: r.cell.index)
    return {
        "schema": COMPARE_SCHEMA,
        "poolctl": __version__,
        "params": params,
        "runs": [r.document for r in ordered if r.document is not None],
        "errors": [
            {
                "scenario": r.cell.scenario.name,
                "start_method": r.cell.params.start_method,
                "python": r.cell.interpreter.executable,
                "message": r.error,
            }
            for r in ordered
            if r.document is None and r.skipped is None
        ],
        "summary": summarize(results),
    }


def interrupted(
    document: dict[str, Any], exit_code: int, finished: int, total: int
) -> dict[str, Any]:
    """``document`` (of the ``finished`` runs) marked as cut short by the signal that
    stopped poolctl (``exit_code`` 128 + its number) before the rest of ``total``."""
    import signal

    mark = {
        "signal": signal.Signals(exit_code - 128).name,
        "finished": finished,
        "total": total,
    }
    marked = {key: value for key, value in document.items() if key != "summary"}
    return {**marked, "interrupted": mark, "summary": document["summary"]}


def exit_code(document: dict[str, Any]) -> int:
    """3 when a run could not be observed (or not completely), else 1 on any mismatch, else
    0."""
    summary = document["summary"]
    if summary["unobserved"] or summary.get("incomplete"):
        return 3
    return 1 if summary["mismatched"] else 0
