"""What happened in a run, in words, for the pictures (SVG and HTML).

A picture pasted into a bug report must tell the whole story without the terminal text:
the verdict, the tasks (completed, interrupted, never started), how the workers and the
main process ended, the error, the checks, the program's output (bounded), the command
that reproduces the run, and the versions and platform it ran on. All of it is read from
the run document (the outcome's totals and endings, never re-derived). Plain data; no
rich.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..compare_document import worker_endings
from ..document import (
    detail_cut,
    incomplete,
    interrupted_words,
    platform_label,
    program_ending,
    task_counts,
)
from ..interpreter import build_label, describe
from . import findings_view

# Output lines shown: the first few and the last ones (a traceback ends there).
OUTPUT_HEAD = 3
OUTPUT_TAIL = 9
LINE_CHARS = 105  # a longer line is cut, with its length said


@dataclass(frozen=True)
class Fact:
    """One line of the outcome: its label ('tasks'), its words, and its tone (``ok``,
    ``bad``, ``race``, ``dim`` or ``plain``)."""

    label: str
    text: str
    tone: str = "plain"


@dataclass(frozen=True)
class OutputLine:
    """One line of the program's output as the pictures show it."""

    who: str  # 'main', 'worker 123', '' (written past sys.stdout, no process known)
    stream: str  # 'stdout', 'stderr', or '' for the note of lines left out
    text: str


@dataclass(frozen=True)
class Story:
    """A run in words."""

    verdict: str
    verdict_tone: str  # ok, bad or dim
    facts: list[Fact]
    output: list[OutputLine]
    output_total: int  # lines the program printed (left-out lines counted)
    command: str  # the command that reproduces the run
    versions: str  # interpreter, platform, poolctl


def story(doc: dict[str, Any], *, head: int = OUTPUT_HEAD, tail: int = OUTPUT_TAIL) -> Story:
    """The story of one run document; at most ``head`` + ``tail`` output lines."""
    verdict, tone = _verdict(doc)
    output, total = _output(doc, head, tail)
    return Story(
        verdict=verdict,
        verdict_tone=tone,
        facts=_facts(doc),
        output=output,
        output_total=total,
        command=command_line(doc),
        versions=versions(doc),
    )


def _verdict(doc: dict[str, Any]) -> tuple[str, str]:
    ending = program_ending(doc)
    if doc.get("interrupted") and ending is None:  # a scenario's run, cut short
        return interrupted_words(doc["interrupted"]), "bad"
    if incomplete(doc):
        return f"{ending or 'no verdict'} (not completely observed)", "bad"
    if ending is not None:
        return ending, "dim"
    if doc["matches"]:
        return "matches the docs", "ok"
    return "differs from the docs", "bad"


def _main_ending(outcome: dict[str, Any]) -> tuple[str, str]:
    main = outcome["main"]
    if outcome["hung"]:
        return "hung: killed by poolctl at the timeout", "bad"
    if main["signal"]:
        return f"killed by {main['signal']}", "bad"
    text = f"exit {main['exit_code']}"
    uncaught = main.get("uncaught")
    if uncaught:
        text += f" (uncaught {uncaught['type']})"
    return text, "plain" if main["exit_code"] == 0 else "bad"


def _facts(doc: dict[str, Any]) -> list[Fact]:
    outcome = doc["outcome"]
    facts = [Fact("tasks", task_counts(outcome["tasks"]))]
    cut = detail_cut(doc)
    if cut is not None:
        facts.append(Fact("detail", cut))
    workers = outcome["workers"]
    noun = "worker thread" if any(w.get("thread") for w in workers) else "worker"
    count = f"{len(workers)} {noun}{'s' if len(workers) != 1 else ''}"
    facts.append(Fact("workers", f"{count}: {worker_endings(outcome)}" if workers else "none"))
    facts.append(Fact("main", *_main_ending(outcome)))
    error = outcome["error"]
    if error:
        where = f" (raised by {error['step']}())" if error.get("step") else ""
        facts.append(Fact("error", f"{error['type']}: {error['message']}{where}", "bad"))
    else:
        facts.append(Fact("error", "none"))
    # Each finding, as the Findings panel heads it (the HTML shows the whole panel).
    facts += [Fact("finding", findings_view.heading(f), "bad") for f in findings_view.findings(doc)]
    unseen = incomplete(doc)
    facts += [Fact("not seen", message, "bad") for message in unseen]
    facts += _checks(doc["checks"], verdict=not unseen)
    for race in doc["races"]:
        if "output" in race:
            seen = "printed" if race["printed"] else "not printed"
            facts.append(Fact("race", f"'{race['output']}' {seen} this time", "race"))
        else:
            seen = "hung" if race["happened"] else "did not hang"
            facts.append(Fact("race", f"the run {seen} this time", "race"))
    return facts


def _checks(checks: list[dict[str, Any]], *, verdict: bool) -> list[Fact]:
    """The failed checks one by one, the ones that hold counted (no verdict: ``?``)."""
    held = [c for c in checks if c["ok"] and "not_applicable" not in c]
    facts = []
    for c in checks:
        if "not_applicable" in c:
            facts.append(Fact("check", f"– {c['claim']}: not applicable here", "dim"))
        elif not c["ok"]:
            mark, tone = ("✗", "bad") if verdict else ("?", "dim")
            detail = f"expected {c['expected']!r}, observed {c['observed']!r}"
            facts.append(Fact("check", f"{mark} {c['claim']}: {detail}", tone))
    if held:
        mark, tone = ("✓", "ok") if verdict else ("?", "dim")
        claims = "claim holds" if len(held) == 1 else "claims hold"
        facts.insert(0, Fact("checks", f"{mark} {len(held)} documented {claims}", tone))
    return facts


def _output(doc: dict[str, Any], head: int, tail: int) -> tuple[list[OutputLine], int]:
    """The first ``head`` and the last ``tail`` lines, a note between them for the rest."""
    main_pid = doc["outcome"]["main"]["pid"]
    lines, omitted = [], 0
    for entry in doc["output"]:
        if "omitted" in entry:
            omitted += entry["omitted"]["lines"]
            continue
        lines.append(entry)
    total = len(lines) + omitted

    def shown(entry: dict[str, Any]) -> OutputLine:
        pid = entry["pid"]
        who = "" if pid is None else "main" if pid == main_pid else f"worker {pid}"
        if entry.get("thread"):  # a pool's worker thread, in the main process
            who = "thread"
        text = entry["text"]
        cut = len(text) - LINE_CHARS + entry.get("cut", 0)
        if cut > 0:
            text = f"{text[:LINE_CHARS]}… ({cut} more characters)"
        return OutputLine(who, entry["stream"], text)

    if len(lines) <= head + tail + 1:  # a note would take the place of a line it hides
        picked = [shown(e) for e in lines]
        if omitted:
            picked.append(OutputLine("", "", f"… {_lines(omitted)} more not kept"))
        return picked, total
    left_out = len(lines) - head - tail + omitted
    return (
        [shown(e) for e in lines[:head]]
        + [OutputLine("", "", f"… {_lines(left_out)} left out …")]
        + [shown(e) for e in lines[-tail:]]
    ), total


def _lines(n: int) -> str:
    return f"{n} line{'s' if n != 1 else ''}"


def command_line(doc: dict[str, Any]) -> str:
    """The command that makes this run again (with the parameters it ran with)."""
    program = doc.get("program")
    if program:
        # A module's argv starts with '-m' (as sys.argv does before the module is found).
        args = program["argv"][1:]
        named = ["-m", program["module"]] if program.get("module") else [program["path"]]
        # '--': an argument such as --json is the program's, not poolctl's.
        guard = ["--"] if any(arg.startswith("-") for arg in args) else []
        return shlex.join(["poolctl", "trace", *named, *guard, *args])
    params = doc["params"]
    scenario = doc["scenario"]
    source = Path(scenario["source"])
    bundled = source.parent.name == "scenarios" and source.stem == scenario["name"]
    words = ["poolctl", "run", scenario["name"] if bundled else str(source)]
    for option in ("workers", "tasks", "duration", "start_method"):
        if params.get(option) is not None:
            words += [f"--{option.replace('_', '-')}", f"{params[option]:g}"
                      if isinstance(params[option], float) else str(params[option])]  # fmt: skip
    words += ["--python", _python(doc["python"])]
    return shlex.join(words)


def _python(python: dict[str, Any]) -> str:
    """The interpreter as --python finds it on any machine: a CPython by its version
    (``3.14.7``, ``3.14.7t``), any other by its path."""
    if python.get("implementation", "CPython") == "CPython":
        return build_label(python)
    return str(python["executable"])


def versions(doc: dict[str, Any]) -> str:
    """'CPython 3.11.7 · Linux 6.1.0 x86_64, 2 CPUs · poolctl 0.1.0'."""
    return (
        f"{describe(doc['python'])} · {platform_label(doc.get('platform'))}"
        f" · poolctl {doc['poolctl']}"
    )
