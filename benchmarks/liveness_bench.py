"""Liveness benchmark: the safety search and the liveness check of the same run, side by side.

Run:  python benchmarks/liveness_bench.py [--preset default] [--repeat 3]

Each repeat explores the model once (every safety property checked, the graph kept)
and then judges every liveness property on that graph (checker/liveness/); printed:
the medians of the search's seconds and the liveness check's seconds, and their
ratio (target: at most 1.0, the check costs at most as much again as the search),
with each property's verdict and pending-state count from the last repeat.
"""
from __future__ import annotations

import argparse
import statistics

from leaderfollower.spec.params import PRESETS
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.liveness.check import timed_check


def main() -> None:
    """Measure and print (see the module comment)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    search, live = [], []
    outcomes = []
    states = 0
    for _ in range(args.repeat):
        result = explore(RaftSpec(PRESETS[args.preset]))
        outcomes, seconds = timed_check(result)
        search.append(result.search_seconds)
        live.append(seconds)
        states = result.distinct_states
    s, lv = statistics.median(search), statistics.median(live)
    print(f"preset {args.preset}: {states:,} states, {args.repeat} repeats (medians)")
    print(f"  safety search   {s:8.2f} s")
    print(f"  liveness check  {lv:8.2f} s   ratio liveness/search {lv / s:.2f} (target <= 1.00)")
    for o in outcomes:
        print(f"  {o.property.name}: {o.status} ({o.pending:,} pending states)")


if __name__ == "__main__":
    main()
