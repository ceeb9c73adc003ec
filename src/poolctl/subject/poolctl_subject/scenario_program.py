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

from . import call_site, pools, shared_events
from .channel import emit
from .watch import WorkerWatch

# How long kill-worker waits for a worker in the state it wants.
PICK_SECONDS = 10.0
# What a step reports as ``error.raised`` before it propagates: what the program's own
# ``except Exception`` would see.
_REPORTED = Exception


class _Run:
    """What the steps act on."""

    def __init__(self, holder, kind, watch, channel_dir, results):
        self.holder = holder  # [the pool]: the program's only reference to it
        self.kind = kind
        self.watch = watch
        self.channel_dir = channel_dir
        self.results = results  # the result handles, kept only for a get-results step


def run(program, channel_dir):
    """Run ``program`` (the scenario with the run's parameters) against a real pool."""
    pool, kind, _, start_method = pools.create(program, channel_dir)
    # Started only now: a thread alive during Pool()'s forks would change the program.
    watch = WorkerWatch(kind, pool, start_method, channel_dir=channel_dir)
    watch.start()
    # The pool is referenced from this list only, so that a 'del' step can drop it.
    holder = [pool]
    del pool
    sites = call_site.of_scenario(program)
    if program["context_manager"]:
        with holder[0]:
            try:
                _body(holder, program, kind, watch, channel_dir, sites)
            finally:
                emit("with-exit.called", site=sites["with"])
        if kind.joins("__exit__", {}):
            watch.sync()  # __exit__ terminated (or shut down) and joined the workers
        emit("with-exit.returned")
    else:
        _body(holder, program, kind, watch, channel_dir, sites)
    print("Main done")
    emit("main.finished")


def _body(holder, program, kind, watch, channel_dir, sites):
    # The tutorial's task returns nothing; it returns its index where a step reads it.
    reads = any(step["step"] == "get-results" for step in program["steps"])
    args = (program["duration"], program["raises"], kind.threads, reads)
    how, count = program["submit"], program["tasks"]
    results = pools.submit_all(holder[0], kind, how, count, args, sites["submit"])
    watch.poke()  # an executor starts its workers as tasks arrive
    if not reads:
        results = None  # the tutorial drops its results; keeping them changes what lives
    run = _Run(holder, kind, watch, channel_dir, results)
    del results
    for step, site in zip(program["steps"], sites["steps"]):
        _apply(run, step, site)


def _apply(run, step, site):
    name = step["step"]
    details = {k: v for k, v in step.items() if k != "step"}
    action = ACTIONS.get(name)
    if action is not None and action.prepare is not None:
        details.update(action.prepare(run, details))
    details["site"] = site  # its line in the program of `show --code`

    def act():
        if action is None:
            raise ValueError("unknown step %r" % name)
        action.act(run, details)

    # The workers were joined: their exits come before the return.
    joined = run.watch.sync if run.kind.joins(name, details) else None
    shared_events.reported_call(name, act, _REPORTED, after=joined, details=details)


class _Action:
    """What a step does (``act``), and what it must know before it is reported as called
    (``prepare``, which returns details to add to its ``.called`` event)."""

    def __init__(self, act, prepare=None):
        self.act = act
        self.prepare = prepare


def _shutdown(run, details):
    options = {"wait": details.get("wait", True)}
    if "cancel_futures" in details:
        options["cancel_futures"] = details["cancel_futures"]
    run.holder[0].shutdown(**options)


def _del(run, details):
    run.holder.clear()  # the last reference this program holds
    gc.collect()


def _kill_worker(run, details):
    os.kill(details["worker"], getattr(signal, details.get("signal", "SIGKILL")))


def _get_results(run, details):
    """Read every result, printing it or what reading it raised."""
    getter = "%s()" % run.kind.getter
    for result in run.results:
        try:
            value = run.kind.read(result, details.get("timeout"))
            print("Result: %r" % (value,))
        except Exception as exc:
            shared_events.error_raised("get-results", exc)
            print("%s raised %s: %s" % (getter, type(exc).__name__, exc))


# One entry per step a scenario may take (the observer's table: src/poolctl/steps.py).
ACTIONS = {
    "close": _Action(lambda run, details: run.holder[0].close()),
    "terminate": _Action(lambda run, details: run.holder[0].terminate()),
    "join": _Action(lambda run, details: run.holder[0].join()),
    "shutdown": _Action(_shutdown),
    "sleep": _Action(lambda run, details: time.sleep(details["seconds"])),
    "del": _Action(_del),
    "kill-worker": _Action(
        _kill_worker,
        prepare=lambda run, details: {"worker": _pick_worker(details.get("which", "busy"), run)},
    ),
    "get-results": _Action(_get_results),
    # 3.14's: shutdown(wait=False, cancel_futures=True), then SIGTERM or SIGKILL to each
    # live worker; they return without waiting for the workers.
    "terminate-workers": _Action(lambda run, details: run.holder[0].terminate_workers()),
    "kill-workers": _Action(lambda run, details: run.holder[0].kill_workers()),
}


def _pick_worker(which, run):
    """The pid of a worker running a task ('busy') or waiting for one ('idle').

    Known from the workers' own events, read from their event files as they are written.
    """
    deadline = time.monotonic() + PICK_SECONDS
    while time.monotonic() < deadline:
        started, busy = _worker_states(run.channel_dir)
        live = [w for w in run.watch.live_pids() if w in started]
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
