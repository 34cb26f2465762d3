"""Time the Z3 proofs: every PROOFS entry inductive at 3 and 5 servers, BMC per depth, agreement.

Usage:
    python benchmarks/prove_bench.py              # induction at 3 and 5 servers
    python benchmarks/prove_bench.py --servers 3 --property LogMatching
    python benchmarks/prove_bench.py --servers --bmc 17   # BMC per depth, default preset, every always property
    python benchmarks/prove_bench.py --servers --bmc 18 --bmc-spec vote-not-persisted   # a variant, on its catch_params
    python benchmarks/prove_bench.py --agreement  # also Python/Z3 agreement on the whole tiny graph

Results are recorded by hand in docs/performance-z3.md.
"""
from __future__ import annotations

import argparse
import platform
import time

import z3

from leaderfollower.checker.explorer import explore
from leaderfollower.checker.prove import bmc, prove_inductive
from leaderfollower.checker.z3bmc import PROPERTIES as BMC_PROPERTIES
from leaderfollower.checker.z3decode import SuccessorOracle
from leaderfollower.checker.z3model import Z3Model
from leaderfollower.spec.lemmas import PROOFS
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VARIANTS


def induction(servers: int, props: list[str]) -> None:
    spec = RaftSpec(Params(servers=servers))
    for prop in props:
        result = prove_inductive(spec, prop, timeout_ms=120_000)
        slowest = sorted(result.obligations, key=lambda o: -o.seconds)[:3]
        status = "proved" if result.proved else "NOT proved"
        print(f"{prop} inductive, {servers} servers: {status} in {result.seconds:.2f} s "
              f"({len(result.obligations)} obligations, {len(result.lemmas)} lemmas)")
        for o in slowest:
            print(f"    slowest: {o.lemma} / {o.action or 'Init'}: {o.seconds:.2f} s")


def bmc_depths(depth: int, preset: str, spec_name: str) -> None:
    """BMC time per depth on the finite-domain encoding: every always property (or a variant's), wall and CPU."""
    if spec_name == "raft":
        spec: RaftSpec = RaftSpec(PRESETS[preset])
        props = list(BMC_PROPERTIES)
    else:
        cls = VARIANTS[spec_name]
        spec = cls(cls.catch_params)  # the variant's own bounds, as the explorer's pinned lengths
        props = [cls.breaks]
    cpu0 = time.process_time()
    print(f"BMC {spec_name} ({spec.params.describe()}), {', '.join(props)}, to depth {depth}:")

    def settled(d: int, seconds: float) -> None:
        print(f"    depth {d}: {seconds:.1f} s wall, {time.process_time() - cpu0:.1f} s CPU (cumulative)", flush=True)

    for out in bmc(spec, props, depth, on_depth=settled):
        status = f"violated at depth {out.depth}" if out.violated else f"holds to depth {out.depth}"
        print(f"    {out.property}: {status} ({out.seconds:.1f} s)")


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
    args = parser.parse_args()
    print(f"z3 {z3.get_version_string()}, Python {platform.python_version()}, {platform.machine()}")
    for n in args.servers:
        induction(n, args.property)
    if args.bmc:
        bmc_depths(args.bmc, args.bmc_preset, args.bmc_spec)
    if args.agreement:
        agreement()


if __name__ == "__main__":
    main()
