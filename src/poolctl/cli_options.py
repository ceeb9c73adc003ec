"""The command line's options, declared once: the run options ``run`` and ``compare`` share,
``--color/--no-color/-q`` (``with_output``), ``--trace/--svg/--html`` (``with_exports``),
scenario-name completion, and where ``trace``'s own options end (``ProgramCommand``).

Nothing heavy is imported here: ``poolctl --version`` stays fast.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from . import __version__
from .cli_output import ColorMode, Output

# Options shared by 'run' and 'compare'.
Workers = Annotated[int | None, typer.Option(help="Pool size \\[default: the pool's own default].")]


Tasks = Annotated[int | None, typer.Option(help="Tasks to issue \\[default: the scenario's, 1].")]


Duration = Annotated[
    float | None, typer.Option(help="Seconds each task sleeps \\[default: the scenario's, 1.0].")
]


Timeout = Annotated[
    float | None,
    typer.Option(
        help="Seconds before a run is stopped and reported hung"
        " \\[default: the scenario's, else 60]."
    ),
]


# The output options, declared once: ``with_output`` gives them to a command.
OUTPUT_OPTIONS = {
    "color": Annotated[
        ColorMode,
        typer.Option(
            "--color",
            case_sensitive=False,
            help="Colour: auto (a terminal; NO_COLOR and FORCE_COLOR honoured), always, never.",
        ),
    ],
    "no_color": Annotated[
        bool, typer.Option("--no-color", help="Plain text, no colour: --color=never.")
    ],
    "quiet": Annotated[
        bool,
        typer.Option("-q", "--quiet", help="Nothing on stderr but errors: no 'wrote FILE'."),
    ],
}


# The run view is compact (a 24-line screen) unless the whole of it is asked for.
Events = Annotated[
    bool,
    typer.Option(
        "--events", help="Show the whole run: every event, every output line, every check."
    ),
]


# The export options, declared once: ``with_exports`` gives them to a command.
EXPORT_OPTIONS = {
    "trace": Annotated[
        str | None,
        typer.Option("--trace", help="Also write a Chrome/Perfetto trace (JSON) to this file."),
    ],
    "svg": Annotated[
        str | None, typer.Option("--svg", help="Also write the timeline as SVG to this file.")
    ],
    "html": Annotated[
        str | None,
        typer.Option("--html", help="Also write a self-contained HTML page to this file."),
    ],
}


# What a command given them receives: the paths asked for, by kind, checked.
Exports = dict[str, Path]


def expanding(
    name: str, hints: dict[str, Any], defaults: dict[str, Any], build: Callable[..., Any]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator giving a command the options ``hints`` in place of its parameter
    ``name``, which receives ``build(**options)`` (checked before anything runs)."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        parameters = []
        for parameter in signature.parameters.values():
            if parameter.name != name:
                parameters.append(parameter)
                continue
            parameters.extend(
                parameter.replace(name=option, default=defaults.get(option), annotation=hint)
                for option, hint in hints.items()
            )

        @functools.wraps(command)
        def wrapper(**options: Any) -> None:
            given = {option: options.pop(option) for option in hints}
            command(**options, **{name: build(**given)})

        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper

    return decorate


def _check_targets(**paths: str | None) -> Exports:
    from .render.exports import check_targets

    return check_targets(paths)


def _output(color: ColorMode | str | None, no_color: bool, quiet: bool) -> Output:
    from .cli_output import output

    chosen = output(color, no_color, quiet)
    chosen.apply()
    return chosen


# ``--trace``, ``--svg`` and ``--html`` for the commands that export: their ``exports``
# parameter receives the paths asked for, checked.
with_exports = expanding("exports", EXPORT_OPTIONS, {}, _check_targets)


# ``--color``, ``--no-color`` and ``-q`` for every command that prints: their ``out``.
with_output = expanding(
    "out", OUTPUT_OPTIONS, {"color": ColorMode.auto, "no_color": False, "quiet": False}, _output
)


# ``trace`` leaves ``-q``/``--quiet`` to the program (``poolctl trace -m pytest -q``).
with_colour = expanding(
    "out",
    {key: OUTPUT_OPTIONS[key] for key in ("color", "no_color")},
    {"color": ColorMode.auto, "no_color": False},
    functools.partial(_output, quiet=False),
)


def complete_scenario(incomplete: str) -> list[str]:
    """Shell completion of one scenario: the bundled names that start so."""
    from .catalogue import bundled_names

    return [name for name in bundled_names() if name.startswith(incomplete)]


def complete_scenarios(incomplete: str) -> list[str]:
    """Shell completion of compare's scenarios: the bundled names, and 'all'."""
    names = [*complete_scenario(incomplete), "all"]
    return [name for name in names if name.startswith(incomplete)]


def show_version(value: bool) -> None:
    """``--version``/``-V``: print the version and exit (an eager option's callback)."""
    if value:
        typer.echo(f"poolctl {__version__}")
        raise typer.Exit(0)


class ProgramCommand(TyperCommand):
    """``trace``: poolctl's options come first; the program's path or ``-m MODULE`` ends
    them, as it ends ``python``'s: every word after it is the program's (``-h``,
    ``--json``, a second ``-m`` and ``--`` included)."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        valued = {
            name
            for param in self.get_params(ctx)
            if param.param_type_name == "option" and not getattr(param, "is_flag", True)
            for name in param.opts
        }
        return super().parse_args(ctx, options_end_at_module(args, valued))


def options_end_at_module(args: list[str], valued: set[str]) -> list[str]:
    """``args`` with ``--`` after ``-m MODULE``: Click, which stops at the program's path
    (no interspersed arguments), would go on parsing options after an option's value.
    ``valued``: the options that take a value (their value is skipped, not looked at)."""
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--" or word == "-" or not word.startswith("-"):
            return args  # the program's path (or '--'): Click stops there by itself
        if word == "-m" and i + 1 < len(args):
            return [*args[: i + 2], "--", *args[i + 2 :]]
        if word.startswith("-m") and len(word) > 2 and word[1] != "-":  # -mMODULE, as python
            return [*args[: i + 1], "--", *args[i + 1 :]]
        i += 2 if word in valued else 1
    return args
