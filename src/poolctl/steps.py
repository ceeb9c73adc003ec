"""The calls the main process makes on a pool, one row each: the steps of a scenario, and
the calls the views draw as spans (``<name>.called`` … ``<name>.returned``).

Each row says what options a scenario's step takes, whether the call begins the pool's
shutdown, and how the views show it. The scenario reader, codegen, the outcome, the
terminal views and the exports all read this table; the subject performs each step (one
action per step in ``subject/poolctl_subject/scenario_program.py``), and which of them
join the workers is said once there, by each pool kind's class.

A new step is one row here and one action there (docs/architecture.md has the recipe).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


STEPS: dict[str, StepKind] = {
    step.name: step
    for step in (
        StepKind("close", "C", "bold magenta", "close", "close", begins_shutdown=True),
        StepKind("terminate", "T", "bold red", "terminate", "terminate", begins_shutdown=True),
        StepKind("join", "J", "bold magenta", "join", "join", begins_shutdown=True),
        StepKind(
            "shutdown",
            "D",
            "bold magenta",
            "shutdown",
            "shutdown",
            options={"wait": True, "cancel_futures": False},
        ),
        StepKind("sleep", "z", "magenta", "sleep", "sleep", options={"seconds": None}),
        StepKind("del", "d", "bold red", "del", "del pool"),
        StepKind(
            "kill-worker",
            "K",
            "bold red",
            "kill",
            "kill a worker",
            options={"signal": "SIGKILL", "which": "busy"},
        ),
        StepKind("get-results", "G", "cyan", "get", "get results", options={"timeout": 10.0}),
        StepKind("with-exit", "X", "bold red", "with exit", "with-block exit", scenario=False),
    )
}
# The names a scenario file may use as steps, in the table's order.
SCENARIO_STEPS = tuple(name for name, step in STEPS.items() if step.scenario)
# Every call the views bracket, as ``<name>.called`` / ``<name>.returned``.
CALLS = tuple(STEPS)
# Signals a ``kill-worker`` step may send.
SIGNALS = ("SIGTERM", "SIGKILL", "SIGINT")
