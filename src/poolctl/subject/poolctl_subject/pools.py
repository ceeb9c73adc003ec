"""Create the pool a scenario asks for and issue its tasks, through its kind (``pool_kinds``)."""

import itertools
import os
import time

from . import call_site, pool_kinds, shared_events
from . import scenario_task as task
from . import stdlib_private as private


def create(program, channel_dir):
    """Create the pool; return ``(pool, kind, workers, start_method)``.

    ``workers`` is the pool's own live collection of workers, which it updates in place as
    it replaces them; it is what the watcher follows.
    """
    kind = pool_kinds.named(program["api"])
    context = kind.context(program["start_method"])
    start_method = None if context is None else context.get_start_method()
    site = call_site.of_scenario(program)["pool"]
    shared_events.pool_creating(kind.name, start_method, program["workers"], site)
    pool = kind.create(program, context, task.init_worker, (channel_dir, kind.threads))
    workers = kind.workers(pool)
    ids = [kind.worker_id(w) for w in kind.members(workers)]
    shared_events.pool_created(kind.name, start_method, ids, site)
    # Tasks run in subinterpreters are numbered in submission order, as submit_all does.
    kind.follow(pool, itertools.count(), {}, after_initialize=_subject_importable)
    return pool, kind, workers, start_method


def _subject_importable(context):
    """Put the subject's folder on a worker subinterpreter's ``sys.path`` (it starts with
    the interpreter's initial one), so that it can import the scenario's task; and make its
    own ``sys.stdout`` write each line as it is printed (to a pipe it would hold them until
    the task ends), as the main interpreter's line recorders do."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(task.__file__)))
    code = "import sys; sys.path.append(%r); sys.stdout.reconfigure(line_buffering=True)"
    private.context_interpreter(context).exec(code % root)


def submit_all(pool, kind, how, count, args, site=None):
    """Issue ``count`` tasks, from ``site``; return the result handles (one for map_async)."""
    # Stamped when the call begins: a worker may start the task before the call returns.
    if how == "map_async":
        ns = time.monotonic_ns()
        handle = kind.map_async(pool, task.run_packed, [(i,) + tuple(args) for i in range(count)])
        for index in range(count):
            shared_events.task_submitted(index, ns, site)
        return [handle]
    handles = []
    function = task.run_task
    if kind.in_subinterpreters:  # reported from the calling side; no threads argument
        duration, raises, _, returns = args
        function, args = task.run_in_subinterpreter, (duration, raises, returns)
    for index in range(count):
        ns = time.monotonic_ns()
        handles.append(kind.submit(pool, function, (index,) + tuple(args)))
        shared_events.task_submitted(index, ns, site)
    return handles
