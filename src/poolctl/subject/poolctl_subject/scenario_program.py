"""The scenario's program, as the tutorial writes it.

Create the pool, issue the tasks, apply the steps in order, ``print('Main done')``. Each
step is bracketed by ``<step>.called`` and ``<step>.returned`` events; an exception is
reported as ``error.raised`` and then propagates exactly as it would in the plain program
(so the interpreter prints the traceback and exits with status 1), except in
``get-results``, which catches and prints what ``get()`` raised, as a program that reads
its results would.
"""

import gc
import json
import os
import signal
import time

from . import pools
from .channel import emit
from .watch import WorkerWatch

# Calls after which every worker has been joined.
JOINING = ("join", "terminate")
# How long kill-worker waits for a worker in the state it wants.
PICK_SECONDS = 10.0


def run(program, channel_dir):
    """Run ``program`` (the scenario with the run's parameters) against a real pool."""
    pool, workers, start_method = pools.create(program, channel_dir)
    # Started only now: a thread alive during Pool()'s forks would change the program.
    watch = WorkerWatch(workers, start_method)
    watch.start()
    # The pool is referenced from this list only, so that a 'del' step can drop it.
    holder = [pool]
    del pool
    if program["context_manager"]:
        with holder[0]:
            try:
                _body(holder, program, watch, channel_dir)
            finally:
                emit("with-exit.called")
        watch.sync()  # __exit__ terminated (or shut down) and joined the workers
        emit("with-exit.returned")
    else:
        _body(holder, program, watch, channel_dir)
    print("Main done")
    emit("main.finished")


def _body(holder, program, watch, channel_dir):
    api = program["api"]
    args = (program["duration"], program["raises"], api == "threadpool")
    results = pools.submit_all(holder[0], api, program["submit"], program["tasks"], args)
    if not any(step["step"] == "get-results" for step in program["steps"]):
        results = None  # the tutorial drops its results; keeping them changes what lives
    for step in program["steps"]:
        _apply(holder, step, api, results, watch, channel_dir)


def _apply(holder, step, api, results, watch, channel_dir):
    name = step["step"]
    details = {k: v for k, v in step.items() if k != "step"}
    if name == "kill-worker":
        details["worker"] = _pick_worker(step.get("which", "busy"), watch, channel_dir)
    emit(name + ".called", **details)
    try:
        if name == "close":
            holder[0].close()
        elif name == "terminate":
            holder[0].terminate()
        elif name == "join":
            holder[0].join()
        elif name == "shutdown":
            options = {"wait": step.get("wait", True)}
            if "cancel_futures" in step:
                options["cancel_futures"] = step["cancel_futures"]
            holder[0].shutdown(**options)
        elif name == "sleep":
            time.sleep(step["seconds"])
        elif name == "del":
            holder.clear()  # the last reference this program holds
            gc.collect()
        elif name == "kill-worker":
            os.kill(details["worker"], getattr(signal, step.get("signal", "SIGKILL")))
        elif name == "get-results":
            _get_results(results, step.get("timeout"), api)
        else:
            raise ValueError("unknown step %r" % name)
    except Exception as exc:
        emit("error.raised", step=name, type=type(exc).__name__, message=str(exc)[:500])
        raise
    if name in JOINING or (name == "shutdown" and step.get("wait", True)):
        watch.sync()  # the workers were joined: their exits come before the return
    emit(name + ".returned")


def _get_results(results, timeout, api):
    """Read every result, printing it or what reading it raised."""
    getter = "result()" if api == "executor" else "get()"
    for result in results:
        try:
            value = result.result(timeout) if api == "executor" else result.get(timeout)
            print("Result: %r" % (value,))
        except Exception as exc:
            emit(
                "error.raised", step="get-results", type=type(exc).__name__, message=str(exc)[:500]
            )
            print("%s raised %s: %s" % (getter, type(exc).__name__, exc))


def _pick_worker(which, watch, channel_dir):
    """The pid of a worker running a task ('busy') or waiting for one ('idle').

    Known from the workers' own events, read from their event files as they are written.
    """
    deadline = time.monotonic() + PICK_SECONDS
    while time.monotonic() < deadline:
        started, busy = _worker_states(channel_dir)
        live = [w for w in watch.live_pids() if w in started]
        choice = [w for w in live if (w in busy) == (which == "busy")]
        if choice:
            return choice[0]
        time.sleep(0.002)
    raise RuntimeError("no %s worker within %g s" % (which, PICK_SECONDS))


def _worker_states(channel_dir):
    """Pids of workers that said they are ready, and of those that started a task."""
    started, busy = set(), set()
    me = os.getpid()
    for name in os.listdir(channel_dir):
        if not name.startswith("events-") or name == "events-%d" % me:
            continue
        with open(os.path.join(channel_dir, name), "rb") as f:
            data = f.read().split(b"\0", 1)[0]
        for line in data.split(b"\n"):
            if b'"worker.started"' in line or b'"task.started"' in line:
                try:
                    event = json.loads(line)
                except ValueError:  # a line being written right now
                    continue
                (busy if event["kind"] == "task.started" else started).add(event["worker"])
    return started, busy
