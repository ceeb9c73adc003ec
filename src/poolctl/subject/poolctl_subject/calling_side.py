"""Report the tasks of a pool that runs them in subinterpreters, from the calling side.

``InterpreterPoolExecutor`` (3.14+) runs each task in a subinterpreter of its worker
thread. Nothing of poolctl goes there: a subinterpreter starts with no module of the main
interpreter (the subject's folder is not on its ``sys.path`` unless the scenario puts it
there) and could not share this process's event file. So the worker thread itself reports,
in the main interpreter, around its call into the subinterpreter: ``worker.started`` once
its subinterpreter exists (and the program's initializer ran there), ``task.started``
right before the call, ``task.finished``/``task.failed`` right after it returns. The
times are the calling side's: the moment the task is handed over and the moment its result
(or exception) is back, not a line of the task's own code.
"""

import weakref

from . import shared_events
from . import stdlib_private as private


class _Numbered(tuple):
    """The executor's own task ``(fn, args, kwargs)``, carrying poolctl's task number (the
    worker context unpacks it as the tuple it is; only its items reach the subinterpreter)."""


def follow(executor, numbers, tag, after_initialize=None):
    """Number each task ``executor`` accepts (``next(numbers)``) and report its workers and
    tasks from their threads. ``after_initialize(context)`` runs in each worker thread once
    its subinterpreter exists, before its first task."""
    resolve = private.executor_task_resolver(executor)
    create_context = private.executor_context_factory(executor)

    def resolve_numbered(fn, args, kwargs):
        task = _Numbered(resolve(fn, args, kwargs))  # what it raises, submit() raises
        try:
            task.poolctl_task = next(numbers)
        except Exception as exc:
            shared_events.observer_failed("calling_side: submit", exc)
        return task

    def create():
        context = create_context()
        try:
            _wrap(context, tag, after_initialize)
        except Exception as exc:
            shared_events.observer_failed("calling_side: worker", exc)
        return context

    private.set_executor_hooks(executor, create, resolve_numbered)


def _wrap(context, tag, after_initialize):
    # The context holds its own wrappers: a weak reference keeps that from being a cycle
    # (its __del__ closes the subinterpreter).
    own = weakref.ref(context)
    initialize, run = type(context).initialize, type(context).run

    def initialize_reported():
        initialize(own())  # what the program's initializer raises is the program's
        try:
            if after_initialize is not None:
                after_initialize(own())
            shared_events.worker_started(True, **tag)
        except Exception as exc:
            shared_events.observer_failed("calling_side: worker", exc)

    def run_reported(task):
        number = getattr(task, "poolctl_task", None)
        if number is None:
            return run(own(), task)
        return shared_events.run_task(number, True, run, (own(), task), {}, BaseException, **tag)

    context.initialize = initialize_reported
    context.run = run_reported
