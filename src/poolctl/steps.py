"""The calls the main process makes on a pool, one row each: the steps of a scenario, and
the calls the views draw as spans (``<name>.called`` … ``<name>.returned``).

Each row says what options a scenario's step takes and how each is checked, whether the
call begins the pool's shutdown, the code ``poolctl show --code`` writes for it, and how
the views show it. The scenario reader, codegen, ``poolctl new``, the outcome, the
terminal views and the exports all read this table; the subject performs each step (one
action per step in ``subject/poolctl_subject/scenario_program.py``), and which of them
join the workers is said once there, by each pool kind's class.

A new step is one row here and one action there (docs/architecture.md has the recipe).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pool_kinds import PoolKind

# Signals a ``kill-worker`` step may send.
SIGNALS = ("SIGTERM", "SIGKILL", "SIGINT")


@dataclass(frozen=True)
class StepCode:
    """What a generated program (``poolctl show --code``) does for a step."""

    # Template lines, formatted with the step's options (defaults filled in) and ``kind``
    # (the pool's pool_kinds row); or, when the code depends on a choice, a function of
    # the options as the scenario gives them and the kind, returning the lines.
    lines: tuple[str, ...] | Callable[[dict[str, Any], PoolKind], list[str]]
    imports: tuple[str, ...] = ()  # the modules the program then imports
    keeps_results: bool = False  # the program keeps what it submitted, to read it
    reports_busy_pid: bool = False  # each task puts its worker's pid on a queue first


@dataclass(frozen=True)
class StepKind:
    """One call on a pool: a scenario step, or a call that only happens (leaving ``with``)."""

    name: str  # the step's name in a scenario file, and the events' prefix
    mark: str  # its one-character mark in the terminal timeline
    style: str  # the mark's rich style
    short: str  # its label in the SVG and HTML
    legend: str  # its words in a legend
    options: dict[str, Any] = field(default_factory=dict)  # option → default (None: required)
    scenario: bool = True  # False: not a step a scenario file can name
    begins_shutdown: bool = False  # the first such call starts the outcome's shutdown time
    # How each option's value is checked: ``float`` (seconds), ``bool``, or its allowed values.
    option_checks: dict[str, Any] = field(default_factory=dict)
    code: StepCode | None = None  # None: no code of its own (not a scenario step)
    # Its ``.called`` event in the events table: a template formatted with the event's
    # fields (the options' defaults filled in), or a function of the event.
    detail: str | Callable[[dict[str, Any]], str] = ""
    example: str = ""  # how a scenario file writes it ("": from the options' defaults)
    # The oldest Python whose pools have the call (None: every Python poolctl runs on); a
    # scenario that takes the step requires it.
    min_python: tuple[int, int] | None = None

    def code_lines(self, options: dict[str, Any], kind: PoolKind) -> list[str]:
        """The lines a generated program runs for this step, given its options."""
        if self.code is None:
            raise ValueError(f"no code for step {self.name!r}")
        if callable(self.code.lines):
            return self.code.lines(options, kind)
        filled = {**self.options, **options}
        return [line.format(**filled, kind=kind) for line in self.code.lines]

    def describe(self, event: dict[str, Any]) -> str:
        """What the events table says about this step's ``.called`` event."""
        if callable(self.detail):
            return self.detail(event)
        return self.detail.format(**{**self.options, **event})

    def written(self) -> str:
        """The step as a scenario file writes it: ``"close"``, ``{ step = "sleep", ... }``."""
        if self.example:
            return self.example
        if not self.options:
            return f'"{self.name}"'
        options = "".join(f", {key} = {_toml(value)}" for key, value in self.options.items())
        return f'{{ step = "{self.name}"{options} }}'


def _toml(value: Any) -> str:
    """A default option value as TOML writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else repr(value)


# The steps whose code or description depends on a choice.


def _shutdown_code(options: dict[str, Any], kind: PoolKind) -> list[str]:
    return [f"pool.shutdown({_shutdown_arguments(options)})"]


def _shutdown_detail(event: dict[str, Any]) -> str:
    return f"shutdown({_shutdown_arguments(event)})"


def _shutdown_arguments(given: dict[str, Any]) -> str:
    """``wait`` always, ``cancel_futures`` only when the scenario gives it, as it is run."""
    arguments = [f"wait={given.get('wait', True)}"]
    if given.get("cancel_futures") is not None:
        arguments.append(f"cancel_futures={given['cancel_futures']}")
    return ", ".join(arguments)


def _kill_worker_code(options: dict[str, Any], kind: PoolKind) -> list[str]:
    sig = options.get("signal", "SIGKILL")
    if options.get("which", "busy") == "busy":
        return [f"os.kill(started.get(), signal.{sig})  # the worker running a task"]
    return [
        "busy = started.get()",
        f"idle = next(p.pid for p in list({kind.workers_expression}) if p.pid != busy)",
        f"os.kill(idle, signal.{sig})  # a worker running no task",
    ]


def _get_results_detail(event: dict[str, Any]) -> str:
    return f"get(timeout={event.get('timeout', 10)}) on every result"


_GET_RESULTS_CODE = (
    "for result in results:",
    "    try:",
    "        print('Result: %r' % (result.{kind.result_getter}({timeout!r}),))",
    "    except Exception as exc:",
    "        print('{kind.getter_label} raised %s: %s' % (type(exc).__name__, exc))",
)


STEPS: dict[str, StepKind] = {
    step.name: step
    for step in (
        StepKind(
            "close",
            "C",
            "bold magenta",
            "close",
            "close",
            begins_shutdown=True,
            code=StepCode(("pool.close()",)),
        ),
        StepKind(
            "terminate",
            "T",
            "bold red",
            "terminate",
            "terminate",
            begins_shutdown=True,
            code=StepCode(("pool.terminate()",)),
        ),
        StepKind(
            "join",
            "J",
            "bold magenta",
            "join",
            "join",
            begins_shutdown=True,
            code=StepCode(("pool.join()",)),
        ),
        StepKind(
            "shutdown",
            "D",
            "bold magenta",
            "shutdown",
            "shutdown",
            begins_shutdown=True,
            options={"wait": True, "cancel_futures": False},
            option_checks={"wait": bool, "cancel_futures": bool},
            code=StepCode(_shutdown_code),
            detail=_shutdown_detail,
        ),
        StepKind(
            "sleep",
            "z",
            "magenta",
            "sleep",
            "sleep",
            options={"seconds": None},
            option_checks={"seconds": float},
            code=StepCode(("time.sleep({seconds!r})",)),
            detail="{seconds} s",
            example='{ step = "sleep", seconds = 0.5 }',
        ),
        StepKind(
            "del",
            "d",
            "bold red",
            "del",
            "del pool",
            code=StepCode(
                ("del pool  # the last reference this program holds", "gc.collect()"),
                imports=("import gc",),
            ),
            detail="del pool; gc.collect()",
        ),
        StepKind(
            "kill-worker",
            "K",
            "bold red",
            "kill",
            "kill a worker",
            options={"signal": "SIGKILL", "which": "busy"},
            option_checks={"signal": SIGNALS, "which": ("busy", "idle")},
            code=StepCode(
                _kill_worker_code, imports=("import os", "import signal"), reports_busy_pid=True
            ),
            detail="{signal} to the {which} worker {worker}",
        ),
        StepKind(
            "get-results",
            "G",
            "cyan",
            "get",
            "get results",
            options={"timeout": 10.0},
            option_checks={"timeout": float},
            code=StepCode(_GET_RESULTS_CODE, keeps_results=True),
            detail=_get_results_detail,
        ),
        StepKind(
            "terminate-workers",
            "W",
            "bold red",
            "terminate workers",
            "terminate_workers()",
            begins_shutdown=True,
            code=StepCode(("pool.terminate_workers()",)),
            detail="terminate_workers(): shutdown(wait=False, cancel_futures=True), then SIGTERM",
            min_python=(3, 14),
        ),
        StepKind(
            "kill-workers",
            "Y",
            "bold red",
            "kill workers",
            "kill_workers()",
            begins_shutdown=True,
            code=StepCode(("pool.kill_workers()",)),
            detail="kill_workers(): shutdown(wait=False, cancel_futures=True), then SIGKILL",
            min_python=(3, 14),
        ),
        StepKind(
            "with-exit",
            "X",
            "bold red",
            "with exit",
            "with-block exit",
            scenario=False,
            detail="leaving the with block: __exit__()",
        ),
    )
}
# The names a scenario file may use as steps, in the table's order.
SCENARIO_STEPS = tuple(name for name, step in STEPS.items() if step.scenario)
# Every call the views bracket, as ``<name>.called`` / ``<name>.returned``.
CALLS = tuple(STEPS)
