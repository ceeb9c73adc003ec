"""One self-contained HTML page (no network fetches): the comparison table and, for each
run, its SVG timeline, expectation against reality marked. Drawn from documents only."""

from __future__ import annotations

from typing import Any

from ..document import incomplete, program_ending
from ..document import title as document_title
from ..interpreter import build_label
from ..python_differences import describe
from . import findings_view
from .markup import escape
from .svg_export import run_svg

STYLE = """
body { font-family: DejaVu Sans, Arial, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 12px 0 24px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.ok { color: #2e7d32; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
.race { color: #a06800; } .dim { color: #777; } section { margin-bottom: 32px; }
td.differs, span.differs { background: #f3e5f5; color: #6a1b9a; font-weight: bold; }
"""


def _dist(counts: dict[str, int]) -> str:
    if len(counts) == 1:
        return escape(next(iter(counts)))
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    return "<br>".join(f"{escape(value)} ({escape(n)})" for value, n in ordered)


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        "<tr><th>scenario</th><th>start method</th><th>python</th>"
        "<th>tasks done/int/never</th><th>workers</th><th>main exit</th><th>error</th>"
        "<th>vs docs</th></tr>"
    )
    body = []
    for row in rows:
        seen = row["observed"]
        if row.get("skipped"):
            verdict = f"<span class='dim'>skipped: {escape(row['skipped'])}</span>"
        elif row.get("incomplete"):
            verdict = (
                f"<span class='bad'>? {escape(row['incomplete'])}/{escape(row['observed_runs'])}"
                " not completely observed</span>"
            )
        else:
            ok = bool(row["observed_runs"]) and row["matched"] == row["observed_runs"]
            verdict = (
                f"<span class='{'ok' if ok else 'bad'}'>{'✓' if ok else '✗'} "
                f"{escape(row['matched'])}/{escape(row['observed_runs'])}</span>"
            )
        for claim, n in row["failed_checks"].items():
            verdict += f"<br><span class='bad'>✗ {escape(claim)} ({escape(n)})</span>"
        for claim in row.get("not_applicable", {}):
            verdict += f"<br><span class='dim'>– {escape(claim)}: not applicable here</span>"
        differs = set(row.get("differs", []))
        for output, counts in row["races"].items():
            look = "differs" if f"race:{output}" in differs else "race"
            verdict += (
                f"<br><span class='{look}'>~ {escape(output)} "
                f"{escape(counts['printed'])}/{escape(counts['runs'])}</span>"
            )
        method = row["start_method"]
        if row.get("requested_start_method") == "default" and method != "default":
            method += " (default)"
        mark = "≠ " if differs else ""
        cells = [
            (escape(mark + row["scenario"]), ""),
            (escape(method), "start_method"),
            (escape(row["python"]), ""),
        ]
        cells += [
            (_dist(seen[k]) if seen[k] else "–", k)
            for k in ("tasks", "workers", "main_exit_code", "error")
        ]
        body.append(
            "<tr>"
            + "".join(
                f"<td class='differs'>{c}</td>" if k in differs else f"<td>{c}</td>"
                for c, k in [*cells, (verdict, "")]
            )
            + "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _differences(summary: dict[str, Any]) -> str:
    """The list of what differs between interpreters (empty with one interpreter)."""
    found = summary.get("differences", [])
    if not found:
        return ""
    items = "".join(
        f"<li><b>{escape(group['scenario'])}</b> <span class='dim'>"
        f"({escape(group['start_method'])} start method)</span><ul>"
        + "".join(f"<li>{escape(describe(entry))}</li>" for entry in group["differs"])
        + "</ul></li>"
        for group in found
    )
    return f"<h2>Differences between interpreters</h2><ul>{items}</ul>"


def _check_item(c: dict[str, Any]) -> str:
    if "not_applicable" in c:
        return (
            f"<li class='dim'>– {escape(c['claim'])}: not applicable here"
            f" ({escape(c['not_applicable'])}); observed {escape(repr(c['observed']))}</li>"
        )
    detail = (
        ""
        if c["ok"]
        else f": expected {escape(repr(c['expected']))}, observed {escape(repr(c['observed']))}"
    )
    mark = "✓" if c["ok"] else "✗"
    return f"<li class='{'ok' if c['ok'] else 'bad'}'>{mark} {escape(c['claim'])}{detail}</li>"


def _run_section(doc: dict[str, Any], index: int) -> str:
    checks = "".join(_check_item(c) for c in doc["checks"])
    races = "".join(
        f"<li class='race'>~ {escape(_race_text(r))}: <span class='dim'>"
        f"{escape(r['why'])}</span></li>"
        for r in doc["races"]
    )
    ending = program_ending(doc)
    if ending is not None:
        checks = f"<li>The program {escape(ending)}</li>"
    unseen = incomplete(doc)
    if unseen:  # no verdict over what was not seen
        checks = checks.replace("'>✓ ", "'>? ").replace("'>✗ ", "'>? ")
        checks += "".join(
            f"<li class='bad'>⚠ not completely observed: {escape(message)}</li>"
            for message in unseen
        )
    return (
        f"<section id='run-{index}'><h2>{index}. {escape(doc['scenario']['name'])} · "
        f"{escape(doc['params']['start_method'])} · {escape(build_label(doc['python']))}"
        f"</h2>{run_svg(doc)}{findings_view.html(doc)}<ul>{checks}{races}</ul></section>"
    )


def _race_text(race: dict[str, Any]) -> str:
    if "output" in race:
        return f"'{race['output']}' {'printed' if race['printed'] else 'not printed'}"
    return "the run hung" if race["happened"] else "the run did not hang"


def page(document: dict[str, Any]) -> str:
    """The HTML page of a run document or of a comparison document."""
    if document["schema"].startswith("poolctl.compare/"):
        title = "poolctl compare"
        summary = document["summary"]
        intro = (
            f"<p>{escape(summary['runs'])} runs · {escape(summary['matched'])} match · "
            f"{escape(summary['mismatched'])} differ · {escape(summary['hung'])} hung</p>"
            + _table(summary["rows"])
            + _differences(summary)
        )
        runs = document["runs"]
    else:
        title = document_title(document)
        intro = f"<p>{escape(document['scenario']['summary'])}</p>"
        runs = [document]
    sections = "".join(_run_section(doc, n) for n, doc in enumerate(runs, start=1))
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{intro}{sections}</body></html>\n"
    )
