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
quorum system of that model; `unknown` (a timeout) is possible and reported so.

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
from typing import Optional, Sequence

import z3

from leaderfollower.checker.z3.isolation import Limits, OnDone, run_proof
from leaderfollower.checker.z3.model import MESSAGE_TYPE_NAMES, RECORDS, switches_for
from leaderfollower.checker.z3.model import field as rfield
from leaderfollower.checker.z3.obligations import Task, assumed_conjuncts, one_at_a_time
from leaderfollower.checker.z3.parametric.decode import decode_cti
from leaderfollower.checker.z3.parametric.lemmas import PARAMETRIC_ASSUMES, PARAMETRIC_LEMMAS, PARAMETRIC_PROOFS, WonWitnesses
from leaderfollower.checker.z3.parametric.model import ParametricModel, PEffect, PInstance, PSym, Quorum, Server, fresh, member, servers_of_size
from leaderfollower.checker.z3.reach import explorer_reach, reachable_cti
from leaderfollower.checker.z3.results import Cti, InductionResult, Obligation, ProgressFn
from leaderfollower.spec.params import Params
from leaderfollower.spec.actions import ACTION_NAMES
from leaderfollower.spec.raft import RaftSpec

REACH_MAX_SERVERS = 3
"""The largest size searched for a counterexample, and asked about of the explorer (whose space grows fast)."""

FINITE_MS = 10_000
"""How long each size's search for a finite counterexample runs."""

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


@dataclass(frozen=True)
class ParametricSetup:
    """A parametric proof, as a worker rebuilds it: the spec class (the variant), the values, the conjuncts."""

    spec_class: type[RaftSpec]
    params: Params
    """The spec's parameters: its values, and the bounds a counterexample is first looked for within."""
    prop: str
    names: tuple[str, ...]

    def solve(self, task: Task) -> Obligation:
        """One obligation of this proof, in this process."""
        ctx = _context_for(self)
        t0 = time.perf_counter()
        ob = ctx.solve(task)
        ob.seconds = time.perf_counter() - t0
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
        self.hyps = {name: PARAMETRIC_LEMMAS[name].conjuncts(self.pre) for name in setup.names}
        self._steps: dict[str, list[tuple[PInstance, PEffect, PSym]]] = {}
        self.witnesses = WonWitnesses()

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

    def assumptions(self, lemma: str, action: str) -> list[z3.BoolRef]:
        """The quorum axiom and the conjuncts the obligation assumes (the `ASSUMES` hints apply, by name)."""
        hint = PARAMETRIC_ASSUMES.get(f"{lemma}/{action}")
        names = assumed_conjuncts(lemma, action, self.setup.names) if hint is None else (lemma, *hint)
        return [*self.model.axioms(), *[c for n in names for c in self.hyps[n]]]

    def goals(self, task: Task, post: Optional[PSym]) -> list[z3.BoolRef]:
        return PARAMETRIC_LEMMAS[task.lemma].conjuncts(post if post is not None else self.pre)

    def term_hash(self, task: Task) -> str:
        h = hashlib.sha256(f"parametric\0{task.lemma}\0{task.action}\0".encode())
        if task.action is None:
            h.update(z3.And(self.model.init(self.pre), *self.goals(task, None)).sexpr().encode())
            return h.hexdigest()
        for c in self.assumptions(task.lemma, task.action):
            h.update(c.sexpr().encode())
        for inst, eff, post in self.steps(task.action):
            h.update(str(inst).encode() + z3.And(eff.guard, *eff.aux).sexpr().encode())
            for g in self.goals(task, post):
                h.update(g.sexpr().encode())
            witnessed = self.witnessed(task, eff, post)
            if witnessed is not None:
                h.update(z3.And(*witnessed[0], *witnessed[1]).sexpr().encode())
        return h.hexdigest()

    def witnessed(self, task: Task, eff: PEffect, post: PSym) -> Optional[tuple[list[z3.BoolRef], list[z3.BoolRef]]]:
        """For EntriesFromWonElections: the query's hypotheses and goals with explicit witnesses (`WonWitnesses`)."""
        if task.lemma != "EntriesFromWonElections" or task.action is None:
            return None
        hint = PARAMETRIC_ASSUMES.get(f"{task.lemma}/{task.action}")
        names = assumed_conjuncts(task.lemma, task.action, self.setup.names) if hint is None else (task.lemma, *hint)
        replaced = {"EntriesFromWonElections"}
        hyps = [*self.model.axioms(), *[c for n in names if n not in replaced for c in self.hyps[n]]]
        hyps += self.witnesses.hypotheses(self.pre, frozenset(names))
        servers = tuple(a for a in eff.args if a.sort() == Server)
        return hyps, self.witnesses.goals(post, servers)

    def _witnessed_proof(self, task: Task, eff: PEffect, post: PSym) -> bool:
        """Whether the witnessed query proves the obligation for this instance (each goal unsat)."""
        query = self.witnessed(task, eff, post)
        if query is None:
            return False
        hyps, goals = query
        for goal in goals:
            s = z3.Solver()
            s.set("timeout", task.timeout_ms)
            s.add(*hyps, eff.guard, *eff.aux, z3.Not(goal))
            if s.check() != z3.unsat:
                return False
        return True

    def solve(self, task: Task) -> Obligation:
        if task.action is None:
            return self._solve_init(task)
        ob = Obligation(task.lemma, task.action, "proved")
        for inst, eff, post in self.steps(task.action):
            if self._witnessed_proof(task, eff, post):
                continue
            for goal in self.goals(task, post):
                s = z3.Solver()
                s.set("timeout", task.timeout_ms)
                s.add(*self.assumptions(task.lemma, task.action), eff.guard, *eff.aux, z3.Not(goal))
                res = s.check()
                if res == z3.unsat:
                    continue
                ob.status = "failed" if res == z3.sat else "unknown"
                ob.reason = "" if res == z3.sat else s.reason_unknown()
                found = self._finite_model(s, task.timeout_ms)
                if found is not None:
                    ob.status, ob.reason = "failed", ""
                    ob.cti = decode_cti(found[0], self.pre, inst, eff, post, found[1])
                elif res == z3.sat:
                    ob.cti = decode_cti(s.model(), self.pre, inst, eff, post)
                return ob
        return ob

    def _finite_model(self, s: z3.Solver, timeout_ms: int) -> Optional[tuple[z3.ModelRef, dict[str, list[z3.ExprRef]]]]:
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
                s.set("timeout", min(timeout_ms, FINITE_MS))
                s.add(*finite_size(self.setup.spec_class, n, self.setup.params.values), *finite_bag(self.pre, slots))
                if bounded:
                    s.add(*within_bounds(self.pre, self.setup.params))
                model = s.model() if s.check() == z3.sat else None
                s.pop()
                if model is not None:
                    return model, slots
        return None

    def _solve_init(self, task: Task) -> Obligation:
        for goal in self.goals(task, None):
            s = z3.Solver()
            s.set("timeout", task.timeout_ms)
            s.add(*self.model.axioms(), self.model.init(self.pre), z3.Not(goal))
            res = s.check()
            if res != z3.unsat:
                status = "failed" if res == z3.sat else "unknown"
                return Obligation(task.lemma, None, status, reason="" if res != z3.unknown else s.reason_unknown())
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
    timeout_ms: int = 60_000,
    reach: bool = True,
    progress: Optional[ProgressFn] = None,
    actions: Sequence[str] = ACTION_NAMES,
    limits: Limits = Limits(),
    results_file: Optional[Path] = None,
    on_obligation: Optional[OnDone] = None,
) -> InductionResult:
    """Prove `prop` inductive for every number of servers (the spec's class picks the encoding's switches).

    `reach`: decode each counterexample to induction and ask the explorer whether
    its pre-state is reachable (at its own size, and at the spec's size by search).
    """
    start = time.perf_counter()
    switches_for(type(spec))  # an EncodingError for a spec class without an encoding
    setup = ParametricSetup(type(spec), spec.params, prop, parametric_names(prop))
    tasks = [Task(setup, n, None, timeout_ms) for n in setup.names]
    tasks += [Task(setup, n, a, timeout_ms) for a in actions for n in setup.names]

    obligations = run_proof(tasks, limits, results_file, "induction (any number of servers)", progress, on_obligation)
    result = InductionResult(prop, setup.names[1:], obligations, servers="any")
    if reach:
        for ob in result.obligations:
            if ob.status != "proved" and ob.action is not None:
                _judge(spec, setup.names, ob, timeout_ms)
    result.seconds = time.perf_counter() - start
    return result


def _judge(spec: RaftSpec, names: tuple[str, ...], ob: Obligation, timeout_ms: int) -> None:
    """Whether a failed (or unknown) obligation fails from a reachable state: at the counterexample's size, or the spec's."""
    assert ob.action is not None
    cti = ob.cti
    if cti is not None and cti.before.servers and len(cti.before.servers) <= REACH_MAX_SERVERS:
        at_size = type(spec)(replace(spec.params, servers=len(cti.before.servers)))
        cti.reachable = explorer_reach(at_size)(cti.before)
    if cti is not None and cti.reachable:
        return
    oracle = explorer_reach(spec)
    found = reachable_cti(spec, oracle.result(), ob.action, ob.lemma, names, timeout_ms)  # type: ignore[attr-defined]
    if found is not None:
        found.note = (
            f"{found.note}; the parametric counterexample ({_size(cti)}) was not reached, this one at "
            f"{spec.params.servers} servers is (confirmed by the fixed-size encoding)"
        )
        ob.cti = found
        ob.status = "failed"


def _size(cti: Optional[Cti]) -> str:
    if cti is None or not cti.before.servers:
        return "not decodable" if cti is not None else "none"
    return f"{len(cti.before.servers)} servers"
