"""Time the Z3 proofs: every PROOFS entry inductive at 3 and 5 servers, BMC per depth, agreement.

Usage:
    python benchmarks/prove_bench.py              # induction at 3 and 5 servers
    python benchmarks/prove_bench.py --servers 3 --property LogMatching
    python benchmarks/prove_bench.py --servers 3 --property LeaderCompleteness StateMachineSafety CommitWithinLog
    python benchmarks/prove_bench.py --servers 3 --property LeaderCompleteness --actions AdvanceCommitIndex
    nice python benchmarks/prove_bench.py --servers 5 --property LeaderCompleteness StateMachineSafety CommitWithinLog \
        --workers 2 --obligation-seconds 600 --results ls5.jsonl   # isolated workers, resumable; a line per obligation on stderr
    python benchmarks/prove_bench.py --servers --variants   # only the log-safety proof on three broken variants
    python benchmarks/prove_bench.py --servers --targets --workers 2   # parametric ElectionSafety, LogMatching; six variants refuted
    python benchmarks/prove_bench.py --servers --bmc 17   # BMC per depth, default preset, every always property
    python benchmarks/prove_bench.py --servers --bmc 18 --bmc-spec vote-not-persisted   # a variant, on its catch_params
    python benchmarks/prove_bench.py --agreement  # also Python/Z3 agreement on the whole tiny graph
    python benchmarks/prove_bench.py --servers --ic3 600 --bmc 17      # IC3 beside BMC, same model, one process
    python benchmarks/prove_bench.py --servers --ic3 600 --bmc-spec vote-without-log-check
    python benchmarks/prove_bench.py --servers --ic3 120 --bmc-preset tiny --ic3-ablation   # symmetry / lifting off

Results are recorded by hand in docs/performance-z3.md.
"""
from __future__ import annotations

import argparse
from collections import Counter
import platform
import sys
import time
from pathlib import Path
from typing import Optional

import z3

from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.z3.isolation import DEFAULT_MEMORY_MB, Limits
from leaderfollower.checker.z3.parametric.prove import prove_parametric
from leaderfollower.checker.z3.prove import bmc, explorer_reach, prove_inductive
from leaderfollower.checker.z3.results import InductionResult, Obligation
from leaderfollower.checker.z3.bmc import PROPERTIES as BMC_PROPERTIES
from leaderfollower.checker.z3.decode import SuccessorOracle
from leaderfollower.checker.z3.model import Z3Model
from leaderfollower.checker.z3.pdr import run_pdr
from leaderfollower.checker.z3.lemmas import DERIVED, PROOFS
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.actions import ACTION_NAMES
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VARIANTS


def induction(servers: int, props: list[str], actions: list[str], timeout_ms: int, limits: Limits, results: Optional[Path]) -> None:
    """Each proof's wall time, its slowest obligations, and the peak RSS of the processes that solved them."""
    spec = RaftSpec(Params(servers=servers))
    print(f"induction at {servers} servers, {limits.describe()}", flush=True)
    for prop in props:
        wall0 = time.perf_counter()

        def line(o: Obligation, k: int, total: int) -> None:
            orbits = f", {o.queries} queries for {o.instances} instances" if o.queries else ""
            print(f"    [{k}/{total}] {time.perf_counter() - wall0:7.1f} s  {o.lemma} / {o.action or 'Init'}: {o.status} "
                  f"({o.seconds:.1f} s, {o.peak_rss_mb:.0f} MB{orbits}){' ' + o.reason if o.reason else ''}", file=sys.stderr, flush=True)

        result = prove_inductive(spec, prop, timeout_ms=timeout_ms, actions=actions, limits=limits, results_file=results, on_obligation=line)
        slowest = sorted(result.obligations, key=lambda o: -o.seconds)[:5]
        status = "proved" if result.proved else "NOT proved"
        derived = " (derived: lemma obligations shared with the other derived properties of this run)" if prop in DERIVED else ""
        print(f"{prop} inductive, {servers} servers: {status} in {result.seconds:.2f} s "
              f"({len(result.obligations)} obligations, {len(result.lemmas)} lemmas), "
              f"peak RSS of a solving process {result.peak_rss_mb:.0f} MB{derived}", flush=True)
        if servers == 5 and prop in DERIVED:
            met = result.proved and result.seconds < 1800 and result.peak_rss_mb < 8192
            print(f"    target (issue 18): proved in under 30 min with every solving process under 8 GB: {'met' if met else 'NOT met'}")
        queries, instances = sum(o.queries for o in result.obligations), sum(o.instances for o in result.obligations)
        counts = Counter(o.status for o in result.obligations)
        print(f"    {counts['proved']} proved, {counts['unknown']} unknown, {counts['failed']} failed of {len(result.obligations)}; "
              f"{queries} queries solved this run for {instances} (instance, conjunct) pairs (one query per orbit of server permutations)")
        for o in slowest:
            print(f"    slowest: {o.lemma} / {o.action or 'Init'}: {o.seconds:.2f} s")
        for o in result.obligations:
            if o.status != "proved":
                print(f"    {o.status}: {o.lemma} / {o.action or 'Init'} ({o.seconds:.2f} s) {o.reason}")


VARIANT_ACTIONS = {
    # variant: the action its bug is in
    "vote-without-log-check": "HandleRequestVoteRequest",
    "commit-previous-term": "AdvanceCommitIndex",
    "accept-stale-term": "HandleAppendEntriesRequest",
}


REFUTED_BY = {
    # variant: (property, the action whose obligation fails reachably, conjuncts to check or None for all)
    "non-majority-quorum": ("ElectionSafety", "BecomeLeader", None),
    "vote-not-persisted": ("ElectionSafety", "Restart", None),
    "stale-vote-counted": ("ElectionSafety", "DropStaleResponse", None),
    "vote-without-log-check": ("LeaderCompleteness", "HandleRequestVoteRequest", None),
    "commit-previous-term": ("LeaderCompleteness", "AdvanceCommitIndex", ["CommitIsSafe"]),
    "accept-stale-term": ("LeaderCompleteness", "HandleAppendEntriesRequest", None),
}


def targets(limits: Limits, timeout_ms: int) -> None:
    """Issue 18's targets that fit in minutes: ElectionSafety (under 60 s), LogMatching and the three log-safety
    properties for every number of servers, and the six broken variants refuted (a reachable counterexample to
    induction) by the isolated engine and parametrically.  The 5-server targets: `--servers 5 --property LeaderCompleteness ...`."""
    shared = 0.0  # the derived properties' lemma obligations, checked by the first of them and reused
    for prop, target in (("ElectionSafety", "under 60 s"), ("LogMatching", "proved"), *((p, "proved") for p in sorted(DERIVED))):
        t0 = time.perf_counter()
        r = prove_parametric(RaftSpec(Params(servers=3)), prop, limits=limits)  # resource budgets (parametric/budget.py)
        seconds = time.perf_counter() - t0
        met = r.proved and (seconds < 60 or prop != "ElectionSafety")
        print(f"{prop} for every number of servers: {'proved' if r.proved else 'NOT proved'} in {seconds:.1f} s "
              f"({len(r.obligations)} obligations, peak RSS {r.peak_rss_mb:.0f} MB); target {target}: "
              f"{'met' if met else 'NOT met'}", flush=True)
        if prop in DERIVED:
            # The spec at 5 servers is an instance of the parametric model (docs/z3.md), so this proof is also
            # the 5-server one; its time counts the shared lemma obligations (the first derived run's, at most).
            whole, shared = seconds + shared, shared or seconds
            at_five = r.proved and whole < 30 * 60 and r.peak_rss_mb < 8 * 1024
            print(f"  {prop} at 5 servers, as an instance: {'proved' if r.proved else 'NOT proved'} in at most {whole:.1f} s, "
                  f"peak RSS {r.peak_rss_mb:.0f} MB; target under 30 min and 8 GB: {'met' if at_five else 'NOT met'}", flush=True)
    for name, (prop, action, only) in REFUTED_BY.items():
        cls = VARIANTS[name]
        spec = cls(cls.catch_params)
        t0 = time.perf_counter()
        res = prove_inductive(spec, prop, actions=[action], only=only, reach=explorer_reach(spec), timeout_ms=timeout_ms, limits=limits)
        print(f"{name}: {_refuted(res)} at {spec.params.servers} servers ({prop} / {action}, {time.perf_counter() - t0:.1f} s)", flush=True)
        # Parametrically too (the log-safety variants through the derived properties' lemmas).
        t0 = time.perf_counter()
        res = prove_parametric(spec, prop, actions=[action], limits=limits)
        print(f"{name}: {_refuted(res)} for every number of servers ({time.perf_counter() - t0:.1f} s)", flush=True)


def _refuted(result: InductionResult) -> str:
    for o in result.failed:
        if o.cti is not None and o.cti.reachable:
            return f"refuted (reachable counterexample: {o.lemma} / {o.action}, {len(o.cti.before.servers)} servers)"
    return "NOT refuted"


def variants(timeout_ms: int) -> None:
    """The log-safety lemmas against the variants that break LeaderCompleteness or NoUncommittedRead."""
    for name, action in VARIANT_ACTIONS.items():
        cls = VARIANTS[name]
        spec = cls(cls.catch_params)
        start = time.perf_counter()
        result = prove_inductive(spec, "LeaderCompleteness", actions=[action], reach=explorer_reach(spec), timeout_ms=timeout_ms)
        print(f"{name} ({action}): {time.perf_counter() - start:.1f} s")
        for o in result.obligations:
            if o.status != "proved":
                where = ""
                if o.cti is not None:
                    where = {True: "reachable CTI", False: "unreachable CTI", None: "CTI, reachability unknown"}[o.cti.reachable]
                    where += f" {o.cti.note}"
                print(f"    {o.status}: {o.lemma} / {o.action} ({o.seconds:.1f} s) {where}")


def bmc_depths(depth: int, preset: str, spec_name: str) -> None:
    """BMC time per depth on the finite-domain encoding: every always property (or a variant's), wall and CPU."""
    spec, props = _bench_spec(preset, spec_name)  # a variant on its own bounds, as the explorer's pinned lengths
    cpu0 = time.process_time()
    print(f"BMC {spec_name} ({spec.params.describe()}), {', '.join(props)}, to depth {depth}:")

    def settled(d: int, seconds: float) -> None:
        print(f"    depth {d}: {seconds:.1f} s wall, {time.process_time() - cpu0:.1f} s CPU (cumulative)", flush=True)

    for out in bmc(spec, props, depth, on_depth=settled):
        status = f"violated at depth {out.depth}" if out.violated else f"holds to depth {out.depth}"
        print(f"    {out.property}: {status} ({out.seconds:.1f} s)")


def _bench_spec(preset: str, spec_name: str) -> tuple[RaftSpec, list[str]]:
    if spec_name == "raft":
        return RaftSpec(PRESETS[preset]), list(BMC_PROPERTIES)
    cls = VARIANTS[spec_name]
    return cls(cls.catch_params), [cls.breaks]


def ic3_run(seconds: float, preset: str, spec_name: str, symmetry: bool = True, lift: bool = True) -> None:
    """IC3 on the finite-domain encoding: time per frontier, the outcome, and the solver work."""
    spec, props = _bench_spec(preset, spec_name)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    print(f"IC3 {spec_name} ({spec.params.describe()}), {', '.join(props)}, budget {seconds:.0f} s, symmetry {symmetry}, lifting {lift}:")

    def frontier(k: int, clauses: int) -> None:
        print(f"    frontier {k}: {time.perf_counter() - wall0:.1f} s wall, {time.process_time() - cpu0:.1f} s CPU, {clauses} clauses", flush=True)

    findings, stats = run_pdr(spec, props, seconds=seconds, progress=frontier, symmetry=symmetry, lift=lift)
    for f in findings:
        status = f"violated at depth {f.depth}" if f.violated else ("holds at every depth" if f.proved else f"holds to depth {f.depth} (budget)")
        extra = f", invariant of {f.invariant_clauses} clauses" if f.proved else ""
        print(f"    {f.property}: {status} ({f.seconds:.1f} s wall{extra})")
    print(f"    {time.process_time() - cpu0:.1f} s CPU; {stats.queries} queries ({stats.query_seconds:.1f} s in the main solver, "
          f"{stats.lift_seconds:.1f} s lifting), {stats.clauses} clauses learnt, {stats.obligations} obligations")


def agreement() -> None:
    params = Params(servers=2, max_term=2, max_log=1)
    spec = RaftSpec(params)
    result = explore(spec, keep_graph=False, stop_on_violation=False)
    oracle = SuccessorOracle(Z3Model.for_spec(spec))
    start = time.perf_counter()
    mismatches = 0
    transitions = 0
    for sid in range(result.distinct_states):
        s = result.state(sid)
        py = set(spec.successors(s))
        transitions += len(py)
        if py != oracle.successors(s):
            mismatches += 1
    print(f"agreement on {result.distinct_states} states ({transitions} transitions): "
          f"{mismatches} mismatches in {time.perf_counter() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, nargs="*", default=[3, 5])
    parser.add_argument("--bmc", type=int, default=0, help="BMC to this depth, time per depth")
    parser.add_argument("--bmc-preset", default="default", help="the BMC model's preset (default: default)")
    parser.add_argument("--bmc-spec", default="raft", help="raft, or a variant (on its catch_params)")
    parser.add_argument("--agreement", action="store_true")
    parser.add_argument("--property", nargs="*", default=list(PROOFS), help="proofs to time (default: every PROOFS entry)")
    parser.add_argument("--actions", nargs="*", default=list(ACTION_NAMES), help="actions to check (default: all)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per query (default 120)")
    parser.add_argument("--variants", action="store_true", help="also run the log-safety proof on three broken variants")
    parser.add_argument("--ic3", type=float, default=0, help="IC3 on the BMC model with this budget in seconds (before BMC, same process)")
    parser.add_argument("--ic3-ablation", action="store_true", help="also IC3 without symmetry, and without lifting")
    parser.add_argument("--workers", type=int, default=0, help="induction: isolated worker processes (default 0: in this process)")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB, help="induction: Z3's memory watermark per worker")
    parser.add_argument("--obligation-seconds", type=float, help="induction: wall-clock budget of one obligation in a worker")
    parser.add_argument("--results", type=Path, help="induction: results file to record to and resume from")
    parser.add_argument("--targets", action="store_true", help="issue 18's short targets: parametric ElectionSafety, the six variants refuted")
    args = parser.parse_args()
    limits = Limits(workers=args.workers, memory_mb=args.memory_mb, obligation_seconds=args.obligation_seconds)
    print(f"z3 {z3.get_version_string()}, Python {platform.python_version()}, {platform.machine()}")
    for n in args.servers:
        induction(n, args.property, args.actions, int(args.timeout * 1000), limits, args.results)
    if args.targets:
        targets(limits, int(args.timeout * 1000))
    if args.variants:
        variants(int(args.timeout * 1000))
    if args.ic3:
        ic3_run(args.ic3, args.bmc_preset, args.bmc_spec)
        if args.ic3_ablation:
            ic3_run(args.ic3, args.bmc_preset, args.bmc_spec, symmetry=False)
            ic3_run(args.ic3, args.bmc_preset, args.bmc_spec, lift=False)
    if args.bmc:
        bmc_depths(args.bmc, args.bmc_preset, args.bmc_spec)
    if args.agreement:
        agreement()


if __name__ == "__main__":
    main()
