"""The properties and lemmas of the parametric proofs, quantified over the sort `Server`.

How this works: each lemma here has the name and the meaning of the fixed-size
lemma of `checker/z3/lemmas.py` (whose Python predicate is the reference for
both: `tests/test_parametric.py` checks each definition against it on reachable
states), written with quantifiers over servers instead of loops: "for every
candidate i and voter j" is `ForAll([i, j], ...)`, and "a quorum" is a member of
the sort `Quorum` (`model.is_quorum`).  A definition is a list of conjuncts; each
is checked after every action separately.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import z3

from leaderfollower.checker.z3.lemmas import lemma_by_name
from leaderfollower.checker.z3.model import RECORDS, Z_LEADER
from leaderfollower.checker.z3.model import field as rfield
from leaderfollower.checker.z3.parametric.model import PSym, Server, Vote, is_quorum

PDef = Callable[[PSym], list[z3.BoolRef]]
"""A parametric definition: the conjuncts of a property or lemma on a state."""


@dataclass(frozen=True)
class PLemma:
    """A property or lemma of the parametric proofs (its meaning is the fixed-size one of the same name)."""

    name: str
    description: str
    conjuncts: PDef


def _servers(names: str) -> list[z3.ExprRef]:
    return list(z3.Consts(names, Server))


def _response(name: str) -> z3.ExprRef:
    """A vote response record variable (quantified over: Z3's model search handles a record variable read by the bag
    far better than a term variable inside a record built under the quantifier)."""
    return z3.Const(name, RECORDS["RequestVoteResponse"])


def _granted(s: PSym, j: z3.ExprRef, i: z3.ExprRef, r: z3.ExprRef) -> z3.BoolRef:
    """The vote response r from j to i is in flight and grants the vote."""
    return z3.And(s.sent("RequestVoteResponse", j, i, r), rfield(r, "mvote_granted"))


def election_safety(s: PSym) -> list[z3.BoolRef]:
    a, b = _servers("a b")
    both = z3.And(s.role(a) == Z_LEADER, s.role(b) == Z_LEADER, s.term(a) == s.term(b))
    return [z3.ForAll([a, b], z3.Implies(both, a == b))]


def type_ok(s: PSym) -> list[z3.BoolRef]:
    i, j = _servers("i j")
    return [
        z3.ForAll([i], z3.And(s.term(i) >= 1, s.len(i) >= 0, s.commit(i) >= 0)),
        z3.ForAll([i, j], z3.And(s.next(i, j) >= 1, s.match(i, j) >= 0)),
    ]


def messages_type_ok(s: PSym) -> list[z3.BoolRef]:
    src, dst = _servers("src dst")
    r = z3.Const("r", RECORDS["AppendEntriesRequest"])
    q = z3.Const("q", RECORDS["AppendEntriesResponse"])
    req_ok = z3.And(rfield(r, "mcommit_index") >= 0, rfield(r, "mprev_log_index") >= 0, z3.Or(rfield(r, "mn") == 0, rfield(r, "mn") == 1))
    return [
        z3.ForAll([src, dst, r], z3.Implies(s.sent("AppendEntriesRequest", src, dst, r), req_ok)),
        z3.ForAll([src, dst, q], z3.Implies(s.sent("AppendEntriesResponse", src, dst, q), rfield(q, "mmatch_index") >= 0)),
    ]


def leader_has_quorum(s: PSym) -> list[z3.BoolRef]:
    i = z3.Const("i", Server)
    return [z3.ForAll([i], z3.Implies(s.role(i) == Z_LEADER, is_quorum(lambda j: s.vg(i, j), "lq")))]


def _voted_for(s: PSym, j: z3.ExprRef, i: z3.ExprRef, t: z3.ArithRef) -> z3.BoolRef:
    """j is past term t, or in t with its vote for i."""
    return z3.Or(s.term(j) > t, z3.And(s.term(j) == t, s.voted(j) == Vote.vote(i)))


def votes_granted_mean_voted_for(s: PSym) -> list[z3.BoolRef]:
    i, j = _servers("i j")
    return [z3.ForAll([i, j], z3.Implies(z3.And(s.campaigning(i), s.vg(i, j)), _voted_for(s, j, i, s.term(i))))]


def granted_responses_mean_voted_for(s: PSym) -> list[z3.BoolRef]:
    i, j = _servers("i j")
    r = _response("r")
    return [z3.ForAll([j, i, r], z3.Implies(_granted(s, j, i, r), _voted_for(s, j, i, rfield(r, "mterm"))))]


def votes_granted_disjoint(s: PSym) -> list[z3.BoolRef]:
    i, k, j = _servers("i k j")
    both = z3.And(i != k, s.campaigning(i), s.campaigning(k), s.term(i) == s.term(k), s.vg(i, j), s.vg(k, j))
    return [z3.ForAll([i, k, j], z3.Not(both))]


def granted_vote_and_response_disjoint(s: PSym) -> list[z3.BoolRef]:
    i, k, j = _servers("i k j")
    r = _response("r")
    return [
        z3.ForAll(
            [i, k, j, r],
            z3.Implies(z3.And(i != k, s.campaigning(i), s.vg(i, j), _granted(s, j, k, r)), rfield(r, "mterm") != s.term(i)),
        )
    ]


def granted_responses_disjoint(s: PSym) -> list[z3.BoolRef]:
    i, k, j = _servers("i k j")
    r1, r2 = _response("r1"), _response("r2")
    same_term = rfield(r1, "mterm") == rfield(r2, "mterm")
    return [z3.ForAll([i, k, j, r1, r2], z3.Implies(z3.And(_granted(s, j, i, r1), _granted(s, j, k, r2), same_term), i == k))]


def _lemma(name: str, conjuncts: PDef) -> PLemma:
    return PLemma(name, lemma_by_name(name).description, conjuncts)


PARAMETRIC_LEMMAS: dict[str, PLemma] = {
    lm.name: lm
    for lm in (
        PLemma("ElectionSafety", "at most one leader per term", election_safety),
        _lemma("TypeOK", type_ok),
        _lemma("MessagesTypeOK", messages_type_ok),
        _lemma("LeaderHasQuorum", leader_has_quorum),
        _lemma("VotesGrantedMeanVotedFor", votes_granted_mean_voted_for),
        _lemma("GrantedResponsesMeanVotedFor", granted_responses_mean_voted_for),
        _lemma("VotesGrantedDisjoint", votes_granted_disjoint),
        _lemma("GrantedVoteAndResponseDisjoint", granted_vote_and_response_disjoint),
        _lemma("GrantedResponsesDisjoint", granted_responses_disjoint),
    )
}
"""Every parametric property and lemma, by name (the names of `spec.properties` and `checker/z3/lemmas.py`)."""

PARAMETRIC_PROOFS: dict[str, tuple[str, ...]] = {
    "ElectionSafety": (
        "TypeOK",
        "MessagesTypeOK",
        "LeaderHasQuorum",
        "VotesGrantedMeanVotedFor",
        "GrantedResponsesMeanVotedFor",
        "VotesGrantedDisjoint",
        "GrantedVoteAndResponseDisjoint",
        "GrantedResponsesDisjoint",
    ),
}
"""For each property proved for every number of servers: the lemmas that make it inductive."""

PARAMETRIC_ASSUMES: dict[str, tuple[str, ...]] = {
    # Two leaders of one term: their quorums share a voter that both counted.
    "ElectionSafety/BecomeLeader": ("TypeOK", "LeaderHasQuorum", "VotesGrantedDisjoint"),
}
"""Proof hints of the parametric proofs, as `lemmas.ASSUMES` (which applies too): fewer quantified hypotheses
for Z3 to instantiate.  Assuming less proves more, so a hint cannot make a wrong proof pass."""
