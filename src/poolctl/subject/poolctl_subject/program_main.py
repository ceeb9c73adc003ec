"""Entry point of ``poolctl trace``: run the user's program as plain ``python`` would.

``python -c BOOTSTRAP <subject root> <spec>`` (no ``-I``: the program gets its usual
environment) calls ``main``. The program then runs in the real ``__main__`` module, with
its own ``sys.argv`` and ``sys.path[0]``, its stdout and stderr untouched, and its
exceptions and exit status as the interpreter would give them; a script through the same
code the interpreter uses for ``python -m`` for a module. The pool classes are patched when
the program imports them (see ``instrument``).
"""

import os
import sys

from . import channel, hidden_frames, instrument
from . import stdlib_private as private
from .entry_common import is_main, start


def main(spec_bytes):
    """Run the program described by ``spec_bytes`` (its channel, argv, and module or path)."""
    spec = start(spec_bytes)  # before the program can import multiprocessing
    target = spec["trace"]
    sys.argv[:] = target["argv"]
    module = target.get("module")
    _as_if_plain(module, target.get("path"))
    # sys.path[0] as the interpreter sets it: the script's folder, or here for -m. The
    # subject's own folder goes last, where it shadows nothing (spawned workers inherit
    # sys.path and import the task wrappers from there).
    if not getattr(sys.flags, "safe_path", False):  # -P / PYTHONSAFEPATH (3.11+)
        here = os.getcwd() if module else os.path.dirname(os.path.realpath(target["path"]))
        sys.path[0] = here  # was '' for the bootstrap's -c
    sys.path.append(spec["subject_root"])
    instrument.install(spec["channel"], spec.get("task_detail"))
    if module:
        _run_module(module)
    else:
        _run_script(target["path"])
    if is_main():  # a child forked by the program returns here too
        channel.emit("main.finished")


def _as_if_plain(module, path):
    """``sys.orig_argv`` (3.10+) as ``python PATH ARGS`` or ``python -m MODULE ARGS`` would
    give it, not the bootstrap's command line: the interpreter as poolctl started it, then
    the program's own words (its interpreter options, if any, are not known here)."""
    if not hasattr(sys, "orig_argv"):
        return
    program = ["-m", module] if module else [path]
    sys.orig_argv = sys.orig_argv[:1] + program + sys.argv[1:]


def _run_script(path):
    # __file__ (and so tracebacks) is absolute from Python 3.9 on, as given before.
    shown = os.path.abspath(path) if sys.version_info >= (3, 9) else path
    try:
        with open(path, "rb") as f:
            source = f.read()
        code = compile(source, shown, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError) as exc:
        _cannot_run("invalid" if isinstance(exc, SyntaxError) else "unreadable", exc)
    namespace = _fresh_main()
    # What the interpreter adds for a script (pymain_run_file).
    loader = private.source_file_loader()("__main__", shown)
    namespace.update(__file__=shown, __cached__=None, __loader__=loader)
    _execute(lambda: exec(code, namespace))


def _run_module(name):
    try:
        private.check_main_module(name)
    except private.runpy_error() as exc:
        _cannot_run("missing" if "No module named" in str(exc) else "unrunnable", exc)
    except SyntaxError as exc:
        _cannot_run("invalid", exc)
    except ImportError as exc:
        _cannot_run("missing", exc)
    # What 'python -m' itself calls: the module runs in the real __main__ module.
    _fresh_main()
    _execute(lambda: private.run_module_as_main(name))


def _cannot_run(reason, exc):
    """The program cannot start: say why (poolctl prints it) and exit without running it."""
    details = {"reason": reason, "type": type(exc).__name__, "message": str(exc)[:500]}
    if isinstance(exc, SyntaxError):
        details.update(message=exc.msg or "", file=exc.filename, line=exc.lineno)
    channel.emit("program.invalid", **details)
    sys.exit(1)


def _fresh_main():
    """``__main__``'s namespace as the interpreter starts every program with it.

    The bootstrap's own names (``sys``, ``main``) go; the interpreter's (``__builtins__``,
    ``__annotations__`` where the version has it, ...) are its, and stay as they are.
    """
    namespace = sys.modules["__main__"].__dict__
    for name in [name for name in namespace if not _dunder(name)]:
        del namespace[name]
    return namespace


def _dunder(name):
    return name.startswith("__") and name.endswith("__")


def _execute(run):
    """Run the program; an uncaught exception ends it as it ends plain ``python``.

    The exception goes on to the interpreter, which prints it through ``sys.excepthook``
    (the program's own if it set one), runs the exit-time finalizers, and exits with
    status 1, or by SIGINT for a ``KeyboardInterrupt``. Only the traceback the hook is
    given changes: the program's frames, without the bootstrap's and ours.
    """
    try:
        run()
    except SystemExit:
        raise
    except BaseException as exc:
        if is_main():  # not a child forked by the program, whose exception is its own
            channel.emit("program.raised", type=type(exc).__name__, message=str(exc)[:500])
            _show_program_frames(exc)
        raise


def _show_program_frames(exc):
    """Have the next ``sys.excepthook`` call show ``exc`` with the program's frames only."""
    frames = _program_frames(exc.__traceback__)
    hook = sys.excepthook

    def once(kind, value, tb):
        sys.excepthook = hook
        if value is exc:
            value.__traceback__ = tb = frames
        hook(kind, value, tb)

    sys.excepthook = once


def _program_frames(tb):
    """The traceback without poolctl's frames (the bootstrap's, the wrappers')."""
    return hidden_frames.without_ours(tb)
