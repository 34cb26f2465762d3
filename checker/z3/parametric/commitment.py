"""The commitment lemmas and the three log-safety properties, for every number of servers.

How this works: each definition has the name and meaning of the fixed-size one in
`checker/z3/lemmas.py` ("commitment lemmas" there explains the idea: an entry (x, T)
that a quorum holds and that every later candidate, leader and request must carry
is *safe*, and every commitIndex points at or below a safe entry), written with
quantifiers over servers and quorums instead of loops over servers and minimal
majorities.  Where the fixed-size lemma says "some quorum" or "some entry" (the
existentials), the definition takes the witness as an argument: `safe_with(s, x, t,
q, extra)` is "(x, t) is safe with quorum q", and the lemma's plain form wraps it in
`Exists`.  `CommitWitnesses` (in `witnesses.py`) uses the argument to state the
same lemmas with Skolem functions, which is what Z3 can prove things with.
"""
from __future__ import annotations

from typing import Callable

import z3

from leaderfollower.checker.z3.model import RECORDS, Z_CANDIDATE, Z_LEADER, make_record
from leaderfollower.checker.z3.model import field as rfield
from leaderfollower.checker.z3.parametric.model import PSym, Quorum, Server, member
from leaderfollower.checker.z3.parametric.terms import request_var, server_vars, with_entry, won_by

Extra = Callable[[z3.ExprRef], z3.BoolRef]
"""A condition on each member of a safe entry's quorum (that it agrees with the committing log)."""


def holds(s: PSym, k: z3.ExprRef, x: z3.ArithRef, t: z3.ArithRef) -> z3.BoolRef:
    """Server k's log has an entry of term t at index x."""
    return z3.And(1 <= x, x <= s.len(k), s.log_term(k, x) == t)


def granted_to(s: PSym, q: z3.ExprRef, c: z3.ExprRef) -> z3.BoolRef:
    """q's vote for candidate c in c's current term: counted, or a granted response in flight."""
    resp = make_record("RequestVoteResponse", mterm=s.term(c), mvote_granted=True)
    return z3.Or(s.vg(c, q), s.sent("RequestVoteResponse", q, c, resp))


def s4(s: PSym, q: z3.ExprRef, x: z3.ArithRef, t: z3.ArithRef) -> z3.BoolRef:
    """Every candidate of a term after t that has q's vote holds (x, t)."""
    c = z3.Const("s4_c", Server)
    return z3.ForAll([c], z3.Implies(z3.And(s.role(c) == Z_CANDIDATE, s.term(c) > t, granted_to(s, q, c)), holds(s, c, x, t)))


def safe_rest(s: PSym, x: z3.ArithRef, t: z3.ArithRef) -> list[z3.BoolRef]:
    """S2, S3 and S5 for the entry (x, t): later logs and requests carry it, leaders hold it."""
    k, lead, src, dst = server_vars("sr_k sr_l sr_src sr_dst")
    y = z3.Int("sr_y")
    r = request_var("sr_r")
    p = rfield(r, "mprev_log_index")
    sent = with_entry(s, src, dst, r)
    return [
        z3.ForAll([k, y], z3.Implies(z3.And(x <= y, y <= s.len(k), s.log_term(k, y) >= t), holds(s, k, x, t))),
        z3.ForAll([k, y], z3.Implies(z3.And(1 <= y, y <= s.len(k), s.log_term(k, y) > t), y > x)),
        z3.ForAll([src, dst, r], z3.Implies(z3.And(sent, rfield(r, "mentry_term") >= t, p >= x), rfield(r, "mprev_log_term") >= t)),
        z3.ForAll([lead], z3.Implies(z3.And(s.role(lead) == Z_LEADER, s.term(lead) >= t), holds(s, lead, x, t))),
        z3.ForAll(
            [src, dst, r, k],
            z3.Implies(
                z3.And(sent, rfield(r, "mterm") >= t, p + 1 <= x, holds(s, k, x, t)),
                z3.And(s.log_term(k, p + 1) == rfield(r, "mentry_term"), s.log_value(k, p + 1) == rfield(r, "mentry_value")),
            ),
        ),
    ]


def safe_quorum(s: PSym, x: z3.ArithRef, t: z3.ArithRef, q: z3.ExprRef, extra: Extra) -> z3.BoolRef:
    """S1 with quorum q: every member holds (x, t), passes it on to the candidates it votes for, and `extra`."""
    m = z3.Const("sq_m", Server)
    return z3.ForAll([m], z3.Implies(member(m, q), z3.And(holds(s, m, x, t), s4(s, m, x, t), extra(m))))


def safe_with(s: PSym, x: z3.ArithRef, t: z3.ArithRef, q: z3.ExprRef, extra: Extra) -> z3.BoolRef:
    """(x, t) is safe (S1 to S5), with quorum q."""
    return z3.And(safe_quorum(s, x, t, q, extra), *safe_rest(s, x, t))


Witness = tuple[z3.ArithRef, z3.ArithRef, z3.ExprRef]
"""(index, term, quorum) of a safe entry."""


def commit_is_safe_body(s: PSym, i: z3.ExprRef, w: Witness) -> z3.BoolRef:
    """Server i's commitIndex is at most the safe entry w's index, w's term at most i's, w's quorum agrees with i."""
    x, t, q = w
    c = s.commit(i)
    return z3.And(c <= x, t <= s.term(i), safe_with(s, x, t, q, lambda m: s.log_term(m, c) == s.log_term(i, c)))


def commit_is_safe(s: PSym, witness: Callable[[z3.ExprRef], z3.BoolRef] | None = None) -> list[z3.BoolRef]:
    """CommitIsSafe: commitIndex within the log, and at most the index of a safe entry (`witness(i)`: the
    existential's replacement, default the existential itself)."""
    i = z3.Const("ci", Server)

    def plain(i: z3.ExprRef) -> z3.BoolRef:
        x, t = z3.Ints("cx ct")
        q = z3.Const("cq", Quorum)
        return z3.Exists([x, t, q], commit_is_safe_body(s, i, (x, t, q)))

    body = witness if witness is not None else plain
    return [z3.ForAll([i], s.commit(i) <= s.len(i)), z3.ForAll([i], z3.Implies(s.commit(i) >= 1, body(i)))]


def request_top(r: z3.ExprRef) -> tuple[z3.ArithRef, z3.ArithRef]:
    """The index and term of an AppendEntries request's last entry (its entry, else prevLogIndex / prevLogTerm)."""
    p, mn = rfield(r, "mprev_log_index"), rfield(r, "mn")
    return p + mn, z3.If(mn == 1, rfield(r, "mentry_term"), rfield(r, "mprev_log_term"))  # type: ignore[return-value]


def request_commit_body(s: PSym, r: z3.ExprRef, w: Witness) -> z3.BoolRef:
    """A request's mcommitIndex is at most the safe entry w's index, w's term at most the request's, and w's
    quorum agrees with the request's last entry."""
    x, t, q = w
    c = rfield(r, "mcommit_index")
    top, top_term = request_top(r)
    agree: Extra = lambda m: z3.Implies(top <= x, s.log_term(m, top) == top_term)  # noqa: E731
    return z3.And(c <= x, t <= rfield(r, "mterm"), z3.Implies(top > x, top_term >= t), safe_with(s, x, t, q, agree))


RequestWitness = Callable[[z3.ExprRef, z3.ExprRef, z3.ExprRef], z3.BoolRef]


def append_entries_commit_is_safe(s: PSym, witness: RequestWitness | None = None) -> list[z3.BoolRef]:
    """AppendEntriesCommitIsSafe: a request's mcommitIndex is at most its last index and at most a safe entry's."""
    src, dst = server_vars("acs_src acs_dst")
    r = request_var("acs_r")

    def plain(src: z3.ExprRef, dst: z3.ExprRef, r: z3.ExprRef) -> z3.BoolRef:
        x, t = z3.Ints("rx rt")
        q = z3.Const("rq", Quorum)
        return z3.Exists([x, t, q], request_commit_body(s, r, (x, t, q)))

    body = witness if witness is not None else plain
    sent = s.sent("AppendEntriesRequest", src, dst, r)
    c = rfield(r, "mcommit_index")
    return [
        z3.ForAll([src, dst, r], z3.Implies(sent, c <= request_top(r)[0])),
        z3.ForAll([src, dst, r], z3.Implies(z3.And(sent, c >= 1), body(src, dst, r))),
    ]


# ------------------------------------------------------- acknowledged entries


def acker(s: PSym, lead: z3.ExprRef, k: z3.ExprRef, y: z3.ArithRef) -> z3.BoolRef:
    """k acknowledged (or holds, in the leader's term) the leader's entry at y: k is the leader, its matchIndex
    reaches y, a successful response reaching y is in flight, or k is in the term and holds it."""
    t = s.term(lead)
    q = z3.Const("ak_q", RECORDS["AppendEntriesResponse"])
    resp = z3.Exists(
        [q],
        z3.And(s.sent("AppendEntriesResponse", k, lead, q), rfield(q, "mterm") == t, rfield(q, "msuccess"), rfield(q, "mmatch_index") >= y),
    )
    return z3.Or(k == lead, s.match(lead, k) >= y, z3.And(s.term(k) == t, holds(s, k, y, t)), resp)


def doomed(s: PSym, lead: z3.ExprRef, y: z3.ArithRef, q: z3.ExprRef) -> z3.BoolRef:
    """Quorum q is past the leader's term without acknowledging its entry at y: it can never be committed."""
    v = z3.Const("dm_v", Server)
    return z3.ForAll([v], z3.Implies(member(v, q), z3.And(s.term(v) > s.term(lead), z3.Not(acker(s, lead, v, y)))))


def acked_sound(s: PSym, lead: z3.ExprRef, y: z3.ArithRef) -> z3.BoolRef:
    """Every acknowledgement of the leader's entry at y is held and passed on, and the entry is S2, S3, S5-safe."""
    k = z3.Const("as_k", Server)
    t = s.term(lead)
    sound = z3.ForAll([k], z3.Implies(acker(s, lead, k, y), z3.And(holds(s, k, y, t), s4(s, k, y, t))))
    return z3.And(sound, *safe_rest(s, y, t))


DoomedBy = Callable[[z3.ExprRef, z3.ArithRef], z3.BoolRef]


def leader_entries_acked_safely(s: PSym, doomed_by: DoomedBy | None = None) -> list[z3.BoolRef]:
    """LeaderEntriesAckedSafely: each entry of a leader's term is doomed, or acknowledged safely (`doomed_by(l, y)`:
    how "doomed" is said, default some quorum)."""
    lead = z3.Const("la_l", Server)
    y = z3.Int("la_y")

    def plain(lead: z3.ExprRef, y: z3.ArithRef) -> z3.BoolRef:
        q = z3.Const("la_q", Quorum)
        return z3.Exists([q], doomed(s, lead, y, q))

    by = doomed_by if doomed_by is not None else plain
    own = z3.And(s.role(lead) == Z_LEADER, 1 <= y, y <= s.len(lead), s.log_term(lead, y) == s.term(lead))
    return [z3.ForAll([lead, y], z3.Implies(own, z3.Or(by(lead, y), acked_sound(s, lead, y))))]


# ----------------------------------------------------------- small log facts


def reached(s: PSym, t: z3.ArithRef, q: z3.ExprRef) -> z3.BoolRef:
    """Every member of quorum q has reached term t."""
    m = z3.Const("rq_m", Server)
    return z3.ForAll([m], z3.Implies(member(m, q), s.term(m) >= t))


ReachedBy = Callable[[z3.ArithRef], z3.BoolRef]


def terms_reached_by_quorum(s: PSym, reached_by: ReachedBy | None = None) -> list[z3.BoolRef]:
    """TermsReachedByQuorum: a leader's term, every entry's term and every request's term was reached by a quorum."""
    lead, k, src, dst = server_vars("tr_l tr_k tr_src tr_dst")
    x = z3.Int("tr_x")
    r = request_var("tr_r")

    def plain(t: z3.ArithRef) -> z3.BoolRef:
        q = z3.Const("tr_q", Quorum)
        return z3.Exists([q], reached(s, t, q))

    by = reached_by if reached_by is not None else plain
    return [
        z3.ForAll([lead], z3.Implies(s.role(lead) == Z_LEADER, by(s.term(lead)))),
        z3.ForAll([k, x], z3.Implies(z3.And(1 <= x, x <= s.len(k)), by(s.log_term(k, x)))),
        z3.ForAll([src, dst, r], z3.Implies(s.sent("AppendEntriesRequest", src, dst, r), by(rfield(r, "mterm")))),
    ]


WonBy = Callable[[z3.ExprRef, z3.ArithRef], z3.BoolRef]


def append_entries_from_won_elections(s: PSym, won_by_src: WonBy | None = None) -> list[z3.BoolRef]:
    """AppendEntriesFromWonElections: the sender of a request won the request's term (`won_by_src(src, t)`)."""
    src, dst = server_vars("aw_src aw_dst")
    r = request_var("aw_r")

    def plain(src: z3.ExprRef, t: z3.ArithRef) -> z3.BoolRef:
        q = z3.Const("aw_q", Quorum)
        return z3.Exists([q], won_by(s, t, src, q))

    by = won_by_src if won_by_src is not None else plain
    return [z3.ForAll([src, dst, r], z3.Implies(s.sent("AppendEntriesRequest", src, dst, r), by(src, rfield(r, "mterm"))))]


def no_append_entries_for_candidates(s: PSym) -> list[z3.BoolRef]:
    """NoAppendEntriesForCandidates: a candidate has no entry, request or successful response of its term."""
    j, k = server_vars("na_j na_k")
    x = z3.Int("na_x")
    r = request_var("na_r")
    q = z3.Const("na_q", RECORDS["AppendEntriesResponse"])
    cand = s.role(j) == Z_CANDIDATE
    return [
        z3.ForAll([j, x], z3.Implies(z3.And(cand, 1 <= x, x <= s.len(j)), s.log_term(j, x) < s.term(j))),
        z3.ForAll([j, k, r], z3.Implies(z3.And(cand, s.sent("AppendEntriesRequest", j, k, r)), rfield(r, "mterm") != s.term(j))),
        z3.ForAll(
            [j, k, q],
            z3.Implies(z3.And(cand, s.sent("AppendEntriesResponse", k, j, q), rfield(q, "msuccess")), rfield(q, "mterm") != s.term(j)),
        ),
    ]


def log_terms_grow(s: PSym) -> list[z3.BoolRef]:
    """LogTermsGrow: entry terms are at least 1 and never decrease along a log; prevLogTerm <= the entry's term."""
    k, src, dst = server_vars("lg_k lg_src lg_dst")
    a, b = z3.Ints("lg_a lg_b")
    r = request_var("lg_r")
    p, pt, et = rfield(r, "mprev_log_index"), rfield(r, "mprev_log_term"), rfield(r, "mentry_term")
    return [
        z3.ForAll(
            [k, a, b],
            z3.Implies(z3.And(1 <= a, a <= b, b <= s.len(k)), z3.And(1 <= s.log_term(k, a), s.log_term(k, a) <= s.log_term(k, b))),
        ),
        z3.ForAll([src, dst, r], z3.Implies(with_entry(s, src, dst, r), z3.And(et >= 1, z3.Or(p == 0, z3.And(pt >= 1, pt <= et))))),
    ]


def terms_not_from_the_future(s: PSym) -> list[z3.BoolRef]:
    """TermsNotFromTheFuture: nothing carries a term newer than its holder's, sender's or addressee's."""
    k, src, dst = server_vars("tf_k tf_src tf_dst")
    x = z3.Int("tf_x")
    r = request_var("tf_r")
    v = z3.Const("tf_v", RECORDS["RequestVoteRequest"])
    g = z3.Const("tf_g", RECORDS["RequestVoteResponse"])
    q = z3.Const("tf_q", RECORDS["AppendEntriesResponse"])
    mterm = rfield(r, "mterm")
    return [
        z3.ForAll([k, x], z3.Implies(z3.And(1 <= x, x <= s.len(k)), s.log_term(k, x) <= s.term(k))),
        z3.ForAll(
            [src, dst, r],
            z3.Implies(
                s.sent("AppendEntriesRequest", src, dst, r),
                z3.And(mterm <= s.term(src), z3.Implies(rfield(r, "mn") == 1, rfield(r, "mentry_term") <= mterm)),
            ),
        ),
        z3.ForAll([src, dst, v], z3.Implies(s.sent("RequestVoteRequest", src, dst, v), rfield(v, "mterm") <= s.term(src))),
        z3.ForAll(
            [src, dst, g],
            z3.Implies(z3.And(s.sent("RequestVoteResponse", src, dst, g), rfield(g, "mvote_granted")), rfield(g, "mterm") <= s.term(dst)),
        ),
        z3.ForAll(
            [src, dst, q],
            z3.Implies(z3.And(s.sent("AppendEntriesResponse", src, dst, q), rfield(q, "msuccess")), rfield(q, "mterm") <= s.term(dst)),
        ),
    ]


def request_vote_matches_candidate(s: PSym) -> list[z3.BoolRef]:
    """RequestVoteMatchesCandidate: a vote request of a candidate's current term carries its last log term and length."""
    c, dst = server_vars("rv_c rv_dst")
    v = z3.Const("rv_v", RECORDS["RequestVoteRequest"])
    guard = z3.And(s.sent("RequestVoteRequest", c, dst, v), s.role(c) == Z_CANDIDATE, rfield(v, "mterm") == s.term(c))
    same = z3.And(rfield(v, "mlast_log_term") == s.last_term(c), rfield(v, "mlast_log_index") == s.len(c))
    return [z3.ForAll([c, dst, v], z3.Implies(guard, same))]


def leader_messages_match_log(s: PSym) -> list[z3.BoolRef]:
    """LeaderMessagesMatchLog: a leader's indexes stay within its log, and the messages of its term match it."""
    lead, k, other = server_vars("lm_l lm_k lm_o")
    r = request_var("lm_r")
    q = z3.Const("lm_q", RECORDS["AppendEntriesResponse"])
    is_leader = s.role(lead) == Z_LEADER
    p, mn = rfield(r, "mprev_log_index"), rfield(r, "mn")
    own = z3.And(is_leader, s.sent("AppendEntriesRequest", lead, k, r), rfield(r, "mterm") == s.term(lead))
    matches = z3.And(
        p + mn <= s.len(lead),
        z3.Implies(p >= 1, s.log_term(lead, p) == rfield(r, "mprev_log_term")),
        z3.Implies(mn == 1, z3.And(s.log_term(lead, p + 1) == rfield(r, "mentry_term"), s.log_value(lead, p + 1) == rfield(r, "mentry_value"))),
    )
    ack = z3.And(is_leader, s.sent("AppendEntriesResponse", k, lead, q), rfield(q, "mterm") == s.term(lead), rfield(q, "msuccess"))
    return [
        z3.ForAll([lead, k], z3.Implies(z3.And(is_leader, k != lead), z3.And(s.next(lead, k) <= s.len(lead) + 1, s.match(lead, k) <= s.len(lead)))),
        z3.ForAll(
            [lead, other, k, r],
            z3.Implies(z3.And(is_leader, other != lead, s.sent("AppendEntriesRequest", other, k, r)), rfield(r, "mterm") != s.term(lead)),
        ),
        z3.ForAll([lead, k, r], z3.Implies(own, matches)),
        z3.ForAll([lead, k, q], z3.Implies(ack, rfield(q, "mmatch_index") <= s.len(lead))),
    ]


# ------------------------------------------------------------ the properties


def _agree(s: PSym, a: z3.ExprRef, b: z3.ExprRef, top: z3.ArithRef, name: str) -> z3.BoolRef:
    """a and b hold the same entry at every index 1..top."""
    y = z3.Int(name)
    same = z3.And(s.log_term(a, y) == s.log_term(b, y), s.log_value(a, y) == s.log_value(b, y))
    return z3.ForAll([y], z3.Implies(z3.And(1 <= y, y <= top), same))


def _applied(s: PSym, i: z3.ExprRef) -> z3.ArithRef:
    """How much of i's log a read returns: min(commitIndex, length)."""
    return z3.If(s.commit(i) < s.len(i), s.commit(i), s.len(i))  # type: ignore[return-value]


def commit_within_log(s: PSym) -> list[z3.BoolRef]:
    """CommitWithinLog: no server's commitIndex points past the end of its log."""
    i = z3.Const("cw_i", Server)
    return [z3.ForAll([i], s.commit(i) <= s.len(i))]


def state_machine_safety(s: PSym) -> list[z3.BoolRef]:
    """StateMachineSafety: any two servers' reads agree up to the shorter."""
    a, b = server_vars("sm_a sm_b")
    top = z3.If(_applied(s, a) < _applied(s, b), _applied(s, a), _applied(s, b))
    return [z3.ForAll([a, b], _agree(s, a, b, top, "sm_y"))]  # type: ignore[arg-type]


def leader_completeness(s: PSym) -> list[z3.BoolRef]:
    """LeaderCompleteness: a leader holds every entry a server of no newer term has committed."""
    lead, i = server_vars("lc_l lc_i")
    top = _applied(s, i)
    guard = z3.And(i != lead, s.role(lead) == Z_LEADER, s.commit(i) > 0, s.term(i) <= s.term(lead))
    return [z3.ForAll([lead, i], z3.Implies(guard, z3.And(top <= s.len(lead), _agree(s, i, lead, top, "lc_y"))))]
