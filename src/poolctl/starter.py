"""``poolctl new NAME``: a commented scenario file to start from."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from .errors import UsageError
from .pool_kinds import DEFAULT, KINDS
from .printable import printable
from .steps import STEPS

TEMPLATE = """\
# A poolctl scenario: a pool program and what the docs guarantee about it.
# Run it with:  poolctl run {path}
# The format is described in docs/scenarios.md; 'poolctl list' shows bundled examples.

summary = "{name}: close() then join(), the tasks complete"

# The main process's calls, in order, after issuing the tasks. A step is a name or a
# table with options:
{steps}
steps = ["close", "join"]

# Seconds before the run is stopped and reported hung (default 60; --timeout overrides).
# timeout = 10
# The oldest Python this scenario runs on, when it needs a newer one than 3.8.
# requires_python = "3.9"

[pool]
{api}
# workers = 2               # default: the pool's own default
# start_method = "spawn"    # default: the interpreter's; --start-method overrides
{maxtasksperchild}
# context_manager = true    # run the steps inside 'with Pool() as pool:'

[tasks]
count = 1
duration = 1.0              # seconds each task sleeps
{submit}
# raises = true             # the task raises RuntimeError after sleeping

# Only what is guaranteed: each claim is checked against the real run.
[expect]
completed = "all"           # "all" or a number of tasks
error = "none"              # "none", "Type: message", or just "Type"
main_exit_code = 0
hung = false
output_per_task = ["Task executing", "Task done"]
output_includes = ["Main done"]
# output_excludes = ["Task done"]
# output_mentions = ["ResourceWarning"]      # a substring of some line
# failed = 1
# worker_exit_code = 0                        # every worker
# interrupted_worker_exit = "SIGTERM"         # every worker whose task was interrupted
# task_workers = "distinct"                   # every task ran in a worker of its own
# min_never_started = 4

# What depends on timing is observed and counted, never passed or failed:
# [[race]]
# output = "Task executing"
# why = "a worker may begin the task before terminate() lands"
# [[race]]
# hung = true
# why = "..."
"""


# A setting's comment starts at this column; the steps' comment wraps before this width.
COMMENT_COLUMN = 28
WIDTH = 88


def _steps() -> str:
    """Comment lines listing each step as a scenario writes it, under the kinds of pool
    that take it (from steps.STEPS and pool_kinds.KINDS)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for step in STEPS.values():
        if step.scenario:
            takers = tuple(kind.name for kind in KINDS.values() if step.name in kind.steps)
            groups.setdefault(takers, []).append(step.written())
    lines = []
    for takers, items in groups.items():
        label = "any" if len(takers) == len(KINDS) else ", ".join(takers)
        start = f"#   {label + ':':<19}"
        line = start
        for index, item in enumerate(items):
            item += "," if index < len(items) - 1 else ""
            if line != start and len(line) + len(item) >= WIDTH:
                lines.append(line.rstrip())
                line = start = "#" + " " * 22
            line += item + " "
        lines.append(line.rstrip())
    return "\n".join(lines)


def _settings() -> dict[str, str]:
    """The [pool] and [tasks] lines whose choices depend on the kinds of pool."""

    def either(names: Iterable[str]) -> str:
        quoted = [f'"{name}"' for name in names]
        return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]

    def commented(setting: str, comment: str) -> str:
        return f"{setting:<{COMMENT_COLUMN}}# {comment}"

    default = KINDS[DEFAULT]
    submit = either(default.submit)
    for kind in KINDS.values():
        if kind.submit != default.submit:
            submit += f'; {either(kind.submit)} for api = "{kind.name}"'
    maxtasks = (kind.name for kind in KINDS.values() if kind.maxtasksperchild)
    return {
        "api": commented(f'api = "{DEFAULT}"', either(KINDS)),
        "maxtasksperchild": commented("# maxtasksperchild = 1", f"api = {either(maxtasks)} only"),
        "submit": commented(f'# submit = "{default.submit[0]}"', submit),
    }


# The name goes into a TOML string and a file name as it is: nothing there needs escaping.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def write(name: str, directory: Path) -> Path:
    """Write ``NAME.toml`` into ``directory``; never overwrite a file.

    ``NAME.toml`` given as the name means ``NAME``, as a user who types the file name means.
    """
    given = name
    if name.endswith(".toml"):
        name = name[: -len(".toml")]
    if not NAME.fullmatch(name):
        raise UsageError(
            printable(
                f"new: {given!r} is not a scenario name (use letters, digits, '.', '_' and '-',"
                " starting with a letter or digit)"
            )
        )
    if not directory.is_dir():
        raise UsageError(printable(f"new: no such directory: {directory}"))
    path = directory / f"{name}.toml"
    # The path is shown in a comment, where TOML allows no control character.
    text = TEMPLATE.format(name=name, path=printable(str(path)), steps=_steps(), **_settings())
    try:
        with path.open("x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError as exc:
        raise UsageError(
            printable(f"new: {path} exists already; poolctl does not overwrite it")
        ) from exc
    except OSError as exc:
        raise UsageError(printable(f"new: cannot write {path}: {exc.strerror}")) from exc
    return path
