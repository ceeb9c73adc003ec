"""``poolctl new NAME``: a commented scenario file to start from."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import UsageError
from .printable import printable

TEMPLATE = """\
# A poolctl scenario: a pool program and what the docs guarantee about it.
# Run it with:  poolctl run {path}
# The format is described in docs/scenarios.md; 'poolctl list' shows bundled examples.

summary = "{name}: close() then join(), the tasks complete"

# The main process's calls, in order, after issuing the tasks. A step is a name or a
# table with options:
#   pool / threadpool: "close", "terminate", "join"
#   executor:          {{ step = "shutdown", wait = true, cancel_futures = false }}
#   any:               {{ step = "sleep", seconds = 0.5 }}, "del",
#                      {{ step = "get-results", timeout = 10 }},
#   pool, executor:    {{ step = "kill-worker", signal = "SIGKILL", which = "busy" }}
steps = ["close", "join"]

# Seconds before the run is stopped and reported hung (default 60; --timeout overrides).
# timeout = 10
# The oldest Python this scenario runs on, when it needs a newer one than 3.8.
# requires_python = "3.9"

[pool]
api = "pool"                # "pool", "threadpool" or "executor"
# workers = 2               # default: the pool's own default
# start_method = "spawn"    # default: the interpreter's; --start-method overrides
# maxtasksperchild = 1      # api = "pool" only
# context_manager = true    # run the steps inside 'with Pool() as pool:'

[tasks]
count = 1
duration = 1.0              # seconds each task sleeps
# submit = "apply_async"    # "apply_async" or "map_async"; "submit" for an executor
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
    text = TEMPLATE.format(name=name, path=printable(str(path)))
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
