"""Millions of tiny pool items: the shape of CPython's Doc/includes/mp_pool.py benchmarks
(``pool.map`` and ``pool.imap`` of ``pow3`` over 100,000 items and of ``noop`` over
1,000,000, 2.2 million items in all), written for poolctl's benchmarks.

    python many_items.py [SCALE]     # SCALE 1.0: 2.2 million items; 0.1: 220,000
"""

import sys
from multiprocessing import Pool


def pow3(x):
    return x**3


def noop(x):
    pass


def main(scale):
    n = int(100_000 * scale)
    items = [None] * int(1_000_000 * scale)
    with Pool(4) as pool:
        cubes = pool.map(pow3, range(n))
        assert cubes == list(pool.imap(pow3, range(n), chunksize=max(n // 8, 1)))
        nothing = pool.map(noop, items)
        assert nothing == list(pool.imap(noop, items, chunksize=max(len(items) // 8, 1)))
    print(f"{2 * (n + len(items))} items")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
