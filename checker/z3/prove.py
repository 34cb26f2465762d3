"""The `prove` job: bounded model checking and inductive invariant checking with Z3.

How this works:
- `bmc` runs bounded model checking on the finite-domain encoding of
  `checker/z3/bmc.py` (every variable a small bit-vector, the bag `max_in_flight`
  slots, the explorer's bounds part of the relation): unrolled from Init one step
  at a time, it asks after each step whether some always property can fail there.
  The first depth at which one can is its shortest violation (the explorer's
  breadth-first depth); the path is decoded into spec states and replayed through
  `RaftSpec.apply`, so a trace printed is a trace the Python spec takes.  `ic3`
  does the same at every depth (`checker/z3/pdr.py`).
- `prove_inductive` checks `Init => Inv` and, for every action and every
  conjunct L of Inv (the property and its lemmas, `lemmas.PROOFS`),
  `Inv and Action => L'`, for a fixed number of servers with unbounded terms, logs
  and message bag.  The obligations are listed and their terms built by
  `obligations.py`, solved by `solving.py`, here or in worker processes with
  memory limits and a resumable results file (`isolation.py`).  A failed query is a
  counterexample to induction, decoded into spec states; whether the explorer
  reaches its pre-state (`reach.py`) says whether it is a real bug or a missing
  lemma.  `checker/z3/parametric/` proves the same for every number of servers.
- `support` (optional): for each obligation, the lemmas its unsat core used,
  shrunk until no lemma can be dropped.
"""
from __future__ import annotations

import builtins
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from leaderfollower.checker.explore.traces import Trace, TraceError
from leaderfollower.checker.z3.isolation import Limits, OnDone, run_proof
from leaderfollower.checker.z3.model import switches_for
from leaderfollower.checker.z3.obligations import invariant_names, is_derived
from leaderfollower.checker.z3.solving import ProofSetup, plan
from leaderfollower.checker.z3.reach import ScriptedRun, explorer_reach, reachable_cti
from leaderfollower.checker.z3.results import IMPLIED, Cti, InductionResult, Obligation, ProgressFn
from leaderfollower.spec.actions import ACTION_NAMES, Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State

if TYPE_CHECKING:
    from leaderfollower.checker.z3.bmc import PropertyDef

__all__ = [
    "IMPLIED",
    "BmcOutcome",
    "Cti",
    "InductionResult",
    "Limits",
    "Obligation",
    "ScriptedRun",
    "bmc",
    "explorer_reach",
    "format_cti",
    "ic3",
    "prove_inductive",
]


# ------------------------------------------------------------------- BMC


@dataclass
class BmcOutcome:
    """One property's bounded result: violated at `depth` (with a trace), or none up to `depth`."""

    property: str
    violated: bool
    depth: int
    seconds: float
    trace: Optional[Trace] = None
    engine: str = "bmc"
    """bmc (`z3bmc`), or ic3 (`z3pdr`: unbounded on the same encoding)."""
    proved: bool = False
    """ic3 only: the property holds at every depth (an inductive invariant was found and checked)."""
    clauses: int = 0
    """ic3 only: the size of that invariant, in clauses."""

    @builtins.property
    def status(self) -> str:
        """The result-document status: violated, holds-every-depth (IC3's proof) or holds-to-depth."""
        if self.violated:
            return "violated"
        return "holds-every-depth" if self.proved else "holds-to-depth"


def bmc(
    spec: RaftSpec,
    properties: Sequence[str],
    depth: int,
    progress: Optional[ProgressFn] = None,
    encodings: Optional[dict[str, "PropertyDef"]] = None,
    on_depth: Optional[Callable[[int, float], None]] = None,
) -> list[BmcOutcome]:
    """Shortest violation of each property within `depth` steps, under the spec's bounds.

    Runs on the finite-domain encoding of `checker.z3bmc` (bit-blasted to SAT);
    `properties` are names of `z3bmc.PROPERTIES` (every always property), and
    `encodings` adds definitions by name (tests use it).  Each violation's path is
    replayed through the Python spec (`traces.replay`), which must reach the same
    states, the last one violating the property where it has a Python predicate.
    """
    from leaderfollower.checker.z3.bmc import run_bmc

    out = []
    for f in run_bmc(spec, properties, depth, progress=progress, extra=encodings, on_depth=on_depth):
        trace = _replayed(spec, f.property, f.states, f.actions) if f.violated else None
        out.append(BmcOutcome(f.property, f.violated, f.depth, f.seconds, trace))
    return out


def ic3(
    spec: RaftSpec,
    properties: Sequence[str],
    *,
    max_depth: Optional[int] = None,
    seconds: Optional[float] = None,
    progress: Optional[ProgressFn] = None,
    encodings: Optional[dict[str, "PropertyDef"]] = None,
) -> list[BmcOutcome]:
    """Each property's shortest violation, or a proof that it holds at every depth of the bounded model.

    IC3 on the finite-domain encoding (`checker.z3pdr`).  A run cut short by
    `max_depth` or `seconds` reports the frontier it cleared, as BMC reports a
    depth.  Violations are replayed through the Python spec as BMC's are.
    """
    from leaderfollower.checker.z3.pdr import run_pdr

    def frontier(k: int, clauses: int) -> None:
        if progress:
            progress("ic3 frontier", k, max(k, max_depth or 0))

    findings, _ = run_pdr(spec, properties, max_depth=max_depth, seconds=seconds, extra=encodings, progress=frontier)
    out = []
    for f in findings:
        trace = _replayed(spec, f.property, f.states, f.actions) if f.violated else None
        out.append(BmcOutcome(f.property, f.violated, f.depth, f.seconds, trace, engine="ic3", proved=f.proved, clauses=f.invariant_clauses))
    return out


def _replayed(spec: RaftSpec, prop: str, states: Sequence[State], actions: Sequence[Action]) -> Trace:
    """The BMC path as a spec trace, confirmed step by step by the Python spec."""
    from leaderfollower.spec.properties import PROPERTIES

    from leaderfollower.checker.explore.traces import replay

    trace = replay(spec, actions)
    for k, (step, decoded) in enumerate(zip(trace, states)):
        if step.state != decoded:
            raise TraceError(f"BMC step {k}: the finite Z3 encoding and the Python spec disagree after {step.action}")
        if not spec.within_bounds(step.state):
            raise TraceError(f"BMC step {k}: the path leaves the model's bounds")
    holds = {p.name: p.holds for p in PROPERTIES}.get(prop)
    if holds is not None and holds(spec, trace[-1].state):
        raise TraceError(f"BMC: {prop} holds at the end of its counterexample by the Python predicate")
    return trace


# -------------------------------------------------------------- induction


def format_cti(cti: Cti) -> str:
    """The counterexample to induction as two states: every variable before, what changed after."""
    from leaderfollower.checker.explore.traces import describe_state, state_changes

    lines = ["  before (satisfies every conjunct of the invariant):"]
    lines += [f"       {line}" for line in describe_state(cti.before)]
    lines.append(f"  after {cti.action}:")
    lines += [f"       {line}" for line in state_changes(cti.before, cti.after)]
    return "\n".join(lines)


Reach = Callable[[State], Optional[bool]]
"""A reachability oracle (`explorer_reach`): whether the explorer reaches a state (None: unknown)."""


def prove_inductive(
    spec: RaftSpec,
    prop: str,
    lemmas: Optional[Sequence[str]] = None,
    *,
    timeout_ms: int = 60_000,
    support: bool = False,
    reach: Optional[Reach] = None,
    progress: Optional[ProgressFn] = None,
    actions: Sequence[str] = ACTION_NAMES,
    only: Optional[Sequence[str]] = None,
    limits: Limits = Limits(),
    results_file: Optional[Path] = None,
    on_obligation: Optional[OnDone] = None,
) -> InductionResult:
    """Check that the property with its lemmas is an inductive invariant (one obligation per action and lemma).

    `only`: check the obligations of these conjuncts alone (the others are still
    assumed; for experiments and benchmarks).  `limits`: where the obligations run
    (default: here, one after the other; `Limits(workers=2)`: two isolated worker
    processes).  `results_file`: record each result, and skip what an earlier run
    recorded there as proved (`isolation.ResultsFile`).
    """
    start = time.perf_counter()
    setup = ProofSetup(spec.params, switches_for(type(spec)), prop, invariant_names(prop, lemmas), is_derived(prop, lemmas))
    result = InductionResult(prop, setup.names[1:], servers=str(spec.params.servers))
    tasks = plan(setup, actions, only, timeout_ms, support)
    cache_key = (type(spec), spec.params, setup.names[1:], tuple(actions), timeout_ms, None if only is None else tuple(only))
    cached = _LEMMA_RESULTS.get(cache_key) if setup.derived and not support else None
    if cached is not None:
        # Several derived properties share one lemma set: its obligations are checked once.
        tasks = [t for t in tasks if t.action == IMPLIED]

    result.obligations = run_proof(tasks, limits, results_file, "induction", progress, on_obligation)
    for ob in result.obligations:
        _judge(spec, setup, ob, reach, timeout_ms)
    if cached is not None:
        result.obligations += cached
    elif setup.derived and not support:
        _LEMMA_RESULTS[cache_key] = [o for o in result.obligations if o.action != IMPLIED]
    result.seconds = time.perf_counter() - start
    return result


def _judge(spec: RaftSpec, setup: ProofSetup, ob: Obligation, reach: Optional[Reach], timeout_ms: int) -> None:
    """Say whether an obligation that is not proved fails from a reachable state.

    Also when Z3 gave up: a concrete counterexample among the explorer's states (or
    the spec's scripted run), confirmed by Z3, is a failure whatever the symbolic
    query said.
    """
    if ob.status == "proved" or reach is None:
        return
    if ob.cti is not None and ob.cti.before.servers and ob.action != IMPLIED:
        ob.cti.reachable = reach(ob.cti.before)
    if ob.action in (None, IMPLIED) or (ob.cti is not None and ob.cti.reachable) or not hasattr(reach, "result"):
        return
    names = setup.names[1:] if setup.derived else setup.names
    found = None
    scripted = getattr(reach, "scripted", None)
    if scripted is not None and scripted() is not None:
        # A spec's scripted run first: its states are reachable by construction, and it
        # reaches bugs (figure 8's five terms) the explorer cannot finish.
        found = reachable_cti(spec, scripted(), ob.action, ob.lemma, names, timeout_ms, source="scripted run's states")
    if found is None:
        found = reachable_cti(spec, reach.result(), ob.action, ob.lemma, names, timeout_ms)  # type: ignore[attr-defined]
    if found is not None:
        ob.refute(found)


_LEMMA_RESULTS: dict[tuple[object, ...], list[Obligation]] = {}
"""The lemma obligations of derived properties' proofs, by spec class, parameters, lemmas, actions, timeout."""
