"""The plain programs poolctl's overhead is measured against: the tutorial's style, no poolctl.

    python bench/plain.py close-join --duration 1.0 --workers 2 --tasks 1

Each sequence is the tutorial's program: a task that prints, sleeps and prints; Pool();
apply_async for each task; the shutdown steps; print('Main done').

    python bench/plain.py map --duration 0.002 --tasks 2000 --workers 2

'map' is dispatch-bound instead: pool.map() of a task that only sleeps, one item per
chunk, then close() and join(); what poolctl trace adds per task shows there first.
"""

import argparse
import time
from multiprocessing import get_context

STEPS = {
    "close-join": ("close", "join"),
    "terminate-join": ("terminate", "join"),
    "join-without-close": ("join",),
    "close-without-join": ("close",),
    "map": ("close", "join"),
}


def task(duration):
    print("Task executing")
    time.sleep(duration)
    print("Task done")


def quiet_task(duration):
    time.sleep(duration)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("sequence", choices=sorted(STEPS))
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=1)
    parser.add_argument("--start-method", default=None)
    args = parser.parse_args()

    pool = get_context(args.start_method).Pool(args.workers)
    if args.sequence == "map":
        pool.map(quiet_task, [args.duration] * args.tasks, chunksize=1)
    for _ in range(0 if args.sequence == "map" else args.tasks):
        pool.apply_async(task, (args.duration,))
    for step in STEPS[args.sequence]:
        getattr(pool, step)()
    print("Main done")
