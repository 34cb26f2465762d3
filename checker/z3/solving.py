"""Solving the obligations of an inductive proof: one `Task` in, one `Obligation` out.

How this works: an obligation `Inv and A => C'` is checked for each canonical
instance of A (`obligations.ProofContext.steps`).  Where the instance leaves C's
term unchanged it holds by the hypothesis.  Otherwise each top-level conjunct of C
after the step that is not literally one before it is one query (many small
queries are far cheaper than one whose negation is a wide disjunction), one per
orbit of those conjuncts under the permutations of the servers the instance does
not name, where the hypotheses and the step are invariant too (`symmetry.py`); an
existential conjunct is first tried with witnesses (hinted ones, then the
pre-state's).  A query that runs out of its first slice of time is retried with
only the hypotheses about the servers it involves (sound: a proof from fewer facts
is a proof), then in a fresh solver with every hypothesis.  A satisfiable query is
a counterexample to induction, decoded into spec states; whether it is reachable
is the caller's question (`reach.py`), since answering it needs the explorer.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import z3

from leaderfollower.checker.z3.decode import DecodeError, decode_action, decode_state
from leaderfollower.checker.z3.lemmas import WITNESS_HINTS
from leaderfollower.checker.z3.model import RECORDS, Effect, Instance, Sym, Z3Model
from leaderfollower.checker.z3.obligations import (
    ProofContext,
    ProofTerms,
    ServerIndex,
    Task,
    Witness,
    assumed_conjuncts,
    conjuncts,
    context_for,
    definition,
    flat_conjuncts,
    instantiate,
    new_conjuncts,
    split,
    term_hash,
)
from leaderfollower.checker.z3.results import IMPLIED, Cti, Obligation
from leaderfollower.checker.z3.symmetry import Symmetry, arrangements
from leaderfollower.spec.actions import Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State

RETRY_AFTER_MS = 10_000
"""How long an obligation's incremental query runs before a fresh solver retries it."""

SLICED_MS = 20_000
"""How long the query with only the hypotheses about its servers runs before the fresh solver gets every one."""

WITNESS_MS = 20_000
"""How long each piece of a conjunct is tried with a given witness before Z3 searches for one."""

Answer = tuple[z3.CheckSatResult, z3.Solver]
"""A query's answer and the solver that gave it (holding its model when sat)."""


@dataclass(frozen=True)
class ProofSetup(ProofTerms):
    """A fixed-size proof as a worker rebuilds it (`ProofTerms`), solved by `solve`."""

    def solve(self, task: Task) -> Obligation:
        """`solve` in this process."""
        return solve(task)

    def term_hash(self, task: Task) -> str:
        """`term_hash` on this process's context."""
        return term_hash(context_for(self), task)


def plan(setup: ProofSetup, actions: Sequence[str], only: Optional[Sequence[str]], timeout_ms: int, support: bool) -> list[Task]:
    """Every obligation of the proof, in the order they are reported: Implied, Init per conjunct, then by action."""
    checked = setup.names[1:] if setup.derived else setup.names
    wanted = [n for n in checked if only is None or n in only]
    tasks = [Task(setup, setup.prop, IMPLIED, timeout_ms)] if setup.derived else []
    tasks += [Task(setup, n, None, timeout_ms, support) for n in wanted]
    tasks += [Task(setup, n, a, timeout_ms, support) for a in actions for n in wanted]
    return tasks



def solve(task: Task) -> Obligation:
    """Solve one obligation in this process (the proof's terms are built on first use and kept)."""
    assert isinstance(task.setup, ProofSetup), task.setup
    ctx = context_for(task.setup)
    t0 = time.perf_counter()
    if task.action == IMPLIED:
        ob = _solve_implied(ctx, task)
    elif task.action is None:
        ob = _solve_init(ctx, task)
    else:
        ob = _solve_step(ctx, task)
    ob.seconds = time.perf_counter() - t0
    return ob


def status_of(res: z3.CheckSatResult) -> str:
    """proved (unsat), failed (sat) or unknown."""
    if res == z3.unsat:
        return "proved"
    return "failed" if res == z3.sat else "unknown"


def _reason(res: z3.CheckSatResult, s: z3.Solver) -> str:
    return "" if res != z3.unknown else s.reason_unknown()


def _solve_implied(ctx: ProofContext, task: Task) -> Obligation:
    """The lemmas imply the property in every state (one query)."""
    assumed = [n for n in assumed_conjuncts(task.lemma, IMPLIED, ctx.names) if n != task.lemma]
    res, s = fresh_check([ctx.hyps[n] for n in assumed], None, ctx.plain[task.lemma], task.timeout_ms)
    ob = Obligation(task.lemma, IMPLIED, status_of(res), reason=_reason(res, s))
    if res == z3.sat:
        ob.cti = _implied_counterexample(s, ctx.pre)
    return ob


def _solve_init(ctx: ProofContext, task: Task) -> Obligation:
    s = z3.Solver()
    s.set("timeout", task.timeout_ms)
    s.add(z3.Not(definition(task.lemma)(ctx.model, ctx.model.concrete(RaftSpec(ctx.setup.params).init()))))
    res = s.check()
    return Obligation(task.lemma, None, status_of(res), reason=_reason(res, s))


def _solve_step(ctx: ProofContext, task: Task) -> Obligation:
    """`Inv and action => lemma'` for each canonical instance of the action; the first that fails decides."""
    assert task.action is not None
    ob = Obligation(task.lemma, task.action, "proved")
    for k, (inst, rec, eff, post) in enumerate(ctx.steps(task.action)):
        goal = definition(task.lemma)(ctx.model, post)
        if z3.eq(goal, ctx.plain[task.lemma]) and not task.support:
            continue  # the action changes nothing the lemma reads
        query = Query(ctx, post, inst, rec, eff, task.lemma, task.timeout_ms)
        assumed = ctx.assumed(task.lemma, task.action)
        res, witness, support = _check_instance(ctx, query, k, assumed, goal, task.support)
        # One canonical instance stands for every instance naming as many distinct servers.
        ob.queries += query.queries
        ob.instances += query.covers * arrangements(ctx.model.n, len(query.fixed))
        if support is not None:
            ob.support = tuple(sorted(set(ob.support or ()) | set(support), key=ctx.names.index))
        if res == z3.unsat:
            continue
        ob.status, ob.reason = status_of(res), _reason(res, witness)
        if res == z3.sat:
            ob.cti = decode_cti(witness, ctx.model, ctx.pre, inst, rec, post)
        if witness is ctx.solvers.get((task.action, k, assumed)):
            witness.pop()  # type: ignore[union-attr]  # the failed query's scope, kept open for the counterexample's decoding
        break
    return ob


def _check_instance(
    ctx: ProofContext, query: "Query", k: int, assumed: tuple[str, ...], goal: z3.BoolRef, support: bool
) -> tuple[z3.CheckSatResult, z3.Solver, Optional[tuple[str, ...]]]:
    """One instance of an obligation: (answer, the solver holding its model, the lemmas used when `support`)."""
    name = query.name
    if support and ctx.skolems[name]:
        # An existential lemma: its proof goes through witnesses, which an unsat core of
        # one query cannot see; minimise by deletion instead.
        res, witness = query.check(z3.Solver(), assumed)
        return res, witness, (query.minimal(assumed) if res == z3.unsat else None)
    action = query.inst.name
    s = ctx.solvers.get((action, k, assumed))
    if s is None:
        s = ctx.solvers[(action, k, assumed)] = z3.Solver()
        s.set("timeout", query.timeout_ms)
        add_hypotheses(s, {n: ctx.hyps[n] for n in assumed}, track=support)
        s.add(query.eff.guard, *query.eff.aux)
    if not support:
        # Leaves s's scope open when s itself answered sat or unknown.
        res, witness = query.check(s, assumed, goal)
        return res, witness, None
    s.push()
    s.add(z3.Not(goal))
    res = s.check()
    used: Optional[tuple[str, ...]] = None
    if res == z3.unsat:
        core = {str(c) for c in s.unsat_core()}
        used = tuple(n for n in ctx.names if f"hyp:{n}" in core)
        used = minimise(ctx.model, ctx.hyps, query.eff, query.post, name, used, query.timeout_ms)
        s.pop()
    return res, s, used


def fresh_check(hyps: list[z3.BoolRef], eff: Optional[Effect], part: z3.BoolRef, timeout_ms: int) -> Answer:
    """hyps (and the step's guard) with `part` negated, in a new solver."""
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*hyps)
    if eff is not None:
        s.add(eff.guard, *eff.aux)
    s.add(z3.Not(part))
    return s.check(), s


class Query:
    """One obligation for one action instance: the lemma after the step, from the assumed lemmas before it."""

    def __init__(self, ctx: ProofContext, post: Sym, inst: Instance, rec: Optional[z3.ExprRef], eff: Effect, name: str, timeout_ms: int) -> None:
        self.ctx, self.post, self.inst, self.rec, self.eff = ctx, post, inst, rec, eff
        self.name, self.timeout_ms = name, timeout_ms
        self.fixed = sorted({k for k in (*inst.args, inst.src, inst.dst) if k >= 0})
        """The servers the instance names (a permutation of the others leaves the instance as it is)."""
        self.queries = 0
        """How many conjunct queries the last `check` solved (one per orbit)."""
        self.covers = 0
        """How many conjuncts of the lemma after the step those queries stand for."""

    def check(self, s: z3.Solver, assumed: Sequence[str], goal: Optional[z3.BoolRef] = None) -> Answer:
        """unsat (proved) or the first answer that is not, with the solver holding its model.

        `s` holds the assumed hypotheses and the step's guard already, unless it is
        empty (then they are added).  One query per top-level conjunct of the lemma
        that the step may change (a conjunct equal to the hypothesis's is skipped).
        An existential conjunct is first tried with witnesses.
        """
        ctx = self.ctx
        if not s.assertions():
            s.set("timeout", self.timeout_ms)
            s.add(*[ctx.hyps[n] for n in assumed], self.eff.guard, *self.eff.aux)
        if goal is None:
            goal = definition(self.name)(ctx.model, self.post)
        parts = new_conjuncts(goal, ctx.plain[self.name])
        self.queries = self.covers = 0
        for group in self._orbits(parts, assumed):
            index, part = parts[group[0]]  # its query is each other member's up to a renaming of servers
            self.queries += 1
            self.covers += len(group)
            if index in ctx.skolems[self.name] and self._witness_holds(s, index, part):
                continue
            res, witness = self._check_part(s, assumed, part)
            if res != z3.unsat:
                return res, witness
        return z3.unsat, s

    def _orbits(self, parts: list[tuple[int, z3.BoolRef]], assumed: Sequence[str]) -> list[list[int]]:
        """The conjuncts grouped into orbits under the permutations that fix the instance, the hypotheses and the step."""
        if len(parts) < 2 or len(self.fixed) >= self.ctx.model.n - 1:
            return [[k] for k in range(len(parts))]
        sym = symmetry_of(self.ctx)
        gens = sym.generators(self.fixed, assumed, flat_conjuncts(z3.And(self.eff.guard, *self.eff.aux)))
        if not gens:
            return [[k] for k in range(len(parts))]
        return sym.orbits([p for _, p in parts], gens)

    def _check_part(self, s: z3.Solver, assumed: Sequence[str], part: z3.BoolRef) -> Answer:
        """One conjunct: incrementally, then sliced, then fresh.  s's scope stays open when s answered."""
        s.push()
        s.add(z3.Not(part))
        s.set("timeout", min(self.timeout_ms, RETRY_AFTER_MS))
        res = s.check()
        witness = s
        if res == z3.unknown and self.timeout_ms > RETRY_AFTER_MS:
            # First the same query with only the hypotheses about the servers it
            # involves: on 5 servers it is about the 3-server query, which Z3 settles
            # where the facts about the bystanders drown its instantiation.  If that
            # is not a proof, a fresh solver with every hypothesis: the incremental
            # one gives up on some quantified queries that a fresh one (with its full
            # preprocessing) settles in a second.
            assumed_hyps = [self.ctx.hyps[n] for n in assumed]
            res, witness = sliced_check(self.ctx.servers_of, assumed_hyps, self.eff, part, self.inst, min(self.timeout_ms, SLICED_MS))
            if res != z3.unsat:
                res, witness = fresh_check(assumed_hyps, self.eff, part, self.timeout_ms)
        s.set("timeout", self.timeout_ms)
        if res == z3.unsat or witness is not s:
            s.pop()
        return res, witness

    def _witness_holds(self, s: z3.Solver, index: int, part: z3.BoolRef) -> bool:
        """The conjunct holds after the step with a hinted witness or the pre-state's, piece by piece.

        The conjunct instantiated with the witness is split into its conjuncts; with the
        pre-state's witness, those that are the same term as before the step hold by the
        hypothesis, the others are one query each.
        """
        ctx, name = self.ctx, self.name
        own = ctx.skolems[name][index]
        for witness in [*self._hinted(index), own]:  # a hint is given where the pre-state's witness is known not to do
            strong = instantiate(part, witness)
            if strong is None:
                continue
            kept: list[z3.BoolRef] = []
            if witness is own:
                before = instantiate(conjuncts(ctx.plain[name])[index], witness)
                kept = split(before, witness[0]) if before is not None else []  # kept alive: a freed term's id can be reused
            if self._pieces_hold(s, split(strong, witness[0]), {c.get_id() for c in kept}):
                return True
        return False

    def _pieces_hold(self, s: z3.Solver, pieces: list[z3.BoolRef], old: set[int]) -> bool:
        for piece in pieces:
            if piece.get_id() in old:
                continue
            s.push()
            s.add(z3.Not(piece))
            s.set("timeout", min(self.timeout_ms, WITNESS_MS))
            res = s.check()
            s.pop()
            s.set("timeout", self.timeout_ms)
            if res != z3.unsat:
                return False
        return True

    def _hinted(self, index: int) -> list[Witness]:
        """Candidate witnesses from `lemmas.WITNESS_HINTS` (other lemmas' skolems applied to the step's message)."""
        hint = WITNESS_HINTS.get(self.name)
        if hint is None:
            return []
        skolems, rec = self.ctx.skolems, self.rec

        def skolem(lemma: str, k: int) -> Optional[list[z3.ExprRef]]:
            w = skolems.get(lemma, {}).get(k)
            if w is None:
                return None
            rs, ws = w
            if rs and rec is not None and len(rs) == 1 and rs[0].sort() == rec.sort():
                return [z3.substitute(x, (rs[0], rec)) for x in ws]
            return None if rs else ws

        rs, own = skolems[self.name][index]
        return [(rs, list(ws)) for ws in hint(self.ctx.model, self.ctx.pre, self.post, index, self.inst, rec, skolem, rs, own)]

    def minimal(self, assumed: Sequence[str]) -> tuple[str, ...]:
        """The assumed lemmas, each dropped in turn while the obligation stays proved (the lemma itself is kept)."""
        keep = list(assumed)
        counts = self.queries, self.covers  # the obligation's, not the trials'
        for cand in list(assumed):
            if cand == self.name:
                continue
            trial = [n for n in keep if n != cand]
            if self.check(z3.Solver(), trial)[0] == z3.unsat:
                keep = trial
        self.queries, self.covers = counts
        return tuple(keep)


_SYMMETRY: dict[ProofTerms, Symmetry] = {}


def symmetry_of(ctx: ProofContext) -> Symmetry:
    """This process's server permutations of a proof (one proof at a time, as its context)."""
    sym = _SYMMETRY.get(ctx.setup)
    if sym is None or sym.pre is not ctx.pre:  # the context was rebuilt: so are its permutations
        _SYMMETRY.clear()
        sym = _SYMMETRY[ctx.setup] = Symmetry(ctx.pre, {name: flat_conjuncts(ctx.plain[name]) for name in ctx.names})
    return sym


def sliced_check(servers_of: ServerIndex, hyps: list[z3.BoolRef], eff: Any, part: z3.BoolRef, inst: Any, timeout_ms: int) -> Answer:
    """The query with only the hypothesis conjuncts that read no server beyond the goal's and the step's.

    Only an `unsat` answer counts (a proof from fewer facts is a proof); a model of
    the sliced query may break a dropped hypothesis, so it is no counterexample.
    Returns `unknown` at once when no conjunct would be dropped.
    """
    scope = set(servers_of(part)) | set(servers_of(eff.guard)) | {k for k in (*inst.args, inst.src, inst.dst) if k >= 0}
    every = [c for h in hyps for c in flat_conjuncts(h)]
    kept = [c for c in every if servers_of(c) <= scope]
    if len(kept) == len(every):
        return z3.unknown, z3.Solver()  # nothing to drop: the fresh check follows
    res, s = fresh_check(kept, eff, part, timeout_ms)
    return (res if res == z3.unsat else z3.unknown), s


def add_hypotheses(s: z3.Solver, hyps: dict[str, z3.BoolRef], track: bool) -> dict[str, z3.BoolRef]:
    """Assert the hypotheses, each tracked by a Boolean `hyp:NAME` when `track` (for unsat cores)."""
    tracked = {}
    for name, h in hyps.items():
        if track:
            b = z3.Bool(f"hyp:{name}")
            s.assert_and_track(h, b)
            tracked[name] = b
        else:
            s.add(h)
    return tracked


def minimise(model: Z3Model, hyps: dict[str, z3.BoolRef], eff: Effect, post: Sym, name: str, used: tuple[str, ...], timeout_ms: int) -> tuple[str, ...]:
    """Drop lemmas from an unsat core one at a time while the query stays unsat."""
    keep = list(used)
    for cand in list(used):
        trial = [n for n in keep if n != cand]
        s = z3.Solver()
        s.set("timeout", timeout_ms)
        s.add(*[hyps[n] for n in trial])
        s.add(eff.guard, *eff.aux)
        s.add(z3.Not(definition(name)(model, post)))
        if s.check() == z3.unsat:
            keep = trial
    return tuple(keep)


# ------------------------------------------------------ counterexamples


def _finite_bag(pre: Sym, slots: int) -> z3.BoolRef:
    """Every message array of pre holds at most `slots` records, all other counts 0."""
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


def decode_cti(solver: z3.Solver, model: Z3Model, pre: Sym, inst: Instance, rec: Optional[z3.ExprRef], post: Sym) -> Cti:
    """Decode a counterexample to induction, preferring one with a finite bag (a spec state)."""
    m = solver.model()
    for slots in (1, 2):
        solver.push()
        solver.add(_finite_bag(pre, slots))
        if solver.check() == z3.sat:
            m = solver.model()
            solver.pop()
            break
        solver.pop()
    try:
        before = decode_state(m, pre)
        after = decode_state(m, post)
        action = decode_action(m, inst, rec)
    except DecodeError as exc:
        return Cti(State((), ()), Action(inst.name, ()), State((), ()), None, f"not decodable: {exc}")
    return Cti(before, action, after)


def _implied_counterexample(solver: z3.Solver, pre: Sym) -> Cti:
    """A state that satisfies the lemmas but not the property (the 'step' is the empty one)."""
    try:
        before = decode_state(solver.model(), pre)
    except DecodeError as exc:
        return Cti(State((), ()), Action(IMPLIED, ()), State((), ()), None, f"not decodable: {exc}")
    return Cti(before, Action(IMPLIED, ()), before, None, "the lemmas hold here and the property does not")


Solver = Callable[[Task], Obligation]
"""What solves one task (`solve`, or a test's stand-in run through the same worker pool)."""
