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

from leaderfollower.checker.z3.lemmas import PROOFS, lemma_by_name
from leaderfollower.checker.z3.model import RECORDS, Z_CANDIDATE, Z_LEADER
from leaderfollower.checker.z3.model import field as rfield
from leaderfollower.checker.z3.parametric import commitment
from leaderfollower.checker.z3.parametric.model import PSym, Quorum, Server, Vote, is_quorum, member
from leaderfollower.checker.z3.parametric.terms import granted_response, request_var, response_var, server_vars, with_entry, won_by

PDef = Callable[[PSym], list[z3.BoolRef]]
"""A parametric definition: the conjuncts of a property or lemma on a state."""


@dataclass(frozen=True)
class PLemma:
    """A property or lemma of the parametric proofs (its meaning is the fixed-size one of the same name)."""

    name: str
    description: str
    conjuncts: PDef


def election_safety(s: PSym) -> list[z3.BoolRef]:
    a, b = server_vars("a b")
    both = z3.And(s.role(a) == Z_LEADER, s.role(b) == Z_LEADER, s.term(a) == s.term(b))
    return [z3.ForAll([a, b], z3.Implies(both, a == b))]


def type_ok(s: PSym) -> list[z3.BoolRef]:
    i, j = server_vars("i j")
    return [
        z3.ForAll([i], z3.And(s.term(i) >= 1, s.len(i) >= 0, s.commit(i) >= 0)),
        z3.ForAll([i, j], z3.And(s.next(i, j) >= 1, s.match(i, j) >= 0)),
    ]


def messages_type_ok(s: PSym) -> list[z3.BoolRef]:
    src, dst = server_vars("src dst")
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
    i, j = server_vars("i j")
    return [z3.ForAll([i, j], z3.Implies(z3.And(s.campaigning(i), s.vg(i, j)), _voted_for(s, j, i, s.term(i))))]


def granted_responses_mean_voted_for(s: PSym) -> list[z3.BoolRef]:
    i, j = server_vars("i j")
    r = response_var("r")
    return [z3.ForAll([j, i, r], z3.Implies(granted_response(s, j, i, r), _voted_for(s, j, i, rfield(r, "mterm"))))]


def votes_granted_disjoint(s: PSym) -> list[z3.BoolRef]:
    i, k, j = server_vars("i k j")
    both = z3.And(i != k, s.campaigning(i), s.campaigning(k), s.term(i) == s.term(k), s.vg(i, j), s.vg(k, j))
    return [z3.ForAll([i, k, j], z3.Not(both))]


def granted_vote_and_response_disjoint(s: PSym) -> list[z3.BoolRef]:
    i, k, j = server_vars("i k j")
    r = response_var("r")
    return [
        z3.ForAll(
            [i, k, j, r],
            z3.Implies(z3.And(i != k, s.campaigning(i), s.vg(i, j), granted_response(s, j, k, r)), rfield(r, "mterm") != s.term(i)),
        )
    ]


def granted_responses_disjoint(s: PSym) -> list[z3.BoolRef]:
    i, k, j = server_vars("i k j")
    r1, r2 = response_var("r1"), response_var("r2")
    same_term = rfield(r1, "mterm") == rfield(r2, "mterm")
    return [z3.ForAll([i, k, j, r1, r2], z3.Implies(z3.And(granted_response(s, j, i, r1), granted_response(s, j, k, r2), same_term), i == k))]


# ------------------------------------------------------------ log lemmas


def log_matching(s: PSym) -> list[z3.BoolRef]:
    """LogMatching: two logs with an entry of one term at one index agree on every entry up to it."""
    a, b = server_vars("a b")
    x, y = z3.Ints("x y")
    guard = z3.And(1 <= y, y <= x, x <= s.len(a), x <= s.len(b), s.log_term(a, x) == s.log_term(b, x))
    same = z3.And(s.log_term(a, y) == s.log_term(b, y), s.log_value(a, y) == s.log_value(b, y))
    return [z3.ForAll([a, b, x, y], z3.Implies(guard, same))]


def won(s: PSym, t: z3.ArithRef) -> z3.BoolRef:
    """Some server won term t (`won_by` some server and quorum)."""
    lead, q = z3.Const("wl", Server), z3.Const("wq", Quorum)
    return z3.Exists([lead, q], won_by(s, t, lead, q))


Won = Callable[[PSym, z3.ArithRef], z3.BoolRef]
"""How "term t was won" is said: `won`, or a disjunction over explicit witnesses (`WonWitnesses`)."""


def entries_from_won_elections(s: PSym, won_term: Won = won) -> list[z3.BoolRef]:
    """EntriesFromWonElections: every entry's term, in a log or an AppendEntries request, was won (`won_term`)."""
    k, src, dst = server_vars("k src dst")
    x = z3.Int("x")
    r = request_var("r")
    return [
        z3.ForAll([k, x], z3.Implies(z3.And(1 <= x, x <= s.len(k)), won_term(s, s.log_term(k, x)))),
        z3.ForAll([src, dst, r], z3.Implies(with_entry(s, src, dst, r), won_term(s, rfield(r, "mentry_term")))),
    ]


class WonWitnesses:
    """EntriesFromWonElections with its existential replaced by witnesses (Skolem functions), for Z3's sake.

    Z3 does not find the server and quorum that won a term after a step by itself
    (every such obligation is unknown).  The pre-state's lemma is equisatisfiable
    with the same lemma for a function `winner(t)`, `winning_quorum(t)` (fresh
    symbols: one witness per term), and `LeaderHasQuorum` with `leader_quorum(l)`; a
    post-state goal that names its witness among `winner(t)` or a server of the
    step with its `leader_quorum` implies the existential goal.  So a proof of the
    witnessed query is a proof of the obligation; its failure proves nothing, and
    the plain query is tried next.
    """

    def __init__(self) -> None:
        self.winner = z3.Function("winner", z3.IntSort(), Server)
        self.winning_quorum = z3.Function("winning_quorum", z3.IntSort(), Quorum)
        self.leader_quorum = z3.Function("leader_quorum", Server, Quorum)

    def hypotheses(self, s: PSym, assumed: frozenset[str]) -> list[z3.BoolRef]:
        """The pre-state's EntriesFromWonElections and LeaderHasQuorum (those assumed), with their witnesses."""
        out = []
        if "EntriesFromWonElections" in assumed:
            out += entries_from_won_elections(s, lambda st, t: won_by(st, t, self.winner(t), self.winning_quorum(t)))
        if "LeaderHasQuorum" in assumed:
            lead, j = server_vars("lq_l lq_j")
            out.append(z3.ForAll([lead, j], z3.Implies(z3.And(s.role(lead) == Z_LEADER, member(j, self.leader_quorum(lead))), s.vg(lead, j))))
        return out

    def goals(self, s: PSym, step_servers: tuple[z3.ExprRef, ...]) -> list[z3.BoolRef]:
        """EntriesFromWonElections after a step, won by `winner(t)` or by a server of the step with its leader quorum."""

        def witnessed(st: PSym, t: z3.ArithRef) -> z3.BoolRef:
            by = [won_by(st, t, self.winner(t), self.winning_quorum(t))]
            by += [won_by(st, t, x, self.leader_quorum(x)) for x in step_servers]
            return z3.Or(by)

        return entries_from_won_elections(s, witnessed)


def leader_has_all_entries_of_its_term(s: PSym) -> list[z3.BoolRef]:
    """LeaderHasAllEntriesOfItsTerm: an entry of a leader's term, in any log or request, is in its log at that index."""
    lead, k, src, dst = server_vars("lead k src dst")
    x = z3.Int("x")
    r = request_var("r")
    is_leader = s.role(lead) == Z_LEADER
    in_log = z3.And(is_leader, 1 <= x, x <= s.len(k), s.log_term(k, x) == s.term(lead))
    held = z3.And(x <= s.len(lead), s.log_term(lead, x) == s.log_term(k, x), s.log_value(lead, x) == s.log_value(k, x))
    p1 = rfield(r, "mprev_log_index") + 1
    in_request = z3.And(is_leader, with_entry(s, src, dst, r), rfield(r, "mentry_term") == s.term(lead))
    held_r = z3.And(p1 <= s.len(lead), s.log_term(lead, p1) == rfield(r, "mentry_term"), s.log_value(lead, p1) == rfield(r, "mentry_value"))
    return [z3.ForAll([lead, k, x], z3.Implies(in_log, held)), z3.ForAll([lead, src, dst, r], z3.Implies(in_request, held_r))]


def append_entries_match_logs(s: PSym) -> list[z3.BoolRef]:
    """AppendEntriesMatchLogs: a request's entry matches, in value and previous term, any log with that entry's term there."""
    src, dst, k = server_vars("src dst k")
    r = request_var("r")
    p = rfield(r, "mprev_log_index")
    guard = z3.And(with_entry(s, src, dst, r), s.len(k) >= p + 1, s.log_term(k, p + 1) == rfield(r, "mentry_term"))
    agree = z3.And(s.log_value(k, p + 1) == rfield(r, "mentry_value"), z3.Or(p == 0, s.log_term(k, p) == rfield(r, "mprev_log_term")))
    return [z3.ForAll([src, dst, r, k], z3.Implies(guard, agree))]


def append_entries_match_each_other(s: PSym) -> list[z3.BoolRef]:
    """AppendEntriesMatchEachOther: two requests with an entry of one term at one index agree on it and its predecessor."""
    s1, d1, s2, d2 = server_vars("s1 d1 s2 d2")
    r1, r2 = request_var("r1"), request_var("r2")
    p1, p2 = rfield(r1, "mprev_log_index"), rfield(r2, "mprev_log_index")
    guard = z3.And(with_entry(s, s1, d1, r1), with_entry(s, s2, d2, r2), p1 == p2, rfield(r1, "mentry_term") == rfield(r2, "mentry_term"))
    agree = z3.And(rfield(r1, "mentry_value") == rfield(r2, "mentry_value"), z3.Or(p1 == 0, rfield(r1, "mprev_log_term") == rfield(r2, "mprev_log_term")))
    return [z3.ForAll([s1, d1, r1, s2, d2, r2], z3.Implies(guard, agree))]


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
        PLemma("LogMatching", "two logs with an entry of one term at one index agree up to it", log_matching),
        _lemma("EntriesFromWonElections", entries_from_won_elections),
        _lemma("LeaderHasAllEntriesOfItsTerm", leader_has_all_entries_of_its_term),
        _lemma("AppendEntriesMatchLogs", append_entries_match_logs),
        _lemma("AppendEntriesMatchEachOther", append_entries_match_each_other),
        PLemma("LeaderCompleteness", "a leader holds every entry committed in a term no newer than its own", commitment.leader_completeness),
        PLemma("StateMachineSafety", "any two servers' reads agree up to the shorter", commitment.state_machine_safety),
        PLemma("CommitWithinLog", "no commitIndex points past the end of its log", commitment.commit_within_log),
        _lemma("LogTermsGrow", commitment.log_terms_grow),
        _lemma("TermsNotFromTheFuture", commitment.terms_not_from_the_future),
        _lemma("TermsReachedByQuorum", commitment.terms_reached_by_quorum),
        _lemma("RequestVoteMatchesCandidate", commitment.request_vote_matches_candidate),
        _lemma("AppendEntriesFromWonElections", commitment.append_entries_from_won_elections),
        _lemma("NoAppendEntriesForCandidates", commitment.no_append_entries_for_candidates),
        _lemma("LeaderMessagesMatchLog", commitment.leader_messages_match_log),
        _lemma("LeaderEntriesAckedSafely", commitment.leader_entries_acked_safely),
        _lemma("CommitIsSafe", commitment.commit_is_safe),
        _lemma("AppendEntriesCommitIsSafe", commitment.append_entries_commit_is_safe),
    )
}
"""Every parametric property and lemma, by name (the names of `spec.properties` and `checker/z3/lemmas.py`)."""

PARAMETRIC_PROOFS: dict[str, tuple[str, ...]] = {
    name: PROOFS[name] for name in ("ElectionSafety", "LogMatching", "LeaderCompleteness", "StateMachineSafety", "CommitWithinLog")
}
"""For each property proved for every number of servers: the lemmas that make it inductive (those of the
fixed-size proof, each written for the parametric encoding)."""


PARAMETRIC_ASSUMES: dict[str, tuple[str, ...]] = {
    # Two leaders of one term: their quorums share a voter that both counted.
    "ElectionSafety/BecomeLeader": ("TypeOK", "LeaderHasQuorum", "VotesGrantedDisjoint"),
}
"""Proof hints of the parametric proofs, as `lemmas.ASSUMES` (which applies too): fewer quantified hypotheses
for Z3 to instantiate.  Assuming less proves more, so a hint cannot make a wrong proof pass."""
