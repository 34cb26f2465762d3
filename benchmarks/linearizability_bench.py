"""How long the torture job's linearizability checker takes on large histories of 8 clients.

Generates histories of a simulated correct key-value store (tests/torture/register_sim.py:
each operation takes effect at a random instant inside its interval; unknown
writes land at any later time or never), then checks them.  Every configuration
runs several times in this one process; the figures are medians.  Also shows the
cost of a violation: a stale read planted in the history, then shrunk to a
minimal witness.

    python benchmarks/linearizability_bench.py                  # 100,000 operations, 3 runs each
    python benchmarks/linearizability_bench.py --ops 20000 --runs 1
"""
from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "torture"))

from register_sim import simulate, stale_read  # noqa: E402

from leaderfollower.checker.torture.history import by_key  # noqa: E402
from leaderfollower.checker.torture.linearizability import check_history  # noqa: E402
from leaderfollower.checker.torture.shrink import shrink  # noqa: E402

CASES = [  # (keys, share of writes whose outcome is unknown)
    (8, 0.0), (8, 0.01), (1, 0.0), (1, 0.01), (1, 0.05),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.ops:,} operations, {args.clients} clients, median of {args.runs} runs (seconds)")
    print(f"{'keys':>5} {'unknown':>8} {'verdict':>16} {'check s':>8} {'configs':>10}")
    for keys, unknown in CASES:
        history = simulate(args.ops, args.clients, keys, seed=1, unknown_rate=unknown, fail_rate=0.01)
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            verdict = check_history(history)
            times.append(time.perf_counter() - t0)
        configs = sum(k.result.configs for k in verdict.keys)
        print(f"{keys:>5} {unknown:>8.0%} {verdict.status:>16} {statistics.median(times):>8.2f} {configs:>10,}",
              flush=True)
    history = simulate(args.ops, args.clients, 8, seed=2, unknown_rate=0.01, fail_rate=0.01)
    broken = stale_read(history, random.Random(2))
    assert broken is not None
    t0 = time.perf_counter()
    verdict = check_history(broken)
    t1 = time.perf_counter()
    key = verdict.failing[0].key
    witness = shrink(by_key(broken)[key]).ops
    t2 = time.perf_counter()
    print(f"planted stale read: {verdict.status} in {t1 - t0:.2f} s; key {key} "
          f"({len(by_key(broken)[key]):,} operations) shrunk to {len(witness)} in {t2 - t1:.2f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
