"""The same programs run plainly, under ``poolctl trace``, and under viztracer: wall time
and peak memory side by side.

    python bench/side_by_side.py                   # the small programs, 3 rounds
    python bench/side_by_side.py --rounds 5 --json side.json
    python bench/side_by_side.py --mp-pool PATH    # also CPython's Doc/includes/mp_pool.py
    python bench/side_by_side.py --cpython-tests   # also CPython 3.13's own pool tests
    python bench/side_by_side.py --python python3.13 --viztracer-python VENV/bin/python \
        --only mp_pool --rounds 3                  # one program, under 3.13 all three ways

Run it with the interpreter poolctl is installed in. Each round runs the three commands
of a program one after another, in an order that rotates from round to round; a figure is
the median over the rounds of the per-round ratio to the plain run (see BENCHMARKS.md).
Peak memory is ``ru_maxrss`` from ``wait4``: the largest process of the command's tree
(for ``poolctl trace``, poolctl itself unless a process of the program was larger).

viztracer is installed into ``bench/.viztracer/`` (as ``run.py`` does) and runs only under
the interpreter its wheel was built for: elsewhere its column says why it is missing.
``--viztracer-python`` names an interpreter that has viztracer installed (a venv of the
programs' version, e.g. 3.13, where viztracer has no wheel here and was built from source):
viztracer then runs every program under it.
CPython's ``mp_pool.py`` is not shipped here (it is CPython's, under its licence): give
its path, or put it at ``bench/programs/mp_pool.py`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from run import HERE, POOLCTL, viztracer_site

MP_POOL = HERE / "programs" / "mp_pool.py"
CPYTHON = "3.13.0"
RUN_DOCUMENT = b'{"schema":"poolctl.run/1"'


@dataclass
class Program:
    """A program as ``python`` is given it, and the interpreter it runs under."""

    name: str
    args: list[str]
    python: str = sys.executable
    rounds: int | None = None  # fewer rounds for the long ones
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def run_once(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """One run: wall seconds, peak RSS (MB), exit status, and its stdout's size; a run
    document's own figures when it printed one."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env
        )
        own: list[int] = [0]
        watcher = threading.Thread(target=_high_water, args=(proc.pid, own), daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        size = out.tell()
        result: dict[str, Any] = {
            "wall_s": round(wall, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "own_peak_rss_mb": round(own[0] / 1024, 1),
            "status": proc.returncode,
            "stdout_bytes": size,
        }
        out.seek(0)
        if out.read(len(RUN_DOCUMENT)) == RUN_DOCUMENT:
            out.seek(0)
            doc = json.load(out)
            result["subject_s"] = doc["outcome"]["wall_seconds"]
            result["tasks"] = doc["outcome"]["tasks"]["submitted"]
            result["tasks_detail"] = doc.get("tasks_detail")
            result["complete"] = doc["observation"]["complete"]
    return result


def _high_water(pid: int, peak: list[int]) -> None:
    """The command's own process's peak RSS (kB, ``VmHWM``), read until it exits: wait4's
    figure is the largest of its whole tree, the program's processes included."""
    while True:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
        except (OSError, ValueError):
            return
        time.sleep(0.05)


def commands(
    program: Program, viz: str | None, scratch: Path, viz_python: str | None = None
) -> dict[str, tuple[list[str], Any] | str]:
    """The three ways to run ``program``: a command and its environment, or why not
    (viztracer writes its trace into ``scratch``)."""
    plain = [program.python, *program.args]
    # Every word after the program's path or module is the program's (its own -m, -h ...),
    # as with python; "--" before a path ends poolctl's options.
    words = list(program.args) if program.args[0] == "-m" else ["--", *program.args]
    traced = [*POOLCTL, "trace", "--json", "--python", program.python, *words]
    ways: dict[str, tuple[list[str], Any] | str] = {"plain": (plain, None), "trace": (traced, None)}
    # viztracer takes a second -m as its own: CPython's test runner gets --match instead.
    vz_args = [{"-m": "--match"}.get(word, word) if n > 2 else word
               for n, word in enumerate(program.args)]  # fmt: skip
    if viz_python is not None:
        vz = [viz_python, "-m", "viztracer", "--quiet", "--ignore_frozen"]
        ways["viztracer"] = ([*vz, "-o", str(scratch / "trace.json"), *vz_args], None)
    elif viz is None:
        ways["viztracer"] = "viztracer could not be installed"
    elif Path(program.python).resolve() != Path(sys.executable).resolve():
        ways["viztracer"] = f"viztracer's wheel is for {sys.version.split()[0]} only"
    else:
        # Its default buffer (a ring of 1,000,000 entries a process: the oldest are
        # dropped), as a user would run it; frozen modules are not traced.
        vz = [program.python, "-m", "viztracer", "--quiet", "--ignore_frozen"]
        vz += ["-o", str(scratch / "trace.json")]
        ways["viztracer"] = ([*vz, *vz_args], {**os.environ, "PYTHONPATH": viz})
    return ways


def measure(
    program: Program, rounds: int, viz: str | None, viz_python: str | None = None
) -> dict[str, Any]:
    """Rounds of the three commands, rotated; the medians and ratios to plain."""
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as scratch:
        return _measure(program, rounds, commands(program, viz, Path(scratch), viz_python))


def _measure(
    program: Program, rounds: int, ways: dict[str, tuple[list[str], Any] | str]
) -> dict[str, Any]:
    runnable = [name for name, way in ways.items() if not isinstance(way, str)]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in runnable}
    for n in range(program.rounds or rounds):
        order = runnable[n % len(runnable) :] + runnable[: n % len(runnable)]
        for name in order:
            command, env = ways[name]  # type: ignore[misc]
            print(f"  {program.name}: {name} ...", file=sys.stderr, flush=True)
            runs[name].append(run_once(command, env))
    summary: dict[str, Any] = {}
    for name, way in ways.items():
        if isinstance(way, str):
            summary[name] = {"skipped": way}
            continue
        done = runs[name]
        figures: dict[str, Any] = {
            "wall_s": statistics.median(r["wall_s"] for r in done),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in done),
            "own_peak_rss_mb": max(r["own_peak_rss_mb"] for r in done),
            "status": sorted({r["status"] for r in done}),
            "stdout_bytes": max(r["stdout_bytes"] for r in done),
        }
        if name != "plain":
            ratios = [r["wall_s"] / p["wall_s"] for r, p in zip(done, runs["plain"], strict=True)]
            figures["ratio"] = round(statistics.median(ratios), 3)
        if "subject_s" in done[0]:
            own = [r["subject_s"] / p["wall_s"] for r, p in zip(done, runs["plain"], strict=True)]
            figures["subject_ratio"] = round(statistics.median(own), 3)
            figures["tasks"] = done[0]["tasks"]
            figures["tasks_detail"] = done[0]["tasks_detail"]
            figures["complete"] = all(r["complete"] for r in done)
        summary[name] = figures
    return summary


def programs(args: argparse.Namespace) -> list[Program]:
    """The programs measured: the benchmarks' own, then what was asked for."""
    plain = str(HERE / "plain.py")
    python = args.python or sys.executable
    chosen = [
        Program(
            "close-join, 1 s task",
            [plain, "close-join", "--workers", "2", "--duration", "1"],
            python,
        ),
        Program(
            "map of 2,000 x 2 ms",
            [plain, "map", "--workers", "2", "--duration", "0.002", "--tasks", "2000"],
            python,
        ),
        Program(
            "many_items.py 0.1 (220,000 items)",
            [str(HERE / "programs/many_items.py"), "0.1"],
            python,
        ),
    ]
    mp_pool = args.mp_pool or MP_POOL
    if mp_pool.is_file():
        chosen.append(Program("mp_pool.py (2.2 million items)", [str(mp_pool)], python))
    else:
        print(f"mp_pool.py: {mp_pool} not found (give --mp-pool PATH)", file=sys.stderr)
    if args.cpython_tests:
        python = cpython(CPYTHON)
        if python is None:
            print(f"CPython tests: no pyenv {CPYTHON}: skipped", file=sys.stderr)
        else:
            for module, match in (
                ("test_multiprocessing_fork", ["-m", "*Pool*"]),
                ("test_multiprocessing_spawn", ["-m", "*Pool*"]),
                ("test_multiprocessing_forkserver", ["-m", "*Pool*"]),
                ("test_concurrent_futures", []),
            ):
                test = ["-m", "test", module, *match]
                name = " ".join([f"{CPYTHON} -m test {module}", *match])
                chosen.append(Program(name, test, python))
    if args.only:
        chosen = [p for p in chosen if any(word in p.name for word in args.only)]
    return chosen


def cpython(version: str) -> str | None:
    """pyenv's interpreter of ``version``, if it has one."""
    try:
        prefix = subprocess.run(
            ["pyenv", "prefix", version], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    python = Path(prefix, "bin", "python3")
    return str(python) if python.is_file() else None


def table(results: dict[str, dict[str, Any]]) -> str:
    """The figures as a Markdown table."""
    rows = [
        "| program | plain: wall, peak RSS | poolctl trace: ratio, wall, peak RSS | the traced"
        " program alone | viztracer: ratio, wall, peak RSS |",
        "|---|---|---|---|---|",
    ]
    for name, ways in results.items():
        plain = ways["plain"]
        cells = [f"{plain['wall_s']:.2f} s, {plain['peak_rss_mb']:.0f} MB"]
        for way in ("trace", "viztracer"):
            figures = ways[way]
            if "skipped" in figures:
                cells.append(f"– ({figures['skipped']})")
                continue
            cell = (
                f"{figures['ratio']}×, {figures['wall_s']:.2f} s, {figures['peak_rss_mb']:.0f} MB"
            )
            if way == "trace":
                cell += f" (poolctl's own {figures['own_peak_rss_mb']:.0f} MB)"
                detail = figures.get("tasks_detail") or {}
                cut = detail and detail["kept"] < detail["total"]
                cell += f", {figures['stdout_bytes'] / 1e6:.1f} MB document"
                cell += f" ({detail['kept']:,} of {detail['total']:,} tasks kept)" if cut else ""
                cells.append(cell)
                cells.append(f"{figures.get('subject_ratio', '?')}×")
            else:
                cells.append(cell)
        rows.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(rows)


def main() -> int:
    """Measure, print the table; write the figures as JSON if asked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per program (3)")
    parser.add_argument("--mp-pool", type=Path, help="CPython's Doc/includes/mp_pool.py")
    parser.add_argument("--cpython-tests", action="store_true", help="CPython's pool tests too")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--python", help="the interpreter of the programs (poolctl's)")
    parser.add_argument(
        "--viztracer-python", help="an interpreter with viztracer installed, to run it under"
    )
    parser.add_argument(
        "--only", action="append", help="only the programs whose name has this (repeatable)"
    )
    args = parser.parse_args()
    viz = None if args.viztracer_python else viztracer_site()
    if viz is None and not args.viztracer_python:
        print("viztracer: could not be installed (pip install viztracer)", file=sys.stderr)
    results: dict[str, dict[str, Any]] = {}
    for program in programs(args):
        results[program.name] = measure(program, args.rounds, viz, args.viztracer_python)
        print(table({program.name: results[program.name]}).splitlines()[-1], file=sys.stderr)
        if args.json:  # as it goes: the long programs come last
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
