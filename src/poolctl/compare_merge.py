"""Saved documents from several machines (or several runs) → one compare document.

``poolctl render a.json b.jsonl c.json`` reads run documents, compare documents and
``--jsonl`` streams, and merges every run into one ``poolctl.compare/1`` document with a
row per (scenario, start method, interpreter, platform). Rows are keyed by the
scenario's *name* and the interpreter's *label*, not by file paths, which differ from
one machine to the next; runs made with other options (workers, tasks, duration) are
kept in rows of their own, as a compare's rows each have one set of options. Runs a
compare could not observe, and rows it skipped, are kept: they come from its summary
rows, as no run document holds them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .compare_document import COMPARE_SCHEMA, RunRecord, compare_params, summarize_records
from .document import platform_label
from .interpreter import build_label


def _key(
    scenario: str, method: str, python: str, platform: str, params: dict[str, Any] | None
) -> tuple[str, ...]:
    options = tuple(str((params or {}).get(k)) for k in ("workers", "tasks", "duration"))
    return (scenario, method, python, platform, *options)


def _run_record(doc: dict[str, Any], requested: str | None) -> RunRecord:
    method = doc["params"]["start_method"] or "default"
    python, platform = build_label(doc["python"]), platform_label(doc.get("platform"))
    return RunRecord(
        key=_key(doc["scenario"]["name"], method, python, platform, doc["params"]),
        scenario=doc["scenario"]["name"],
        source=doc["scenario"]["source"],
        steps=[step["step"] for step in doc["scenario"]["steps"]],
        start_method=method,
        requested_start_method=requested or method,
        python=python,
        executable=doc["python"]["executable"],
        platform=platform,
        document=doc,
    )


def _compare_records(doc: dict[str, Any]) -> list[RunRecord]:
    """A compare document's runs, row by row in its order, with each row's runs that were
    skipped or not observed."""
    rows = doc["summary"]["rows"]
    by_row: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in doc["runs"]:
        method = run["params"]["start_method"] or "default"
        by_row.setdefault(
            (run["scenario"]["source"], method, run["python"]["executable"]), []
        ).append(run)
    records = []
    for row in rows:
        requested = row.get("requested_start_method", row["start_method"])
        runs = by_row.pop((row["source"], row["start_method"], row["executable"]), [])
        records += [_run_record(run, requested) for run in runs]
        # A row's platform: its runs', else the platform of the compare's other runs.
        platform = row.get("platform") or (
            platform_label(doc["runs"][0].get("platform")) if doc["runs"] else "unknown platform"
        )
        # A run that was not observed left no document: its compare's options.
        options = runs[0]["params"] if runs else doc["params"]
        lost = RunRecord(
            key=_key(row["scenario"], row["start_method"], row["python"], platform, options),
            scenario=row["scenario"],
            source=row["source"],
            steps=list(row["steps"]),
            start_method=row["start_method"],
            requested_start_method=requested,
            python=row["python"],
            executable=row["executable"],
            platform=platform,
        )
        if row["skipped"]:
            records.append(replace(lost, skipped=row["skipped"]))
        records += [replace(lost, error=message) for message in row["unobserved"]]
    # Runs no row names (a document edited by hand): still shown, under their own rows.
    records += [_run_record(run, None) for runs in by_row.values() for run in runs]
    return records


def merge(documents: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """One compare document of every run in ``documents`` (run and compare documents, in
    the order given; ``names`` are their files, recorded in ``merged``)."""
    from . import __version__

    records: list[RunRecord] = []
    errors: list[dict[str, Any]] = []
    for doc in documents:
        if doc["schema"].startswith("poolctl.compare/"):
            records += _compare_records(doc)
            errors += doc["errors"]
        else:
            records.append(_run_record(doc, None))
    compares = [doc for doc in documents if doc["schema"].startswith("poolctl.compare/")]
    return {
        "schema": COMPARE_SCHEMA,
        "poolctl": __version__,
        "params": _params(compares, records),
        "merged": list(names),
        "runs": [r.document for r in records if r.document is not None],
        "errors": errors,
        "summary": summarize_records(records),
    }


def _params(compares: list[dict[str, Any]], records: list[RunRecord]) -> dict[str, Any]:
    """The first compare's options (the others' differ by machine at most), else the
    scenarios the runs were of and no option."""
    if compares:
        return dict(compares[0]["params"])
    names = list(dict.fromkeys(r.scenario for r in records))
    return compare_params(names or ["none"])
