"""One self-contained HTML page (no network fetches): the comparison table and, for each
run, its SVG timeline and what happened in words (``story``: tasks, workers, error,
checks, output, command, versions). A compare's timelines share one time scale, the
legend is shown once, and each table row links to its runs (and back). Drawn from
documents only."""

from __future__ import annotations

from typing import Any

from ..document import incomplete, program_ending
from ..document import title as document_title
from ..interpreter import build_label
from ..python_differences import describe
from . import findings_view
from .markup import escape
from .story import story
from .svg_export import TONES, legend_svg, run_svg, shared_end

# The output shown under each run: its first lines and its last (a traceback ends there).
OUTPUT_HEAD, OUTPUT_TAIL = 10, 40

STYLE = """
body { font-family: DejaVu Sans, Arial, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 12px 0 24px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.ok { color: #2e7d32; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
.race { color: #a06800; } .dim { color: #777; } section { margin-bottom: 32px; }
td.differs, span.differs { background: #f3e5f5; color: #6a1b9a; font-weight: bold; }
dl.facts { display: grid; grid-template-columns: 8em 1fr; gap: 2px 12px; margin: 8px 0; }
dl.facts dt { font-weight: bold; color: #555; } dl.facts dd { margin: 0; }
pre.output { background: #f7f7f7; border: 1px solid #ddd; padding: 6px 8px; max-height: 24em;
  overflow: auto; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
pre.output .who { color: #777; } pre.output .stderr { color: #c62828; }
pre.output .note { color: #777; font-style: italic; }
code.command { background: #f3f3f3; padding: 2px 6px; } .versions { color: #777; }
a.back { font-size: 13px; font-weight: normal; margin-left: 8px; }
"""


def _dist(counts: dict[str, int]) -> str:
    if len(counts) == 1:
        return escape(next(iter(counts)))
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    return "<br>".join(f"{escape(value)} ({escape(n)})" for value, n in ordered)


def _table(rows: list[dict[str, Any]], links: list[list[int]]) -> str:
    """The compare table; ``links[k]``: the numbers of row k's runs on the page."""
    platforms = len({row.get("platform") for row in rows}) > 1
    head = (
        "<tr><th>scenario</th><th>start method</th><th>python</th>"
        + ("<th>platform</th>" if platforms else "")
        + "<th>tasks done/int/never</th><th>workers</th><th>main exit</th><th>error</th>"
        "<th>vs docs</th><th>runs</th></tr>"
    )
    body = []
    for number, row in enumerate(rows, start=1):
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
        if platforms:
            cells.append((escape(row.get("platform", "unknown platform")), ""))
        cells += [
            (_dist(seen[k]) if seen[k] else "–", k)
            for k in ("tasks", "workers", "main_exit_code", "error")
        ]
        runs = " ".join(f"<a href='#run-{n}'>{n}</a>" for n in links[number - 1]) or "–"
        body.append(
            f"<tr id='row-{number}'>"
            + "".join(
                f"<td class='differs'>{c}</td>" if k in differs else f"<td>{c}</td>"
                for c, k in [*cells, (verdict, ""), (runs, "")]
            )
            + "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def row_of_each_run(rows: list[dict[str, Any]], runs: list[dict[str, Any]]) -> list[int | None]:
    """The number (from 1) of the table row each run belongs to (None: none says so)."""
    found: list[int | None] = [None] * len(runs)
    for number, row in enumerate(rows, start=1):
        for index in row.get("run_indexes", []):
            if index < len(found):
                found[index] = number
    if rows and not any("run_indexes" in row for row in rows):
        return _matched(rows, runs)  # a document saved before rows listed their runs
    return found


def _matched(rows: list[dict[str, Any]], runs: list[dict[str, Any]]) -> list[int | None]:
    """Each run's row found by its scenario, start method and interpreter."""
    index = {(r["scenario"], r["start_method"], r["python"]): n for n, r in enumerate(rows, 1)}
    keys = [
        (doc["scenario"]["name"], doc["params"]["start_method"] or "default", doc["python"])
        for doc in runs
    ]
    return [index.get((name, method, build_label(python))) for name, method, python in keys]


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


def _run_section(
    doc: dict[str, Any], index: int, *, end: float | None = None, row: int | None = None
) -> str:
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
    back = f"<a class='back' href='#row-{row}'>↑ row {row}</a>" if row else ""
    method = doc["params"]["start_method"] or "default"
    return (
        f"<section id='run-{index}'><h2>{index}. {escape(doc['scenario']['name'])} · "
        f"{escape(method)} · {escape(build_label(doc['python']))}{back}</h2>"
        f"{run_svg(doc, legend=False, story_shown=False, end=end)}"
        f"{_story(doc)}{findings_view.html(doc)}<ul>{checks}{races}</ul></section>"
    )


def _story(doc: dict[str, Any]) -> str:
    """What happened, as text one can select: the facts, the output, command, versions."""
    told = story(doc, head=OUTPUT_HEAD, tail=OUTPUT_TAIL)
    verdict = f"<dt>verdict</dt><dd style='color:{TONES[told.verdict_tone]}'>"
    facts = (
        verdict
        + f"{escape(told.verdict)}</dd>"
        + "".join(
            f"<dt>{escape(f.label)}</dt><dd style='color:{TONES[f.tone]}'>{escape(f.text)}</dd>"
            for f in told.facts
            # listed in full below, the findings in their panel
            if f.label not in ("checks", "check", "race", "finding")
        )
    )
    lines = []
    for line in told.output:
        if not line.stream:
            lines.append(f"<span class='note'>{escape(line.text)}</span>")
            continue
        look = " class='stderr'" if line.stream == "stderr" else ""
        lines.append(
            f"<span class='who'>{escape(line.who.ljust(12))} </span>"
            f"<span{look}>{escape(line.text)}</span>"
        )
    total = told.output_total
    output = (
        f"<pre class='output'>{chr(10).join(lines)}</pre>"
        if lines
        else "<p class='dim'>no output</p>"
    )
    return (
        f"<dl class='facts'>{facts}</dl>"
        f"<p><b>output</b> <span class='dim'>({escape(total)} lines)</span></p>{output}"
        f"<p><code class='command'>$ {escape(told.command)}</code></p>"
        f"<p class='versions'>{escape(told.versions)}</p>"
    )


def _race_text(race: dict[str, Any]) -> str:
    if "output" in race:
        return f"'{race['output']}' {'printed' if race['printed'] else 'not printed'}"
    return "the run hung" if race["happened"] else "the run did not hang"


def page(document: dict[str, Any]) -> str:
    """The HTML page of a run document or of a comparison document."""
    legend = f"<div class='legend'>{legend_svg()}</div>"
    if document["schema"].startswith("poolctl.compare/"):
        title = "poolctl compare"
        summary = document["summary"]
        runs = document["runs"]
        rows = row_of_each_run(summary["rows"], runs)
        links = [[n for n, row in enumerate(rows, start=1) if row == k] for k in
                 range(1, len(summary["rows"]) + 1)]  # fmt: skip
        end = shared_end(runs)
        merged = document.get("merged")
        intro = (
            f"<p>{escape(summary['runs'])} runs · {escape(summary['matched'])} match · "
            f"{escape(summary['mismatched'])} differ · {escape(summary['hung'])} hung</p>"
            + (f"<p class='dim'>merged from {escape(', '.join(merged))}</p>" if merged else "")
            + _table(summary["rows"], links)
            + _differences(summary)
            + f"<p class='dim'>Every timeline below is drawn on one time scale, 0 to"
            f" {end:.3g} s, so that their lengths compare.</p>" + legend
        )
        sections = "".join(
            _run_section(doc, n, end=end, row=row)
            for n, (doc, row) in enumerate(zip(runs, rows, strict=True), start=1)
        )
    else:
        title = document_title(document)
        intro = f"<p>{escape(document['scenario']['summary'])}</p>" + legend
        sections = _run_section(document, 1)
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{intro}{sections}</body></html>\n"
    )
