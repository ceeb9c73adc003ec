"""Create the pool a scenario asks for, and say where its workers can be found.

Three kinds: ``pool`` (multiprocessing.pool.Pool), ``threadpool``
(multiprocessing.pool.ThreadPool, workers are threads of the main process) and
``executor`` (concurrent.futures.ProcessPoolExecutor).
"""

import multiprocessing
import time

from . import scenario_task as task
from .channel import emit


def create(program, channel_dir):
    """Create the pool; return ``(pool, workers, start_method)``.

    ``workers`` is the pool's own live collection of workers (a list or a dict), which it
    updates in place as it replaces them; it is what the watcher follows.
    """
    api = program["api"]
    threads = api == "threadpool"
    context = None if threads else multiprocessing.get_context(program["start_method"])
    start_method = None if threads else context.get_start_method()
    emit("pool.creating", api=api, start_method=start_method, processes=program["workers"])
    initargs = (channel_dir, threads)
    if api == "executor":
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            program["workers"],
            mp_context=context,
            initializer=task.init_worker,
            initargs=initargs,
        )
        workers = pool._processes
    elif threads:
        from multiprocessing.pool import ThreadPool

        pool = ThreadPool(program["workers"], initializer=task.init_worker, initargs=initargs)
        workers = pool._pool
    else:
        pool = context.Pool(
            program["workers"],
            initializer=task.init_worker,
            initargs=initargs,
            maxtasksperchild=program["maxtasksperchild"],
        )
        workers = pool._pool
    emit(
        "pool.created",
        api=api,
        start_method=start_method,
        workers=[worker_id(w) for w in members(workers)],
    )
    return pool, workers, start_method


def members(workers):
    """The workers in the pool's collection now (processes or threads)."""
    return list(workers.values()) if isinstance(workers, dict) else list(workers)


def worker_id(worker):
    """A process's pid, or a thread's native id."""
    pid = getattr(worker, "pid", None)
    return pid if pid is not None else worker.native_id


def submit(pool, api, how, index, args):
    """Issue one task the way the scenario says; return its result handle."""
    if api == "executor":
        return pool.submit(task.run_task, index, *args)
    return pool.apply_async(task.run_task, (index,) + tuple(args))


def submit_all(pool, api, how, count, args):
    """Issue ``count`` tasks; return the result handles (one for map_async)."""
    # Stamped when the call begins: a worker may start the task before the call returns.
    if how == "map_async":
        ns = time.monotonic_ns()
        handle = pool.map_async(task.run_packed, [(i,) + tuple(args) for i in range(count)])
        for index in range(count):
            emit("task.submitted", task=index, ns=ns)
        return [handle]
    handles = []
    for index in range(count):
        ns = time.monotonic_ns()
        handles.append(submit(pool, api, how, index, args))
        emit("task.submitted", task=index, ns=ns)
    return handles
