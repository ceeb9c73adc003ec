"""The command line: Typer commands only. Each one parses, calls, renders, sets the status.

Heavy modules (the observer, rich) are imported inside the commands that need them, so
``poolctl --version`` and ``poolctl list`` start fast.
"""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from . import __version__
from .errors import Interrupted, PoolctlError

app = typer.Typer(
    name="poolctl",
    help="See how Python's process pools really shut down: a real pool, a real timeline.",
    epilog=(
        "Examples:\n\n"
        "  poolctl list\n\n"
        "  poolctl run close-join\n\n"
        "  poolctl run terminate-join --workers 4 --tasks 6 --duration 0.5\n\n"
        "  poolctl run join-without-close --json | jq .outcome"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"poolctl {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Show poolctl's version and exit.",
        ),
    ] = False,
) -> None:
    """See how Python's process pools really shut down: a real pool, a real timeline."""


@app.command("list")
def list_scenarios() -> None:
    """List the bundled scenarios, one line each.

    Example: poolctl list
    """
    from .scenario import bundled_names, load

    scenarios = [load(name) for name in bundled_names()]
    width = max((len(s.name) for s in scenarios), default=0)
    for s in scenarios:
        typer.echo(f"{s.name:<{width}}  {s.summary}")


@app.command(
    epilog=(
        "Examples:\n\n"
        "  poolctl run close-join\n\n"
        "  poolctl run terminate-join --workers 4 --tasks 6 --duration 0.5\n\n"
        "  poolctl run join-without-close --start-method spawn\n\n"
        "  poolctl run close-without-join --json | jq .outcome.tasks\n\n"
        "  poolctl run close-join --python python3.8\n\n"
        "Exit status: 0 observed and as expected, 1 observed but reality differs from the"
        " scenario's expectation, 2 bad input, 3 the run could not be observed."
    ),
)
def run(
    scenario: Annotated[str, typer.Argument(help="A bundled scenario (see 'poolctl list').")],
    workers: Annotated[
        int | None, typer.Option(help="Pool size [default: the pool's own default].")
    ] = None,
    tasks: Annotated[int | None, typer.Option(help="Tasks to issue [default: 1].")] = None,
    duration: Annotated[
        float | None, typer.Option(help="Seconds each task sleeps [default: 1.0].")
    ] = None,
    start_method: Annotated[
        str | None,
        typer.Option(help="fork, spawn or forkserver [default: the interpreter's default]."),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option(help="Interpreter to run the pool under, path or name (3.8+)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds before the run is stopped and reported hung.")
    ] = 60.0,
    json: Annotated[bool, typer.Option("--json", help="Print the run document as JSON.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text, no colour.")] = False,
) -> None:
    """Run a scenario on a real pool and show its timeline and outcome."""
    from . import document, interpreter, pipeline
    from .scenario import load

    chosen = load(scenario)
    python_ = interpreter.resolve(python)
    params = pipeline.plan(
        chosen,
        python_,
        workers=workers,
        tasks=tasks,
        duration=duration,
        start_method=start_method,
        timeout=timeout,
    )
    doc = pipeline.run(chosen, params, python_)
    if json:
        from .render.json_doc import write

        write(doc, sys.stdout)
    else:
        from .render.run_view import show

        show(doc, no_color=no_color)
    raise typer.Exit(document.exit_code(doc))


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (every error is one line on stderr)."""
    # Ctrl-C and SIGTERM unwind through the observer's clean-up, then exit 130 / 143.
    signal.signal(signal.SIGINT, _raise_interrupted)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    command = typer.main.get_command(app)
    try:
        status = command.main(args=argv, prog_name="poolctl", standalone_mode=False)
    except typer.TyperException as exc:
        message = exc.format_message()
        if message.lstrip().startswith("Usage:"):  # no arguments at all: show the help
            typer.echo(message)
            return 0
        typer.echo(f"poolctl: {message}", err=True)
        return exc.exit_code
    except PoolctlError as exc:
        typer.echo(f"poolctl: {exc}", err=True)
        return exc.exit_code
    except Interrupted as exc:
        typer.echo("poolctl: interrupted; every process of the run was stopped", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("poolctl: aborted", err=True)
        return 130
    return status if isinstance(status, int) else 0
