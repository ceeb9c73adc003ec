"""Validation of the numbers a run takes, shared by command-line options and scenario files.

Each check returns the value or raises ``UsageError`` naming where the value came from.
"""

from __future__ import annotations

import math

from .errors import UsageError

START_METHODS = ("fork", "spawn", "forkserver")
MAX_WORKERS = 128
MAX_TASKS = 100_000
MAX_DURATION = 3600.0
MAX_TIMEOUT = 86_400.0
# The tasks of each pool whose events a traced program's document keeps (its first, by
# task number; ``events.parse`` counts the rest). 10,000 tasks keep every event of the
# benchmarks' largest run and about 15 MB of poolctl's memory per pool. The subject is
# told it: a pool's map items past it send their events a chunk at a time.
TASK_DETAIL = 10_000


def workers(value: int | None, where: str = "--workers") -> int | None:
    """A worker count: None (the pool's default) or 1 to MAX_WORKERS."""
    if value is None:
        return None
    _integer(value, where)
    if not 1 <= value <= MAX_WORKERS:
        raise UsageError(f"{where} must be between 1 and {MAX_WORKERS}, not {value}")
    return value


def tasks(value: int, where: str = "--tasks") -> int:
    """A task count: 0 to MAX_TASKS."""
    _integer(value, where)
    if not 0 <= value <= MAX_TASKS:
        raise UsageError(f"{where} must be between 0 and {MAX_TASKS}, not {value}")
    return value


def seconds(value: float, where: str, *, maximum: float, allow_zero: bool = True) -> float:
    """A finite number of seconds, at least 0 (or above 0) and at most ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{where} must be a number of seconds, not {value!r}")
    if not math.isfinite(value):
        raise UsageError(f"{where} must be a finite number of seconds, not {value}")
    low_ok = value >= 0 if allow_zero else value > 0
    if not low_ok or value > maximum:
        low = "0" if allow_zero else "more than 0"
        raise UsageError(f"{where} must be {low} to {maximum:g} seconds, not {value:g}")
    return float(value)


def duration(value: float, where: str = "--duration") -> float:
    """How long each task sleeps."""
    return seconds(value, where, maximum=MAX_DURATION)


def timeout(value: float, where: str = "--timeout") -> float:
    """How long a run may take before it is declared hung."""
    return seconds(value, where, maximum=MAX_TIMEOUT, allow_zero=False)


def start_method(value: str | None, where: str = "--start-method") -> str | None:
    """A start method name (None: the interpreter's default); availability is checked later."""
    if value is None or value in START_METHODS:
        return value
    from difflib import get_close_matches

    close = get_close_matches(str(value), START_METHODS, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f" (one of {', '.join(START_METHODS)})"
    raise UsageError(f"{where}: unknown start method '{value}'{hint}")


def _integer(value: object, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{where} must be a whole number, not {value!r}")
