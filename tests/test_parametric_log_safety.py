"""Log safety for every number of servers: the commitment lemmas' Skolem forms, the goal splitting that the
witnessed queries use, and broken variants refuted by the parametric proofs of LeaderCompleteness,
StateMachineSafety and CommitWithinLog with reachable counterexamples.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import pytest
import z3

from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.z3.lemmas import lemma_by_name
from leaderfollower.checker.z3.parametric.lemmas import PARAMETRIC_LEMMAS, PARAMETRIC_PROOFS
from leaderfollower.checker.z3.parametric.model import fresh, pin
from leaderfollower.checker.z3.parametric.prove import finite_size, open_goal, prove_parametric, split_goal
from leaderfollower.checker.z3.parametric.witnesses import SKOLEMIZED, LogSafetyWitnesses
from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import property_by_name
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State
from leaderfollower.spec.variants import VARIANTS

COMMITS = Params(servers=2, max_term=3, max_log=2)
"""Two servers, three terms, two entries: entries of several terms are committed (46,207 states)."""


@lru_cache(maxsize=None)
def _states(params: Params, count: int) -> tuple[State, ...]:
    """`count` reachable states spread over the breadth-first order, and the last ones (the deepest)."""
    result = explore(RaftSpec(params), keep_graph=False, stop_on_violation=False)
    n = result.distinct_states
    every = max(1, n // count)
    picked = list(range(0, n, every))[:count] + list(range(max(0, n - count // 2), n))
    return tuple(result.state(k) for k in sorted(set(picked)))


def _broken(state: State) -> State:
    """The state with server 0's commitIndex one past the end of its log: CommitIsSafe (and CommitWithinLog) fail."""
    return state.update_server(0, commit_index=len(state.servers[0].log) + 1)


def test_the_skolem_forms_hold_exactly_where_their_lemmas_do() -> None:
    """LogSafetyWitnesses' hypotheses (every existential lemma with Skolem functions for its witnesses) are
    satisfiable on a concrete state exactly when all those lemmas' Python predicates hold: the replacement is
    equisatisfiable, so the witnessed queries assume nothing the lemmas do not say."""
    spec = RaftSpec(COMMITS)
    states = list(_states(COMMITS, 30))
    committed = [st for st in states if any(srv.commit_index > 0 for srv in st.servers)]
    assert committed, "the sample has no committed entry: the check would be vacuous for CommitIsSafe"
    seen = set()
    for state in states + [_broken(st) for st in states[:: max(1, len(states) // 6)]]:
        s = fresh("c")
        solver = z3.Solver()
        solver.add(*finite_size(RaftSpec, len(state.servers), COMMITS.values), *pin(s, state))
        solver.add(*LogSafetyWitnesses().hypotheses(s, SKOLEMIZED))
        res = solver.check()
        assert res != z3.unknown, state
        expected = all(lemma_by_name(n).holds(spec, state) for n in SKOLEMIZED)  # type: ignore[misc]
        assert (res == z3.sat) == expected, state
        seen.add(expected)
    assert seen == {True, False}


@pytest.mark.parametrize("name", ["LeaderEntriesAckedSafely", "CommitIsSafe", "AppendEntriesCommitIsSafe", "LeaderCompleteness"])
def test_a_goal_split_and_opened_is_the_goal(name: str) -> None:
    """The parts of `split_goal` together are equivalent to the goal, and a part follows from nothing exactly when
    its opened form (facts about fresh constants => body) does: Z3 proves both on the lemma's own terms."""
    s = fresh("g")
    for goal in PARAMETRIC_LEMMAS[name].conjuncts(s):
        parts = split_goal(goal)
        solver = z3.Solver()
        solver.add(z3.Not(z3.And(parts) == goal))
        assert solver.check() == z3.unsat, goal
        for part in parts:
            facts, body = open_goal(part, "t")
            solver = z3.Solver()
            solver.add(z3.Not(z3.Implies(part, z3.Implies(z3.And(facts), body))))
            assert solver.check() == z3.unsat, part


# The three derived properties share one lemma set, so a variant is refuted through a lemma obligation of the
# action its bug is in; each property is checked with a different variant.
_REFUTED = {
    "StateMachineSafety": ("commit-previous-term", "AdvanceCommitIndex"),
    "CommitWithinLog": ("accept-stale-term", "HandleAppendEntriesRequest"),
    "LeaderCompleteness": ("vote-without-log-check", "HandleRequestVoteRequest"),
}


@pytest.mark.parametrize("prop", sorted(_REFUTED))
def test_a_broken_variant_is_refuted_by_the_parametric_log_safety_proof(prop: str) -> None:
    name, action = _REFUTED[prop]
    cls = VARIANTS[name]
    spec = cls(cls.catch_params)
    assert prop in PARAMETRIC_PROOFS
    result = prove_parametric(spec, prop, actions=[action], timeout_ms=10_000)
    assert not result.proved
    reachable = [o for o in result.failed if o.cti is not None and o.cti.reachable]
    assert reachable, [(o.lemma, o.status, o.cti and o.cti.note) for o in result.obligations if o.status != "proved"]
    for o in reachable:
        assert o.cti is not None and o.action == action
        at_size = cls(replace(spec.params, servers=len(o.cti.before.servers)))
        assert at_size.apply(o.cti.before, o.cti.action) == o.cti.after
        holds = property_by_name(o.lemma).holds if o.lemma in PARAMETRIC_PROOFS else lemma_by_name(o.lemma).holds
        assert holds is not None and holds(at_size, o.cti.before) and not holds(at_size, o.cti.after)
