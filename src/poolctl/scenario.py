"""The scenario model: a pool program and its documented expectation, read from TOML.

A scenario file is data, never code. Validation is strict: an unknown key, a wrong type
or a bad value is a ``UsageError`` naming the file, the line and what is wrong.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import limits
from .errors import UsageError

STEPS = ("close", "terminate", "join", "sleep")
SIGNALS = ("SIGTERM", "SIGKILL", "SIGINT")

_TOP_KEYS = {"summary", "description", "steps", "pool", "tasks", "expect", "race"}
_POOL_KEYS = {"api", "workers", "start_method"}
_TASK_KEYS = {"count", "duration"}
# Each expectation key and the type of its value; only what is guaranteed belongs here.
_EXPECT_KEYS: dict[str, type | tuple[type, ...]] = {
    "completed": (int, str),
    "failed": int,
    "error": str,
    "main_exit_code": int,
    "hung": bool,
    "output_includes": list,
    "output_excludes": list,
    "output_per_task": list,
    "worker_exit_code": int,
    "interrupted_worker_exit": str,
}
_RACE_KEYS = {"output", "why"}


@dataclass(frozen=True)
class Step:
    """One call the main process makes, in order."""

    name: str
    seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The step as the subject and the JSON document take it."""
        data: dict[str, Any] = {"step": self.name}
        if self.seconds is not None:
            data["seconds"] = self.seconds
        return data


@dataclass(frozen=True)
class Race:
    """A timing-dependent claim: observed and reported, never pass/fail."""

    output: str
    why: str


@dataclass(frozen=True)
class Scenario:
    """A pool program plus what the docs guarantee about it."""

    name: str
    summary: str
    source: str
    steps: tuple[Step, ...]
    description: str = ""
    workers: int | None = None
    start_method: str | None = None
    tasks: int = 1
    duration: float = 1.0
    expect: dict[str, Any] = field(default_factory=dict)
    races: tuple[Race, ...] = ()


def scenario_dir() -> Path:
    """Where the bundled scenarios are: inside the installed package, or the source tree."""
    bundled = Path(__file__).resolve().parent / "scenarios"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[2] / "scenarios"


def bundled_names() -> list[str]:
    """Names of the bundled scenarios, sorted."""
    return sorted(p.stem for p in scenario_dir().glob("*.toml"))


def load(name_or_path: str) -> Scenario:
    """Load a bundled scenario by name, or a scenario file by path."""
    looks_like_path = name_or_path.endswith(".toml") or "/" in name_or_path
    if looks_like_path:
        return load_file(Path(name_or_path))
    path = scenario_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        raise UsageError(_unknown(name_or_path))
    return load_file(path)


def _unknown(name: str) -> str:
    from difflib import get_close_matches

    names = bundled_names()
    close = get_close_matches(name, names, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else "; 'poolctl list' shows them"
    return f"unknown scenario '{name}'{hint}"


def load_file(path: Path) -> Scenario:
    """Read and validate one scenario file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the scenario file: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not a text file (TOML must be UTF-8)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from exc
    return _Reader(path, text).scenario(data)


class _Reader:
    """Turns parsed TOML into a ``Scenario``, reporting problems with file and line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def fail(self, key: str, problem: str) -> UsageError:
        return self.located(key, f"{key}: {problem}")

    def located(self, key: str, message: str) -> UsageError:
        line = self._line_of(key.split(".")[-1].split("[")[0])
        where = f"{self.path}:{line}" if line else str(self.path)
        return UsageError(f"{where}: {message}")

    def checked(self, check: Any, value: Any, key: str, **options: Any) -> Any:
        """Run a shared check from ``limits`` and locate its error in this file."""
        try:
            return check(value, key, **options)
        except UsageError as exc:
            raise self.located(key, str(exc)) from exc

    def _line_of(self, key: str) -> int | None:
        pattern = re.compile(rf"^\s*(\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\])")
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return number
        return None

    def check_keys(self, table: dict[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                from difflib import get_close_matches

                close = get_close_matches(key, sorted(allowed), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise self.fail(f"{prefix}{key}", f"unknown key{hint}")

    def typed(self, table: dict[str, Any], key: str, kind: Any, prefix: str = "") -> Any:
        value = table[key]
        if isinstance(value, bool) and kind is not bool and bool not in _as_tuple(kind):
            raise self.fail(prefix + key, f"expected {_type_name(kind)}, not a boolean")
        if not isinstance(value, kind):
            raise self.fail(prefix + key, f"expected {_type_name(kind)}, not {value!r}")
        return value

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "expected a table")
        return value

    def scenario(self, data: dict[str, Any]) -> Scenario:
        self.check_keys(data, _TOP_KEYS, "")
        if "summary" not in data:
            raise self.fail("summary", "missing (a one-line summary of the scenario)")
        summary = self.typed(data, "summary", str)
        description = self.typed(data, "description", str) if "description" in data else ""
        pool = self.table(data, "pool")
        self.check_keys(pool, _POOL_KEYS, "pool.")
        if pool.get("api", "pool") != "pool":
            raise self.fail("pool.api", f"unsupported api {pool['api']!r} (only 'pool')")
        workers = self.checked(limits.workers, pool.get("workers"), "pool.workers")
        start_method = self.checked(
            limits.start_method, pool.get("start_method"), "pool.start_method"
        )
        tasks_table = self.table(data, "tasks")
        self.check_keys(tasks_table, _TASK_KEYS, "tasks.")
        count = self.checked(limits.tasks, tasks_table.get("count", 1), "tasks.count")
        duration = self.checked(limits.duration, tasks_table.get("duration", 1.0), "tasks.duration")
        return Scenario(
            name=self.path.stem,
            summary=summary,
            description=description,
            source=str(self.path),
            steps=self.steps(data),
            workers=workers,
            start_method=start_method,
            tasks=count,
            duration=duration,
            expect=self.expect(self.table(data, "expect")),
            races=self.races(data.get("race", [])),
        )

    def steps(self, data: dict[str, Any]) -> tuple[Step, ...]:
        if "steps" not in data:
            raise self.fail("steps", "missing (the main process's calls, e.g. ['close', 'join'])")
        raw = self.typed(data, "steps", list)
        steps = []
        for index, item in enumerate(raw):
            where = f"steps[{index}]"
            if isinstance(item, str):
                item = {"step": item}
            if not isinstance(item, dict) or not isinstance(item.get("step"), str):
                raise self.fail(where, "expected a step name or a table with 'step'")
            name = item["step"]
            if name not in STEPS:
                from difflib import get_close_matches

                close = get_close_matches(name, STEPS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f" (one of {', '.join(STEPS)})"
                raise self.fail(where, f"unknown step '{name}'{hint}")
            allowed = {"step", "seconds"} if name == "sleep" else {"step"}
            self.check_keys(item, allowed, f"{where}.")
            seconds = None
            if name == "sleep":
                seconds = self.checked(
                    limits.seconds,
                    item.get("seconds"),
                    f"{where}.seconds",
                    maximum=limits.MAX_DURATION,
                )
            steps.append(Step(name, seconds))
        return tuple(steps)

    def expect(self, table: dict[str, Any]) -> dict[str, Any]:
        self.check_keys(table, set(_EXPECT_KEYS), "expect.")
        for key, kind in _EXPECT_KEYS.items():
            if key in table:
                self.typed(table, key, kind, "expect.")
        completed = table.get("completed")
        if isinstance(completed, str) and completed != "all":
            raise self.fail("expect.completed", f"expected a number or 'all', not {completed!r}")
        for key in ("output_includes", "output_excludes", "output_per_task"):
            if not all(isinstance(x, str) for x in table.get(key, [])):
                raise self.fail(f"expect.{key}", "expected a list of output lines (strings)")
        signal = table.get("interrupted_worker_exit")
        if signal is not None and signal not in SIGNALS:
            raise self.fail("expect.interrupted_worker_exit", f"expected one of {SIGNALS}")
        return dict(table)

    def races(self, raw: Any) -> tuple[Race, ...]:
        if not isinstance(raw, list):
            raise self.fail("race", "expected an array of tables ([[race]])")
        races = []
        for item in raw:
            self.check_keys(item, _RACE_KEYS, "race.")
            if not isinstance(item.get("output"), str) or not isinstance(item.get("why"), str):
                raise self.fail("race", "each [[race]] needs 'output' and 'why' (strings)")
            races.append(Race(item["output"], item["why"]))
        return tuple(races)


def _as_tuple(kind: Any) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_name(kind: Any) -> str:
    names = {int: "a whole number", str: "a string", bool: "true or false", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))
