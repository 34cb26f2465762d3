"""One query per orbit of server permutations (`checker/z3/symmetry.py`): the renaming follows servers
and server values, refuses what it cannot follow, and the orbits it draws give every member the verdict
its own query gets (on the correct spec and on a broken variant, whose failures stay failures)."""
from __future__ import annotations

import pytest
import z3

from leaderfollower.checker.z3.model import Z3Model, switches_for
from leaderfollower.checker.z3.obligations import ProofContext, definition, flat_conjuncts, invariant_names, new_conjuncts
from leaderfollower.checker.z3.prove import explorer_reach, prove_inductive
from leaderfollower.checker.z3.solving import ProofSetup, fresh_check, status_of, symmetry_of
from leaderfollower.checker.z3.symmetry import NotPermutable, Permutation, arrangements, transpositions
from leaderfollower.spec.params import Params
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VoteNotPersisted


def test_a_permutation_renames_servers_and_the_servers_a_vote_names() -> None:
    model = Z3Model(Params(servers=3))
    pre = model.fresh("pre")
    swap = Permutation(pre, (0, 2, 1))
    assert swap(pre.term(1) > pre.term(2)).eq(pre.term(2) > pre.term(1))
    assert swap(pre.vg(0, 1)).eq(pre.vg(0, 2))
    assert swap(pre.voted_for(1) == 2).eq(pre.voted_for(2) == 1)
    assert swap(pre.voted_for(1) == 0).eq(pre.voted_for(2) == 0)
    assert swap(pre.voted_for(1) == -1).eq(pre.voted_for(2) == -1)  # Nil is nobody
    assert swap(pre.voted_for(1) < 3).eq(pre.voted_for(2) < 3)  # every server is below 3
    x = z3.Int("x")
    q = z3.ForAll([x], z3.Implies(x >= 1, pre.log_term(1)[x] <= pre.term(1)))
    assert swap(q).eq(z3.ForAll([x], z3.Implies(x >= 1, pre.log_term(2)[x] <= pre.term(2))))
    # And/Or in one order: a permuted disjunction meets the original one.
    same = Permutation(pre, (0, 1, 2))
    assert swap(z3.Or(pre.vg(0, 1), pre.vg(0, 2))).eq(same(z3.Or(pre.vg(0, 1), pre.vg(0, 2))))
    with pytest.raises(NotPermutable):
        swap(pre.voted_for(1) < 2)  # splits the servers: 0 and 1 below, 2 not
    with pytest.raises(NotPermutable):
        swap(pre.voted_for(1) + 1 == pre.term(0))  # arithmetic on a server


def test_transpositions_and_instance_counts() -> None:
    assert transpositions(5, [0, 1]) == [(0, 1, 3, 2, 4), (0, 1, 2, 4, 3)]
    assert transpositions(3, [0, 1]) == []
    assert arrangements(5, 2) == 20 and arrangements(5, 1) == 5 and arrangements(5, 0) == 1


ACTIONS = ("Timeout", "Restart", "BecomeLeader", "HandleRequestVoteRequest", "HandleRequestVoteResponse")


def every_part_against_its_orbit(spec: RaftSpec, prop: str, actions: tuple[str, ...]) -> tuple[int, int, int]:
    """Solve every conjunct query of the obligations on its own; each must agree with its orbit's representative.

    Returns (orbits with more than one member, parts in them, failing parts in them).
    """
    setup = ProofSetup(spec.params, switches_for(type(spec)), prop, invariant_names(prop), False)
    ctx = ProofContext(setup)
    sym = symmetry_of(ctx)
    shared = members = failing = 0
    for action in actions:
        for inst, _, eff, post in ctx.steps(action):
            fixed = sorted({k for k in (*inst.args, inst.src, inst.dst) if k >= 0})
            for lemma in ctx.names:
                parts = [p for _, p in new_conjuncts(definition(lemma)(ctx.model, post), ctx.plain[lemma])]
                assumed = ctx.assumed(lemma, action)
                gens = sym.generators(fixed, assumed, flat_conjuncts(z3.And(eff.guard, *eff.aux)))
                hyps = [ctx.hyps[n] for n in assumed]
                verdicts = [status_of(fresh_check(hyps, eff, p, 20_000)[0]) for p in parts]
                assert "unknown" not in verdicts
                for group in sym.orbits(parts, gens):
                    assert {verdicts[k] for k in group} == {verdicts[group[0]]}, (inst, lemma, group, verdicts)
                    if len(group) > 1:
                        shared += 1
                        members += len(group)
                        failing += len(group) if verdicts[group[0]] == "failed" else 0
    return shared, members, failing


def test_orbits_give_the_verdicts_of_solving_every_conjunct_on_its_own() -> None:
    shared, members, failing = every_part_against_its_orbit(RaftSpec(Params(servers=3)), "ElectionSafety", ACTIONS)
    assert shared >= 10 and members > shared  # the reduction happened
    assert failing == 0


def test_on_a_broken_variant_a_failing_query_fails_for_its_whole_orbit() -> None:
    spec = VoteNotPersisted(VoteNotPersisted.catch_params)
    shared, members, failing = every_part_against_its_orbit(spec, "ElectionSafety", ("Restart",))
    assert failing >= 2  # a forgotten vote breaks the lemma for both other servers' votes: one query, two instances
    result = prove_inductive(spec, "ElectionSafety", actions=["Restart"], reach=explorer_reach(spec))
    assert any(o.cti is not None and o.cti.reachable for o in result.failed)


def test_an_obligation_says_how_many_instances_its_queries_stand_for() -> None:
    result = prove_inductive(RaftSpec(Params(servers=3)), "ElectionSafety", actions=["Restart"])
    assert result.proved
    solved = [o for o in result.obligations if o.queries]
    assert solved and all(o.instances >= 3 * o.queries for o in solved)  # Restart(0) stands for Restart(1) and (2)
    assert any(o.instances > 3 * o.queries for o in solved)  # and an orbit of conjuncts stands for more than one

