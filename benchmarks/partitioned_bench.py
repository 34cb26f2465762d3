"""Partitioned-search benchmark: one worker beside `--workers N` and Ray, in one run.

Run:  nice python benchmarks/partitioned_bench.py [--preset full] [--workers 2] [--repeat 3] [--no-ray]

Each measurement runs in a fresh child process, and the modes alternate within each
repeat (one worker, N local workers, N Ray actors on a local Ray instance started
for that measurement), so all see the same machine state; the load average is
printed before and after, because the machine is shared.  Printed per mode: the
median seconds of the search (the `ExploreResult`'s, not Ray's start-up), states/s,
the distinct states (which must be equal: the run stops if they are not), and the
speed-up over one worker, with every repeat's seconds so the spread shows.  Memory:
the peak resident memory of the child for one worker; for the partitioned modes
each shard's resident memory at the end, as the progress line reports it.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
from typing import Any

from leaderfollower.spec.params import PRESETS
from leaderfollower.spec.raft import RaftSpec


def _one(preset: str, mode: str, workers: int, out: Any) -> None:
    from leaderfollower.checker.distributed.run import explore_partitioned
    from leaderfollower.checker.distributed.search import ShardProgress
    from leaderfollower.checker.explore.search import explore

    spec = RaftSpec(PRESETS[preset])
    last: list[Any] = []
    if mode == "one":
        result = explore(spec, keep_graph=False)
    else:
        result = explore_partitioned(spec, workers=workers, ray="local" if mode == "ray" else None, progress=last.append)
    shards = last[-1].shard_memory if last and isinstance(last[-1], ShardProgress) else ()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.send((result.distinct_states, result.transitions, result.complete, result.search_seconds, peak, shards))


def measure(preset: str, mode: str, workers: int) -> tuple[int, int, bool, float, int, tuple[int, ...]]:
    """One search in a fresh child process: states, transitions, complete, seconds, peak bytes, shard bytes."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_one, args=(preset, mode, workers, child))
    proc.start()
    reply: tuple[int, int, bool, float, int, tuple[int, ...]] = parent.recv()
    proc.join()
    return reply


def main() -> None:
    """Run the modes side by side and print the medians and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="full")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    modes = ["one", "local"] + ([] if args.no_ray else ["ray"])
    print(f"preset {args.preset}: {PRESETS[args.preset].describe()}; {os.cpu_count()} cores; load before {os.getloadavg()}")
    times: dict[str, list[float]] = {m: [] for m in modes}
    info: dict[str, tuple[int, int, bool, float, int, tuple[int, ...]]] = {}
    for _ in range(args.repeat):
        for mode in modes:
            got = measure(args.preset, mode, args.workers)
            times[mode].append(got[3])
            info[mode] = got
    counts = {(info[m][0], info[m][1], info[m][2]) for m in modes}
    if len(counts) != 1:
        raise SystemExit(f"the modes disagree: {({m: info[m][:3] for m in modes})}")
    base = statistics.median(times["one"])
    states = info["one"][0]
    print(f"distinct states {states:,}, transitions {info['one'][1]:,}, complete {info['one'][2]}")
    for mode in modes:
        med = statistics.median(times[mode])
        label = {"one": "one worker", "local": f"--workers {args.workers}", "ray": f"--ray ({args.workers} actors)"}[mode]
        memory = f"peak {info[mode][4] / 2**20:,.0f} MB" if mode == "one" else "shards " + " ".join(f"{m / 2**20:,.0f}" for m in info[mode][5]) + " MB"
        runs = ", ".join(f"{t:.1f}" for t in times[mode])
        print(f"{label:>22}: {med:7.1f} s  {states / med:9,.0f} states/s  x{base / med:.2f}  ({runs})  {memory}")
    print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
