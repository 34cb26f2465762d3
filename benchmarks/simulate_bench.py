"""Simulation benchmark: time to the first violation per variant and strategy, beside the explorer.

Run:  python benchmarks/simulate_bench.py [--configs all] [--strategies uniform,swarm,guided]
                                          [--seeds 10] [--seconds 60] [--workers 2]
                                          [--explorer-seconds 600] [--throughput] [--false-alarm 600]

Each configuration is a shipped broken variant on its `catch_params`, optionally with
overrides (`commit-previous-term:servers=5`).  For every configuration and strategy it
runs `simulate` once per seed (seeds 0..N-1) with the time budget and worker
processes given, and prints per configuration and strategy: how many seeds found the
variant's bug within the budget (wall clock from the call to the shrunk trace, so
shrinking counts), the median time to the first violation (the walk that found it;
a miss counts as beyond the budget), the median wall time with shrinking, the median
and longest shrunk trace, and the explorer's shortest counterexample for comparison.
Beside them, the explorer alone on the same model: its time to the first violation,
or "not reached in N s".

`--throughput` compares, on the unmodified spec at figure 8's bounds (3 and 5
servers), the explorer's distinct states per second with each strategy's steps per
second on one core, run one after the other in this process for the same number of
seconds, `--throughput-repeat` times (medians, and the median of the per-run ratios).

`--false-alarm S` walks the unmodified spec at max term 5, max log 2 for S seconds
with the default strategy and prints any violation (there must be none).

The machine's load average is printed at the start and the end: on a shared machine
the absolute times are upper bounds, and the hit counts are what the targets ask for.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from typing import Any, Optional

from leaderfollower.checker.explore.search import ExploreResult, Progress, explore
from leaderfollower.checker.explore.traces import finding_trace
from leaderfollower.checker.simulate.run import simulate
from leaderfollower.checker.simulate.strategies import DEFAULT_STRATEGY, STRATEGIES
from leaderfollower.checker.simulate.walk import Budget, run_worker
from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import PROPERTIES
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VARIANTS

CONFIGS = (
    "non-majority-quorum",
    "vote-not-persisted",
    "stale-vote-counted",
    "vote-without-log-check",
    "accept-stale-term",
    "commit-previous-term",
    "commit-previous-term:max_log=2",
    "commit-previous-term:servers=5",
)
"""Every shipped variant on its catch parameters, and figure 8 with a longer log and with five servers."""

EXPLORER_SHORTEST = {"vote-without-log-check": 25, "vote-not-persisted": 18, "non-majority-quorum": 10, "stale-vote-counted": 18, "accept-stale-term": 27}
"""The explorer's shortest counterexamples on the catch parameters (tests/test_variants.py pins them)."""


def parse_config(text: str) -> tuple[str, type[RaftSpec], Params]:
    """`name[:key=value,...]` -> (label, variant class, parameters)."""
    name, _, rest = text.partition(":")
    if name not in VARIANTS:
        raise SystemExit(f"simulate_bench: unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    cls = VARIANTS[name]
    overrides: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        overrides[key] = int(value)
    return text, cls, dataclasses.replace(cls.catch_params, **overrides)


class _OutOfTime(Exception):
    pass


def explore_for(spec: RaftSpec, seconds: float, stop_on_violation: bool) -> tuple[Optional[ExploreResult], int, float]:
    """The explorer cut off after `seconds`: (its result if it ended in time, states reached, seconds taken)."""
    start = time.perf_counter()
    reached = [0]

    def watch(p: Progress) -> None:
        reached[0] = p.states
        if time.perf_counter() - start > seconds:
            raise _OutOfTime

    try:
        result = explore(spec, keep_graph=False, stop_on_violation=stop_on_violation, progress=watch, progress_every=2000)
    except _OutOfTime:
        return None, reached[0], time.perf_counter() - start
    return result, result.distinct_states, time.perf_counter() - start


def explorer_time(cls: type[RaftSpec], params: Params, seconds: float) -> tuple[Optional[float], Optional[int], int]:
    """Seconds to the explorer's first violation and its length, or (None, None, states) if not within `seconds`."""
    result, states, took = explore_for(cls(params), seconds, stop_on_violation=True)
    if result is None or not result.violations:
        return None, None, states
    return took, finding_trace(result, result.violations[0]).steps, states


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("inf")


def _fmt(seconds: float, budget: float) -> str:
    return f"> {budget:.0f} s" if seconds == float("inf") or seconds > budget else f"{seconds:.1f} s"


def run_targets(args: argparse.Namespace) -> None:
    strategies = args.strategies.split(",")
    configs = CONFIGS if args.configs == "all" else tuple(args.configs.split(","))
    print(f"budget {args.seconds:.0f} s wall per run, {args.workers} workers, seeds 0..{args.seeds - 1}")
    header = "| configuration | strategy | found (of seeds) | median time to violation | median wall with shrinking | shrunk length (median / max) | walk length (median) | explorer shortest |"
    rows = []
    for text in configs:
        label, cls, params = parse_config(text)
        for strategy in strategies:
            found_times: list[float] = []
            walls: list[float] = []
            lengths: list[int] = []
            raws: list[int] = []
            hits = 0
            for seed in range(args.seeds):
                start = time.perf_counter()
                result = simulate(cls(params), strategy=strategy, seconds=args.seconds, seed=seed, workers=args.workers)
                wall = time.perf_counter() - start
                v = result.violation
                ok = v is not None and cls.breaks in (v.property, *v.also) and wall <= args.seconds
                if v is not None and cls.breaks not in (v.property, *v.also):
                    print(f"  note: {label} {strategy} seed {seed}: found {v.property}, not {cls.breaks}")
                if ok:
                    assert v is not None and result.time_to_violation is not None
                    hits += 1
                    found_times.append(result.time_to_violation)
                    walls.append(wall)
                    lengths.append(len(v.trace) - 1)
                    raws.append(v.walk_length)
                else:
                    found_times.append(float("inf"))
                    walls.append(float("inf"))
                print(
                    f"  {label} {strategy} seed {seed}: "
                    + (f"{'+'.join((v.property, *v.also))} in {result.time_to_violation:.1f} s, {v.walk_length} -> {len(v.trace) - 1} steps, wall {wall:.1f} s"
                       if v is not None and result.time_to_violation is not None else f"nothing in {wall:.1f} s")
                    + f" ({result.steps:,} steps, {result.steps / max(result.seconds, 1e-9):,.0f} steps/s, load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
            shortest = EXPLORER_SHORTEST.get(label, None)
            length = f"{_median([float(x) for x in lengths]):.0f} / {max(lengths)}" if lengths else "-"
            raw = f"{_median([float(x) for x in raws]):.0f}" if raws else "-"
            rows.append(
                f"| {label} | {strategy} | {hits}/{args.seeds} | {_fmt(_median(found_times), args.seconds)} | "
                f"{_fmt(_median(walls), args.seconds)} | {length} | {raw} | {shortest if shortest else '-'} |"
            )
        if args.explorer_seconds > 0:
            took, length_, states = explorer_time(cls, params, args.explorer_seconds)
            where = f"{took:.1f} s ({length_} steps, {states:,} states)" if took is not None else f"not reached in {args.explorer_seconds:.0f} s ({states:,} states)"
            rows.append(f"| {label} | explorer | {'yes' if took is not None else 'no'} | {where} | | | | {length_ or '-'} |")
    print()
    print(header)
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row)


def run_throughput(args: argparse.Namespace) -> None:
    """Explorer states/s and each strategy's steps/s on one core, alternated in this process, medians of the repeats.

    The model is the unmodified spec at figure 8's bounds: on the variant itself the
    walks stop at the first violation (guided finds it in seconds), which would time
    their warm-up, not their pace.
    """
    params3 = VARIANTS["commit-previous-term"].catch_params
    print()
    print(f"throughput: {args.throughput_seconds:.0f} s per engine and run, medians of {args.throughput_repeat} runs, one core each, one after the other")
    print("| model | engine | states or steps per second (median) | runs | ratio to the explorer (median of per-run ratios) |")
    print("|---|---|---:|---|---:|")
    for overrides in ({}, {"servers": 5}):
        params = dataclasses.replace(params3, **overrides)
        label = f"raft, {params.servers} servers, max term {params.max_term}, max log {params.max_log}"
        rates: dict[str, list[float]] = {"explorer": [], **{s: [] for s in STRATEGIES}}
        for _ in range(args.throughput_repeat):
            _, states, took = explore_for(RaftSpec(params), args.throughput_seconds, stop_on_violation=False)
            rates["explorer"].append(states / took)
            for strategy in STRATEGIES:
                w = run_worker(RaftSpec(params), PROPERTIES, strategy, 200, 0, 0, Budget(seconds=args.throughput_seconds))
                rates[strategy].append(w.steps / w.seconds)
        for engine, values in rates.items():
            ratios = [v / e for v, e in zip(values, rates["explorer"])]
            kind = "distinct states/s" if engine == "explorer" else "steps/s, 1 worker"
            runs = ", ".join(f"{v:,.0f}" for v in values)
            print(f"| {label} | {engine} ({kind}) | {statistics.median(values):,.0f} | {runs} | {statistics.median(ratios):.2f}x |", flush=True)


def run_false_alarm(args: argparse.Namespace) -> None:
    params = Params(servers=3, values=1, max_term=5, max_log=2, max_copies=1, max_in_flight=1)
    start = time.perf_counter()
    result = simulate(RaftSpec(params), strategy=DEFAULT_STRATEGY, seconds=args.false_alarm, seed=0, workers=args.workers)
    wall = time.perf_counter() - start
    print()
    print(f"false alarm check: raft, {params.describe()}, {DEFAULT_STRATEGY}, {args.workers} workers, {wall:.0f} s: "
          f"{result.walks:,} walks, {result.steps:,} steps, {result.distinct_states:,} distinct states, deepest walk {result.max_depth}: "
          + ("NO VIOLATION" if result.violation is None else f"VIOLATION of {result.violation.property}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="all", help="comma-separated variant[:key=value,...] or 'all'")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--explorer-seconds", type=float, default=600.0, help="the explorer's budget per configuration (0: skip it)")
    parser.add_argument("--throughput", action="store_true", help="also compare throughput per core with the explorer's")
    parser.add_argument("--throughput-seconds", type=float, default=60.0)
    parser.add_argument("--throughput-repeat", type=int, default=3, help="runs of each engine for the throughput medians")
    parser.add_argument("--false-alarm", type=float, default=0.0, help="seconds of simulation of the unmodified spec (0: skip)")
    parser.add_argument("--no-targets", action="store_true", help="skip the per-variant runs")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not args.no_targets:
        run_targets(args)
    if args.throughput:
        run_throughput(args)
    if args.false_alarm > 0:
        run_false_alarm(args)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
