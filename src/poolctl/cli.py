"""The command line: Typer commands only, over the Python API (``poolctl.api``).

Each command parses its options, calls the API, calls a renderer and sets the exit
status. Heavy modules (the observer, rich) are imported inside the commands that need
them, so ``poolctl --version`` and ``poolctl list`` start fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import api, entry
from .cli_delivery import (
    LiveCompare,
    deliver,
    recorded,
    say,
    show_compare,
    show_run,
    status_line,
)
from .cli_options import (
    OUTPUT_OPTIONS,
    Duration,
    Events,
    Exports,
    ProgramCommand,
    Tasks,
    Timeout,
    Workers,
    complete_scenario,
    complete_scenarios,
    show_version,
    with_colour,
    with_exports,
    with_output,
)
from .cli_output import Output
from .errors import Interrupted, PoolctlError, UsageError

app = typer.Typer(
    name="poolctl",
    help="See how Python's process pools really shut down: a real pool, a real timeline.",
    epilog=(
        "Examples:\n\n"
        "  poolctl list\n\n"
        "  poolctl run close-join\n\n"
        "  poolctl run terminate-join --workers 4 --tasks 6 --duration 0.5\n\n"
        "  poolctl run join-without-close --json | jq .outcome\n\n"
        "  poolctl compare all --start-method all --repeat 10\n\n"
        "  poolctl trace my_program.py"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_CODES = (
    "Exit status: 0 observed and as expected, 1 observed but reality differs from the"
    " expectation, 2 bad input, 3 a run could not be observed, 4 an export could not be"
    " written, 130/143/129 interrupted (Ctrl-C, SIGTERM, hang-up), 141 stdout was closed"
    " (| head)."
)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=show_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """See how Python's process pools really shut down: a real pool, a real timeline."""


@app.command("list")
def list_scenarios(
    json: Annotated[
        bool, typer.Option("--json", help="Print name, summary and file of each, as JSON.")
    ] = False,
) -> None:
    """List the bundled scenarios, one line each.

    Example: poolctl list
    """
    if json:
        from .catalogue import listing
        from .render.json_doc import write as write_json

        write_json(listing(), sys.stdout)
        return
    from .catalogue import summaries
    from .render.list_view import show

    show(summaries())


@app.command(
    epilog=(
        "Examples:\n\n"
        "  poolctl run close-join\n\n"
        "  poolctl run close-join --events   (every event, every output line)\n\n"
        "  poolctl run terminate-join --workers 4 --tasks 6 --duration 0.5\n\n"
        "  poolctl run join-without-close --start-method spawn\n\n"
        "  poolctl run close-without-join --json | jq .outcome.tasks\n\n"
        "  poolctl run close-join --python python3.8\n\n" + EXIT_CODES
    ),
)
@with_exports
@with_output
def run(
    scenario: Annotated[
        str,
        typer.Argument(
            help="A bundled scenario (see 'poolctl list') or a .toml file.",
            autocompletion=complete_scenario,
        ),
    ],
    workers: Workers = None,
    tasks: Tasks = None,
    duration: Duration = None,
    start_method: Annotated[
        str | None,
        typer.Option(help="fork, spawn or forkserver \\[default: the interpreter's default]."),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option(help="Interpreter to run the pool under, a path or a name (3.8+)."),
    ] = None,
    timeout: Timeout = None,
    json: Annotated[bool, typer.Option("--json", help="Print the run document as JSON.")] = False,
    exports: Exports | None = None,
    events: Events = False,
    out: Output | None = None,
) -> None:
    """Run a scenario on a real pool and show its timeline and outcome."""
    from . import warmup

    out = out or Output()
    if start_method == "all":
        from .cli_output import run_all_methods

        raise UsageError(run_all_methods(scenario))

    warmup.also(["poolctl.render.json_doc" if json else "poolctl.render.run_view"])
    stopped = None
    with status_line(out) as status:
        try:
            doc = api.run(
                scenario,
                workers=workers,
                tasks=tasks,
                duration=duration,
                start_method=start_method,
                python=python,
                timeout=timeout,
                on_observe=status.observed if status is not None else None,
            )
        except Interrupted as exc:  # Ctrl-C: what was recorded is still shown, then 130
            doc, stopped = recorded(exc), exc.exit_code
    deliver(
        doc,
        exports or {},
        out,
        as_json=json,
        show=lambda: show_run(doc, out, events),
        stopped=stopped,
    )


@app.command(
    epilog=(
        "Examples:\n\n"
        "  poolctl compare all\n\n"
        "  poolctl compare close-join terminate-join --start-method all\n\n"
        "  poolctl compare all --python python3.8 --python python3.13\n\n"
        "  poolctl compare all --repeat 20\n\n"
        "  poolctl compare all --json | jq '.runs[] | select(.matches|not)'\n\n"
        '  poolctl compare all --jsonl | while read -r run; do echo "$run" | jq .outcome.tasks;'
        " done\n\n" + EXIT_CODES
    ),
)
@with_exports
@with_output
def compare(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(
            help="Scenarios to compare (names or .toml files), or 'all'.",
            autocompletion=complete_scenarios,
            show_default=False,
        ),
    ] = None,
    workers: Workers = None,
    tasks: Tasks = None,
    duration: Duration = None,
    start_method: Annotated[
        str | None,
        typer.Option(help="'all', or a comma-separated list such as fork,spawn."),
    ] = None,
    python: Annotated[
        list[str] | None,
        typer.Option(help="An interpreter to compare under (repeat for several)."),
    ] = None,
    repeat: Annotated[
        int, typer.Option(help="Runs per row: outcome counts show races as races.")
    ] = 1,
    jobs: Annotated[int | None, typer.Option(help="Runs at once \\[default: one per CPU].")] = None,
    timeout: Timeout = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print one compare document as JSON.")
    ] = False,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Print each run document as a JSON line, as it ends.")
    ] = False,
    exports: Exports | None = None,
    out: Output | None = None,
) -> None:
    """Run scenarios side by side, across start methods and interpreters, and tabulate."""
    out = out or Output()
    if not scenarios:
        from .cli_output import NO_SCENARIOS

        raise UsageError(NO_SCENARIOS)
    if json and jsonl:
        raise UsageError("--json and --jsonl cannot be used together")
    stopped = None
    with contextlib.ExitStack() as stack:
        progress = not (json or jsonl or out.quiet)
        live = LiveCompare(stack, progress=progress, jsonl=jsonl, no_color=out.no_color)
        try:
            doc = api.compare(
                scenarios,
                start_method=start_method,
                pythons=python or [],
                repeat=repeat,
                jobs=jobs,
                workers=workers,
                tasks=tasks,
                duration=duration,
                timeout=timeout,
                on_start=live.started,
                on_result=live.finished,
            )
        except Interrupted as exc:  # the runs that finished are still shown, then 130
            doc, stopped = recorded(exc), exc.exit_code
    deliver(
        doc,
        exports or {},
        out,
        as_json=json,
        show=None if jsonl else lambda: show_compare(doc, out),
        stopped=stopped,
    )


@app.command(
    epilog=(
        "Examples:\n\n"
        "  poolctl show with-block\n\n"
        "  poolctl show terminate-join --code > program.py && python program.py\n\n"
        "  poolctl show close-join --code --workers 4 --tasks 6 --start-method spawn\n\n"
        "  poolctl show terminate-join --json | jq .expected"
    ),
)
@with_output
def show(
    scenario: Annotated[
        str,
        typer.Argument(
            help="A bundled scenario or a .toml file.", autocompletion=complete_scenario
        ),
    ],
    code: Annotated[
        bool, typer.Option("--code", help="Print the equivalent plain Python program.")
    ] = False,
    workers: Workers = None,
    tasks: Tasks = None,
    duration: Duration = None,
    start_method: Annotated[
        str | None, typer.Option(help="fork, spawn or forkserver, for --code.")
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print the scenario, defaults filled in, as JSON.")
    ] = False,
    out: Output | None = None,
) -> None:
    """Show a scenario: its program, its expectation, its races; or its code."""
    from .scenario import load

    if json and code:
        raise UsageError("--json and --code cannot be used together")
    chosen = load(scenario)
    if json:
        from .document import scenario_description
        from .render.json_doc import write as write_json

        write_json(scenario_description(chosen), sys.stdout)
        return
    if not code:
        from .render.scenario_view import show as show_scenario

        show_scenario(chosen, no_color=(out or Output()).no_color)
        return
    from . import interpreter, scenario_pipeline
    from .codegen import program

    # The same resolution and checks as 'run' (the code is for this interpreter).
    params = scenario_pipeline.plan(
        chosen,
        interpreter.current(),
        workers=workers,
        tasks=tasks,
        duration=duration,
        start_method=start_method,
    )
    typer.echo(
        program(
            chosen,
            workers=params.workers,
            tasks=params.tasks,
            duration=params.duration,
            start_method=params.start_method,
        ),
        nl=False,
    )


TRACE_EXIT_CODES = (
    "Exit status: the program's own (128+N when signal N killed it); 124 it hung and was"
    " stopped at --timeout; 125 poolctl failed; 126 the program cannot run (a syntax error,"
    " a directory); 127 the program or module was not found; 130 Ctrl-C, and the program"
    " had not started or did not end; 2 a bad option."
)


@app.command(
    cls=ProgramCommand,
    # Options end at the first word that is not one (the program's path), as for python.
    context_settings={"allow_interspersed_args": False},
    epilog=(
        "Examples:\n\n"
        "  poolctl trace my_program.py arg1 arg2\n\n"
        "  poolctl trace -m mypackage.tool --flag\n\n"
        "  poolctl trace --json my_program.py > trace.json\n\n"
        "  poolctl trace --timeout 10 my_program.py -h   (the program gets -h)\n\n"
        "  poolctl trace --trace perfetto.json my_program.py\n\n"
        "  poolctl trace -m test test_multiprocessing_spawn -m '*Pool*'\n\n"
        "poolctl's own options come before the program: every word after PROGRAM.py (or"
        " -m MODULE) is the program's, as with python. The program's stdout and stderr are"
        " shown live (its stdout on stderr under --json); its stdin is passed on unless it"
        " is a terminal. Ctrl-C is passed on to the program, which ends as it chooses"
        " (a second Ctrl-C, or 5 s, stops it: 130); a closed stdout (| head) is closed"
        " for the program too.\n\n" + TRACE_EXIT_CODES
    ),
)
@with_exports
@with_colour
def trace(
    program: Annotated[
        list[str] | None,
        typer.Argument(
            help="The program: PROGRAM.py and its arguments (or, with -m, the module's).",
            metavar="PROGRAM.py [ARGS]...",
            show_default=False,
        ),
    ] = None,
    module: Annotated[
        str | None,
        typer.Option("-m", help="Run a module, as 'python -m MODULE'.", show_default=False),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option(help="Interpreter to run it under, a path or a name \\[default: poolctl's]."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds before the program is stopped and reported hung \\[default: 600]."
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the run document as JSON.")] = False,
    exports: Exports | None = None,
    events: Events = False,
    out: Output | None = None,
) -> None:
    """Run your own program, unchanged, and show the lifecycle of every pool it creates."""
    from . import warmup

    out = out or Output()
    words = list(program or [])
    warmup.also(["poolctl.render.json_doc" if json else "poolctl.render.run_view"])
    sys.stdout.flush()  # what poolctl printed comes before the program's output
    stopped = None
    # The status line waits for the program to be quiet, and the program's output always
    # finds it erased (observer/output.Screen).
    with status_line(out) as status:
        try:
            doc = api.trace(
                words[0] if words else None,
                words[1:],
                module=module,
                python=python,
                timeout=timeout,
                # Live, as with plain python: its stdout on stderr when stdout carries --json.
                stdout=(sys.stderr if json else sys.stdout).buffer,
                stderr=sys.stderr.buffer,
                # A program in a background process group that reads the terminal is
                # stopped (SIGTTIN): a terminal is not passed on, anything else (a pipe, a
                # file) is.
                stdin=None if os.isatty(0) else 0,
                on_observe=status.observed if status is not None else None,
            )
        except Interrupted as exc:  # stopped by poolctl: what was recorded is still shown
            doc, stopped = recorded(exc), exc.exit_code

    def show() -> None:
        if entry.stdout_closed():
            # Its reader went away (| head), and the program was told so (its stdout was
            # closed too): no report, and the program's status is poolctl's, as
            # 'set -o pipefail' shows plain python's, not the 141 of a command killed by
            # SIGPIPE.
            entry.silence_stdout()
            return
        typer.echo()  # the program's own output ends above
        show_run(doc, out, events)

    deliver(doc, exports or {}, out, as_json=json, show=show, stopped=stopped)


@app.command(
    epilog="Example:\n\n  poolctl new my-case && poolctl run ./my-case.toml",
)
def new(
    name: Annotated[str, typer.Argument(help="The scenario's name: NAME.toml is written.")],
    directory: Annotated[
        str,
        typer.Option("--dir", help="Where to write it \\[default: here].", show_default=False),
    ] = ".",
    quiet: Annotated[bool, OUTPUT_OPTIONS["quiet"].__metadata__[0]] = False,
) -> None:
    """Write a commented scenario file to start from."""
    from .starter import write

    Output(quiet=quiet).wrote(write(name, Path(directory)))


@app.command(
    epilog=(
        "Examples:\n\n"
        "  poolctl run close-join --json > saved.json\n\n"
        "  poolctl render saved.json\n\n"
        "  poolctl render saved.json --svg out.svg --trace out.trace.json\n\n"
        "  poolctl compare all --json > all.json && poolctl render all.json --html report.html\n\n"
        "  poolctl render linux.json macos.json runner-*.jsonl --html matrix.html\n\n"
        "Several files (run or compare documents, --jsonl streams, from several machines)"
        " are merged into one compare, a row per scenario, start method, interpreter and"
        " platform."
    ),
)
@with_exports
@with_output
def render(
    documents: Annotated[
        list[str],
        typer.Argument(
            help="Saved 'run --json', 'compare --json' or 'compare --jsonl' files.",
            show_default=False,
        ),
    ],
    json: Annotated[
        bool, typer.Option("--json", help="Print the document (merged, if several) as JSON.")
    ] = False,
    exports: Exports | None = None,
    events: Events = False,
    out: Output | None = None,
) -> None:
    """Re-render saved documents: to the terminal, or as trace, SVG or HTML. No re-run."""
    out = out or Output()
    doc = api.load_documents(documents)
    if json:
        from .render.json_doc import write as write_json

        write_json(dict(doc), sys.stdout)
    elif exports:
        pass  # the files alone, as before: the view is a 'render' away
    elif doc["schema"].startswith("poolctl.compare/"):
        show_compare(doc, out)  # type: ignore[arg-type]
    else:
        show_run(doc, out, events)  # type: ignore[arg-type]
    if exports:
        from .render.exports import write

        write(dict(doc), exports, wrote=out.wrote)


def _degrade_encoding() -> None:
    """Let stdout and stderr write any text: a character the terminal's encoding lacks
    (``PYTHONIOENCODING=ascii``, ``LC_ALL=C``) is written as its escape, ``\\xb7``; a run
    is never lost to a ``UnicodeEncodeError`` after it ended."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (every error is one line on stderr)."""
    # Ctrl-C, SIGTERM and SIGHUP unwind through the observer's clean-up, then exit
    # 130 / 143 / 129 (the console entry installed them already, before importing us).
    entry.install_handlers()
    try:
        _degrade_encoding()
        command = typer.main.get_command(app)
        args = sys.argv[1:] if argv is None else list(argv)
        # No arguments at all is a request for help, not an error.
        status = command.main(args=args or ["--help"], prog_name="poolctl", standalone_mode=False)
    except typer.TyperException as exc:
        say(exc.format_message())
        return exc.exit_code
    except PoolctlError as exc:
        say(str(exc))
        return exc.exit_code
    except Interrupted as exc:
        say(entry.INTERRUPTED)
        return exc.exit_code
    except typer.Abort:
        say("aborted")
        return 130
    except SystemExit as exc:
        # Typer turns a broken pipe into a silent exit 1: the error it caught decides.
        if not isinstance(exc.__context__, BrokenPipeError):
            raise
        return _failed(exc.__context__)
    except Exception as exc:
        return _failed(exc)
    return status if isinstance(status, int) else 0


def _failed(exc: Exception) -> int:
    """The status for an unexpected exception: a closed stdout, or a bug in poolctl."""
    if isinstance(exc, BrokenPipeError) and entry.stdout_closed():
        # The reader of stdout went away (| head): quietly, as any command (see entry).
        # The runs are already stopped: the error unwound through their clean-up.
        entry.silence_stdout()
        return entry.CLOSED_STDOUT
    # A bug in poolctl itself: still one line, the traceback on request.
    if os.environ.get("POOLCTL_DEBUG"):
        raise exc
    say(
        f"internal error: {type(exc).__name__}: {exc}"
        " (POOLCTL_DEBUG=1 shows the traceback; please report it)"
    )
    return 3
