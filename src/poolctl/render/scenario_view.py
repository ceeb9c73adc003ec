"""``poolctl show NAME``: a scenario, readably."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from ..printable import printable
from ..scenario import Scenario
from .console import emit, lines, make_console, rows, wrap


def show(scenario: Scenario, *, no_color: bool = False) -> None:
    """Print the scenario: summary, program, expectation, races, notes."""
    console = make_console(no_color=no_color)
    emit(console, render(scenario, console.width))


def render(scenario: Scenario, width: int = 80) -> Group:
    """The scenario as one renderable, wrapped between words to ``width``."""
    # Every text of the file is escaped (printable): a scenario file is input, and its
    # strings must not reach the terminal as sequences or be read as markup.
    title = Text(printable(scenario.name), "bold")
    title.append(f"  {printable(scenario.summary)}")
    parts = [*wrap(title, width), *wrap(Text(printable(scenario.source), "dim"), width)]
    if scenario.description:
        parts += [Text(""), *wrap(Text(printable(" ".join(scenario.description.split()))), width)]
    pool = scenario.api + (" (used as a context manager)" if scenario.context_manager else "")
    table = [
        ("pool", pool),
        ("workers", str(scenario.workers or "the pool's default")),
        ("start method", scenario.start_method or "the interpreter's default"),
    ]
    if scenario.maxtasksperchild:
        table.append(("maxtasksperchild", str(scenario.maxtasksperchild)))
    tasks = f"{scenario.tasks} × {scenario.duration:g} s, {scenario.submit}"
    table.append(("tasks", tasks + (", raising" if scenario.raises else "")))
    steps = [
        s.name + "(" + ", ".join(f"{k}={v!r}" for k, v in s.options) + ")" for s in scenario.steps
    ]
    table.append(("steps", " → ".join(steps) or "none"))
    if scenario.timeout:
        table.append(("timeout", f"{scenario.timeout:g} s"))
    if scenario.requires_python:
        table.append(("needs", "Python " + ".".join(map(str, scenario.requires_python)) + "+"))
    parts += [Text(""), *rows([[Text(k, "bold"), Text(printable(v))] for k, v in table], width)]
    parts += [Text(""), Text("Guaranteed (checked)", "bold underline")]
    for key, value in scenario.expect.items():
        parts += _indented(f"{key} = {value!r}", width)
    if scenario.races:
        parts.append(Text("Timing-dependent (observed, not checked)", "bold underline"))
        for race in scenario.races:
            claim = f"'{race.output}' printed" if race.output else "the run hangs"
            parts += _indented(f"~ {claim}: {race.why}", width)
    for note in scenario.notes:
        parts += wrap(Text(printable(f"note: {note}"), "yellow"), width)
    return lines(parts)


def _indented(text: str, width: int) -> list[Text]:
    """``text`` indented by two, its further lines by four."""
    first, *rest = wrap(Text(printable(text)), width - 4)
    return [Text("  ") + first, *(Text("    ") + part for part in rest)]
