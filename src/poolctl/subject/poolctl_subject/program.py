"""The scenario's program, as the tutorial writes it.

``Pool()``, ``apply_async`` for each task, the shutdown steps in order, ``print('Main
done')``. Each step is bracketed by ``<step>.called`` and ``<step>.returned`` events; an
exception is reported as ``error.raised`` and then propagates exactly as it would in the
plain program, so the interpreter prints the traceback and exits with status 1.
"""

import multiprocessing
import time

from . import task
from .channel import emit
from .watch import WorkerWatch


def run(program, channel_dir):
    """Run ``program`` (the scenario with the run's parameters) against a real pool."""
    context = multiprocessing.get_context(program["start_method"])
    start_method = context.get_start_method()
    emit("pool.creating", start_method=start_method, processes=program["workers"])
    pool = context.Pool(program["workers"], initializer=task.init_worker, initargs=(channel_dir,))
    emit("pool.created", start_method=start_method, workers=[p.pid for p in pool._pool])
    # Started only now: a thread alive during Pool()'s forks would change the program.
    watch = WorkerWatch(pool._pool, start_method)
    watch.start()

    for index in range(program["tasks"]):
        pool.apply_async(task.run_task, (index, program["duration"], program["raises"]))
        emit("task.submitted", task=index)

    for step in program["steps"]:
        _apply(pool, step, watch)

    print("Main done")
    emit("main.finished")


def _apply(pool, step, watch):
    name = step["step"]
    emit(name + ".called")
    try:
        if name == "close":
            pool.close()
        elif name == "terminate":
            pool.terminate()
        elif name == "join":
            pool.join()
        elif name == "sleep":
            time.sleep(step["seconds"])
        else:
            raise ValueError("unknown step %r" % name)
    except Exception as exc:
        emit("error.raised", step=name, type=type(exc).__name__, message=str(exc)[:500])
        raise
    if name in ("join", "terminate"):
        watch.sync()  # both joined the workers: their exits come before the return
    emit(name + ".returned")
