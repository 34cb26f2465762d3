"""Inductive proofs for every number of servers, on the parametric encoding.

How this works: the obligations are those of the fixed-size proof (`Init => C`,
and `Inv and A => C'` for every action A and conjunct C of the invariant), with
three differences.  Each action is one instance with symbolic servers, so there
are no canonical instances to pick.  Every query also assumes the quorum axiom.
And Init is itself quantified over servers.  Each conjunct's definition is a
list of closed formulas, one query each after the step.

What a proof here covers, and what it assumes (docs/z3.md): every set of servers,
finite or infinite, with any quorum system in which two quorums always share a
member (the majorities of N servers, for every N); unbounded terms, logs and
message bag, as in the fixed-size proofs.  The queries quantify over servers,
quorums, message records and integers, with linear arithmetic and an alternation
between servers and quorums both ways (a leader has a quorum; two quorums have a
common server): outside EPR, so Z3 decides them with incomplete quantifier
instantiation (E-matching and model-based).  `unsat` is a proof; `sat` comes with
a model Z3 has checked, so a counterexample to induction is genuine for the
quorum system of that model; `unknown` (a query out of its budget: `budget.py`) is
possible and reported so.

A counterexample is decoded at the size of its model (`decode.py`): N servers,
the model's quorums.  Its pre-state is then checked for reachability by the
explorer at N servers (the spec's own bounds, N at most `REACH_MAX_SERVERS`), and,
as for the fixed-size proofs, the explorer's states at the spec's own size are
searched for a concrete counterexample that the fixed-size encoding confirms.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import Callable, Optional, Sequence

import z3

from leaderfollower.checker.z3.isolation import Limits, OnDone, run_proof
from leaderfollower.checker.z3.model import MESSAGE_TYPE_NAMES, RECORDS, switches_for
from leaderfollower.checker.z3.model import field as rfield
from leaderfollower.checker.z3.obligations import Task, assumed_conjuncts, one_at_a_time
from leaderfollower.checker.z3.parametric.budget import Budget, Meter, check_with, metered_check, new_solver, unknown_reason
from leaderfollower.checker.z3.parametric.decode import decode_cti
from leaderfollower.checker.z3.lemmas import DERIVED
from leaderfollower.checker.z3.parametric.lemmas import PARAMETRIC_ASSUMES, PARAMETRIC_LEMMAS, PARAMETRIC_PROOFS
from leaderfollower.checker.z3.parametric.witnesses import SKOLEMIZED, WITNESSED_GOALS, LogSafetyWitnesses
from leaderfollower.checker.z3.parametric.model import ParametricModel, PEffect, PInstance, PSym, Quorum, Server, fresh, member, servers_of_size
from leaderfollower.checker.z3.reach import explorer_reach, reachable_cti
from leaderfollower.checker.z3.results import IMPLIED, Cti, InductionResult, Obligation, ProgressFn
from leaderfollower.spec.params import Params
from leaderfollower.spec.actions import ACTION_NAMES
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State

JUDGE_MS = 60_000
"""Wall clock of the fixed-size queries that look for a reachable counterexample: they only decide whether a
failure is shown reachable, never whether anything is proved."""

REACH_MAX_SERVERS = 3
"""The largest size searched for a counterexample, and asked about of the explorer (whose space grows fast)."""

BAG_SLOTS = 2
"""How many distinct records of each message type a finite counterexample may have in flight."""


def finite_size(spec_class: type[RaftSpec], n: int, values: int) -> list[z3.BoolRef]:
    """Exactly n servers, and as quorums the spec's own minimal quorums of n servers (`RaftSpec.is_quorum`)."""
    spec = spec_class(Params(servers=n, values=values))
    servers = servers_of_size(n)
    subsets = [frozenset(c) for size in range(n + 1) for c in combinations(range(n), size)]
    quorums = [q for q in subsets if spec.is_quorum(q) and not any(spec.is_quorum(q - {k}) for k in q)]
    qs = [z3.Const(f"Q{k}", Quorum) for k in range(len(quorums))]
    s, q = z3.Const("fs", Server), z3.Const("fq", Quorum)
    out = [z3.ForAll([s], z3.Or([s == x for x in servers])), z3.ForAll([q], z3.Or([q == x for x in qs]) if qs else z3.BoolVal(False))]
    if n > 1:
        out.append(z3.Distinct(*servers))
    if len(qs) > 1:
        out.append(z3.Distinct(*qs))
    out += [member(x, qk) == z3.BoolVal(i in quorum) for quorum, qk in zip(quorums, qs) for i, x in enumerate(servers)]
    return out


def slot_records() -> dict[str, list[z3.ExprRef]]:
    """The records a finite counterexample's bag may hold, per message type (constants for Z3 to choose)."""
    return {m: [z3.Const(f"slot_{m}_{k}", RECORDS[m]) for k in range(BAG_SLOTS)] for m in MESSAGE_TYPE_NAMES}


def finite_bag(s: PSym, slots: dict[str, list[z3.ExprRef]]) -> list[z3.BoolRef]:
    """No negative count, and only the slot records in flight."""
    out = []
    for mtype, recs in slots.items():
        src, dst = z3.Consts("fb_src fb_dst", Server)
        r = z3.Const("fb_r", RECORDS[mtype])
        count = s.count(mtype, src, dst, r)
        out.append(z3.ForAll([src, dst, r], z3.And(count >= 0, z3.Implies(count >= 1, z3.Or([r == x for x in recs])))))
    return out


def within_bounds(s: PSym, params: Params) -> list[z3.BoolRef]:
    """Terms, logs and indexes within the spec's bounds (a preference: such a counterexample may be reachable)."""
    i, j = z3.Consts("wb_i wb_j", Server)
    top = params.max_log
    per_server = z3.And(s.term(i) <= params.max_term, s.len(i) <= top, s.commit(i) <= top)
    per_pair = z3.And(s.next(i, j) <= top + 1, s.match(i, j) <= top)
    out = [z3.ForAll([i], per_server), z3.ForAll([i, j], per_pair)]
    for mtype in MESSAGE_TYPE_NAMES:
        r = z3.Const("wb_r", RECORDS[mtype])
        count = s.count(mtype, i, j, r)
        out.append(z3.ForAll([i, j, r], z3.And(count <= params.max_copies, z3.Implies(count >= 1, rfield(r, "mterm") <= params.max_term))))
    return out


_SCOPES: tuple[tuple[str, ...], ...] = (
    ("ElectionSafety", *PARAMETRIC_PROOFS["ElectionSafety"]),
    ("LogMatching", *PARAMETRIC_PROOFS["LogMatching"]),
)
"""The invariants of the smaller proofs, smallest first: what a lemma of one of them assumes in a larger proof."""


def _parts(f: z3.BoolRef) -> list[z3.BoolRef]:
    """f as a conjunction of smaller formulas: through And, the consequent of Implies and the last of Or."""
    if z3.is_and(f):
        return [p for c in f.children() for p in _parts(c)]
    if z3.is_implies(f):
        g, then = f.children()
        return [z3.Implies(g, p) for p in _parts(then)]
    if z3.is_or(f) and f.num_args() > 1:
        *prefix, last = f.children()
        return [z3.Or(*prefix, p) for p in _parts(last)]
    return [f]


def split_goal(goal: z3.BoolRef) -> list[z3.BoolRef]:
    """A goal `ForAll xs: g => (A and B and ...)` as the goals `ForAll xs: g => A`, ...: equivalent together, and
    each a smaller query (as the fixed-size proofs check one conjunct at a time).  The split goes through nested
    implications, conjunctions and the last disjunct; other goals stay whole."""
    if not (z3.is_quantifier(goal) and goal.is_forall()):
        return [goal]
    xs, body = _bound(goal, "")  # the same names: its parts open to the constants the whole goal opens to
    parts = _parts(body)
    if len(parts) == 1:
        return [goal]
    return [z3.ForAll(xs, p) for p in parts]


def _bound(q: z3.QuantifierRef, tag: str) -> tuple[list[z3.ExprRef], z3.ExprRef]:
    """The quantifier's variables as constants (named after them, with `!tag` unless tag is empty) and its body."""
    xs = [z3.Const(f"{q.var_name(k)}!{tag}" if tag else q.var_name(k), q.var_sort(k)) for k in range(q.num_vars())]
    return xs, z3.substitute_vars(q.body(), *reversed(xs))


def open_goal(goal: z3.BoolRef, tag: str) -> tuple[list[z3.BoolRef], z3.BoolRef]:
    """`ForAll xs: g => ForAll ys: h => body` as facts [g, h] and the goal body about fresh constants for xs, ys.

    The goal holds exactly when the body follows from the facts for arbitrary constants (they are fresh), so a
    proof of the opened goal is a proof of the goal; naming the constants lets the caller name terms about them.
    """
    facts: list[z3.BoolRef] = []
    depth = 0
    while True:
        if z3.is_or(goal) and z3.is_quantifier(goal.children()[-1]):
            # d1 or ... or ForAll ...: prove the last from the negations of the others.
            *others, goal = goal.children()
            facts += [z3.Not(d) for d in others]
        if z3.is_implies(goal):
            g, goal = goal.children()
            facts.append(g)
            continue
        if not (z3.is_quantifier(goal) and goal.is_forall()):
            return facts, goal
        _, body = _bound(goal, f"{tag}{depth}")
        depth += 1
        if z3.is_implies(body):
            g, goal = body.children()
            facts.append(g)
        else:
            goal = body


def ground_terms(fs: Sequence[z3.ExprRef], sort: z3.SortRef) -> list[z3.ExprRef]:
    """The terms of the sort that occur in the formulas and read no quantified variable (under a quantifier too)."""
    found: dict[int, z3.ExprRef] = {}
    ground: dict[int, bool] = {}

    def visit(e: z3.ExprRef) -> bool:
        key = e.get_id()
        if key in ground:
            return ground[key]
        if z3.is_var(e):
            ok = False
        elif z3.is_quantifier(e):
            visit(e.body())
            ok = False
        else:
            ok = all([visit(c) for c in e.children()])
            if ok and e.sort() == sort:
                found[key] = e
        ground[key] = ok
        return ok

    for f in fs:
        visit(f)
    return list(found.values())


def refuted_instances(facts: Sequence[z3.BoolRef], quorums: Sequence[z3.ExprRef]) -> list[z3.BoolRef]:
    """For each fact `not (... or Exists q: P(q) or ...)` (q a quorum): `not P(Q)` for each of the quorum terms Q.

    Instances of a universal fact (`not Exists` is `ForAll not`), named so that Z3 need not find them: the
    "doomed" quorum of a leader's entry is one of the goal's reached quorums.
    """
    out: list[z3.BoolRef] = []
    for f in facts:
        if not z3.is_not(f):
            continue
        inner = f.children()[0]
        for d in inner.children() if z3.is_or(inner) else [inner]:
            if z3.is_quantifier(d) and d.is_exists() and d.num_vars() == 1 and d.var_sort(0) == Quorum:
                out += [z3.Not(z3.substitute_vars(d.body(), q)) for q in quorums]
    return out


def _is_function_application(t: z3.ExprRef) -> bool:
    """An uninterpreted function applied to arguments (a state reading such as term(s0), or a Skolem witness)."""
    return bool(z3.is_app(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED and t.num_args() > 0)


def quorum_instances(quorums: Sequence[z3.ExprRef], tag: str) -> list[z3.BoolRef]:
    """The quorum axiom for each pair of the given quorum terms: a named common member (instances of the axiom)."""
    out = []
    for a in range(len(quorums)):
        for b in range(a + 1, len(quorums)):
            m = z3.Const(f"common!{tag}{a}_{b}", Server)
            out.append(z3.And(member(m, quorums[a]), member(m, quorums[b])))
    return out


@dataclass(frozen=True)
class ParametricSetup:
    """A parametric proof, as a worker rebuilds it: the spec class (the variant), the values, the conjuncts."""

    spec_class: type[RaftSpec]
    params: Params
    """The spec's parameters: its values, and the bounds a counterexample is first looked for within."""
    prop: str
    names: tuple[str, ...]
    """The property and its lemmas, property first."""
    budget: Budget = Budget()
    """Each query's limits: Z3 resource units, and the wall clock as a safety net."""

    @property
    def derived(self) -> bool:
        """Proved by implication (`lemmas.DERIVED`): the lemmas are the inductive invariant, the property follows."""
        return self.prop in DERIVED

    @property
    def checked(self) -> tuple[str, ...]:
        """The conjuncts of the inductive invariant (a derived property is not one of them)."""
        return self.names[1:] if self.derived else self.names

    def solve(self, task: Task) -> Obligation:
        """One obligation of this proof, in this process."""
        ctx = _context_for(self)
        t0 = time.perf_counter()
        ctx.meter = Meter()
        ob = ctx.solve(task)
        ob.seconds = time.perf_counter() - t0
        ob.rlimit = ctx.meter.largest
        return ob

    def term_hash(self, task: Task) -> str:
        """sha256 over the obligation's hypotheses, guards and goals."""
        return _context_for(self).term_hash(task)


class ParametricContext:
    """One parametric proof's terms in one process."""

    def __init__(self, setup: ParametricSetup) -> None:
        self.setup = setup
        self.model = ParametricModel(switches_for(setup.spec_class), setup.params.values)
        self.pre = fresh("pre")
        self.hyps = {name: PARAMETRIC_LEMMAS[name].conjuncts(self.pre) for name in setup.checked}
        self._steps: dict[str, list[tuple[PInstance, PEffect, PSym]]] = {}
        self.witnesses = LogSafetyWitnesses()
        self.meter = Meter()
        """The resource units of the current obligation's queries."""
        self.full_rlimit = setup.budget.rlimit
        """The units of a full query of the current obligation (an Implied one has its own budget)."""

    def _unsat(self, fs: Sequence[z3.BoolRef], quick: bool = False) -> bool:
        """Whether the formulas are unsatisfiable within a query's budget (the quick one's, if `quick`)."""
        b = self.setup.budget
        return bool(check_with(fs, b.quick_rlimit if quick else self.full_rlimit, b.timeout_ms, self.meter) == z3.unsat)

    def _solver(self) -> z3.Solver:
        """A solver with a full query's limits."""
        return new_solver(self.full_rlimit, self.setup.budget.timeout_ms)

    def steps(self, action: str) -> list[tuple[PInstance, PEffect, PSym]]:
        """The action's instances (one per message type for a handler) applied to the pre-state (the last action's kept)."""
        if action not in self._steps:
            out = []
            for k, inst in enumerate(self.model.instances):
                if inst.name == action:
                    eff, post = self.model.post_state(self.pre, inst, f"_{k}")
                    out.append((inst, eff, post))
            self._steps = {action: out}
        return self._steps[action]

    def assumed(self, lemma: str, action: str) -> tuple[str, ...]:
        """The conjuncts the obligation assumes (the `ASSUMES` hints apply, by name; for Implied, every lemma)."""
        if action == IMPLIED:
            return self.setup.checked
        hint = PARAMETRIC_ASSUMES.get(f"{lemma}/{action}")
        if hint is not None:
            return (lemma, *hint)
        # A lemma of a smaller proof (ElectionSafety's, LogMatching's) assumes that proof's invariant only: less
        # to instantiate, and a stronger statement (with the whole log-safety invariant Z3 gave up on four of them).
        scope = next((names for names in _SCOPES if lemma in names and set(names) <= set(self.setup.checked)), self.setup.checked)
        return assumed_conjuncts(lemma, action, scope)

    def assumptions(self, lemma: str, action: str) -> list[z3.BoolRef]:
        """The quorum axiom and the conjuncts the obligation assumes."""
        return [*self.model.axioms(), *[c for n in self.assumed(lemma, action) for c in self.hyps[n]]]

    def goals(self, task: Task, post: Optional[PSym]) -> list[z3.BoolRef]:
        return PARAMETRIC_LEMMAS[task.lemma].conjuncts(post if post is not None else self.pre)

    def term_hash(self, task: Task) -> str:
        h = hashlib.sha256(f"parametric\0{task.lemma}\0{task.action}\0".encode())
        if task.action is None:
            h.update(z3.And(self.model.init(self.pre), *self.goals(task, None)).sexpr().encode())
            return h.hexdigest()
        if task.action == IMPLIED:
            h.update(z3.And(*self.assumptions(task.lemma, task.action), *self.goals(task, None)).sexpr().encode())
            return h.hexdigest()
        for c in self.assumptions(task.lemma, task.action):
            h.update(c.sexpr().encode())
        for inst, eff, post in self.steps(task.action):
            h.update(str(inst).encode() + z3.And(eff.guard, *eff.aux).sexpr().encode())
            for g in self.goals(task, post):
                h.update(g.sexpr().encode())
            witnessed = self.witnessed(task, inst, eff, post)
            if witnessed is not None:
                h.update(z3.And(*witnessed[0], *witnessed[1]).sexpr().encode())
        return h.hexdigest()

    def skolem_hypotheses(self, lemma: str, action: str, inst: PInstance, eff: PEffect) -> list[z3.BoolRef]:
        """The obligation's hypotheses with its existential lemmas in Skolem form, and the step's named quorum
        (`LogSafetyWitnesses`): equisatisfiable with the plain hypotheses and guard."""
        names = self.assumed(lemma, action)
        hyps = [*self.model.axioms(), *[c for n in names if n not in SKOLEMIZED for c in self.hyps[n]]]
        hyps += self.witnesses.hypotheses(self.pre, frozenset(names))
        return hyps + self.witnesses.step_facts(self.pre, inst, eff)

    def witnessed(self, task: Task, inst: PInstance, eff: PEffect, post: PSym) -> Optional[tuple[list[z3.BoolRef], list[z3.BoolRef]]]:
        """For an existential lemma (`witnesses.WITNESSED_GOALS`): the query with Skolem witnesses in its
        hypotheses and named witnesses in its goals (`LogSafetyWitnesses`); None for the others."""
        if task.lemma not in WITNESSED_GOALS or task.action is None:
            return None
        goals = self.witnesses.goals(task.lemma, self.pre, post, inst, eff)
        if goals is None:
            return None
        return self.skolem_hypotheses(task.lemma, task.action, inst, eff), goals

    def opened_proof(self, hyps: list[z3.BoolRef], goal: z3.BoolRef) -> bool:
        """Whether the goal follows, checked one conjunct at a time (`split_goal`), each opened (`open_goal`) and
        with the quorum axiom instantiated for the Skolem quorums of the goal's servers and terms."""
        # The whole goal opened names the same constants as each part (one tag): its witnesses' quorums are
        # terms about them even where a part does not mention them (S3's leaders and a commit's quorum).
        whole = open_goal(goal, "g")
        for part in split_goal(goal):
            facts, body = open_goal(part, "g")
            seen = [*whole[0], whole[1], *facts, body]
            servers = ground_terms(seen, Server)
            terms = [t for t in ground_terms(seen, z3.IntSort()) if _is_function_application(t)]
            quorums = ground_terms(seen, Quorum) + self.witnesses.quorum_terms(servers, terms)
            quorums = list({q.get_id(): q for q in quorums}.values())
            # Without the instances first: they are many (a pair per two quorum terms) and most parts need none.
            if self._unsat([*hyps, *facts, z3.Not(body)], quick=True):
                continue
            if not self._unsat([*hyps, *facts, *quorum_instances(quorums, "i"), *refuted_instances(facts, quorums), z3.Not(body)]):
                return False
        return True

    def _witnessed_proof(self, task: Task, inst: PInstance, eff: PEffect, post: PSym) -> bool:
        """Whether the witnessed query proves the obligation for this instance (each goal)."""
        query = self.witnessed(task, inst, eff, post)
        if query is None:
            return False
        hyps, goals = query
        return all(self.opened_proof([*hyps, eff.guard, *eff.aux], goal) for goal in goals)

    def solve(self, task: Task) -> Obligation:
        if task.action is None:
            return self._solve_init(task)
        if task.action == IMPLIED:
            self.full_rlimit = self.setup.budget.implied_rlimit
            try:
                return self._solve_implied(task)
            finally:
                self.full_rlimit = self.setup.budget.rlimit
        ob = Obligation(task.lemma, task.action, "proved")
        for inst, eff, post in self.steps(task.action):
            plain = self.assumptions(task.lemma, task.action)
            # The plain query briefly first (most obligations prove in well under a second), then the witnessed one.
            # EntriesFromWonElections' plain goal (a server and quorum that won) never proves: witnessed at once.
            quick = task.lemma != "EntriesFromWonElections"
            pending = [g for g in self.goals(task, post) if not (quick and self._unsat([*plain, eff.guard, *eff.aux, z3.Not(g)], quick=True))]
            if not pending or self._witnessed_proof(task, inst, eff, post):
                continue
            for goal in pending:
                s = self._solver()
                s.add(*self.assumptions(task.lemma, task.action), eff.guard, *eff.aux, z3.Not(goal))
                res = metered_check(s, self.meter)
                if res == z3.unsat:
                    continue
                skolem = self.skolem_hypotheses(task.lemma, task.action, inst, eff)
                if res == z3.unknown and self.opened_proof([*skolem, eff.guard, *eff.aux], goal):
                    continue
                ob.status = "failed" if res == z3.sat else "unknown"
                ob.reason = "" if res == z3.sat else unknown_reason(s, self.full_rlimit)
                found = self._finite_model(s)
                if found is not None:
                    ob.status, ob.reason = "failed", ""
                    ob.cti = decode_cti(found[0], self.pre, inst, eff, post, found[1])
                elif res == z3.sat:
                    ob.cti = decode_cti(s.model(), self.pre, inst, eff, post)
                return ob
        return ob

    def _finite_model(self, s: z3.Solver) -> Optional[tuple[z3.ModelRef, dict[str, list[z3.ExprRef]]]]:
        """A model of the failed query with 1, 2, ... `REACH_MAX_SERVERS` servers and the spec's own quorums.

        Z3 finds models of the unbounded query only now and then (its quantifier
        instantiation is incomplete), and their bags are tables it cannot always
        print; with the servers, quorums and the bag's records closed it searches a
        finite space.  A model found is a counterexample to induction of the spec at
        that size, with its real quorums, so the explorer can judge it.  Models within
        the spec's bounds are tried first.
        """
        slots = slot_records()
        for bounded in (True, False):
            for n in range(1, REACH_MAX_SERVERS + 1):
                s.push()
                s.add(*finite_size(self.setup.spec_class, n, self.setup.params.values), *finite_bag(self.pre, slots))
                if bounded:
                    s.add(*within_bounds(self.pre, self.setup.params))
                model = s.model() if metered_check(s, self.meter, self.setup.budget.finite_rlimit) == z3.sat else None
                s.pop()
                if model is not None:
                    return model, slots
        return None

    def _solve_implied(self, task: Task) -> Obligation:
        """The lemmas imply the (derived) property in every state: one query per conjunct of the property."""
        hyps = [*self.model.axioms(), *[c for n in self.setup.checked if n not in SKOLEMIZED for c in self.hyps[n]]]
        hyps += self.witnesses.hypotheses(self.pre, frozenset(self.setup.checked))
        for goal in self.goals(task, None):
            # The whole invariant at once rarely settles a conjunct: briefly, then the goal opened, then in full.
            if self._unsat([*hyps, z3.Not(goal)], quick=True) or self.opened_proof(hyps, goal):
                continue
            s = self._solver()
            s.add(*hyps, z3.Not(goal))
            res = metered_check(s, self.meter)
            if res != z3.unsat:
                status = "failed" if res == z3.sat else "unknown"
                return Obligation(task.lemma, IMPLIED, status, reason="" if res != z3.unknown else unknown_reason(s, self.full_rlimit))
        return Obligation(task.lemma, IMPLIED, "proved")

    def _solve_init(self, task: Task) -> Obligation:
        for goal in self.goals(task, None):
            s = self._solver()
            s.add(*self.model.axioms(), self.model.init(self.pre), z3.Not(goal))
            res = metered_check(s, self.meter)
            if res != z3.unsat:
                status = "failed" if res == z3.sat else "unknown"
                return Obligation(task.lemma, None, status, reason="" if res != z3.unknown else unknown_reason(s, self.full_rlimit))
        return Obligation(task.lemma, None, "proved")


_CONTEXTS: dict[ParametricSetup, ParametricContext] = {}


def _context_for(setup: ParametricSetup) -> ParametricContext:
    return one_at_a_time(_CONTEXTS, setup, ParametricContext)


def parametric_names(prop: str) -> tuple[str, ...]:
    """The property and its lemmas (`PARAMETRIC_PROOFS`), property first; KeyError naming the provable ones."""
    if prop not in PARAMETRIC_PROOFS:
        raise KeyError(f"{prop!r} has no proof for every number of servers; proved: {', '.join(PARAMETRIC_PROOFS)}")
    return (prop, *PARAMETRIC_PROOFS[prop])


def prove_parametric(
    spec: RaftSpec,
    prop: str,
    *,
    budget: Budget = Budget(),
    timeout_ms: Optional[int] = None,
    reach: bool = True,
    progress: Optional[ProgressFn] = None,
    actions: Sequence[str] = ACTION_NAMES,
    only: Optional[Sequence[str]] = None,
    limits: Limits = Limits(),
    results_file: Optional[Path] = None,
    on_obligation: Optional[OnDone] = None,
) -> InductionResult:
    """Prove `prop` inductive for every number of servers (the spec's class picks the encoding's switches).

    `actions` and `only` (conjunct names) restrict the obligations checked, as for the
    fixed-size proofs: a result over a subset proves that subset only (a broken variant
    is refuted through the obligation its bug breaks).

    `budget`: each query's limits (`budget.Budget`: Z3 resource units, so the verdicts
    do not depend on the machine's load, and a wall-clock safety net); `timeout_ms`,
    if given, replaces the safety net.  `reach`: decode each counterexample to
    induction and ask the explorer whether its pre-state is reachable (at its own
    size, and at the spec's size by search).
    """
    if timeout_ms is not None:
        budget = replace(budget, timeout_ms=timeout_ms)
    timeout_ms = budget.timeout_ms
    start = time.perf_counter()
    switches_for(type(spec))  # an EncodingError for a spec class without an encoding
    setup = ParametricSetup(type(spec), spec.params, prop, parametric_names(prop), budget)
    tasks = [Task(setup, prop, IMPLIED, timeout_ms)] if setup.derived else []
    checked = setup.checked if only is None else tuple(n for n in setup.checked if n in only)
    if only is not None:
        tasks = [t for t in tasks if t.lemma in only]
    cache_key = (type(spec), spec.params, checked, tuple(actions), budget)
    cached = _LEMMA_RESULTS.get(cache_key) if setup.derived else None
    if cached is None:
        tasks += [Task(setup, n, None, timeout_ms) for n in checked]
        tasks += [Task(setup, n, a, timeout_ms) for a in actions for n in checked]

    obligations = run_proof(tasks, limits, results_file, "induction (any number of servers)", progress, on_obligation)
    result = InductionResult(prop, setup.names[1:], obligations, servers="any")
    if reach:
        judge = _Judge(spec, setup.checked, min(timeout_ms, JUDGE_MS))
        for ob in result.obligations:
            if ob.status != "proved" and ob.action not in (None, IMPLIED):
                judge(ob)
    if cached is not None:
        # The three derived properties share one lemma set: its obligations are checked once per run.
        result.obligations += cached
    elif setup.derived:
        _LEMMA_RESULTS[cache_key] = [o for o in result.obligations if o.action != IMPLIED]
    result.seconds = time.perf_counter() - start
    return result


class _Judge:
    """Whether failed (or unknown) obligations fail from a reachable state, with one explorer run per size."""

    def __init__(self, spec: RaftSpec, names: tuple[str, ...], timeout_ms: int) -> None:
        self.spec, self.names, self.timeout_ms = spec, names, timeout_ms
        self._oracles: dict[int, Callable[[State], Optional[bool]]] = {}

    def oracle(self, servers: int) -> Callable[[State], Optional[bool]]:
        """The explorer's reachability oracle at that many servers (the spec's own bounds), built once."""
        if servers not in self._oracles:
            at_size = self.spec if servers == self.spec.params.servers else type(self.spec)(replace(self.spec.params, servers=servers))
            self._oracles[servers] = explorer_reach(at_size)
        return self._oracles[servers]

    def __call__(self, ob: Obligation) -> None:
        """On the spec's scripted run (if it has one: reachable by construction, and it reaches bugs the explorer
        cannot finish), at the counterexample's size by the explorer, or among the explorer's states at the
        spec's size."""
        assert ob.action is not None
        spec, cti = self.spec, ob.cti
        oracle = self.oracle(spec.params.servers)
        scripted = oracle.scripted()  # type: ignore[attr-defined]
        if scripted is not None:
            if cti is not None and cti.before in scripted.states:
                cti.reachable = True
                return
            found = reachable_cti(spec, scripted, ob.action, ob.lemma, self.names, self.timeout_ms, source="scripted run's states")
            if found is not None:
                _replace(ob, found, cti, spec)
                return
        if cti is not None and cti.before.servers and len(cti.before.servers) <= REACH_MAX_SERVERS:
            cti.reachable = self.oracle(len(cti.before.servers))(cti.before)
        if cti is not None and cti.reachable:
            return
        found = reachable_cti(spec, oracle.result(), ob.action, ob.lemma, self.names, self.timeout_ms)  # type: ignore[attr-defined]
        if found is not None:
            _replace(ob, found, cti, spec)


def _replace(ob: Obligation, found: Cti, cti: Optional[Cti], spec: RaftSpec) -> None:
    """The obligation fails with `found`, a reachable counterexample at the spec's size."""
    found.note = (
        f"{found.note}; the parametric counterexample ({_size(cti)}) was not reached, this one at "
        f"{spec.params.servers} servers is (confirmed by the fixed-size encoding)"
    )
    ob.refute(found)


_LEMMA_RESULTS: dict[tuple[object, ...], list[Obligation]] = {}
"""The lemma obligations of the derived properties' parametric proofs, by spec class, parameters, lemmas, actions,
timeout."""


def _size(cti: Optional[Cti]) -> str:
    if cti is None or not cti.before.servers:
        return "not decodable" if cti is not None else "none"
    return f"{len(cti.before.servers)} servers"
