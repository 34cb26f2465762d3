"""Explorer benchmark: the full explorer beside a plain tuple-and-dict BFS of the same spec.

Run:  python benchmarks/explorer_bench.py [--configs default,full] [--repeat 3]

Each measurement runs in a fresh child process (so peak memory is its own), and
the baseline and the explorer run in the same invocation, on the same machine
state, so their ratio is meaningful even on a noisy machine.  Printed per
configuration: distinct states, transitions, seconds, states/s and peak memory per
state, as medians over the repeats, and the ratio explorer/baseline.

The baseline is deliberately naive: states are the spec's nested tuples, stored in
one dict, no packing, no graph, no property checks; like the explorer, it runs with
the cyclic garbage collector paused.  The explorer runs with every
property checked, (1) without the graph (`--no-graph` mode), (2) with the edge
arrays and the networkx MultiDiGraph built from them.
"""
from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import resource
import statistics
import time
from typing import Any

from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.raft import RaftSpec


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def plain_bfs(params: Params) -> tuple[int, int]:
    """The baseline: a breadth-first search over nested-tuple states in one dict."""
    spec = RaftSpec(params)
    init = spec.init()
    seen = {init: 0}
    queue = [init]
    transitions = 0
    for s in queue:
        for _, t in spec.successors(s):
            if not spec.within_bounds(t):
                continue
            transitions += 1
            if t not in seen:
                seen[t] = len(queue)
                queue.append(t)
    return len(seen), transitions


def _child(kind: str, params: Params, out: Any) -> None:
    gc.freeze()
    base = _rss_mb()
    start = time.perf_counter()
    graph_seconds = 0.0
    search_peak = None
    if kind == "baseline":
        gc.disable()  # the same treatment the explorer gives itself, so the ratio is fair
        states, transitions = plain_bfs(params)
    else:
        from leaderfollower.checker.explore.search import explore

        spec = RaftSpec(params)
        result = explore(spec, keep_graph=kind != "explorer-nograph")
        states, transitions = result.distinct_states, result.transitions
        search_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if kind == "explorer-graph":
            g = result.graph
            assert g.number_of_edges() == transitions
            graph_seconds = result.graph_seconds
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put(
        {
            "states": states,
            "transitions": transitions,
            "seconds": seconds,
            "graph_seconds": graph_seconds,
            "peak_mb": peak - base,
            "search_peak_mb": (search_peak if search_peak is not None else peak) - base,
        }
    )


def measure(kind: str, params: Params) -> dict[str, Any]:
    """Run one measurement in a fresh process and return its figures."""
    ctx = mp.get_context("fork")
    q: Any = ctx.Queue()
    p = ctx.Process(target=_child, args=(kind, params, q))
    p.start()
    figures: dict[str, Any] = q.get()
    p.join()
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="default", help="comma-separated preset names (default: default)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; medians are printed")
    args = ap.parse_args()
    print(f"{'config':10} {'kind':18} {'states':>10} {'transitions':>12} {'seconds':>8} {'states/s':>9} {'KB/state':>9} {'search KB/st':>12} {'vs baseline':>11}")
    for name in args.configs.split(","):
        params = PRESETS[name]
        kinds = ["baseline", "explorer-nograph", "explorer-graph"]
        if params.symmetry:
            # The plain BFS has no symmetry reduction, so it would explore another model.
            kinds = kinds[1:]
            print(f"{name:10} (symmetry on: no plain-BFS baseline; compare on a configuration without symmetry, e.g. full)")
        medians: dict[str, dict[str, float]] = {}
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
        for _ in range(args.repeat):
            for kind in kinds:  # interleaved, so drift in machine load hits each kind alike
                runs[kind].append(measure(kind, params))
        for kind in kinds:
            rs = runs[kind]
            medians[kind] = {key: statistics.median(r[key] for r in rs) for key in rs[0] if isinstance(rs[0][key], (int, float))}
        base_s = medians["baseline"]["seconds"] if "baseline" in medians else float("nan")
        for kind in kinds:
            m = medians[kind]
            per_state = m["peak_mb"] * 1024 / m["states"]
            search_per_state = m["search_peak_mb"] * 1024 / m["states"]
            print(
                f"{name:10} {kind:18} {int(m['states']):>10,} {int(m['transitions']):>12,} {m['seconds']:>8.1f} "
                f"{m['states'] / m['seconds']:>9,.0f} {per_state:>9.2f} {search_per_state:>12.2f} "
                + (f"{m['seconds'] / base_s:>10.2f}x" if base_s == base_s else f"{'-':>11}")
            )
        if medians["explorer-graph"]["graph_seconds"]:
            print(f"{'':10} (graph build from edge arrays: {medians['explorer-graph']['graph_seconds']:.1f} s of the explorer-graph time)")


if __name__ == "__main__":
    main()
