"""The ``poolctl.run/1`` document: the single source every view of a run is drawn from."""

from __future__ import annotations

from typing import Any

from . import __version__
from .interpreter import Interpreter
from .scenario import Scenario

RUN_SCHEMA = "poolctl.run/1"


def build_run(
    *,
    scenario: Scenario,
    params: dict[str, Any],
    interpreter: Interpreter,
    events: list[dict[str, Any]],
    output: list[dict[str, Any]],
    outcome: dict[str, Any],
    checks: list[dict[str, Any]],
    races: list[dict[str, Any]],
) -> dict[str, Any]:
    """Assemble the run document (plain JSON data)."""
    return {
        "schema": RUN_SCHEMA,
        "poolctl": __version__,
        "scenario": {
            "name": scenario.name,
            "summary": scenario.summary,
            "source": scenario.source,
            "steps": [step.as_dict() for step in scenario.steps],
        },
        "params": params,
        "python": interpreter.as_dict(),
        "events": events,
        "output": output,
        "outcome": outcome,
        "expected": scenario.expect,
        "checks": checks,
        "races": races,
        "matches": all(c["ok"] for c in checks),
    }


def exit_code(document: dict[str, Any]) -> int:
    """0 when reality matches the scenario's expectation, 1 when it differs."""
    return 0 if document["matches"] else 1
