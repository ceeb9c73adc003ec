"""``poolctl trace``: the user's own program → subject run → events → outcome → document.

Exit status (documented in the README and ``poolctl trace --help``): the program's own
status when it ran to its end, 128+N when signal N killed it (as a shell says it); 124
when it hung and was stopped at ``--timeout``; 125 when poolctl failed; 126 when the
program cannot run (a syntax error, not a file of Python); 127 when it was not found; 2 for
a bad option, as for every command.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import limits
from .errors import Interrupted, ObserveError, TraceError
from .interpreter import Interpreter

if TYPE_CHECKING:
    from .observer.observe import Observation, OnObserve, Passthrough

HUNG = 124
FAILED = 125
CANNOT_RUN = 126
NOT_FOUND = 127
INTERRUPTED = 130  # Ctrl-C before the program started (after, its status is its own)
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Target:
    """The program to trace, as ``python`` would be given it."""

    argv: list[str]  # its sys.argv
    path: str | None  # a script, as given
    module: str | None  # or a module, for -m

    @property
    def name(self) -> str:
        """How the user named it."""
        return f"-m {self.module}" if self.module else str(self.path)


def target(program: str | None, args: list[str], module: str | None) -> Target:
    """Check the program before anything starts: a script that exists, or a module name."""
    if module is not None:
        if program is not None:
            args = [program, *args]  # with -m, every word after it is the module's
        if not module.strip() or module.startswith("-"):
            raise TraceError(f"-m: not a module name: {module!r}", NOT_FOUND)
        return Target(argv=["-m", *args], path=None, module=module)
    if program is None:
        raise TraceError("name a program to trace: poolctl trace PROGRAM.py [ARGS]", 2)
    path = Path(program)
    if not path.exists():
        raise TraceError(f"{program}: no such file", NOT_FOUND)
    if path.is_dir():
        raise TraceError(f"{program}: is a directory, not a Python program", CANNOT_RUN)
    if not os.access(path, os.R_OK):
        raise TraceError(f"{program}: cannot read it (permission denied)", CANNOT_RUN)
    return Target(argv=[program, *args], path=program, module=None)


def run(
    chosen: Target,
    interpreter: Interpreter,
    timeout: float | None,
    passthrough: Passthrough | None = None,
    on_observe: OnObserve | None = None,
) -> dict[str, Any]:
    """Run the program under observation; return its ``poolctl.run/1`` document.

    Its output is recorded in the document, and shown live only where ``passthrough``
    says (nowhere by default). ``on_observe``: told where its events go as it starts.
    """
    from .observer.observe import observe_program

    seconds = limits.timeout(timeout if timeout is not None else DEFAULT_TIMEOUT)
    try:
        # The subject sends each pool's first map items' events one by one (those the
        # document keeps) and the rest a chunk at a time (counted alike by events.parse).
        obs = observe_program(
            asdict(chosen),
            interpreter.executable,
            seconds,
            passthrough,
            on_observe,
            limits.TASK_DETAIL,
        )
    except ObserveError as exc:
        raise TraceError(str(exc), FAILED) from exc
    except Interrupted as exc:
        # Stopped by the user (a second Ctrl-C, or the program ignored the first): what
        # was recorded until then is still the program's document.
        exc.keep_document(lambda obs: _document(chosen, interpreter, seconds, obs), TraceError)
        raise
    return _document(chosen, interpreter, seconds, obs)


def _document(
    chosen: Target, interpreter: Interpreter, seconds: float, obs: Observation
) -> dict[str, Any]:
    """Events and outcome of an observed program, as its document; ``TraceError`` when it
    never ran or poolctl failed."""
    from . import events as events_mod
    from .document import build_trace
    from .outcome import derive, observation, observer_failure

    try:
        events, output = events_mod.parse(obs, events_mod.TASK_DETAIL)
    except ObserveError as exc:
        raise TraceError(str(exc), FAILED) from exc
    _require_started(chosen, events, output)
    failed = observer_failure(events)
    if failed is not None:
        # The program ran to its end unchanged (its output was shown); poolctl did not see it.
        raise TraceError(failed, FAILED)
    outcome = derive(events)
    return build_trace(
        target={**asdict(chosen), "name": chosen.name},
        timeout=seconds,
        interpreter=interpreter,
        events=events,
        output=output,
        outcome=outcome,
        observation=observation(events),
        task_detail=events_mod.TASK_DETAIL,
    )


def _require_started(
    chosen: Target, events: list[dict[str, Any]], output: list[dict[str, Any]]
) -> None:
    """Raise ``TraceError`` when the program never ran: poolctl's failure, or its own."""
    invalid = next((e for e in events if e["kind"] == "program.invalid"), None)
    if invalid is not None:
        if invalid.get("line") is not None:
            where = f"{invalid.get('file') or chosen.name}, line {invalid['line']}"
            raise TraceError(
                f"{where}: {invalid['type']}: {invalid['message']}; the program did not run",
                CANNOT_RUN,
            )
        code = NOT_FOUND if invalid["reason"] == "missing" else CANNOT_RUN
        raise TraceError(f"{chosen.name}: {invalid['message']}", code)
    # channel.incomplete: the program may have run without its start being recorded.
    if any(e["kind"] in ("main.started", "run.timeout", "channel.incomplete") for e in events):
        return
    if any(e["kind"] == "interrupt.passed" for e in events):
        # Ctrl-C, passed on while the interpreter was starting: it ended there, as plainly.
        raise TraceError("interrupted (Ctrl-C) before the program started", INTERRUPTED)
    said = [line["text"] for line in output if line["stream"] == "stderr" and line["text"]]
    detail = f": {said[-1].strip()}" if said else ""
    raise TraceError(f"the interpreter exited before the program started{detail}", FAILED)


def exit_status(document: dict[str, Any]) -> int:
    """poolctl trace's exit status for a traced program (see the module's docstring)."""
    outcome = document["outcome"]
    main = outcome["main"]
    if outcome["hung"]:
        return HUNG
    code = main["exit_code"]
    if code is None:
        return FAILED
    # Killed by signal N: 128 + N, as a shell reports it.
    return 128 - code if code < 0 else code
