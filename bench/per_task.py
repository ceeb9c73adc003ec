"""poolctl trace's cost per task, in CPU time: the same program plainly and traced.

    python bench/per_task.py            # 20,000 tasks a call, 5 runs each way
    python bench/per_task.py --tasks 5000 --runs 3

The program runs trivial tasks on a ThreadPool and a ThreadPoolExecutor (their workers are
threads: every cost of a task, the pool's and poolctl's, is in the one process) through
each submission function, and reports the process's CPU time per task for each. CPU time,
not wall time: on a loaded machine wall time mostly measures the other processes. The
difference between traced and plain is what poolctl adds to a task: its wrapper, the
hooks of the patched methods, and the task's three events (submitted, started,
finished).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROGRAM = """
import json, sys, time
from multiprocessing.pool import ThreadPool
from concurrent.futures import ThreadPoolExecutor


def task(x):
    return x


def cpu(call, count):
    begun = time.process_time()
    call()
    return (time.process_time() - begun) / count * 1e6


if __name__ == '__main__':
    n = int(sys.argv[1])
    with ThreadPool(2) as pool:
        figures = {
            'ThreadPool.map': cpu(lambda: pool.map(task, range(n), chunksize=100), n),
            'ThreadPool.imap': cpu(lambda: list(pool.imap(task, range(n), chunksize=100)), n),
            'ThreadPool.apply_async': cpu(
                lambda: [r.get() for r in [pool.apply_async(task, (i,)) for i in range(n)]], n
            ),
        }
    with ThreadPoolExecutor(2) as executor:
        figures['ThreadPoolExecutor.submit'] = cpu(
            lambda: [f.result() for f in [executor.submit(task, i) for i in range(n)]], n
        )
        figures['ThreadPoolExecutor.map'] = cpu(lambda: list(executor.map(task, range(n))), n)
    print(json.dumps(figures), file=sys.stderr)
"""


def one(command: list[str]) -> dict[str, float]:
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stderr.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        program = Path(scratch, "per_task.py")
        program.write_text(PROGRAM)
        plain_cmd = [sys.executable, str(program), str(args.tasks)]
        traced_cmd = [sys.executable, "-m", "poolctl", "trace", "--json", *plain_cmd[1:]]
        plain, traced = [], []
        for _ in range(args.runs):  # interleaved: the machine's load drifts
            plain.append(one(plain_cmd))
            traced.append(one(traced_cmd))
    print(f"CPU us per task (median of {args.runs}), {args.tasks} tasks a call")
    print(f"{'call':<28}{'plain':>8}{'traced':>8}{'added':>8}")
    for call in plain[0]:
        p = statistics.median(r[call] for r in plain)
        t = statistics.median(r[call] for r in traced)
        print(f"{call:<28}{p:>8.2f}{t:>8.2f}{t - p:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
