"""Symmetry benchmark: the explorer with signature-ordered canonicalisation beside the former all-permutations one.

Run:  python benchmarks/symmetry_bench.py [--repeat 3] [--five-states 60000]

Two models, each searched by both stores in the same invocation, alternating, each
run in a fresh child process: the `default` preset (3 servers, complete) and a
5-server model (`servers=5 max_term=2 max_log=1`, symmetric) cut at `--five-states`
stored orbits, since the old store needs hours for all of it.  Printed per model and
store: orbits stored, transitions, seconds, orbits per second (medians over the
repeats), and the speed-up new/old in orbits per second.  The former store is the
reference in tests/support/all_permutations.py (tried: all n! permutations per
successor, 5 at 3 servers, 119 at 5).  Both searches check every property, without
the graph.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.all_permutations import AllPermutationsSearch  # noqa: E402

from leaderfollower.checker.explore.budget import Budget  # noqa: E402
from leaderfollower.checker.explore.search import Search, collector_paused  # noqa: E402
from leaderfollower.spec.params import PRESETS, Params  # noqa: E402
from leaderfollower.spec.raft import RaftSpec  # noqa: E402

FIVE = Params(servers=5, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=1, symmetry=True)
"""The 5-server model (issue 16's next size)."""

STORES = {"signature-order": Search, "all-permutations": AllPermutationsSearch}


def _child(store: str, params: Params, max_states: Optional[int], out: Any) -> None:
    start = time.perf_counter()
    with collector_paused():
        result = STORES[store](RaftSpec(params), keep_graph=False).run(budget=Budget(max_states=max_states))
    seconds = time.perf_counter() - start
    out.put({"states": result.distinct_states, "transitions": result.transitions, "seconds": seconds, "complete": result.complete})


def measure(store: str, params: Params, max_states: Optional[int]) -> dict[str, Any]:
    """One search in a fresh process; its figures."""
    ctx = mp.get_context("fork")
    q: Any = ctx.Queue()
    p = ctx.Process(target=_child, args=(store, params, max_states, q))
    p.start()
    figures: dict[str, Any] = q.get()
    p.join()
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs per store and model; medians are printed")
    ap.add_argument("--five-states", type=int, default=60_000, help="orbits after which the 5-server searches stop")
    args = ap.parse_args()
    models = [("default", PRESETS["default"], None), ("5-servers", FIVE, args.five_states)]
    print(f"{'model':10} {'store':17} {'orbits':>9} {'transitions':>12} {'complete':>8} {'seconds':>8} {'orbits/s':>9} {'speed-up':>8}")
    for name, params, cap in models:
        runs: dict[str, list[dict[str, Any]]] = {store: [] for store in STORES}
        for _ in range(args.repeat):
            for store in STORES:  # alternating, so drift in machine load hits both alike
                runs[store].append(measure(store, params, cap))
        rates = {store: statistics.median(r["states"] / r["seconds"] for r in rs) for store, rs in runs.items()}
        for store, rs in runs.items():
            states = statistics.median(r["states"] for r in rs)
            transitions = statistics.median(r["transitions"] for r in rs)
            seconds = statistics.median(r["seconds"] for r in rs)
            complete = all(r["complete"] for r in rs)
            ratio = rates[store] / rates["all-permutations"]
            print(f"{name:10} {store:17} {int(states):>9,} {int(transitions):>12,} {str(complete):>8} {seconds:>8.1f} {rates[store]:>9,.0f} {ratio:>7.2f}x")


if __name__ == "__main__":
    main()
