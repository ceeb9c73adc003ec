"""``poolctl show NAME``: a scenario, readably."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..printable import printable
from ..scenario import Scenario
from .console import make_console


def show(scenario: Scenario, *, no_color: bool = False) -> None:
    """Print the scenario: summary, program, expectation, races, notes."""
    make_console(no_color=no_color).print(render(scenario))


def render(scenario: Scenario) -> Group:
    """The scenario as one renderable."""
    # Every text of the file is escaped (printable): a scenario file is input, and its
    # strings must not reach the terminal as sequences or be read as markup.
    title = Text(printable(scenario.name), "bold")
    title.append(f"  {printable(scenario.summary)}")
    parts: list = [title, Text(printable(scenario.source), "dim")]
    if scenario.description:
        parts += [Text(""), Text(printable(" ".join(scenario.description.split())))]
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    pool = scenario.api + (" (used as a context manager)" if scenario.context_manager else "")
    table.add_row("pool", pool)
    table.add_row("workers", str(scenario.workers or "the pool's default"))
    table.add_row("start method", scenario.start_method or "the interpreter's default")
    if scenario.maxtasksperchild:
        table.add_row("maxtasksperchild", str(scenario.maxtasksperchild))
    tasks = f"{scenario.tasks} × {scenario.duration:g} s, {scenario.submit}"
    table.add_row("tasks", tasks + (", raising" if scenario.raises else ""))
    steps = [
        s.name + "(" + ", ".join(f"{k}={v!r}" for k, v in s.options) + ")" for s in scenario.steps
    ]
    table.add_row("steps", Text(printable(" → ".join(steps)) or "none"))
    if scenario.timeout:
        table.add_row("timeout", f"{scenario.timeout:g} s")
    if scenario.requires_python:
        table.add_row("needs", "Python " + ".".join(map(str, scenario.requires_python)) + "+")
    parts += [Text(""), table, Text(""), Text("Guaranteed (checked)", "bold underline")]
    for key, value in scenario.expect.items():
        parts.append(Text(printable(f"  {key} = {value!r}")))
    if scenario.races:
        parts.append(Text("Timing-dependent (observed, not checked)", "bold underline"))
        for race in scenario.races:
            claim = f"'{race.output}' printed" if race.output else "the run hangs"
            parts.append(Text(printable(f"  ~ {claim}: {race.why}")))
    for note in scenario.notes:
        parts.append(Text(printable(f"note: {note}"), "yellow"))
    return Group(*parts)
