"""The plain Python program equivalent to a scenario (``poolctl show NAME --code``).

Written the way the tutorial writes it: a ``task()`` function, the ``__main__`` guard, the
same prints as poolctl's subject, so that for a deterministic scenario the program prints
the lines ``poolctl run`` reports. Nothing here runs; it only writes text.
"""

from __future__ import annotations

from .printable import printable
from .scenario import Scenario, Step

INDENT = "    "


def program(
    scenario: Scenario,
    *,
    workers: int | None,
    tasks: int,
    duration: float,
    start_method: str | None,
) -> str:
    """A complete, standalone program for ``scenario`` with these parameters."""
    kills = any(step.name == "kill-worker" for step in scenario.steps)
    keeps_results = any(step.name == "get-results" for step in scenario.steps)
    lines = _header(scenario, kills)
    lines += _task(scenario, duration, kills)
    lines += ["", "", "if __name__ == '__main__':"]
    body: list[str] = []
    create = _create(scenario, workers, start_method, kills)
    if kills:
        context = f"get_context({start_method!r})" if start_method else "get_context()"
        lines.append(f"{INDENT}started = {context}.SimpleQueue()  # workers report busy pids")
    if scenario.context_manager:
        lines.append(f"{INDENT}with {create} as pool:")
        prefix = INDENT * 2
    else:
        lines.append(f"{INDENT}pool = {create}")
        prefix = INDENT
    body += _submit(scenario, tasks, keeps_results)
    for step in scenario.steps:
        body += _step(scenario, step)
    lines += [prefix + line if line else "" for line in body]
    if scenario.context_manager and not body:
        lines.append(prefix + "pass")
    lines.append(f"{INDENT}print('Main done')")
    return "\n".join(lines) + "\n"


def _header(scenario: Scenario, kills: bool) -> list[str]:
    imports = ["import time"]
    if kills:
        imports[:0] = ["import os", "import signal"]
    if any(step.name == "del" for step in scenario.steps):
        imports.insert(0, "import gc")
    if scenario.api == "executor":
        imports += [
            "from concurrent.futures import ProcessPoolExecutor",
            "from multiprocessing import get_context",
        ]
    elif scenario.api == "threadpool":
        imports.append("from multiprocessing.pool import ThreadPool")
    else:
        imports.append("from multiprocessing import get_context")
    name, source = printable(scenario.name), printable(scenario.source)
    about = (
        f"The program of poolctl's scenario '{name}' ({source}),\n"
        f"written by 'poolctl show {name} --code'. poolctl runs its programs with\n"
        "python -W always::ResourceWarning, so that a pool left running says so."
    )
    # Comments, not a docstring: the summary and the path are the user's text, and no
    # quote or backslash in them can end a comment or make it code.
    return [*_comment(scenario.summary), "#", *_comment(about), "", *imports]


def _comment(text: str) -> list[str]:
    """``text`` as comment lines: every line of it (as ``str.splitlines`` cuts them, a
    superset of what ends a line of Python) behind ``# ``, control characters escaped."""
    return [f"# {printable(line)}".rstrip() for line in text.splitlines() or [""]]


def _task(scenario: Scenario, duration: float, kills: bool) -> list[str]:
    lines = ["", ""]
    if kills:
        lines += [
            "def init(queue):",
            f"{INDENT}global started",
            f"{INDENT}started = queue",
            "",
            "",
        ]
    lines += ["def task(index):"]
    if kills:
        lines.append(f"{INDENT}started.put(os.getpid())  # poolctl reads its task.started event")
    lines += [f"{INDENT}print('Task executing')", f"{INDENT}time.sleep({duration!r})"]
    if scenario.raises:
        lines.append(f"{INDENT}raise RuntimeError('task %d failed on purpose' % index)")
    else:
        lines += [f"{INDENT}print('Task done')", f"{INDENT}return index"]
    return lines


def _create(scenario: Scenario, workers: int | None, start_method: str | None, kills: bool) -> str:
    size = repr(workers) if workers is not None else ""
    extra = ", initializer=init, initargs=(started,)" if kills else ""
    context = f"get_context({start_method!r})" if start_method else "get_context()"
    if scenario.api == "threadpool":
        return f"ThreadPool({size})"
    if scenario.api == "executor":
        first = f"{size}, " if size else ""
        return f"ProcessPoolExecutor({first}mp_context={context}{extra})"
    options = [size] if size else []
    if scenario.maxtasksperchild is not None:
        options.append(f"maxtasksperchild={scenario.maxtasksperchild}")
    if extra:
        options.append(extra.lstrip(", "))
    return f"{context}.Pool({', '.join(options)})"


def _submit(scenario: Scenario, tasks: int, keep: bool) -> list[str]:
    if scenario.submit == "map_async":
        call = f"pool.map_async(task, range({tasks}))"
        return [f"results = [{call}]" if keep else call]
    call = "pool.submit(task, i)" if scenario.api == "executor" else "pool.apply_async(task, (i,))"
    if keep:
        return [f"results = [{call} for i in range({tasks})]"]
    return [f"for i in range({tasks}):", f"{INDENT}{call}"]


def _step(scenario: Scenario, step: Step) -> list[str]:
    name = step.name
    if name in ("close", "terminate", "join"):
        return [f"pool.{name}()"]
    if name == "shutdown":
        options = [f"wait={step.get('wait', True)}"]
        if step.get("cancel_futures") is not None:
            options.append(f"cancel_futures={step.get('cancel_futures')}")
        return [f"pool.shutdown({', '.join(options)})"]
    if name == "sleep":
        return [f"time.sleep({step.get('seconds')!r})"]
    if name == "del":
        return ["del pool  # the last reference this program holds", "gc.collect()"]
    if name == "kill-worker":
        sig = step.get("signal", "SIGKILL")
        if step.get("which", "busy") == "busy":
            return [f"os.kill(started.get(), signal.{sig})  # the worker running a task"]
        workers = "pool._processes.values()" if scenario.api == "executor" else "pool._pool"
        return [
            "busy = started.get()",
            f"idle = next(p.pid for p in list({workers}) if p.pid != busy)",
            f"os.kill(idle, signal.{sig})  # a worker running no task",
        ]
    if name == "get-results":
        timeout = step.get("timeout", 10.0)
        getter, label = ("result", "result()") if scenario.api == "executor" else ("get", "get()")
        return [
            "for result in results:",
            f"{INDENT}try:",
            f"{INDENT * 2}print('Result: %r' % (result.{getter}({timeout!r}),))",
            f"{INDENT}except Exception as exc:",
            f"{INDENT * 2}print('{label} raised %s: %s' % (type(exc).__name__, exc))",
        ]
    raise ValueError(f"no code for step {name!r}")
