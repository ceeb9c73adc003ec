"""How the command line ends: its signal handlers, a closed stdout, the last flush.

Ctrl-C must give one line and 130 from the first moment: ``__main__`` (the console
entry) records a signal from its first line, and ``main`` here installs the handlers
before the command line's libraries are imported (typer and rich take ~100 ms, during
which Python's own handler would print a traceback). Nothing here acts on import.

Every way poolctl is stopped goes through the run's clean-up and ends with one line:
SIGINT (130), SIGTERM (143) and SIGHUP (129, the terminal closing) raise ``Interrupted``;
one raised where Python can only drop it (a weakref callback) is sent again.
A closed stdout (``poolctl ... | head``) ends poolctl quietly with 141, as the shell
reports ``cat`` or ``grep`` killed by SIGPIPE there: no message, the runs stopped.
(``trace`` differs where plain python would: a Ctrl-C is passed on to the program, and a
closed stdout closes the program's too, whose status is then poolctl's; see
docs/trace.md.)
"""

from __future__ import annotations

import os
import signal
import sys

from .errors import Interrupted

TYPE_CHECKING = False  # as in __init__: importing typing would cost more than all this
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

# The signals that stop poolctl through the clean-up: Ctrl-C, kill, the terminal closing.
STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
INTERRUPTED = "interrupted; every process of the run was stopped"
# The same, once what the run had recorded until then was reported (cli._deliver).
# Kept under 80 columns with "poolctl: " before it: a terminal would break it mid-word.
INTERRUPTED_REPORTED = "interrupted; every process was stopped; what was recorded is above"
# The status of a command whose reader went away, as the shell shows one killed by SIGPIPE.
CLOSED_STDOUT = 128 + signal.SIGPIPE


def raise_interrupted(signum: int, frame: FrameType | None) -> None:
    """The handler of ``STOPPING``: unwind through the clean-up, exit 128 + signum."""
    raise Interrupted(128 + signum)


# Whether stdout was a pipe when poolctl started (set by ``main``): /dev/null there later
# means rich redirected it after a broken pipe, not that the user asked for it.
_stdout_was_a_pipe = False


def install_handlers() -> None:
    """Turn ``STOPPING`` into ``Interrupted``; a hang-up ignored by the caller (``nohup``)
    stays ignored, as it would for any command."""
    for signum in STOPPING:
        if signum == signal.SIGHUP and signal.getsignal(signum) == signal.SIG_IGN:
            continue
        signal.signal(signum, raise_interrupted)
    if sys.unraisablehook is not _interrupt_again:
        global _unraisable
        _unraisable = sys.unraisablehook
        sys.unraisablehook = _interrupt_again


# The hook ``_interrupt_again`` hands every other unraisable exception to.
_unraisable = sys.__unraisablehook__


def _interrupt_again(unraisable: Any) -> None:
    """``sys.unraisablehook``: an ``Interrupted`` raised where Python can only report an
    exception and drop it (a weakref callback, ``__del__``; the import system's module
    locks have one, so a Ctrl-C during poolctl's imports can land there) is not printed
    but sent again, from a thread of its own, so that the handler runs where it unwinds:
    one line and 128 + signum, not a traceback and a Ctrl-C lost. (Sent from here, it
    would be raised inside this hook, and dropped again.)"""
    exc = unraisable.exc_value
    if isinstance(exc, Interrupted) and exc.exit_code > 128:
        import _thread

        try:
            _thread.start_new_thread(os.kill, (os.getpid(), exc.exit_code - 128))
            return
        except RuntimeError:  # no new thread while the interpreter ends: shown as before
            pass
    _unraisable(unraisable)


def say(message: str) -> None:
    """One line on stderr, if stderr can still take it (after a hang-up it may not)."""
    try:
        sys.stderr.write(f"poolctl: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def stdout_closed() -> bool:
    """Whether nobody reads poolctl's stdout any more (a pipe whose reader is gone), or rich
    already found so: on a broken pipe it points stdout at /dev/null and exits 1."""
    import select

    try:
        devnull = os.stat(os.devnull)  # noqa: PTH116 (entry imports no pathlib)
        if _stdout_was_a_pipe and os.path.samestat(os.fstat(1), devnull):
            return True
        poller = select.poll()
        # fd 1 itself: a library may have closed or replaced the sys.stdout object.
        poller.register(1, select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLNVAL) for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that no later flush (at exit) fails on the closed
    pipe: Python's documented recipe for a broken pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _exit_now(signum: int, frame: FrameType | None) -> None:
    say(INTERRUPTED)
    os._exit(128 + signum)


def main(early: list[int]) -> int:
    """Run the command line; return its exit status. ``early``: the signals that came
    before the handlers were installed (``__main__`` recorded them)."""
    install_handlers()
    if sys.stdout is None:  # started with fd 1 closed (``poolctl ... >&-``)
        say("standard output is closed: there is nowhere to write the result")
        return 2
    global _stdout_was_a_pipe
    try:
        import stat

        _stdout_was_a_pipe = stat.S_ISFIFO(os.fstat(1).st_mode)
    except OSError:
        pass
    try:
        if early:
            raise Interrupted(128 + early[0])
        from .cli import main as command_line

        status = command_line()
    except Interrupted as exc:  # while the command line was being imported
        say(INTERRUPTED)
        status = exc.exit_code
    # The interpreter's own ending (flushing stdout, joining threads) is no place for an
    # exception: a signal from here on ends poolctl at once, still with one line.
    for signum in STOPPING:
        if signal.getsignal(signum) == raise_interrupted:
            signal.signal(signum, _exit_now)
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        status = CLOSED_STDOUT
    except (OSError, ValueError):
        pass
    return status
