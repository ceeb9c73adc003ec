"""The plain programs poolctl's overhead is measured against: the tutorial's style, no poolctl.

    python bench/plain.py close-join --duration 1.0 --workers 2 --tasks 1

Each sequence is the tutorial's program: a task that prints, sleeps and prints; Pool();
apply_async for each task; the shutdown steps; print('Main done').
"""

import argparse
import time
from multiprocessing import get_context

STEPS = {
    "close-join": ("close", "join"),
    "terminate-join": ("terminate", "join"),
    "join-without-close": ("join",),
    "close-without-join": ("close",),
}


def task(duration):
    print("Task executing")
    time.sleep(duration)
    print("Task done")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("sequence", choices=sorted(STEPS))
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=1)
    parser.add_argument("--start-method", default=None)
    args = parser.parse_args()

    pool = get_context(args.start_method).Pool(args.workers)
    for _ in range(args.tasks):
        pool.apply_async(task, (args.duration,))
    for step in STEPS[args.sequence]:
        getattr(pool, step)()
    print("Main done")
