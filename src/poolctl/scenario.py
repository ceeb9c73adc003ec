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

from . import expect_conditions, limits
from .catalogue import bundled_names, scenario_dir
from .errors import UsageError
from .interpreter import MINIMUM
from .pool_kinds import DEFAULT, KINDS, PoolKind
from .printable import printable
from .steps import SCENARIO_STEPS, SIGNALS, STEPS, StepKind
from .toml_positions import KeyPath, Positions, written

_TOP_KEYS = {
    "summary",
    "description",
    "steps",
    "pool",
    "tasks",
    "expect",
    "race",
    "notes",
    "requires_python",
    "timeout",
}
_POOL_KEYS = {"api", "workers", "start_method", "maxtasksperchild", "context_manager"}
_TASK_KEYS = {"count", "duration", "submit", "raises"}
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
    "output_mentions": list,
    "task_workers": str,
    "min_never_started": int,
}
_RACE_KEYS = {"output", "hung", "why"}


@dataclass(frozen=True)
class Step:
    """One call the main process makes, in order, with its options."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        """An option's value."""
        return dict(self.options).get(key, default)

    def as_dict(self) -> dict[str, Any]:
        """The step as the subject and the JSON document take it."""
        return {"step": self.name, **dict(self.options)}


@dataclass(frozen=True)
class Race:
    """A timing-dependent claim: observed and reported, never pass/fail.

    Either an output line that may or may not be printed, or whether the run hangs.
    """

    why: str
    output: str | None = None
    hung: bool = False


@dataclass(frozen=True)
class Scenario:
    """A pool program plus what the docs guarantee about it."""

    name: str
    summary: str
    source: str
    steps: tuple[Step, ...]
    description: str = ""
    api: str = DEFAULT  # its kind of pool: a name in pool_kinds.KINDS
    workers: int | None = None
    start_method: str | None = None
    maxtasksperchild: int | None = None
    context_manager: bool = False
    tasks: int = 1
    duration: float = 1.0
    submit: str = KINDS[DEFAULT].submit[0]
    raises: bool = False
    requires_python: tuple[int, int] | None = None
    expect: dict[str, Any] = field(default_factory=dict)
    races: tuple[Race, ...] = ()
    notes: tuple[str, ...] = ()
    timeout: float | None = None  # the scenario's default --timeout


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
    return printable(f"unknown scenario {name!r}{hint}")


def load_file(path: Path) -> Scenario:
    """Read and validate one scenario file."""
    shown = printable(str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read the scenario file: {exc.strerror}") from exc
    if b"\0" in raw:
        raise UsageError(f"{shown}: not a text file (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{shown}: not a text file (TOML must be UTF-8)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(printable(f"{shown}: invalid TOML: {exc}")) from exc
    except RecursionError as exc:  # tomllib parses nested arrays and tables recursively
        raise UsageError(f"{shown}: invalid TOML: nested too deeply") from exc
    try:
        return _Reader(path, text).scenario(data)
    except RecursionError as exc:  # a value nested just shallower than tomllib's limit
        raise UsageError(f"{shown}: a value is nested too deeply") from exc


class _Reader:
    """Turns parsed TOML into a ``Scenario``, reporting problems with file and line.

    Every place in the file is a ``KeyPath``; a message shows it the way TOML would write
    it (``steps[0].seconds``) and names the line that path starts on.
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.positions = Positions(text)

    def fail(self, where: KeyPath, problem: str) -> UsageError:
        return self.located(where, f"{written(where)}: {problem}")

    def located(self, where: KeyPath, message: str) -> UsageError:
        line = self.positions.line_of(where)
        place = f"{self.path}:{line}" if line else str(self.path)
        return UsageError(printable(f"{place}: {message}"))

    def checked(self, check: Any, value: Any, where: KeyPath, **options: Any) -> Any:
        """Run a shared check from ``limits`` and locate its error in this file."""
        try:
            return check(value, written(where), **options)
        except UsageError as exc:
            raise self.located(where, str(exc)) from exc

    def check_keys(self, table: dict[str, Any], allowed: set[str], prefix: KeyPath) -> None:
        for key in table:
            if key not in allowed:
                from difflib import get_close_matches

                close = get_close_matches(key, sorted(allowed), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise self.fail((*prefix, key), f"unknown key{hint}")

    def typed(self, table: dict[str, Any], key: str, kind: Any, prefix: KeyPath = ()) -> Any:
        value = table[key]
        if isinstance(value, bool) and kind is not bool and bool not in _as_tuple(kind):
            raise self.fail((*prefix, key), f"expected {_type_name(kind)}, not a boolean")
        if not isinstance(value, kind):
            raise self.fail((*prefix, key), f"expected {_type_name(kind)}, not {value!r}")
        return value

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail((key,), "expected a table")
        return value

    def scenario(self, data: dict[str, Any]) -> Scenario:
        self.check_keys(data, _TOP_KEYS, ())
        if "summary" not in data:
            raise self.fail(("summary",), "missing (a one-line summary of the scenario)")
        summary = self.typed(data, "summary", str)
        description = self.typed(data, "description", str) if "description" in data else ""
        pool = self.table(data, "pool")
        self.check_keys(pool, _POOL_KEYS, ("pool",))
        api = self.choice(pool, "api", tuple(KINDS), ("pool",), default=DEFAULT)
        kind = KINDS[api]
        workers = self.checked(limits.workers, pool.get("workers"), ("pool", "workers"))
        start_method = self.checked(
            limits.start_method, pool.get("start_method"), ("pool", "start_method")
        )
        if not kind.starts_processes and start_method is not None:
            raise self.fail(("pool", "start_method"), "a thread pool starts no processes")
        maxtasks = None
        if "maxtasksperchild" in pool:
            maxtasks = self.typed(pool, "maxtasksperchild", int, ("pool",))
            if not kind.maxtasksperchild or maxtasks < 1:
                takers = " or ".join(repr(k.name) for k in KINDS.values() if k.maxtasksperchild)
                raise self.fail(
                    ("pool", "maxtasksperchild"), f"only for api = {takers}, and at least 1"
                )
        context_manager = bool(pool.get("context_manager", False))
        if "context_manager" in pool:
            self.typed(pool, "context_manager", bool, ("pool",))
        tasks_table = self.table(data, "tasks")
        self.check_keys(tasks_table, _TASK_KEYS, ("tasks",))
        count = self.checked(limits.tasks, tasks_table.get("count", 1), ("tasks", "count"))
        duration = self.checked(
            limits.duration, tasks_table.get("duration", 1.0), ("tasks", "duration")
        )
        submit = self.choice(tasks_table, "submit", kind.submit, ("tasks",), default=kind.submit[0])
        raises = False
        if "raises" in tasks_table:
            raises = self.typed(tasks_table, "raises", bool, ("tasks",))
        notes = self.typed(data, "notes", list) if "notes" in data else []
        if not all(isinstance(n, str) for n in notes):
            raise self.fail(("notes",), "expected a list of strings")
        return Scenario(
            name=self.path.stem,
            summary=summary,
            description=description,
            source=str(self.path),
            steps=self.steps(data, api),
            api=api,
            workers=workers,
            start_method=start_method,
            maxtasksperchild=maxtasks,
            context_manager=context_manager,
            tasks=count,
            duration=duration,
            submit=submit,
            raises=raises,
            requires_python=self.version(data, kind),
            expect=self.expect(self.table(data, "expect")),
            races=self.races(data.get("race", [])),
            notes=tuple(notes),
            timeout=self.checked(limits.timeout, data["timeout"], ("timeout",))
            if "timeout" in data
            else None,
        )

    def choice(
        self,
        table: dict[str, Any],
        key: str,
        allowed: tuple[str, ...],
        prefix: KeyPath,
        default: str,
    ) -> str:
        value = table.get(key, default)
        if value not in allowed:
            from difflib import get_close_matches

            close = get_close_matches(str(value), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (one of {', '.join(allowed)})"
            raise self.fail((*prefix, key), f"{value!r} is not allowed here{hint}")
        return str(value)

    def version(self, data: dict[str, Any], kind: PoolKind) -> tuple[int, int] | None:
        """The oldest Python the scenario runs on: its ``requires_python``, or its kind's
        ``min_python`` when that is newer (None: every Python poolctl runs on)."""
        given = None
        if "requires_python" in data:
            text = self.typed(data, "requires_python", str)
            # ASCII digits only: \d also matches '٩', which int() would read as 9.
            match = re.fullmatch(r"([0-9]+)\.([0-9]+)", text)
            if match is None:
                raise self.fail(
                    ("requires_python",), f"expected a version such as '3.9', not {text!r}"
                )
            given = int(match.group(1)), int(match.group(2))
        # The kind and each step the scenario takes may need a newer Python than it says.
        names = [s if isinstance(s, str) else s.get("step") for s in data.get("steps", [])]
        needed = [kind.min_python] + [
            step.min_python
            for name in names
            if (step := STEPS.get(name)) is not None and step.min_python is not None
        ]
        newest = max(needed)
        if newest > max(given or MINIMUM, MINIMUM):
            return newest
        return given

    def steps(self, data: dict[str, Any], api: str) -> tuple[Step, ...]:
        if "steps" not in data:
            raise self.fail(
                ("steps",), "missing (the main process's calls, e.g. ['close', 'join'])"
            )
        raw = self.typed(data, "steps", list)
        steps = []
        for index, item in enumerate(raw):
            where: KeyPath = ("steps", index)
            if isinstance(item, str):
                item = {"step": item}
            if not isinstance(item, dict) or not isinstance(item.get("step"), str):
                raise self.fail(where, "expected a step name or a table with 'step'")
            name = item["step"]
            if name not in SCENARIO_STEPS:
                from difflib import get_close_matches

                known = SCENARIO_STEPS
                close = get_close_matches(name, known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f" (one of {', '.join(known)})"
                raise self.fail(where, f"unknown step {name!r}{hint}")
            allowed = KINDS[api].steps
            if name not in allowed:
                raise self.fail(
                    where,
                    f"'{name}' makes no sense for api = '{api}'"
                    f" (its steps: {', '.join(sorted(allowed))})",
                )
            step = STEPS[name]
            self.check_keys(item, {"step", *step.options}, where)
            steps.append(Step(name, self.step_options(item, step, where)))
        return tuple(steps)

    def step_options(
        self, item: dict[str, Any], step: StepKind, where: KeyPath
    ) -> tuple[tuple[str, Any], ...]:
        """The options ``item`` gives, each checked as its row in steps.STEPS says."""
        options: list[tuple[str, Any]] = []
        for key, default in step.options.items():
            if key not in item:
                if default is None:
                    raise self.fail((*where, key), "missing")
                continue
            check = step.option_checks[key]
            if check is float:  # seconds
                value = self.checked(
                    limits.seconds, item[key], (*where, key), maximum=limits.MAX_DURATION
                )
            elif check is bool:
                value = self.typed(item, key, bool, where)
            else:
                value = self.choice(item, key, check, where, default=default)
            options.append((key, value))
        return tuple(options)

    def expect(self, table: dict[str, Any]) -> dict[str, Any]:
        self.check_keys(table, {*_EXPECT_KEYS, "only_on"}, ("expect",))
        self.only_on(table)
        for key, kind in _EXPECT_KEYS.items():
            if key in table:
                self.typed(table, key, kind, ("expect",))
        completed = table.get("completed")
        if isinstance(completed, str) and completed != "all":
            raise self.fail(
                ("expect", "completed"), f"expected a number or 'all', not {completed!r}"
            )
        for key in ("output_includes", "output_excludes", "output_per_task"):
            if not all(isinstance(x, str) for x in table.get(key, [])):
                raise self.fail(("expect", key), "expected a list of output lines (strings)")
        if table.get("task_workers", "distinct") != "distinct":
            raise self.fail(("expect", "task_workers"), "the only claim is 'distinct'")
        for key in ("output_mentions",):
            if not all(isinstance(x, str) for x in table.get(key, [])):
                raise self.fail(("expect", key), "expected a list of strings")
        signal = table.get("interrupted_worker_exit")
        if signal is not None and signal not in SIGNALS:
            raise self.fail(("expect", "interrupted_worker_exit"), f"expected one of {SIGNALS}")
        return dict(table)

    def only_on(self, table: dict[str, Any]) -> None:
        """``[expect.only_on]``: claims of this table that hold only on some interpreters."""
        rules = table.get("only_on", {})
        if not isinstance(rules, dict):
            raise self.fail(("expect", "only_on"), "expected a table of claims")
        for key, rule in rules.items():
            where: KeyPath = ("expect", "only_on", key)
            if key not in _EXPECT_KEYS:
                self.check_keys({key: rule}, set(_EXPECT_KEYS), ("expect", "only_on"))
            if key not in table:
                raise self.fail(where, f"no such claim in [expect]: write {key} there first")
            if not isinstance(rule, dict):
                raise self.fail(where, "expected a table: { python = 'cpython', why = '...' }")
            self.check_keys(rule, {"python", "why"}, where)
            for needed in ("python", "why"):
                if not isinstance(rule.get(needed), str) or not rule[needed].strip():
                    raise self.fail((*where, needed), "expected a non-empty string")
            if expect_conditions.parse(rule["python"]) is None:
                raise self.fail(
                    (*where, "python"),
                    f"expected {expect_conditions.FORMS}, not {rule['python']!r}",
                )

    def races(self, raw: Any) -> tuple[Race, ...]:
        if not isinstance(raw, list):
            raise self.fail(("race",), "expected an array of tables ([[race]])")
        races = []
        for index, item in enumerate(raw):
            where: KeyPath = ("race", index)
            if not isinstance(item, dict):
                raise self.fail(where, f"expected a table ([[race]]), not {item!r}")
            self.check_keys(item, _RACE_KEYS, where)
            output, hung = item.get("output"), item.get("hung", False)
            well_formed = isinstance(item.get("why"), str) and (
                (isinstance(output, str) and "hung" not in item)
                or (output is None and hung is True)
            )
            if not well_formed:
                raise self.fail(
                    where, "each [[race]] needs 'why' and either 'output' (a line) or hung = true"
                )
            races.append(Race(item["why"], output=output, hung=hung))
        return tuple(races)


def _as_tuple(kind: Any) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_name(kind: Any) -> str:
    names = {int: "a whole number", str: "a string", bool: "true or false", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))
