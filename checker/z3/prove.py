"""The `prove` job: bounded model checking and inductive invariant checking with Z3.

How this works:
- `bmc` runs bounded model checking on the finite-domain encoding of
  `checker.z3bmc` (every variable a small bit-vector, the bag `max_in_flight`
  slots, the explorer's bounds part of the relation): unrolled from Init one step
  at a time, it asks after each step whether some always property can fail there.
  The first depth at which one can is its shortest violation (the explorer's
  breadth-first depth); the path is decoded into spec states and replayed through
  `RaftSpec.apply`, so a trace printed is a trace the Python spec takes.
- `prove_inductive` checks `Init => Inv` and, for every action and every
  conjunct L of Inv (the property and its lemmas, `spec.lemmas.PROOFS`),
  `Inv and Action => L'`: one Z3 query per (action, lemma), each with a timeout.
  Terms, logs and the message bag are unbounded; the number of servers is fixed.
  An action's instances are checked up to a permutation of server identities
  (servers 0 and 1 stand for any two), since the spec and every lemma are
  symmetric.  A failed query is a counterexample to induction: a pre-state that
  satisfies Inv and an action that breaks L, decoded into spec states.  Whether
  the explorer reaches the pre-state within the default bounds says whether it is a
  real bug or a missing lemma.
- `support` (optional): for each obligation, the lemmas its unsat core used,
  shrunk until no lemma can be dropped.
"""
from __future__ import annotations

import builtins
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, cast

import z3

from leaderfollower.checker.z3.lemmas import ASSUMES, DERIVED, LEMMAS, PROOFS, PROPERTY_ENCODINGS, WITNESS_HINTS, Lemma, lemma_by_name
from leaderfollower.spec.actions import ACTION_NAMES, Action, ActionName
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State

from leaderfollower.checker.explore.traces import Trace, TraceError
from leaderfollower.checker.z3.decode import DecodeError, decode_action, decode_state
from leaderfollower.checker.z3.model import Instance, Sym, Z3Model

if TYPE_CHECKING:
    from leaderfollower.checker.z3.bmc import PropertyDef

ProgressFn = Callable[[str, int, int], None]
"""progress(what, done, total)."""


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


@dataclass
class Obligation:
    """One query: `Init => lemma` (action None) or `Inv and action => lemma'`."""

    lemma: str
    action: Optional[str]
    status: str = "unknown"  # proved | failed | unknown (timeout)
    seconds: float = 0.0
    cti: Optional["Cti"] = None
    support: Optional[tuple[str, ...]] = None


@dataclass
class Cti:
    """A counterexample to induction: a pre-state satisfying the invariant, and a step breaking a lemma."""

    before: State
    action: Action
    after: State
    reachable: Optional[bool] = None
    """Whether the explorer reaches `before` within the spec's bounds (None: not checked)."""
    note: str = ""


@dataclass
class InductionResult:
    """Every obligation of one property's inductive proof."""

    property: str
    lemmas: tuple[str, ...]
    obligations: list[Obligation] = field(default_factory=list)
    seconds: float = 0.0

    # The field `property` above shadows the builtin in this class body (for mypy;
    # at run time an annotation alone binds no name), hence `builtins.property`.
    @builtins.property
    def proved(self) -> bool:
        return all(o.status == "proved" for o in self.obligations)

    @builtins.property
    def failed(self) -> list[Obligation]:
        return [o for o in self.obligations if o.status == "failed"]


def format_cti(cti: Cti) -> str:
    """The counterexample to induction as two states: every variable before, what changed after."""
    from leaderfollower.checker.explore.traces import describe_state, state_changes

    lines = ["  before (satisfies every conjunct of the invariant):"]
    lines += [f"       {line}" for line in describe_state(cti.before)]
    lines.append(f"  after {cti.action}:")
    lines += [f"       {line}" for line in state_changes(cti.before, cti.after)]
    return "\n".join(lines)


def canonical_instances(model: Z3Model, action: str) -> list[Instance]:
    """An action's instances up to a permutation of servers: servers 0 and 1 stand for any two."""
    out = []
    for inst in model.instances:
        if inst.name != action:
            continue
        servers = (inst.src, inst.dst) if inst.is_message else (inst.args[:1] if inst.name == "ClientRequest" else inst.args)
        if servers in ((0,), (0, 0), (0, 1)):
            out.append(inst)
    return out


def invariant_names(prop: str, lemmas: Optional[Sequence[str]] = None) -> tuple[str, ...]:
    """The property and its lemmas (default: PROOFS[prop]), property first."""
    chosen = tuple(PROOFS.get(prop, ())) if lemmas is None else tuple(lemmas)
    return (prop,) + tuple(name for name in chosen if name != prop)


def _definition(name: str) -> Callable[[Z3Model, Sym], z3.BoolRef]:
    if name in PROPERTY_ENCODINGS:
        return PROPERTY_ENCODINGS[name]
    return lemma_by_name(name).z3


def prove_inductive(
    spec: RaftSpec,
    prop: str,
    lemmas: Optional[Sequence[str]] = None,
    *,
    timeout_ms: int = 60_000,
    support: bool = False,
    reach: Optional[Callable[[State], Optional[bool]]] = None,
    progress: Optional[ProgressFn] = None,
    actions: Sequence[str] = ACTION_NAMES,
    only: Optional[Sequence[str]] = None,
) -> InductionResult:
    """Check that the property with its lemmas is an inductive invariant (one query per action and lemma).

    `only`: check the obligations of these conjuncts alone (the others are still
    assumed; for experiments and benchmarks).
    """
    model = Z3Model.for_spec(spec)
    names = invariant_names(prop, lemmas)
    result = InductionResult(prop, names[1:])
    start = time.perf_counter()
    pre = model.fresh("pre")
    plain = {name: _definition(name)(model, pre) for name in names}
    hyps: dict[str, z3.BoolRef] = {}
    skolems: dict[str, dict[int, Witness]] = {}
    for name in names:
        # Existential conjuncts are assumed for fresh witness constants, which the
        # same conjunct after the step is first tried with (`_with_witness`).
        hyps[name], skolems[name] = _skolemize(plain[name], name)
    total = len(names) * (1 + len(actions))
    done = 0
    if prop in DERIVED and lemmas is None:
        # The lemmas alone are the inductive invariant; the property follows from them
        # in every state (one query), so it is neither assumed nor checked per action.
        t0 = time.perf_counter()
        res, witness = _fresh_check([hyps[n] for n in _assumed(prop, "Implied", names) if n != prop], None, plain[prop], timeout_ms)
        ob = Obligation(prop, IMPLIED, _status(res), time.perf_counter() - t0)
        if res == z3.sat:
            ob.cti = _implied_counterexample(witness, pre)
        result.obligations.append(ob)
        names = names[1:]
        hyps.pop(prop)
        total = len(names) * (1 + len(actions)) + 1
        done = 1
        if progress:
            progress("induction", done, total)
        key = (type(spec), spec.params, tuple(names), tuple(actions), timeout_ms, None if only is None else tuple(only))
        if key in _LEMMA_RESULTS and not support:
            # Several derived properties share one lemma set: its obligations are checked once.
            result.obligations += _LEMMA_RESULTS[key]
            result.seconds = time.perf_counter() - start
            return result
        cache_key: Optional[tuple[object, ...]] = key
    else:
        cache_key = None
    servers_of = ServerIndex(pre)
    # Init => each conjunct.
    init_state = model.concrete(spec.init())
    for name in names:
        if only is not None and name not in only:
            continue
        t0 = time.perf_counter()
        s = z3.Solver()
        s.set("timeout", timeout_ms)
        s.add(z3.Not(_definition(name)(model, init_state)))
        res = s.check()
        ob = Obligation(name, None, _status(res), time.perf_counter() - t0)
        result.obligations.append(ob)
        done += 1
        if progress:
            progress("induction", done, total)
    for action in actions:
        insts = canonical_instances(model, action)
        steps = []
        for k, inst in enumerate(insts):
            rec = z3.Const(f"m_{k}", _record_sort(inst)) if inst.is_message else None
            eff, post = model.post_state(pre, inst, rec, tag=f"_{k}")
            steps.append((inst, rec, eff, post))
        solvers: dict[tuple[int, tuple[str, ...]], z3.Solver] = {}
        for name in names:
            if only is not None and name not in only:
                continue
            t0 = time.perf_counter()
            ob = Obligation(name, action)
            ob.status = "proved"
            for k, (inst, rec, eff, post) in enumerate(steps):
                goal = _definition(name)(model, post)
                if z3.eq(goal, plain[name]) and not support:
                    continue  # the action changes nothing the lemma reads
                assumed = _assumed(name, action, names)
                query = _Query(model, pre, post, inst, rec, eff, name, plain, hyps, skolems, timeout_ms, servers_of)
                if support and skolems[name]:
                    # An existential lemma: its proof goes through witnesses, which an
                    # unsat core of one query cannot see; minimise by deletion instead.
                    s = z3.Solver()
                    res, witness = query.check(s, assumed)
                    if res == z3.unsat:
                        used = query.minimal(assumed)
                        ob.support = tuple(sorted(set(ob.support or ()) | set(used), key=names.index))
                        continue
                else:
                    s = solvers.get((k, assumed))
                    if s is None:
                        s = solvers[(k, assumed)] = z3.Solver()
                        s.set("timeout", timeout_ms)
                        _add_hypotheses(s, {n: hyps[n] for n in assumed}, track=support)
                        s.add(eff.guard, *eff.aux)
                    if not support:
                        # Leaves s's scope open when s itself answered sat or unknown.
                        res, witness = query.check(s, assumed, goal)
                    else:
                        s.push()
                        s.add(z3.Not(goal))
                        res = s.check()
                        witness = s
                        if res == z3.unsat:
                            core = {str(c) for c in s.unsat_core()}
                            used = tuple(n for n in names if f"hyp:{n}" in core)
                            used = _minimise(model, hyps, eff, post, name, used, timeout_ms)
                            ob.support = tuple(sorted(set(ob.support or ()) | set(used), key=names.index))
                            s.pop()
                if res == z3.unsat:
                    continue
                ob.status = _status(res)
                if res == z3.sat:
                    ob.cti = _decode_cti(witness, model, pre, inst, rec, post, reach)
                if res != z3.unsat and reach is not None and not (ob.cti and ob.cti.reachable) and hasattr(reach, "result"):
                    # Also when Z3 gave up: a concrete counterexample among the explorer's
                    # states, confirmed by Z3, is a failure whatever the symbolic query said.
                    found = None
                    scripted = getattr(reach, "scripted", None)
                    if scripted is not None and scripted() is not None:
                        # A spec's scripted run first: its states are reachable by construction,
                        # and it reaches bugs (figure 8's five terms) the explorer cannot finish.
                        found = reachable_cti(spec, scripted(), action, name, names, timeout_ms, source="scripted run's states")
                    if found is None:
                        found = reachable_cti(spec, reach.result(), action, name, names, timeout_ms)
                    if found is not None:
                        ob.cti = found
                        ob.status = "failed"
                if witness is s:
                    s.pop()  # the failed query's scope, kept open for the counterexample's decoding
                break
            ob.seconds = time.perf_counter() - t0
            result.obligations.append(ob)
            done += 1
            if progress:
                progress("induction", done, total)
    if cache_key is not None and not support:
        _LEMMA_RESULTS[cache_key] = [o for o in result.obligations if o.action != IMPLIED]
    result.seconds = time.perf_counter() - start
    return result


_LEMMA_RESULTS: dict[tuple[object, ...], list[Obligation]] = {}
"""The lemma obligations of derived properties' proofs, by spec class, parameters, lemmas, actions, timeout."""


RETRY_AFTER_MS = 10_000
"""How long an obligation's incremental query runs before a fresh solver retries it."""


SLICED_MS = 20_000
"""How long the query with only the hypotheses about its servers runs before the fresh solver gets every one."""


IMPLIED = cast(ActionName, "Implied")  # a pseudo-action, not a member of the table
"""The action name of a derived property's one obligation: the lemmas imply it in every state."""


def _fresh_check(hyps: list[z3.BoolRef], eff: Any, part: z3.BoolRef, timeout_ms: int) -> tuple[z3.CheckSatResult, z3.Solver]:
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*hyps)
    if eff is not None:
        s.add(eff.guard, *eff.aux)
    s.add(z3.Not(part))
    return s.check(), s


@dataclass
class _Query:
    """One obligation for one action instance: the lemma after the step, from the assumed lemmas before it."""

    model: Z3Model
    pre: Sym
    post: Sym
    inst: Any
    rec: Any
    eff: Any
    name: str
    plain: dict[str, z3.BoolRef]
    hyps: dict[str, z3.BoolRef]
    skolems: dict[str, dict[int, "Witness"]]
    timeout_ms: int
    servers_of: "ServerIndex"

    def check(self, s: z3.Solver, assumed: Sequence[str], goal: Optional[z3.BoolRef] = None) -> tuple[z3.CheckSatResult, z3.Solver]:
        """unsat (proved) or the first answer that is not, with the solver holding its model.

        `s` holds the assumed hypotheses and the step's guard already, unless it is
        empty (then they are added).  One query per top-level conjunct of the lemma
        that the step may change (a conjunct equal to the hypothesis's is skipped):
        many small queries are far cheaper than one whose negation is a wide
        disjunction.  An existential conjunct is first tried with witnesses.
        """
        name, timeout_ms = self.name, self.timeout_ms
        if not s.assertions():
            s.set("timeout", timeout_ms)
            s.add(*[self.hyps[n] for n in assumed], self.eff.guard, *self.eff.aux)
        if goal is None:
            goal = _definition(name)(self.model, self.post)
        for index, part in _new_conjuncts(goal, self.plain[name]):
            if index in self.skolems[name]:
                hinted = _hinted_witnesses(self.model, name, index, self.pre, self.post, self.inst, self.rec, self.skolems)
                if _witness_holds(s, name, index, part, self.plain, self.skolems, timeout_ms, hinted):
                    continue
            s.push()
            s.add(z3.Not(part))
            s.set("timeout", min(timeout_ms, RETRY_AFTER_MS))
            res = s.check()
            witness = s
            if res == z3.unknown and timeout_ms > RETRY_AFTER_MS:
                # First the same query with only the hypotheses about the servers it
                # involves: sound (a proof from fewer facts is a proof), and on 5
                # servers it is about the 3-server query, which Z3 settles where
                # the facts about the bystanders drown its instantiation.  If that
                # is not a proof, a fresh solver with every hypothesis: the
                # incremental one gives up on some quantified queries that a fresh
                # one (with its full preprocessing) settles in a second.
                assumed_hyps = [self.hyps[n] for n in assumed]
                res, witness = _sliced_check(self.servers_of, assumed_hyps, self.eff, part, self.inst, min(timeout_ms, SLICED_MS))
                if res != z3.unsat:
                    res, witness = _fresh_check(assumed_hyps, self.eff, part, timeout_ms)
            s.set("timeout", timeout_ms)
            if res != z3.unsat:
                if witness is not s:
                    s.pop()
                return res, witness
            s.pop()
        return z3.unsat, s

    def minimal(self, assumed: Sequence[str]) -> tuple[str, ...]:
        """The assumed lemmas, each dropped in turn while the obligation stays proved (the lemma itself is kept)."""
        keep = list(assumed)
        for cand in list(assumed):
            if cand == self.name:
                continue
            trial = [n for n in keep if n != cand]
            if self.check(z3.Solver(), trial)[0] == z3.unsat:
                keep = trial
        return tuple(keep)


class ServerIndex:
    """Which servers a Z3 term reads: the servers named in the keys of the pre-state constants it contains."""

    def __init__(self, pre: Sym) -> None:
        self._of_const: dict[int, frozenset[int]] = {}
        for key, const in pre.vars.items():
            self._of_const[const.get_id()] = frozenset(k for k in key[1:] if isinstance(k, int))
        # Keyed by term id, with the term kept alive: a freed term's id is reused.
        self._memo: dict[int, tuple[z3.ExprRef, frozenset[int]]] = {}

    def __call__(self, e: z3.ExprRef) -> frozenset[int]:
        hit = self._memo.get(e.get_id())
        if hit is not None:
            return hit[1]
        out: set[int] = set()
        todo, seen = [e], set()
        while todo:
            t = todo.pop()
            tid = t.get_id()
            if tid in seen:
                continue
            seen.add(tid)
            if tid in self._of_const:
                out |= self._of_const[tid]
            elif z3.is_quantifier(t):
                todo.append(t.body())
            else:
                todo.extend(t.children())
        found = frozenset(out)
        self._memo[e.get_id()] = (e, found)
        return found


def _flat_conjuncts(e: z3.BoolRef) -> list[z3.BoolRef]:
    """e's conjuncts, nested conjunctions flattened."""
    out, todo = [], [e]
    while todo:
        t = todo.pop()
        if z3.is_and(t):
            todo.extend(reversed(t.children()))
        else:
            out.append(t)
    return out


def _sliced_check(
    servers_of: ServerIndex, hyps: list[z3.BoolRef], eff: Any, part: z3.BoolRef, inst: Any, timeout_ms: int
) -> tuple[z3.CheckSatResult, z3.Solver]:
    """The query with only the hypothesis conjuncts that read no server beyond the goal's and the step's.

    Only an `unsat` answer counts (a proof from fewer facts is a proof); a model of
    the sliced query may break a dropped hypothesis, so it is no counterexample.
    Returns `unknown` at once when no conjunct would be dropped.
    """
    scope = set(servers_of(part)) | set(servers_of(eff.guard)) | {k for k in (*inst.args, inst.src, inst.dst) if k >= 0}
    every = [c for h in hyps for c in _flat_conjuncts(h)]
    kept = [c for c in every if servers_of(c) <= scope]
    if len(kept) == len(every):
        return z3.unknown, z3.Solver()  # nothing to drop: the fresh check follows
    return _fresh_check(kept, eff, part, timeout_ms)


def _implied_counterexample(solver: z3.Solver, pre: Sym) -> Optional[Cti]:
    """A state that satisfies the lemmas but not the property (the 'step' is the empty one)."""
    try:
        before = decode_state(solver.model(), pre)
    except DecodeError as exc:
        return Cti(State((), ()), Action(IMPLIED, ()), State((), ()), None, f"not decodable: {exc}")
    return Cti(before, Action(IMPLIED, ()), before, None, "the lemmas hold here and the property does not")


def _assumed(name: str, action: str, names: Sequence[str]) -> tuple[str, ...]:
    """The conjuncts an obligation assumes: its `ASSUMES` hint ("L/Action", else "L"; within names), else all.

    Assuming fewer conjuncts proves a stronger statement, so a hint can only make a
    proof fail, never make a wrong one pass; it keeps Z3's quantifier instantiation
    focused (docs/performance-z3.md).
    """
    hint = ASSUMES.get(f"{name}/{action}", ASSUMES.get(name))
    if hint is None:
        return tuple(names)
    return tuple(n for n in names if n == name or n in hint)


def _conjuncts(e: z3.BoolRef) -> list[z3.BoolRef]:
    return list(e.children()) if z3.is_and(e) else [e]


def _new_conjuncts(goal: z3.BoolRef, hyp: z3.BoolRef) -> list[tuple[int, z3.BoolRef]]:
    """The top-level conjuncts of goal (with their positions) that are not syntactically conjuncts of hyp."""
    old = {c.get_id() for c in _conjuncts(hyp)}
    return [(k, c) for k, c in enumerate(_conjuncts(goal)) if c.get_id() not in old]


WITNESS_MS = 20_000
"""How long each piece of a conjunct is tried with a given witness before Z3 searches for one."""


def _witness_holds(
    s: z3.Solver,
    name: str,
    index: int,
    part: z3.BoolRef,
    plain: dict[str, z3.BoolRef],
    skolems: dict[str, dict[int, "Witness"]],
    timeout_ms: int,
    hinted: Sequence["Witness"] = (),
) -> bool:
    """The conjunct holds after the step with a hinted witness or the pre-state's, piece by piece.

    The conjunct instantiated with the witness is split into its conjuncts; with the
    pre-state's witness, those that are the same term as before the step hold by the
    hypothesis, the others are one query each.
    """
    own = skolems[name][index]
    for witness in [*hinted, own]:  # a hint is given where the pre-state's witness is known not to do
        strong = _with_witness(part, witness)
        if strong is None:
            continue
        kept: list[z3.BoolRef] = []
        if witness is own:
            before = _with_witness(_conjuncts(plain[name])[index], witness)
            kept = _split(before, witness[0]) if before is not None else []  # kept alive: a freed term's id can be reused
        old = {c.get_id() for c in kept}
        for piece in _split(strong, witness[0]):
            if piece.get_id() in old:
                continue
            s.push()
            s.add(z3.Not(piece))
            s.set("timeout", min(timeout_ms, WITNESS_MS))
            res = s.check()
            s.pop()
            s.set("timeout", timeout_ms)
            if res != z3.unsat:
                break
        else:
            return True
    return False


def _hinted_witnesses(
    model: Z3Model,
    name: str,
    index: int,
    pre: Sym,
    post: Sym,
    inst: Instance,
    rec: Optional[z3.ExprRef],
    skolems: dict[str, dict[int, "Witness"]],
) -> list["Witness"]:
    """Candidate witnesses from `spec.lemmas.WITNESS_HINTS` (other lemmas' skolems applied to the step's message)."""
    hint = WITNESS_HINTS.get(name)
    if hint is None:
        return []

    def skolem(lemma: str, k: int) -> Optional[list[z3.ExprRef]]:
        w = skolems.get(lemma, {}).get(k)
        if w is None:
            return None
        rs, ws = w
        if rs and rec is not None and len(rs) == 1 and rs[0].sort() == rec.sort():
            return [z3.substitute(x, (rs[0], rec)) for x in ws]
        return None if rs else ws

    rs, own = skolems[name][index]
    return [(rs, list(ws)) for ws in hint(model, pre, post, index, inst, rec, skolem, rs, own)]


def _bound(q: z3.QuantifierRef, tag: str) -> list[z3.ExprRef]:
    return [z3.Const(f"{tag}_{q.var_name(i)}", q.var_sort(i)) for i in range(q.num_vars())]


def _open(q: z3.QuantifierRef, consts: Sequence[z3.ExprRef]) -> z3.BoolRef:
    return z3.substitute_vars(q.body(), *reversed(consts))  # de Bruijn: the last bound variable is Var(0)


def _shape(c: z3.BoolRef) -> Optional[tuple[Optional[z3.QuantifierRef], Optional[z3.BoolRef], z3.QuantifierRef]]:
    """c as (outer ForAll or None, guard or None, Exists) when it is `[ForAll(rs,)] [Implies(guard,)] Exists(vs, body)`."""
    outer = None
    if z3.is_quantifier(c) and c.is_forall():
        outer, c = c, c.body()
    guard = None
    if z3.is_implies(c):
        guard, c = c.arg(0), c.arg(1)
    if z3.is_quantifier(c) and c.is_exists():
        return outer, guard, c
    return None


Witness = tuple[list[z3.ExprRef], list[z3.ExprRef]]
"""The bound constants of the outer ForAll (if any) and the witness terms (functions of them) of the Exists."""


def _instantiate(c: z3.BoolRef, witness: Witness) -> Optional[z3.BoolRef]:
    """c of `_shape` with its existential replaced by the witness terms (a stronger formula)."""
    shape = _shape(c)
    if shape is None:
        return None
    outer, _, _ = shape
    rs, ws = witness
    if outer is not None:
        if outer.num_vars() != len(rs):
            return None
        c = _open(outer, rs)
    guard = None
    if z3.is_implies(c):
        guard, c = c.arg(0), c.arg(1)
    if not (z3.is_quantifier(c) and c.is_exists()) or c.num_vars() != len(ws):
        return None
    body = _open(c, ws)
    body = body if guard is None else z3.Implies(guard, body)
    return z3.ForAll(rs, body) if outer is not None else body


def _skolemize(e: z3.BoolRef, tag: str) -> tuple[z3.BoolRef, dict[int, Witness]]:
    """e with each top-level conjunct `[ForAll] [Implies] Exists` skolemized: constants, or functions
    of the ForAll's variables (equisatisfiable)."""
    parts = _conjuncts(e)
    out: list[z3.BoolRef] = []
    found: dict[int, Witness] = {}
    for k, c in enumerate(parts):
        shape = _shape(c)
        if shape is None:
            out.append(c)
            continue
        outer, _, ex = shape
        rs = _bound(outer, f"skr_{tag}_{k}") if outer is not None else []
        sorts = [ex.var_sort(i) for i in range(ex.num_vars())]
        if rs:
            fns = [z3.Function(f"sk_{tag}_{k}_{ex.var_name(i)}", *[r.sort() for r in rs], sorts[i]) for i in range(len(sorts))]
            ws = [f(*rs) for f in fns]
        else:
            ws = [z3.Const(f"sk_{tag}_{k}_{ex.var_name(i)}", sorts[i]) for i in range(len(sorts))]
        found[k] = (rs, ws)
        inst = _instantiate(c, (rs, ws))
        assert inst is not None
        out.append(inst)
    if not found:
        return e, found
    return (z3.And(out) if z3.is_and(e) else out[0]), found


def _with_witness(part: z3.BoolRef, witness: Optional[Witness]) -> Optional[z3.BoolRef]:
    """The conjunct with its existential instantiated by the pre-state's witness (a stronger goal), if it has one."""
    if witness is None:
        return None
    return _instantiate(part, witness)


def _flatten(e: z3.BoolRef) -> list[z3.BoolRef]:
    if z3.is_and(e):
        return [c for child in e.children() for c in _flatten(child)]
    return [e]


def _split(e: z3.BoolRef, rs: Sequence[z3.ExprRef]) -> list[z3.BoolRef]:
    """`[ForAll(rs,)] [Implies(g,)] And(c1, ...)` as one formula per conjunct ci (their conjunction is e).

    `rs`: the constants the ForAll is opened with (those of its witness), so that
    the pieces of a pre-state and a post-state formula can be compared by identity.
    """
    outer = z3.is_quantifier(e) and e.is_forall()
    if outer:
        if e.num_vars() != len(rs):
            return [e]
        e = _open(e, rs)
    guard = None
    if z3.is_implies(e):
        guard, e = e.arg(0), e.arg(1)
    pieces = _flatten(e)
    out = []
    for c in pieces:
        c = c if guard is None else z3.Implies(guard, c)
        out.append(z3.ForAll(list(rs), c) if outer else c)
    return out


def _record_sort(inst: Instance) -> z3.SortRef:
    from leaderfollower.checker.z3.model import RECORDS

    assert inst.mtype is not None
    return RECORDS[inst.mtype]


def _status(res: z3.CheckSatResult) -> str:
    if res == z3.unsat:
        return "proved"
    return "failed" if res == z3.sat else "unknown"


def _add_hypotheses(s: z3.Solver, hyps: dict[str, z3.BoolRef], track: bool) -> dict[str, z3.BoolRef]:
    tracked = {}
    for name, h in hyps.items():
        if track:
            b = z3.Bool(f"hyp:{name}")
            s.assert_and_track(h, b)
            tracked[name] = b
        else:
            s.add(h)
    return tracked


def _minimise(
    model: Z3Model,
    hyps: dict[str, z3.BoolRef],
    eff: object,
    post: Sym,
    name: str,
    used: tuple[str, ...],
    timeout_ms: int,
) -> tuple[str, ...]:
    """Drop lemmas from an unsat core one at a time while the query stays unsat."""
    keep = list(used)
    for cand in list(used):
        trial = [n for n in keep if n != cand]
        s = z3.Solver()
        s.set("timeout", timeout_ms)
        s.add(*[hyps[n] for n in trial])
        s.add(eff.guard, *eff.aux)  # type: ignore[attr-defined]
        s.add(z3.Not(_definition(name)(model, post)))
        if s.check() == z3.unsat:
            keep = trial
    return tuple(keep)


def _finite_bag(model: Z3Model, pre: Sym, slots: int) -> z3.BoolRef:
    """Every message array of pre holds at most `slots` records, all other counts 0."""
    from leaderfollower.checker.z3.model import RECORDS

    cs = []
    for key, arr in pre.vars.items():
        if key[0] != "net":
            continue
        value: z3.ExprRef = z3.K(RECORDS[key[1]], z3.IntVal(0))  # type: ignore[index]
        for k in range(slots):
            r = z3.Const(f"slot_{'_'.join(map(str, key))}_{k}", RECORDS[key[1]])  # type: ignore[index]
            value = z3.Store(value, r, z3.Int(f"slotcount_{'_'.join(map(str, key))}_{k}"))  # type: ignore[arg-type]
        cs.append(arr == value)
    return z3.And(cs)


def _bounded(model: Z3Model, pre: Sym) -> z3.BoolRef:
    """pre lies within the spec's bounds, with a finite bag of at most max_in_flight messages."""
    p = model.params
    cs = [_finite_bag(model, pre, 1)]
    for key, v in pre.vars.items():
        if key[0] == "term":
            cs.append(v <= p.max_term)
        elif key[0] == "len":
            cs.append(v <= p.max_log)
    counts = [z3.Int(f"slotcount_{'_'.join(map(str, key))}_0") for key in pre.vars if key[0] == "net"]
    cs += [z3.And(c >= 0, c <= p.max_copies) for c in counts]
    cs.append(z3.Sum([z3.If(c >= 1, 1, 0) for c in counts]) <= p.max_in_flight)
    return z3.And(cs)


def _decode_cti(
    solver: z3.Solver,
    model: Z3Model,
    pre: Sym,
    inst: Instance,
    rec: Optional[z3.ExprRef],
    post: Sym,
    reach: Optional[Callable[[State], Optional[bool]]],
) -> Optional[Cti]:
    """Decode a counterexample to induction, preferring one with a finite bag (a spec state)."""
    m = solver.model()
    for slots in (1, 2):
        solver.push()
        solver.add(_finite_bag(model, pre, slots))
        if solver.check() == z3.sat:
            m = solver.model()
            solver.pop()
            break
        solver.pop()
    return _cti_from(m, pre, inst, rec, post, reach)


def _cti_from(
    m: z3.ModelRef,
    pre: Sym,
    inst: Instance,
    rec: Optional[z3.ExprRef],
    post: Sym,
    reach: Optional[Callable[[State], Optional[bool]]],
) -> Cti:
    try:
        before = decode_state(m, pre)
        after = decode_state(m, post)
        action = decode_action(m, inst, rec)
    except DecodeError as exc:
        return Cti(State((), ()), Action(inst.name, ()), State((), ()), None, f"not decodable: {exc}")
    return Cti(before, action, after, reach(before) if reach else None)


def reachable_cti(
    spec: RaftSpec,
    result: Any,
    action: str,
    name: str,
    names: Sequence[str],
    timeout_ms: int = 60_000,
    source: str = "explorer's states",
) -> Optional[Cti]:
    """A counterexample to induction whose pre-state the explorer reached, confirmed by Z3.

    `result` is an explorer result, or any object with `distinct_states`, `state(k)`
    and `depth[k]` holding reachable states (`ScriptedRun`); `source` names it.
    Walks the explored states in breadth-first order (shortest first); a state whose
    successor under `action` breaks `name` by the Python definitions is a
    candidate, and Z3 confirms it: the concrete pre-state satisfies every conjunct
    in `names`, the instance is enabled, and `name` fails after it.
    """
    from leaderfollower.checker.z3.lemmas import LEMMAS as _LEMMAS
    from leaderfollower.spec.properties import property_by_name

    from leaderfollower.checker.z3.model import record_of

    def py_def(n: str) -> Callable[[RaftSpec, State], bool]:
        for lm in _LEMMAS:
            if lm.name == n and lm.holds is not None:
                return lm.holds
        prop = property_by_name(n)
        assert prop.holds is not None
        return prop.holds

    try:
        target = py_def(name)
        hyps_py = [py_def(n) for n in names]
    except (KeyError, AssertionError):
        return None
    model = Z3Model.for_spec(spec)
    for sid in range(result.distinct_states):
        before = result.state(sid)
        checked = False
        for act, after in spec.successors(before):
            if act.name != action or target(spec, after):
                continue
            if not checked:  # the (costlier) hypotheses only for a state whose step breaks the target
                if not all(h(spec, before) for h in hyps_py):
                    break
                checked = True
            # Confirm with Z3 on the concrete pre-state.
            pre = model.concrete(before)
            if act.args and isinstance(act.args[0], tuple):
                m = act.args[0]
                inst = Instance(act.name, (), m.mtype, m.msource, m.mdest)
                rec: Optional[z3.ExprRef] = record_of(m)
            else:
                inst = Instance(act.name, tuple(act.args))  # type: ignore[arg-type]
                rec = None
            eff, post = model.post_state(pre, inst, rec, tag="_reach")
            s = z3.Solver()
            s.set("timeout", timeout_ms)
            s.add(*[_definition(n)(model, pre) for n in names], eff.guard, *eff.aux, z3.Not(_definition(name)(model, post)))
            if s.check() == z3.sat:
                z3_after = decode_state(s.model(), post)
                return Cti(before, act, z3_after, True, f"found among the {source} (state {sid}, depth {result.depth[sid]})")
    return None


def explorer_reach(spec: RaftSpec) -> Callable[[State], Optional[bool]]:
    """A reachability oracle: whether the explorer reaches a state within the spec's bounds (None: unknown)."""
    from leaderfollower.checker.explore.search import explore

    cache: dict[str, object] = {}

    def result() -> Any:
        if "result" not in cache:
            # Stopping at the first violation keeps runs on broken variants short; a
            # state not found by an incomplete search has unknown reachability.
            cache["result"] = explore(spec, keep_graph=False, stop_on_violation=True)
        return cache["result"]

    scenario = getattr(type(spec), "scenario", None)
    scripted: dict[str, Optional[ScriptedRun]] = {}

    def scripted_run() -> Optional[ScriptedRun]:
        if "run" not in scripted:
            scripted["run"] = ScriptedRun.of(spec, scenario()) if callable(scenario) else None
        return scripted["run"]

    def reach(s: State) -> Optional[bool]:
        if s.servers and scripted_run() is not None and s in scripted_run().states:  # type: ignore[union-attr]
            return True  # on the spec's scripted run from the initial state: reachable, whatever the bounds
        if not s.servers or not spec.within_bounds(s):
            return False
        if result().find(s) is not None:
            return True
        return False if result().complete else None

    reach.result = result  # type: ignore[attr-defined]
    reach.scripted = scripted_run  # type: ignore[attr-defined]
    return reach


@dataclass
class ScriptedRun:
    """The states of a spec's scripted run (`scenario()`), a reachable path from Init.

    Looks like an explorer result to `reachable_cti`: `distinct_states`, `state(k)`,
    `depth[k]`.  Broken variants whose bug needs more than the explorer can finish
    (figure 8 needs five terms) carry such a run.
    """

    states: list[State]

    @classmethod
    def of(cls, spec: RaftSpec, actions: Sequence[Action]) -> "ScriptedRun":
        """Apply the actions from the initial state; ValueError if one is not enabled."""
        s = spec.init()
        states = [s]
        for k, a in enumerate(actions, start=1):
            nxt = spec.apply(s, a)
            if nxt is None:
                raise ValueError(f"scripted step {k} ({a}) is not enabled")
            s = nxt
            states.append(s)
        return cls(states)

    @property
    def distinct_states(self) -> int:
        """How many states the run has (the initial one included)."""
        return len(self.states)

    @property
    def depth(self) -> list[int]:
        """A state's step number on the run."""
        return list(range(len(self.states)))

    def state(self, k: int) -> State:
        """The state after k steps."""
        return self.states[k]


def all_lemmas() -> tuple[Lemma, ...]:
    """Every shipped lemma."""
    return LEMMAS
