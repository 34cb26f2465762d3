"""Conformance benchmark: the full edge cover of a model replayed through the real implementation.

Run:  python benchmarks/conform_bench.py [--config default] [--workers 2]

Printed: the explored graph (states, transitions), the cover (walks, steps, seconds
to compute it), and the replay (steps, seconds, steps/s, transitions covered,
divergences).  Beside it, in the same run, the same walks stepped through the spec
alone (no nodes, no files), so the ratio shows what the real nodes and their
storage cost per step.
"""
from __future__ import annotations

import argparse
import time

from leaderfollower.checker.conform.run import concretise, run_trace_replay
from leaderfollower.checker.explore.cover import edge_cover
from leaderfollower.checker.explore.search import explore
from leaderfollower.spec.params import PRESETS
from leaderfollower.spec.raft import RaftSpec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="default", help="preset name (default: default)")
    ap.add_argument("--workers", type=int, default=0, help="replay worker processes (default: one per core)")
    args = ap.parse_args()
    params = PRESETS[args.config]
    start = time.perf_counter()
    result = explore(RaftSpec(params))
    graph = result.graph
    explored = time.perf_counter() - start
    print(f"{args.config}: {params.describe()}")
    print(f"explore + graph: {result.distinct_states:,} states, {graph.number_of_edges():,} transitions in {explored:.1f} s")

    start = time.perf_counter()
    cover = edge_cover(result, graph)
    cover_s = time.perf_counter() - start
    print(f"edge cover: {len(cover.walks):,} walks, {cover.steps:,} steps if each walk replays from the initial state, {cover_s:.1f} s")

    # The same walks through the spec alone: what one step costs without real nodes.
    start = time.perf_counter()
    spec_steps = 0
    for walk in cover.walks:
        spec_steps += len(concretise(result, walk.edges)) - 1
    spec_s = time.perf_counter() - start
    print(f"spec only: {spec_steps:,} steps in {spec_s:.1f} s ({spec_steps / spec_s:,.0f} steps/s, one process)")

    start = time.perf_counter()
    outcome = run_trace_replay(result, workers=args.workers)
    replay_s = time.perf_counter() - start
    doc = outcome.to_dict()
    replay_only = replay_s - cover_s  # run_trace_replay computes the cover again
    print(
        f"real nodes: {doc['steps']:,} steps (walk prefixes shared through snapshots) in {replay_s:.1f} s"
        f" including the cover; {doc['steps'] / max(replay_only, 1e-9):,.0f} steps/s over {args.workers or 'all'} workers;"
        f" {doc['transitions_covered']:,}/{doc['transitions']:,} transitions, {len(doc['divergences'])} divergences"
    )
    print(f"full cover, from exploration to the last replayed step: {explored + replay_s:.1f} s")


if __name__ == "__main__":
    main()
