"""The errors poolctl reports to its user in one line, with their exit codes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any


class PoolctlError(Exception):
    """An error shown to the user as one line on stderr; ``exit_code`` is the status."""

    exit_code = 1


class UsageError(PoolctlError):
    """Bad input: an option, a scenario name or file, an interpreter (exit 2)."""

    exit_code = 2


class ObserveError(PoolctlError):
    """poolctl could not observe the run: the interpreter would not start, the subject
    crashed, too little free space for the event files (exit 3). (What the subject sends
    that is not an event is dropped and counted, not an error: see events.py.)"""

    exit_code = 3


class Cancelled(Exception):  # noqa: N818 (a request to stop, not an error)
    """A run was stopped before it ended because its caller gave up (e.g. on Ctrl-C)."""


class Interrupted(BaseException):
    """poolctl was interrupted by a signal; ``exit_code`` is 128 + the signal number.

    What was observed until then travels with it, for the command to still show:
    ``observation`` (set by the observer, once every process of the run is stopped), then
    ``document``, the run or compare document of what was recorded (set by the pipeline;
    None when nothing was).
    """

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code
        self.observation: object | None = None
        self.document: dict[str, object] | None = None

    def keep_document(
        self, build: Callable[[Any], dict[str, Any]], *failures: type[Exception]
    ) -> None:
        """Set ``document`` to ``build(observation)`` when something was observed; a build
        that fails with one of ``failures`` leaves it None (nothing recorded to show)."""
        if self.observation is not None:
            with contextlib.suppress(*failures):
                self.document = build(self.observation)


class TraceError(PoolctlError):
    """``poolctl trace`` could not run or observe the program. Its codes are those of
    ``timeout(1)`` and the shell, so they stand apart from the program's own status:
    125 poolctl failed, 126 the program cannot run, 127 the program was not found."""

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ExportError(PoolctlError):
    """A ``--svg``, ``--html`` or ``--trace`` file could not be written once the run was
    done: the run is still shown, then this one line (exit 4; ``poolctl trace``: 125)."""

    exit_code = 4
