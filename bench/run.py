"""poolctl's benchmarks: how little it adds to what it observes, and how exact it is.

    python bench/run.py            # the full suite (about 10 minutes on 2 cores)
    python bench/run.py --quick    # a short version (about 2 minutes)
    python bench/run.py --json results.json

Run it with the interpreter poolctl is installed in. Timings are paired and interleaved
(A, B, A, B, ...; the order flips every pair) after warm-up runs, and reported as the
median of the per-pair ratios: absolute times drift on a shared machine, ratios of
neighbouring runs much less. hyperfine and pytest-benchmark time one command at a time,
not interleaved pairs, hence this small loop. See BENCHMARKS.md for the method.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PLAIN = [sys.executable, str(HERE / "plain.py")]
VIZTRACER_VERSION = "1.1.1"


def poolctl_command() -> list[str]:
    """The installed console script next to this interpreter, else ``-m poolctl``."""
    script = Path(sys.executable).parent / "poolctl"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "poolctl"]


POOLCTL = poolctl_command()


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, bytes]:
    """Wall time of one run of ``command``, and what it printed on stdout."""
    start = time.perf_counter()
    done = subprocess.run(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )
    return time.perf_counter() - start, done.stdout


def paired(a: list[str], b: list[str], pairs: int, warmup: int = 2, **kw: Any) -> dict[str, Any]:
    """Interleaved A/B timings: medians of A, B and of the per-pair ratio A/B.

    When A prints a run document, the subject's own wall time (launch to the main
    process's exit) is paired with B as well: that is what observing adds to the program,
    without poolctl's own start-up and output.
    """
    for _ in range(warmup):
        timed(a, **kw)
        timed(b, **kw)
    times_a, times_b, subject = [], [], []
    for n in range(pairs):
        order = (b, a) if n % 2 else (a, b)
        for command in order:
            elapsed, out = timed(command, **kw)
            (times_a if command is a else times_b).append(elapsed)
            if command is a and out.startswith(b'{"schema":"poolctl.run/1"'):
                subject.append(json.loads(out)["outcome"]["wall_seconds"])
    ratios = [x / y for x, y in zip(times_a, times_b, strict=True)]
    result = {
        "a_median_s": round(statistics.median(times_a), 4),
        "b_median_s": round(statistics.median(times_b), 4),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "pairs": pairs,
    }
    if len(subject) == pairs:
        result["subject_ratio_median"] = round(
            statistics.median(s / y for s, y in zip(subject, times_b, strict=True)), 3
        )
    return result


def run_document(*args: str) -> dict[str, Any]:
    """One ``poolctl run ... --json`` document."""
    done = subprocess.run([*POOLCTL, "run", *args, "--json"], capture_output=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"poolctl run {' '.join(args)} failed: {done.stderr.decode()}")
    return json.loads(done.stdout)


# --- the measurements --------------------------------------------------------------------


def overhead(pairs: int) -> dict[str, Any]:
    """poolctl run --json against the plain program, same workers and tasks."""
    cases = {}
    for name, sequence, duration in (
        ("close-join, 1 s task", "close-join", "1.0"),
        ("close-join, 0.05 s task", "close-join", "0.05"),
        ("terminate-join, 1 s task", "terminate-join", "1.0"),
    ):
        common = ["--workers", "2", "--duration", duration]
        cases[name] = paired(
            [*POOLCTL, "run", sequence, *common, "--json"], [*PLAIN, sequence, *common], pairs
        )
    return cases


def trace(pairs: int) -> dict[str, Any]:
    """poolctl trace --json of the plain program itself against the plain program."""
    cases = {}
    for name, args in (
        ("close-join, 1 s task", ["close-join", "--workers", "2", "--duration", "1.0"]),
        (
            "map of 2,000 x 2 ms tasks",
            ["map", "--workers", "2", "--duration", "0.002", "--tasks", "2000"],
        ),
    ):
        program = [str(HERE / "plain.py"), *args]
        cases[name] = paired([*POOLCTL, "trace", "--json", *program], [*PLAIN, *args], pairs)
    return cases


def startup(repeats: int) -> dict[str, Any]:
    """poolctl --version and poolctl list against ``python -c "import typer"``."""
    baseline = [sys.executable, "-c", "import typer"]
    empty = [sys.executable, "-c", "pass"]
    return {
        "poolctl --version": paired([*POOLCTL, "--version"], baseline, repeats, warmup=3),
        "poolctl list": paired([*POOLCTL, "list"], baseline, repeats, warmup=3),
        # Any Typer CLI pays this before it can start anything: the floor of the ratios.
        "import typer vs python -c pass": paired(baseline, empty, repeats, warmup=3),
    }


def parallel_compare(pairs: int) -> dict[str, Any]:
    """compare of the four seed scenarios against the slowest of them (close-join) alone."""
    return paired(
        [*POOLCTL, "compare", *SEEDS, "--json"], [*POOLCTL, "run", "close-join", "--json"], pairs
    )


def fidelity(tasks: int) -> dict[str, Any]:
    """How exact task durations are, and whether any event order contradicts causality."""
    duration = 0.05
    doc = run_document(
        "close-join", "--tasks", str(tasks), "--workers", "4", "--duration", str(duration)
    )
    errors = sorted(
        abs((t["ended"] - t["started"]) - duration)
        for t in doc["outcome"]["task_runs"]
        if t["status"] == "completed"
    )
    p99 = errors[min(len(errors) - 1, round(0.99 * (len(errors) - 1)))]
    runs = [doc] + [run_document(s, "--duration", "0.2") for s in SEEDS]
    runs += [run_document(s, "--duration", "0.2", "--start-method", "spawn") for s in SEEDS]
    violations = [v for d in runs for v in causality_violations(d)]
    return {
        "tasks": len(errors),
        "median_error_ms": round(statistics.median(errors) * 1000, 3),
        "p99_error_ms": round(p99 * 1000, 3),
        "max_error_ms": round(errors[-1] * 1000, 3),
        "runs_checked_for_causality": len(runs),
        "causality_violations": violations,
    }


SEEDS = ("close-join", "terminate-join", "join-without-close", "close-without-join")


def causality_violations(doc: dict[str, Any]) -> list[str]:
    """Event orders that cannot happen: each found one is named."""
    found = []
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for e in doc["events"]:
        first.setdefault(e["kind"], e["t"])
        last[e["kind"]] = e["t"]
    name = doc["scenario"]["name"]
    exits = [e["t"] for e in doc["events"] if e["kind"] == "worker.exited"]
    for call in ("join", "terminate"):
        if f"{call}.returned" in first and exits and last[f"{call}.returned"] < max(exits):
            found.append(f"{name}: {call}.returned before the last worker.exited")
    for call in ("close", "terminate", "join"):
        if f"{call}.returned" in first and first[f"{call}.returned"] < first[f"{call}.called"]:
            found.append(f"{name}: {call}.returned before {call}.called")
    for t in doc["outcome"]["task_runs"]:
        if (
            t["started"] is not None
            and t["submitted"] is not None
            and t["started"] < t["submitted"]
        ):
            found.append(f"{name}: task {t['task']} started before it was submitted")
        if t["ended"] is not None and t["started"] is not None and t["ended"] < t["started"]:
            found.append(f"{name}: task {t['task']} ended before it started")
    exited = doc["outcome"]["main"].get("exited")
    if exited is not None and any(
        e["t"] > exited for e in doc["events"] if e["role"] == "main" and e["kind"] != "main.exited"
    ):
        found.append(f"{name}: a main-process event after main.exited")
    return found


def scale(pairs: int) -> dict[str, Any]:
    """10,000 zero-second tasks: nothing lost, overhead, rendering time, memory."""
    tasks = "10000"
    common = ["--workers", "2", "--tasks", tasks, "--duration", "0"]
    timing = paired(
        [*POOLCTL, "run", "close-join", *common, "--json"],
        [*PLAIN, "close-join", *common],
        pairs,
        warmup=1,
    )
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch, "run.json")
        with out.open("wb") as f:
            proc = subprocess.Popen([*POOLCTL, "run", "close-join", *common, "--json"], stdout=f)
            _, _, usage = os.wait4(proc.pid, 0)
            proc.returncode = 0
        doc = json.loads(out.read_bytes())
    counts = doc["outcome"]["tasks"]
    kinds: dict[str, int] = {}
    for e in doc["events"]:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    render_s, lines = render_time(doc)
    return {
        **timing,
        "tasks": counts,
        "events": {k: kinds.get(k, 0) for k in ("task.submitted", "task.started", "task.finished")},
        "output_lines": len(doc["output"]),
        "nothing_lost": counts["submitted"]
        == counts["started"]
        == counts["completed"]
        == int(tasks)
        == kinds.get("task.finished", 0)
        and len(doc["output"]) == 2 * int(tasks) + 1,
        "render_s": round(render_s, 3),
        "render_lines": lines,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def render_time(doc: dict[str, Any]) -> tuple[float, int]:
    """Time to render the whole terminal view of ``doc`` (``--events``: the compact
    default shows less) at 80 columns, and its height."""
    from rich.console import Console

    from poolctl.render.run_view import render

    console = Console(file=open(os.devnull, "w"), width=80, color_system=None)  # noqa: SIM115
    start = time.perf_counter()
    with console.capture() as capture:
        console.print(render(doc, console, events=True))
    elapsed = time.perf_counter() - start
    return elapsed, capture.get().count("\n")


def peer(pairs: int) -> dict[str, Any]:
    """The same small program traced by viztracer, beside poolctl observing it."""
    common = ["--workers", "2", "--duration", "0.2"]
    site = viztracer_site()
    if site is None:
        return {"skipped": "viztracer could not be installed (pip install viztracer)"}
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "PYTHONPATH": site}
        traced = [
            sys.executable,
            "-m",
            "viztracer",
            "--quiet",
            "-o",
            str(Path(scratch, "trace.json")),
            str(HERE / "plain.py"),
            "close-join",
            *common,
        ]
        vz = paired(traced, [*PLAIN, "close-join", *common], pairs, env=env)
        size = Path(scratch, "trace.json").stat().st_size
    ours = paired(
        [*POOLCTL, "run", "close-join", *common, "--json"], [*PLAIN, "close-join", *common], pairs
    )
    return {"viztracer": {**vz, "trace_bytes": size}, "poolctl": ours}


def viztracer_site() -> str | None:
    """A directory holding viztracer: its own, never poolctl's environment."""
    target = HERE / ".viztracer" / VIZTRACER_VERSION
    if not (target / "viztracer").is_dir():
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(target),
                f"viztracer=={VIZTRACER_VERSION}",
            ],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            return None
    return str(target)


# --- report ------------------------------------------------------------------------------

TARGETS: list[tuple[str, Callable[[dict[str, Any]], float], str, float]] = [
    (
        "overhead, close-join, 1 s task (ratio)",
        lambda r: r["overhead"]["close-join, 1 s task"]["ratio_median"],
        "<=",
        1.10,
    ),
    (
        "overhead, close-join, 0.05 s task (ratio)",
        lambda r: r["overhead"]["close-join, 0.05 s task"]["ratio_median"],
        "<=",
        1.5,
    ),
    (
        "overhead, terminate-join, 1 s task (ratio)",
        lambda r: r["overhead"]["terminate-join, 1 s task"]["ratio_median"],
        "info",
        0,
    ),
    (
        "start-up, poolctl --version vs import typer",
        lambda r: r["startup"]["poolctl --version"]["ratio_median"],
        "<=",
        1.3,
    ),
    (
        "start-up, poolctl list vs import typer",
        lambda r: r["startup"]["poolctl list"]["ratio_median"],
        "<=",
        1.3,
    ),
    (
        "compare of 4 seeds vs slowest alone (ratio)",
        lambda r: r["compare"]["ratio_median"],
        "<=",
        1.3,
    ),
    ("task duration error, median (ms)", lambda r: r["fidelity"]["median_error_ms"], "<=", 2),
    ("task duration error, p99 (ms)", lambda r: r["fidelity"]["p99_error_ms"], "<=", 5),
    ("causality violations", lambda r: len(r["fidelity"]["causality_violations"]), "<=", 0),
    ("10,000 tasks: nothing lost (1 = yes)", lambda r: float(r["scale"]["nothing_lost"]), ">=", 1),
    ("10,000 tasks: wall ratio vs plain", lambda r: r["scale"]["ratio_median"], "<=", 1.5),
    ("10,000 tasks: terminal render (s)", lambda r: r["scale"]["render_s"], "<=", 0.5),
    ("10,000 tasks: terminal lines", lambda r: r["scale"]["render_lines"], "<=", 70),
    ("10,000 tasks: poolctl peak memory (MB)", lambda r: r["scale"]["peak_rss_mb"], "<=", 100),
]


def floor(results: dict[str, Any], case: str) -> float:
    """The lowest ratio any Typer CLI could reach for ``case``: the plain program plus a
    Python start-up and ``import typer``, over the plain program."""
    typer_s = results["startup"]["import typer vs python -c pass"]["a_median_s"]
    plain_s = results["overhead"][case]["b_median_s"]
    return round((plain_s + typer_s) / plain_s, 3)


def report(results: dict[str, Any]) -> bool:
    """Print one line per figure with its target; return True when every target is met."""
    met = True
    width = max(len(name) for name, *_ in TARGETS)
    for name, get, op, target in TARGETS:
        value = get(results)
        if op == "info":
            print(f"{name:<{width}}  {value:>9}")
            continue
        ok = value <= target if op == "<=" else value >= target
        met &= ok
        print(f"{name:<{width}}  {value:>9}  target {op} {target:<5}  {'ok' if ok else 'MISSED'}")
    print("what observing adds to the program itself (subject wall / plain), and the floor")
    print("a Python CLI built on Typer cannot go below ((plain + import typer) / plain):")
    for case, figures in results["overhead"].items():
        print(
            f"  {case:<26} subject {figures.get('subject_ratio_median', '?'):>6}"
            f"   floor {floor(results, case):>6}   poolctl {figures['ratio_median']:>6}"
        )
    for case, figures in results["trace"].items():
        print(
            f"  trace, {case:<19} subject {figures.get('subject_ratio_median', '?'):>6}"
            f"                 poolctl {figures['ratio_median']:>6}"
        )
    scale_subject = results["scale"].get("subject_ratio_median", "?")
    print(f"  {'10,000 tasks':<26} subject {scale_subject:>6}")
    p = results.get("peer", {})
    if "skipped" in p:
        print(f"viztracer: {p['skipped']}")
    elif p:
        print(
            f"{'peer: viztracer overhead, 0.2 s task (ratio)':<{width}}  "
            f"{p['viztracer']['ratio_median']:>9}  trace {p['viztracer']['trace_bytes']} bytes"
        )
        print(
            f"{'peer: poolctl overhead, same program (ratio)':<{width}}  "
            f"{p['poolctl']['ratio_median']:>9}"
        )
    for v in results["fidelity"]["causality_violations"]:
        print(f"  causality: {v}")
    return met


def main() -> int:
    """Run the suite; exit 0 when every target is met, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer pairs (about 2 minutes)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    n = 5 if args.quick else 20
    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "poolctl": " ".join(POOLCTL),
        },
        "quick": args.quick,
    }
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("startup", lambda: startup(3 * n)),
        ("overhead", lambda: overhead(n)),
        ("compare", lambda: parallel_compare(n)),
        ("trace", lambda: trace(n)),
        ("fidelity", lambda: fidelity(200)),
        ("scale", lambda: scale(max(n // 2, 3))),
        ("peer", lambda: peer(n)),
    ]
    for key, step in steps:
        print(f"measuring {key} ...", file=sys.stderr, flush=True)
        results[key] = step()
    results["seconds"] = round(time.perf_counter() - started, 1)
    met = report(results)
    print(f"({results['seconds']} s; {'quick' if args.quick else 'full'} run)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
