"""The console entry point: ``poolctl`` and ``python -m poolctl``.

Its first lines take Ctrl-C, SIGTERM and SIGHUP away from Python's default (a traceback,
or death with no clean-up): a signal is recorded here, before anything is imported, and
raised once ``entry.main`` can turn it into one line and its status. Only this module
does this on import; it is imported only to run the command line.
"""

import _signal  # the C module: ``signal`` itself takes milliseconds to import

_early = []  # the signals that came before entry.main installed its handlers


def _record(signum, frame):
    _early.append(signum)


for _signum in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
    # A hang-up the caller ignores (nohup) stays ignored.
    if _signum != _signal.SIGHUP or _signal.getsignal(_signum) != _signal.SIG_IGN:
        _signal.signal(_signum, _record)


def main() -> int:
    """Run the command line; return its exit status."""
    from poolctl.entry import main as run

    return run(_early)


if __name__ == "__main__":
    import sys

    sys.exit(main())
