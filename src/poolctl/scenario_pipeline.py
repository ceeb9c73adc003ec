"""One run, end to end: scenario → subject run → events → outcome → document."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from . import limits
from .codegen import sites
from .errors import Interrupted, ObserveError, UsageError
from .interpreter import Interpreter
from .interpreter_faults import breaking
from .observer.observe import Observation, OnObserve, observe
from .pool_kinds import KINDS
from .scenario import Scenario

DEFAULT_TIMEOUT = 60.0
# Needed only once the subject has exited: imported then (or warmed up during the run).
POST_RUN_MODULES = ("poolctl.events", "poolctl.outcome", "poolctl.expectation", "poolctl.document")


@dataclass(frozen=True)
class RunParams:
    """The parameters of one run, after command-line overrides and validation."""

    workers: int | None
    tasks: int
    duration: float
    start_method: str | None  # None: the interpreter's default, reported by the subject
    timeout: float

    def as_dict(self) -> dict[str, Any]:
        """The parameters as the JSON document shows them."""
        return asdict(self)


def plan(
    scenario: Scenario,
    interpreter: Interpreter,
    *,
    workers: int | None = None,
    tasks: int | None = None,
    duration: float | None = None,
    start_method: str | None = None,
    timeout: float | None = None,
) -> RunParams:
    """Validate the options and fill in the scenario's and the interpreter's defaults."""
    if scenario.requires_python and interpreter.version_info < scenario.requires_python:
        needed = ".".join(map(str, scenario.requires_python))
        raise UsageError(
            f"scenario {scenario.name} needs Python {needed} or newer;"
            f" {interpreter.executable} is {interpreter.version}"
        )
    method = limits.start_method(start_method) or scenario.start_method
    if not KINDS[scenario.api].starts_processes and method is not None:
        raise UsageError(
            f"--start-method: scenario {scenario.name} uses a thread pool,"
            " which starts no processes"
        )
    if method is not None and method not in interpreter.start_methods:
        raise UsageError(
            f"--start-method: '{method}' is not available on {interpreter.executable}"
            f" (available: {', '.join(interpreter.start_methods)})"
        )
    return RunParams(
        workers=limits.workers(workers) if workers is not None else scenario.workers,
        tasks=limits.tasks(tasks) if tasks is not None else scenario.tasks,
        duration=limits.duration(duration) if duration is not None else scenario.duration,
        start_method=method,
        timeout=limits.timeout(
            timeout if timeout is not None else scenario.timeout or DEFAULT_TIMEOUT
        ),
    )


def run(
    scenario: Scenario,
    params: RunParams,
    interpreter: Interpreter,
    cancel: threading.Event | None = None,
    on_observe: OnObserve | None = None,
) -> dict[str, Any]:
    """Run ``scenario`` on a real pool and return its ``poolctl.run/1`` document
    (``on_observe``: told where its events go as it starts, for a live view)."""
    program = {
        "api": scenario.api,
        "start_method": params.start_method,
        "workers": params.workers,
        "maxtasksperchild": scenario.maxtasksperchild,
        "context_manager": scenario.context_manager,
        "tasks": params.tasks,
        "duration": params.duration,
        "submit": scenario.submit,
        "raises": scenario.raises,
        "steps": [step.as_dict() for step in scenario.steps],
        # Where each call is in the program of `show --code`: the events say it.
        "sites": sites(
            scenario,
            workers=params.workers,
            tasks=params.tasks,
            duration=params.duration,
            start_method=params.start_method,
        ),
    }
    try:
        obs = observe(program, interpreter.executable, params.timeout, cancel, on_observe)
    except Interrupted as exc:
        # Stopped by the user: what was recorded until then is still the run's document.
        exc.keep_document(lambda obs: _document(scenario, params, interpreter, obs), ObserveError)
        raise
    return _document(scenario, params, interpreter, obs)


def _document(
    scenario: Scenario, params: RunParams, interpreter: Interpreter, obs: Observation
) -> dict[str, Any]:
    """Events, outcome and checks of an observed run, as its document; ``ObserveError``
    when the subject itself failed (or recorded nothing)."""
    from . import events as events_mod
    from .document import build_run, python_section
    from .expectation import evaluate, observe_races
    from .outcome import derive, observation

    events, output = events_mod.parse(obs)
    try:
        _require_observed(events, output)
    except ObserveError as exc:
        fault = breaking(interpreter.faults, scenario.api, params.start_method)
        if fault is None:
            raise
        blame = f"the interpreter's own fault, not poolctl's: {fault.message}"
        raise ObserveError(f"{exc} ({blame})") from exc
    outcome = derive(events)
    cut_short = any(e["kind"] == "run.interrupted" for e in events)
    shown = params.as_dict()
    # The method the pool really used, as the subject reported it.
    shown["start_method"] = outcome["pool"]["start_method"] or params.start_method
    return build_run(
        scenario=scenario,
        params=shown,
        interpreter=interpreter,
        events=events,
        output=output,
        outcome=outcome,
        observation=observation(events),
        checks=evaluate(scenario.expect, outcome, output, python_section(interpreter, events)),
        # A run stopped before its end did not show which way its races go.
        races=[] if cut_short else observe_races(scenario.races, outcome, output),
    )


def _require_observed(events: list[dict[str, Any]], output: list[dict[str, Any]]) -> None:
    """Raise ``ObserveError`` when the subject itself failed, rather than the pool program."""
    kinds = {e["kind"] for e in events}
    from .outcome import observer_failure

    failed = observer_failure(events)
    if failed is not None:
        raise ObserveError(failed)
    if "run.timeout" in kinds:
        return  # a hang is an outcome
    if "run.interrupted" in kinds and "main.started" in kinds:
        return  # so is a run the user stopped, once it had begun
    exited = next((e for e in events if e["kind"] == "main.exited"), None)
    code = exited["exit_code"] if exited else None
    said = [line["text"] for line in output if line["stream"] == "stderr" and line["text"]]
    detail = f": {said[-1].strip()}" if said else ""
    if "main.started" not in kinds:
        raise ObserveError(
            f"the subject interpreter exited with status {code} before it started{detail}"
        )
    if exited and exited["signal"]:
        raise ObserveError(
            f"the subject's main process was killed by {exited['signal']} (not by poolctl)"
        )
    if code and "error.raised" not in kinds:
        raise ObserveError(f"the subject failed with status {code}{detail}")
