"""Time the proofs for every number of servers (`prove --servers any`), and calibrate their resource budgets.

Usage:
    nice python benchmarks/parametric_bench.py --workers 1 2                 # per-property times, 1 and 2 workers
    nice python benchmarks/parametric_bench.py --workers 1 2 --repeat 3 --property ElectionSafety LogMatching
    nice python benchmarks/parametric_bench.py --workers 0 --units           # + the resource units per obligation
    nice python benchmarks/parametric_bench.py --variants                     # the log-safety variants refuted

Per-property figures: ElectionSafety and LogMatching alone; "log safety" is LeaderCompleteness,
StateMachineSafety and CommitWithinLog in one run (their 384 lemma obligations are checked once and shared,
then each property's `Implied`).  The worker counts alternate within each repetition (medians over the
repetitions), so both sides see the same load.  `--units` prints, per proof, the obligations whose largest
decided query used the most of Z3's resource units (`Obligation.rlimit`), against the budget
(`parametric/budget.py`): what its margin is measured from.

Results are recorded by hand in docs/performance-z3.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections import defaultdict
from dataclasses import replace

import z3

from leaderfollower.checker.z3.isolation import Limits
from leaderfollower.checker.z3.lemmas import DERIVED
from leaderfollower.checker.z3.parametric import prove as parametric
from leaderfollower.checker.z3.parametric.budget import Budget
from leaderfollower.checker.z3.parametric.prove import prove_parametric
from leaderfollower.checker.z3.results import InductionResult, Obligation
from leaderfollower.spec.params import Params
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VARIANTS

LOG_SAFETY = tuple(sorted(DERIVED))

PROOF_GROUPS = {"ElectionSafety": ("ElectionSafety",), "LogMatching": ("LogMatching",), "log safety": LOG_SAFETY}
"""What one timed run proves: a property, or the three derived properties together (shared lemma obligations)."""

REFUTED = {
    # variant: (property, the action its bug is in)
    "commit-previous-term": ("StateMachineSafety", "AdvanceCommitIndex"),
    "accept-stale-term": ("CommitWithinLog", "HandleAppendEntriesRequest"),
    "vote-without-log-check": ("LeaderCompleteness", "HandleRequestVoteRequest"),
}


def prove_group(group: str, workers: int, budget: Budget) -> tuple[float, list[InductionResult]]:
    """One timed run of a proof group from a cold lemma cache: the wall time and the results."""
    parametric._LEMMA_RESULTS.clear()  # each run checks the shared lemma obligations itself
    spec = RaftSpec(Params(servers=3))
    t0 = time.perf_counter()
    results = [prove_parametric(spec, prop, budget=budget, limits=Limits(workers=workers)) for prop in PROOF_GROUPS[group]]
    return time.perf_counter() - t0, results


def timings(groups: list[str], worker_counts: list[int], repeat: int, budget: Budget, units: bool) -> None:
    """Each group's wall time per worker count (alternating, medians), and whether everything was proved."""
    seconds: dict[tuple[str, int], list[float]] = defaultdict(list)
    for group in groups:
        for k in range(repeat):
            for workers in worker_counts:
                wall, results = prove_group(group, workers, budget)
                seconds[group, workers].append(wall)
                obligations = [o for r in results for o in r.obligations]
                bad = [f"{o.lemma}/{o.action or 'Init'} {o.status}" for o in obligations if o.status != "proved"]
                print(f"{group}, {workers} workers, run {k + 1}: {'proved' if not bad else 'NOT proved'} in {wall:.1f} s "
                      f"({len(obligations)} obligations; load {os.getloadavg()[0]:.2f}){'; ' + ', '.join(bad) if bad else ''}", flush=True)
                if units:
                    print_units(obligations, budget)
        for workers in worker_counts:
            runs = seconds[group, workers]
            print(f"  {group}, {workers} workers: median {statistics.median(runs):.1f} s of {len(runs)} ({', '.join(f'{s:.1f}' for s in runs)})", flush=True)


def print_units(obligations: list[Obligation], budget: Budget) -> None:
    """The obligations whose largest decided query used the most resource units, and the budget's margin."""
    top = sorted(obligations, key=lambda o: -o.rlimit)[:8]
    if not top or not top[0].rlimit:
        return
    print(f"    largest decided query: {top[0].rlimit:,} units; budget {budget.rlimit:,} ({budget.rlimit / top[0].rlimit:.1f}x)")
    for o in top:
        print(f"      {o.lemma} / {o.action or 'Init'}: {o.rlimit:,} units, {o.seconds:.1f} s")


def variants(budget: Budget) -> None:
    """Each log-safety variant refuted through its bug's action: the result, the counterexample and the time."""
    for name, (prop, action) in REFUTED.items():
        cls = VARIANTS[name]
        spec = cls(cls.catch_params)
        t0 = time.perf_counter()
        result = prove_parametric(spec, prop, actions=[action], budget=budget)
        wall = time.perf_counter() - t0
        reachable = [o for o in result.failed if o.cti is not None and o.cti.reachable]
        if reachable:
            o = reachable[0]
            assert o.cti is not None
            what = f"refuted: {o.lemma} / {o.action}, reachable counterexample at {len(o.cti.before.servers)} servers ({o.cti.note})"
        else:
            what = "NOT refuted: " + ", ".join(f"{o.lemma} {o.status}" for o in result.obligations if o.status != "proved")
        print(f"{name} ({prop} / {action}): {what}; {wall:.1f} s (load {os.getloadavg()[0]:.2f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="worker counts to compare (0: in this process)")
    parser.add_argument("--property", nargs="*", default=list(PROOF_GROUPS), help=f"proof groups: {', '.join(PROOF_GROUPS)}")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions (medians over them)")
    parser.add_argument("--rlimit", type=int, default=Budget().rlimit, help="Z3 resource units per query")
    parser.add_argument("--units", action="store_true", help="print the resource units of the hardest obligations")
    parser.add_argument("--variants", action="store_true", help="only the broken variants refuted parametrically")
    args = parser.parse_args()
    budget = replace(Budget(), rlimit=args.rlimit)
    print(f"z3 {z3.get_version_string()}, Python {platform.python_version()}, {os.cpu_count()} cores, load {os.getloadavg()}; {budget.describe()}")
    if args.variants:
        variants(budget)
        return
    for group in args.property:
        if group not in PROOF_GROUPS:
            parser.error(f"--property: unknown proof group {group!r}; known: {', '.join(PROOF_GROUPS)}")
    timings(args.property, args.workers, args.repeat, budget, args.units)


if __name__ == "__main__":
    main()
