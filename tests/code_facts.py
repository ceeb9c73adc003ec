"""What the code has, collected from the code itself (never from a list kept by hand): the
event kinds, the steps, the commands and the exit codes. The docs test and the schema test
compare the README, the docs and the published schemas with these."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import typer

import poolctl
from poolctl import cli, errors, program_pipeline, steps

SUBJECT = Path(poolctl.__file__).parent / "subject" / "poolctl_subject"
EVENTS_MODULE = Path(poolctl.__file__).parent / "events.py"
# The subject's "output" events are not events of the document: events.parse() turns
# them into its ``output`` lines.
OUTPUT_KIND = "output"
# A call's bracketing events, ``<name>.called`` / ``<name>.returned`` (steps.CALLS).
CALL_ENDS = (".called", ".returned")


def _emitted(tree: ast.AST, where: Path) -> set[str]:
    """The kinds of the ``emit(...)`` and ``channel.emit(...)`` calls in ``tree``."""
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "emit":
            continue
        kind = node.args[0]
        if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
            found.add(kind.value)
        elif not _is_call_kind(kind):
            # A kind this collector cannot read: teach it, or the docs test would miss it.
            raise AssertionError(
                f"{where.name}:{node.lineno}: emit() with a kind made at run time"
                f" ({ast.unparse(kind)}); only <call> + '.called'/'.returned' is understood"
            )
    return found


def _is_call_kind(node: ast.expr) -> bool:
    """``name + ".called"`` (or ``".returned"``): one of steps.CALLS, collected from there."""
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Add)
        and isinstance(node.right, ast.Constant)
        and node.right.value in CALL_ENDS
    )


def subject_event_kinds() -> set[str]:
    """Every kind the subject emits: its literal emit() kinds and every call's pair."""
    kinds = set()
    for path in sorted(SUBJECT.rglob("*.py")):
        kinds |= _emitted(ast.parse(path.read_text(encoding="utf-8")), path)
    kinds.discard(OUTPUT_KIND)
    return kinds | {name + end for name in steps.CALLS for end in CALL_ENDS}


def observer_event_kinds() -> set[str]:
    """The kinds the observer adds (events.py): dict literals with a constant ``kind``."""
    tree = ast.parse(EVENTS_MODULE.read_text(encoding="utf-8"))
    kinds = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "kind"
                    and isinstance(value, ast.Constant)
                ):
                    kinds.add(value.value)
    return kinds


def event_kinds() -> set[str]:
    """Every event kind a run document can hold."""
    return subject_event_kinds() | observer_event_kinds()


def scenario_steps() -> tuple[str, ...]:
    """The steps a scenario file may name."""
    return steps.SCENARIO_STEPS


def commands() -> list[str]:
    """The commands of poolctl's Typer app."""
    return sorted(typer.main.get_command(cli.app).commands)  # type: ignore[attr-defined]


def exit_codes() -> dict[int, str]:
    """Every exit code the code states, with where it states it."""
    found: dict[int, str] = {}
    for name in ("EXIT_CODES", "TRACE_EXIT_CODES"):
        # '128+N' is a rule, not a code.
        for code in re.findall(r"\b(\d+)\b(?!\+)", getattr(cli, name)):
            found.setdefault(int(code), f"cli.{name}")
    for name in ("HUNG", "FAILED", "CANNOT_RUN", "NOT_FOUND"):
        found.setdefault(getattr(program_pipeline, name), f"program_pipeline.{name}")
    for name, cls in vars(errors).items():
        if not (inspect.isclass(cls) and issubclass(cls, errors.PoolctlError)):
            continue
        found.setdefault(cls.exit_code, f"errors.{name}.exit_code")
        default = inspect.signature(cls.__init__).parameters.get("exit_code")
        if default is not None and isinstance(default.default, int):
            found.setdefault(default.default, f"errors.{name}(exit_code=...)")
    return found
