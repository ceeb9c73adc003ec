"""Known faults of interpreters themselves: pools they break whoever runs them.

A run that fails because of one is the interpreter's failure, neither poolctl's nor a
mismatch of the scenario's documentation: ``compare`` does not run it and says why, and
``run`` names the fault beside the failure. The probe (``interpreter.resolve``) evaluates
each fault's ``present`` expression in the interpreter and reports the ones it has.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One fault: how to detect it, which runs it breaks, and what to tell the user."""

    name: str
    # A Python 3.8 expression, true in an interpreter that has the fault.
    present: str
    # The pool kinds (``pool_kinds`` names) and start methods whose runs it breaks.
    kinds: tuple[str, ...]
    start_methods: tuple[str, ...]
    # A few words for a table cell, then the whole story.
    short: str
    message: str


FAULTS = (
    Fault(
        name="executor-adjust-process-count",
        present=(
            # PyPy's alone: elsewhere the import it needs (37 ms, multiprocessing's) is not
            # paid before every run.
            "__import__('sys').implementation.name == 'pypy' and "
            "(lambda p: not hasattr(p.ProcessPoolExecutor, '_adjust_process_count')"
            " and hasattr(p.ProcessPoolExecutor, '_adjust_process_count_cpython'))"
            "(__import__('concurrent.futures.process').futures.process)"
        ),
        kinds=("executor",),
        start_methods=("spawn", "forkserver"),
        short="ProcessPoolExecutor broken under spawn, forkserver (Debian's PyPy)",
        message=(
            "its ProcessPoolExecutor.submit() calls"
            " _adjust_process_count, which this build renamed _adjust_process_count_cpython"
            " (Debian's PyPy), so submit() raises AttributeError under spawn and forkserver"
        ),
    ),
)

_BY_NAME = {fault.name: fault for fault in FAULTS}


def probe_code() -> str:
    """Probe lines (inside its 3.8+ branch) that set ``faults`` to the names present."""
    checks = ", ".join(f"({f.name!r}, {f.present!r})" for f in FAULTS)
    return (
        "    faults = []\n"
        f"    for name, present in [{checks}]:\n"
        "        try:\n"
        "            if eval(present):\n"
        "                faults.append(name)\n"
        "        except Exception:\n"
        "            pass\n"
    )


def breaking(fault_names: tuple[str, ...], kind: str, start_method: str | None) -> Fault | None:
    """The first of ``fault_names`` that breaks a run of ``kind`` under ``start_method``."""
    for name in fault_names:
        fault = _BY_NAME.get(name)
        if fault and kind in fault.kinds and start_method in fault.start_methods:
            return fault
    return None
