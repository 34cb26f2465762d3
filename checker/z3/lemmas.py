"""Invariants for Z3: the properties' encodings and the strengthening lemmas of the proofs.

How this works: a `Lemma` has a name, a description, its Z3 definition (a function
of the Z3 model and a symbolic state, `checker.z3model`) and, where one can be
written, a Python predicate on a spec `State`, so that the explorer can confirm
the lemma holds on every reachable state (`tests/test_prove.py`) and the two
definitions can be compared on concrete states (`tests/test_z3_agreement.py`).

`PROPERTY_ENCODINGS` gives the always properties of `spec.properties` their Z3
form (same names), built from their one definition in `spec/invariants.py`.  `PROOFS` says which lemmas strengthen which property into an
inductive invariant: `Init => Inv` and `Inv and Next => Inv'` for the conjunction
of the property and its lemmas (docs/z3.md explains each lemma).

The Z3 definitions quantify over servers by expanding them (the number of servers
is fixed), over message fields and log indexes with Z3 quantifiers.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any, Callable, Optional

import z3

from leaderfollower.spec import invariants
from leaderfollower.spec.invariants import Invariant, named_after
from leaderfollower.spec.state import (
    CANDIDATE,
    LEADER,
    AppendEntriesRequest,
    AppendEntriesResponse,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerState,
    State,
)

if TYPE_CHECKING:
    from leaderfollower.checker.z3.model import Sym, Z3Model

    from leaderfollower.spec.raft import RaftSpec

Z3Def = Callable[["Z3Model", "Sym"], z3.BoolRef]
PyDef = Callable[["RaftSpec", State], bool]


@dataclass(frozen=True)
class Lemma:
    """A named invariant used to strengthen a proof."""

    name: str
    description: str
    z3: Z3Def
    holds: Optional[PyDef] = None


def _all(items: list[z3.BoolRef]) -> z3.BoolRef:
    return z3.And(items) if items else z3.BoolVal(True)


def _campaigning(z: "Z3Model", s: "Sym", i: int) -> z3.BoolRef:
    from leaderfollower.checker.z3.model import Z_CANDIDATE, Z_LEADER

    return z3.Or(s.role(i) == Z_CANDIDATE, s.role(i) == Z_LEADER)


def _granted_responses(z: "Z3Model", s: "Sym", j: int, i: int, name: str) -> tuple[z3.ArithRef, z3.BoolRef]:
    """A term variable t and 'a granted vote response j -> i of term t is in flight'."""
    from leaderfollower.checker.z3.model import make_record

    t = z3.Int(name)
    rec = make_record("RequestVoteResponse", mterm=t, mvote_granted=True)
    return t, s.sent("RequestVoteResponse", j, i, rec)


def _py_granted(s: State) -> list[RequestVoteResponse]:
    return [m for m, _ in s.messages if isinstance(m, RequestVoteResponse) and m.mvote_granted]


# ------------------------------------------------------------- properties


def _derived(inv: Invariant) -> Z3Def:
    """The Z3 form of an invariant of `spec.invariants`, built from its one definition."""

    def encoded(z: "Z3Model", s: "Sym") -> z3.BoolRef:
        from leaderfollower.checker.z3.views import Z3View

        return inv(Z3View(z, s))  # type: ignore[no-any-return]

    return named_after(inv, encoded, "z3_")


z3_election_safety = _derived(invariants.election_safety)
z3_log_matching = _derived(invariants.log_matching)
z3_leader_completeness = _derived(invariants.leader_completeness)
z3_state_machine_safety = _derived(invariants.state_machine_safety)
z3_commit_within_log = _derived(invariants.commit_within_log)


def _same_entry(s: "Sym", a: int, b: int, x: z3.ArithRef) -> z3.BoolRef:
    return z3.And(s.log_term(a)[x] == s.log_term(b)[x], s.log_value(a)[x] == s.log_value(b)[x])


PROPERTY_ENCODINGS: dict[str, Z3Def] = {
    "ElectionSafety": z3_election_safety,
    "LogMatching": z3_log_matching,
    "LeaderCompleteness": z3_leader_completeness,
    "StateMachineSafety": z3_state_machine_safety,
    "CommitWithinLog": z3_commit_within_log,
}
"""The Z3 form of each always property that `prove` checks (names as in spec.properties)."""


# ----------------------------------------------------------------- lemmas


def z3_type_ok(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import NIL_ID

    out = []
    for i in z.servers:
        out += [s.term(i) >= 1, s.voted_for(i) >= NIL_ID, s.voted_for(i) < z.n, s.len(i) >= 0, s.commit(i) >= 0]
        out += [z3.And(s.next(i, j) >= 1, s.match(i, j) >= 0) for j in z.servers]
    return _all(out)


def py_type_ok(spec: "RaftSpec", s: State) -> bool:
    return all(
        srv.current_term >= 1 and srv.commit_index >= 0 and min(srv.next_index) >= 1 and min(srv.match_index) >= 0
        for srv in s.servers
    )


def z3_messages_type_ok(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import RECORDS, field

    out = []
    for src in z.servers:
        for dst in z.servers:
            r = z3.Const("r", RECORDS["AppendEntriesRequest"])
            out.append(
                z3.ForAll(
                    [r],
                    z3.Implies(
                        s.sent("AppendEntriesRequest", src, dst, r),
                        z3.And(
                            field(r, "mcommit_index") >= 0,
                            field(r, "mprev_log_index") >= 0,
                            z3.Or(field(r, "mn") == 0, field(r, "mn") == 1),
                        ),
                    ),
                )
            )
            q = z3.Const("q", RECORDS["AppendEntriesResponse"])
            out.append(z3.ForAll([q], z3.Implies(s.sent("AppendEntriesResponse", src, dst, q), field(q, "mmatch_index") >= 0)))
    return _all(out)


def py_messages_type_ok(spec: "RaftSpec", s: State) -> bool:
    for m, _ in s.messages:
        if isinstance(m, AppendEntriesRequest):
            if m.mcommit_index < 0 or m.mprev_log_index < 0 or len(m.mentries) > 1:
                return False
        if isinstance(m, AppendEntriesResponse) and m.mmatch_index < 0:
            return False
    return True


def z3_leader_has_quorum(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import Z_LEADER

    return _all([z3.Implies(s.role(i) == Z_LEADER, z.is_quorum([s.vg(i, j) for j in z.servers])) for i in z.servers])


def py_leader_has_quorum(spec: "RaftSpec", s: State) -> bool:
    return all(spec.is_quorum(srv.votes_granted) for srv in s.servers if srv.role == LEADER)


def z3_votes_granted_mean_voted_for(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    out = []
    for i in z.servers:
        for j in z.servers:
            out.append(
                z3.Implies(
                    z3.And(_campaigning(z, s, i), s.vg(i, j)),
                    z3.Or(s.term(j) > s.term(i), z3.And(s.term(j) == s.term(i), s.voted_for(j) == i)),
                )
            )
    return _all(out)


def py_votes_granted_mean_voted_for(spec: "RaftSpec", s: State) -> bool:
    for i, c in enumerate(s.servers):
        if c.role not in (CANDIDATE, LEADER):
            continue
        for j in c.votes_granted:
            v = s.servers[j]
            if not (v.current_term > c.current_term or (v.current_term == c.current_term and v.voted_for == i)):
                return False
    return True


def z3_granted_responses_mean_voted_for(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    out = []
    for j in z.servers:
        for i in z.servers:
            t, sent = _granted_responses(z, s, j, i, "t")
            out.append(
                z3.ForAll([t], z3.Implies(sent, z3.Or(s.term(j) > t, z3.And(s.term(j) == t, s.voted_for(j) == i))))
            )
    return _all(out)


def py_granted_responses_mean_voted_for(spec: "RaftSpec", s: State) -> bool:
    for m in _py_granted(s):
        v = s.servers[m.msource]
        if not (v.current_term > m.mterm or (v.current_term == m.mterm and v.voted_for == m.mdest)):
            return False
    return True


def z3_votes_granted_disjoint(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    out = []
    for i, k in combinations(z.servers, 2):
        for j in z.servers:
            out.append(
                z3.Not(
                    z3.And(_campaigning(z, s, i), _campaigning(z, s, k), s.term(i) == s.term(k), s.vg(i, j), s.vg(k, j))
                )
            )
    return _all(out)


def py_votes_granted_disjoint(spec: "RaftSpec", s: State) -> bool:
    seen: set[tuple[int, int]] = set()  # (term, voter)
    for c in s.servers:
        if c.role in (CANDIDATE, LEADER):
            for j in c.votes_granted:
                if (c.current_term, j) in seen:
                    return False
                seen.add((c.current_term, j))
    return True


def z3_granted_vote_and_response_disjoint(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    out = []
    for i in z.servers:
        for k in z.servers:
            if i == k:
                continue
            for j in z.servers:
                t, sent = _granted_responses(z, s, j, k, "t")
                out.append(
                    z3.Implies(
                        z3.And(_campaigning(z, s, i), s.vg(i, j)),
                        z3.ForAll([t], z3.Implies(sent, t != s.term(i))),
                    )
                )
    return _all(out)


def py_granted_vote_and_response_disjoint(spec: "RaftSpec", s: State) -> bool:
    for i, c in enumerate(s.servers):
        if c.role not in (CANDIDATE, LEADER):
            continue
        for m in _py_granted(s):
            if m.mdest != i and m.msource in c.votes_granted and m.mterm == c.current_term:
                return False
    return True


def z3_granted_responses_disjoint(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    out = []
    for i, k in combinations(z.servers, 2):
        for j in z.servers:
            t, sent_i = _granted_responses(z, s, j, i, "t")
            _, sent_k = _granted_responses(z, s, j, k, "t")
            out.append(z3.ForAll([t], z3.Not(z3.And(sent_i, sent_k))))
    return _all(out)


def py_granted_responses_disjoint(spec: "RaftSpec", s: State) -> bool:
    seen: dict[tuple[int, int], int] = {}  # (term, voter) -> candidate
    for m in _py_granted(s):
        if seen.setdefault((m.mterm, m.msource), m.mdest) != m.mdest:
            return False
    return True


# ------------------------------------------------------- log-safety lemmas
#
# Entries of one term are created by that term's only leader, so they agree at one
# index; a leader holds every entry of its term; and an AppendEntries request's
# (prevLogTerm, entry) pair agrees with every log and every other request, as if it
# were a two-entry fragment of its sender's log.  `_won(t)` is the election-history
# fact that replaces a ghost variable: a quorum Q voted for some server l in term t
# and none of Q can still help another candidate of t (docs/z3.md).


def _quorums(n: int) -> list[tuple[int, ...]]:
    """The smallest majorities (every quorum contains one)."""
    return list(combinations(range(n), n // 2 + 1))


def _won(z: "Z3Model", s: "Sym", t: z3.ArithRef, by: Optional[int] = None) -> z3.BoolRef:
    """Some server l (or `by`) won term t's election with a quorum Q that nobody else of term t can use."""
    from leaderfollower.checker.z3.model import Z_CANDIDATE, make_record

    options = []
    for lead in z.servers if by is None else (by,):
        base = [s.term(lead) >= t, z3.Implies(s.term(lead) == t, s.role(lead) != Z_CANDIDATE)]
        for q in _quorums(z.n):
            conds = list(base)
            for j in q:
                conds += [s.term(j) >= t, z3.Implies(s.term(j) == t, s.voted_for(j) == lead)]
                for c in z.servers:
                    if c == lead:
                        continue
                    conds.append(z3.Not(z3.And(_campaigning(z, s, c), s.term(c) == t, s.vg(c, j))))
                    granted = make_record("RequestVoteResponse", mterm=t, mvote_granted=True)
                    conds.append(z3.Not(s.sent("RequestVoteResponse", j, c, granted)))
            options.append(z3.And(conds))
    return z3.Or(options)


def _py_won(s: State, t: int, by: Optional[int] = None) -> bool:
    n = len(s.servers)
    granted = _py_granted(s)
    for lead, ls in enumerate(s.servers):
        if by is not None and lead != by:
            continue
        if ls.current_term < t or (ls.current_term == t and ls.role == CANDIDATE):
            continue

        def usable(j: int, lead: int = lead) -> bool:
            v = s.servers[j]
            if v.current_term < t or (v.current_term == t and v.voted_for != lead):
                return False
            for c, cs in enumerate(s.servers):
                if c != lead and cs.role in (CANDIDATE, LEADER) and cs.current_term == t and j in cs.votes_granted:
                    return False
            return not any(m.msource == j and m.mdest != lead and m.mterm == t for m in granted)

        if any(all(usable(j) for j in q) for q in _quorums(n)):
            return True
    return False


def _ae_records(z: "Z3Model", s: "Sym", name: str = "r") -> list[tuple[z3.ExprRef, z3.BoolRef]]:
    """For each (source, destination): a record variable and 'that AppendEntries request, with an entry, is in flight'."""
    from leaderfollower.checker.z3.model import RECORDS, field

    out = []
    for src in z.servers:
        for dst in z.servers:
            r = z3.Const(name, RECORDS["AppendEntriesRequest"])
            out.append((r, z3.And(s.sent("AppendEntriesRequest", src, dst, r), field(r, "mn") == 1)))
    return out


def _py_ae_with_entry(s: State) -> list[AppendEntriesRequest]:
    return [m for m, _ in s.messages if isinstance(m, AppendEntriesRequest) and m.mentries]


def z3_entries_from_won_elections(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import field

    def won(x: z3.ArithRef, k: int) -> z3.BoolRef:
        return _won(z, s, s.log_term(k)[x])

    out = [z.forall_index(1, s.len(k), functools.partial(won, k=k)) for k in z.servers]
    for r, sent in _ae_records(z, s):
        out.append(z3.ForAll([r], z3.Implies(sent, _won(z, s, field(r, "mentry_term")))))
    return _all(out)


def py_entries_from_won_elections(spec: "RaftSpec", s: State) -> bool:
    terms = {e.term for srv in s.servers for e in srv.log} | {m.mentries[0].term for m in _py_ae_with_entry(s)}
    return all(_py_won(s, t) for t in terms)


def z3_leader_has_all_entries_of_its_term(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import Z_LEADER, field

    def has_entry_of_term(x: z3.ArithRef, k: int, lead: int) -> z3.BoolRef:
        return z3.Implies(s.log_term(k)[x] == s.term(lead), z3.And(x <= s.len(lead), _same_entry(s, k, lead, x)))

    out = []
    for lead in z.servers:
        is_leader = s.role(lead) == Z_LEADER
        for k in z.servers:
            if k == lead:
                continue
            out.append(
                z3.Implies(
                    is_leader,
                    z.forall_index(1, s.len(k), functools.partial(has_entry_of_term, k=k, lead=lead)),
                )
            )
        for r, sent in _ae_records(z, s):
            x = field(r, "mprev_log_index") + 1
            out.append(
                z3.ForAll(
                    [r],
                    z3.Implies(
                        z3.And(is_leader, sent, field(r, "mentry_term") == s.term(lead)),
                        z3.And(
                            x <= s.len(lead),
                            s.log_term(lead)[x] == field(r, "mentry_term"),
                            s.log_value(lead)[x] == field(r, "mentry_value"),
                        ),
                    ),
                )
            )
    return _all(out)


def py_leader_has_all_entries_of_its_term(spec: "RaftSpec", s: State) -> bool:
    for lead in s.servers:
        if lead.role != LEADER:
            continue
        held = [(x, e) for srv in s.servers for x, e in enumerate(srv.log, start=1)]
        held += [(m.mprev_log_index + 1, m.mentries[0]) for m in _py_ae_with_entry(s)]
        for x, e in held:
            if e.term == lead.current_term and (x > len(lead.log) or lead.log[x - 1] != e):
                return False
    return True


def z3_append_entries_match_logs(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import field

    out = []
    for r, sent in _ae_records(z, s):
        p = field(r, "mprev_log_index")
        for k in z.servers:
            out.append(
                z3.ForAll(
                    [r],
                    z3.Implies(
                        z3.And(sent, s.len(k) >= p + 1, s.log_term(k)[p + 1] == field(r, "mentry_term")),
                        z3.And(
                            s.log_value(k)[p + 1] == field(r, "mentry_value"),
                            z3.Or(p == 0, s.log_term(k)[p] == field(r, "mprev_log_term")),
                        ),
                    ),
                )
            )
    return _all(out)


def py_append_entries_match_logs(spec: "RaftSpec", s: State) -> bool:
    for m in _py_ae_with_entry(s):
        x, e = m.mprev_log_index + 1, m.mentries[0]
        for srv in s.servers:
            if len(srv.log) >= x and srv.log[x - 1].term == e.term:
                if srv.log[x - 1].value != e.value or (x > 1 and srv.log[x - 2].term != m.mprev_log_term):
                    return False
    return True


def z3_append_entries_match_each_other(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import field

    out = []
    pairs = list(zip(_ae_records(z, s, "r1"), _ae_records(z, s, "r2")))
    firsts = [a for a, _ in pairs]
    seconds = [b for _, b in pairs]
    for a, (r1, sent1) in enumerate(firsts):
        for b, (r2, sent2) in enumerate(seconds):
            if b < a:
                continue
            p1, p2 = field(r1, "mprev_log_index"), field(r2, "mprev_log_index")
            out.append(
                z3.ForAll(
                    [r1, r2],
                    z3.Implies(
                        z3.And(sent1, sent2, p1 == p2, field(r1, "mentry_term") == field(r2, "mentry_term")),
                        z3.And(
                            field(r1, "mentry_value") == field(r2, "mentry_value"),
                            z3.Or(p1 == 0, field(r1, "mprev_log_term") == field(r2, "mprev_log_term")),
                        ),
                    ),
                )
            )
    return _all(out)


def py_append_entries_match_each_other(spec: "RaftSpec", s: State) -> bool:
    seen: dict[tuple[int, int], tuple[int, int]] = {}  # (index, term) -> (value, prevLogTerm)
    for m in _py_ae_with_entry(s):
        x, e = m.mprev_log_index + 1, m.mentries[0]
        got = (e.value, m.mprev_log_term if x > 1 else 0)
        if seen.setdefault((x, e.term), got) != got:
            return False
    return True


# ------------------------------------------------------ commitment lemmas
#
# How a committed entry reaches every later leader, without history variables.
# An entry (x, T) of term T that the leader of T saw held by a quorum (its own
# term's entry: raft commits only those) is *safe*:
#   S1  a quorum Q holds it, and every candidate of a later term that counted the
#       vote of a member of Q (or has its granted response in flight) holds it;
#   S2  a log holding an entry of term >= T at an index >= x holds (x, T), entries of
#       a term after T lie after x, and an AppendEntries request with an entry of
#       term >= T after x has prevLogTerm >= T;
#   S3  every leader of term >= T holds it;
#   S5  an AppendEntries request of term >= T with its entry at or below x carries
#       the entry that the holders of (x, T) have there.
# A server's commitIndex (and an AppendEntries request's mcommitIndex) points at or
# below such an entry, in a term no newer than the server's (the request's): the
# commit term is existentially quantified, since no variable records it.  A leader's
# entries of its own term are safe as soon as enough servers acknowledged them,
# unless a quorum has moved past the term without them ("doomed": then they can
# never be acknowledged by a quorum, and never committed).


def _holds(z: "Z3Model", s: "Sym", k: int, x: z3.ArithRef, t: z3.ArithRef) -> z3.BoolRef:
    """Server k's log has an entry of term t at index x."""
    return z3.And(1 <= x, x <= s.len(k), s.log_term(k)[x] == t)


def _py_holds(srv: "ServerState", x: int, t: int) -> bool:
    return 1 <= x <= len(srv.log) and srv.log[x - 1].term == t


def _granted_to(z: "Z3Model", s: "Sym", q: int, c: int) -> z3.BoolRef:
    """q's vote for candidate c in c's current term: counted, or a granted response in flight."""
    from leaderfollower.checker.z3.model import make_record

    resp = make_record("RequestVoteResponse", mterm=s.term(c), mvote_granted=True)
    return z3.Or(s.vg(c, q), s.sent("RequestVoteResponse", q, c, resp))


def _py_granted_to(s: State, q: int, c: int) -> bool:
    cs = s.servers[c]
    if q in cs.votes_granted:
        return True
    return any(m.msource == q and m.mdest == c and m.mterm == cs.current_term for m in _py_granted(s))


def _quorum_reached(z: "Z3Model", s: "Sym", t: z3.ArithRef) -> z3.BoolRef:
    """A quorum of servers has reached term t."""
    return z3.Or([z3.And([s.term(q) >= t for q in qs]) for qs in _quorums(z.n)])


def _py_quorum_reached(s: State, t: int) -> bool:
    return any(all(s.servers[q].current_term >= t for q in qs) for qs in _quorums(len(s.servers)))


def _s4(z: "Z3Model", s: "Sym", q: int, x: z3.ArithRef, t: z3.ArithRef) -> z3.BoolRef:
    """Every candidate of a term after t that has q's vote holds (x, t)."""
    from leaderfollower.checker.z3.model import Z_CANDIDATE

    return _all(
        [
            z3.Implies(z3.And(s.role(c) == Z_CANDIDATE, s.term(c) > t, _granted_to(z, s, q, c)), _holds(z, s, c, x, t))
            for c in z.servers
        ]
    )


def _py_s4(s: State, q: int, x: int, t: int) -> bool:
    for c, cs in enumerate(s.servers):
        if cs.role == CANDIDATE and cs.current_term > t and _py_granted_to(s, q, c) and not _py_holds(cs, x, t):
            return False
    return True


def _safe_rest(z: "Z3Model", s: "Sym", x: z3.ArithRef, t: z3.ArithRef) -> list[z3.BoolRef]:
    """S2, S3 and S5 for the entry (x, t)."""
    from leaderfollower.checker.z3.model import Z_LEADER, field

    out = []
    for k in z.servers:
        y = z3.Int("y")
        out.append(
            z3.ForAll([y], z3.Implies(z3.And(x <= y, y <= s.len(k), s.log_term(k)[y] >= t), _holds(z, s, k, x, t)))
        )
        out.append(z3.ForAll([y], z3.Implies(z3.And(1 <= y, y <= s.len(k), s.log_term(k)[y] > t), y > x)))
    for r, sent in _ae_records(z, s):
        p = field(r, "mprev_log_index")
        out.append(
            z3.ForAll(
                [r], z3.Implies(z3.And(sent, field(r, "mentry_term") >= t, p >= x), field(r, "mprev_log_term") >= t)
            )
        )
    for lead in z.servers:
        out.append(z3.Implies(z3.And(s.role(lead) == Z_LEADER, s.term(lead) >= t), _holds(z, s, lead, x, t)))
    for r, sent in _ae_records(z, s):
        p = field(r, "mprev_log_index")
        for k in z.servers:
            out.append(
                z3.ForAll(
                    [r],
                    z3.Implies(
                        z3.And(sent, field(r, "mterm") >= t, p + 1 <= x, _holds(z, s, k, x, t)),
                        z3.And(s.log_term(k)[p + 1] == field(r, "mentry_term"), s.log_value(k)[p + 1] == field(r, "mentry_value")),
                    ),
                )
            )
    return out


def _py_safe_rest(s: State, x: int, t: int) -> bool:
    for srv in s.servers:
        for y in range(x, len(srv.log) + 1):
            if srv.log[y - 1].term >= t and not _py_holds(srv, x, t):
                return False
        if any(e.term > t for e in srv.log[:x]):
            return False
    for m in _py_ae_with_entry(s):
        if m.mentries[0].term >= t and m.mprev_log_index >= x and m.mprev_log_term < t:
            return False
    for srv in s.servers:
        if srv.role == LEADER and srv.current_term >= t and not _py_holds(srv, x, t):
            return False
    for m in _py_ae_with_entry(s):
        if m.mterm >= t and m.mprev_log_index + 1 <= x:
            for srv in s.servers:
                if _py_holds(srv, x, t) and srv.log[m.mprev_log_index] != m.mentries[0]:
                    return False
    return True


def _safe(
    z: "Z3Model", s: "Sym", x: z3.ArithRef, t: z3.ArithRef, extra: Callable[[int], z3.BoolRef]
) -> z3.BoolRef:
    """(x, t) is safe (S1 to S5), with `extra(q)` for every member q of the quorum of S1."""
    quorum = z3.Or(
        [z3.And([z3.And(_holds(z, s, q, x, t), _s4(z, s, q, x, t), extra(q)) for q in qs]) for qs in _quorums(z.n)]
    )
    return z3.And(quorum, *_safe_rest(z, s, x, t))


def _py_safe(s: State, x: int, t: int, extra: Callable[[int], bool]) -> bool:
    quorum = any(
        all(_py_holds(s.servers[q], x, t) and _py_s4(s, q, x, t) and extra(q) for q in qs) for qs in _quorums(len(s.servers))
    )
    return quorum and _py_safe_rest(s, x, t)


def _py_witnesses(s: State, lo: int) -> list[tuple[int, int]]:
    """Every (index, term) at or above index lo that some log holds: the candidates for a commit witness."""
    return sorted({(x, srv.log[x - 1].term) for srv in s.servers for x in range(max(lo, 1), len(srv.log) + 1)})


def z3_commit_is_safe(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    out = []
    for i in z.servers:
        c = s.commit(i)
        x, t = z3.Ints("cx ct")

        def agrees(q: int, i: int = i, c: z3.ArithRef = c) -> z3.BoolRef:
            return s.log_term(q)[c] == s.log_term(i)[c]

        out.append(c <= s.len(i))
        out.append(z3.Implies(c >= 1, z3.Exists([x, t], z3.And(c <= x, t <= s.term(i), _safe(z, s, x, t, agrees)))))
    return _all(out)


def py_commit_is_safe(spec: "RaftSpec", s: State) -> bool:
    for srv in s.servers:
        c = srv.commit_index
        if c > len(srv.log):
            return False
        if c == 0:
            continue
        mine = srv.log[c - 1].term

        def agrees(q: int, c: int = c, mine: int = mine) -> bool:
            return s.servers[q].log[c - 1].term == mine

        if not any(t <= srv.current_term and _py_safe(s, x, t, agrees) for x, t in _py_witnesses(s, c)):
            return False
    return True


def _request_top_term(r: z3.ExprRef) -> z3.ArithRef:
    """The term of an AppendEntries request's last entry (its entry, else prevLogTerm)."""
    from leaderfollower.checker.z3.model import field

    return z3.If(field(r, "mn") == 1, field(r, "mentry_term"), field(r, "mprev_log_term"))


def z3_append_entries_commit_is_safe(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import RECORDS, field

    out = []
    for src in z.servers:
        for dst in z.servers:
            r = z3.Const("r", RECORDS["AppendEntriesRequest"])
            c, p, mn = field(r, "mcommit_index"), field(r, "mprev_log_index"), field(r, "mn")
            top, top_term = p + mn, _request_top_term(r)
            x, t = z3.Ints("cx ct")
            witness = z3.Exists(
                [x, t],
                z3.And(
                    c <= x,
                    t <= field(r, "mterm"),
                    z3.Implies(top > x, top_term >= t),
                    _safe(z, s, x, t, lambda q: z3.Implies(top <= x, s.log_term(q)[top] == top_term)),
                ),
            )
            sent = s.sent("AppendEntriesRequest", src, dst, r)
            out.append(z3.ForAll([r], z3.Implies(sent, c <= top)))
            out.append(z3.ForAll([r], z3.Implies(z3.And(sent, c >= 1), witness)))
    return _all(out)


def py_append_entries_commit_is_safe(spec: "RaftSpec", s: State) -> bool:
    for m, _ in s.messages:
        if not isinstance(m, AppendEntriesRequest):
            continue
        c, top = m.mcommit_index, m.mprev_log_index + len(m.mentries)
        if c > top:
            return False
        if c == 0:
            continue
        top_term = m.mentries[0].term if m.mentries else m.mprev_log_term

        ok = False
        for x, t in _py_witnesses(s, c):
            if t > m.mterm or (top > x and top_term < t):
                continue

            def agree(q: int, x: int = x, top: int = top, top_term: int = top_term) -> bool:
                return top > x or s.servers[q].log[top - 1].term == top_term

            if _py_safe(s, x, t, agree):
                ok = True
                break
        if not ok:
            return False
    return True


def _acker(z: "Z3Model", s: "Sym", lead: int, k: int, y: z3.ArithRef) -> z3.BoolRef:
    """k acknowledged (or holds, in the leader's term) the leader's entry at y: k is the leader, its
    matchIndex reaches y, a successful response reaching y is in flight, or k is in the term and holds it."""
    from leaderfollower.checker.z3.model import RECORDS, field

    if k == lead:
        return z3.BoolVal(True)
    t = s.term(lead)
    q = z3.Const("q", RECORDS["AppendEntriesResponse"])
    resp = z3.Exists(
        [q],
        z3.And(
            s.sent("AppendEntriesResponse", k, lead, q), field(q, "mterm") == t, field(q, "msuccess"), field(q, "mmatch_index") >= y
        ),
    )
    return z3.Or(s.match(lead, k) >= y, z3.And(s.term(k) == t, _holds(z, s, k, y, t)), resp)


def _py_acker(s: State, lead: int, k: int, y: int) -> bool:
    if k == lead:
        return True
    ls = s.servers[lead]
    t = ls.current_term
    if ls.match_index[k] >= y or (s.servers[k].current_term == t and _py_holds(s.servers[k], y, t)):
        return True
    return any(
        isinstance(m, AppendEntriesResponse)
        and m.msource == k
        and m.mdest == lead
        and m.mterm == t
        and m.msuccess
        and m.mmatch_index >= y
        for m, _ in s.messages
    )


def _acked(z: "Z3Model", s: "Sym", lead: int, y: z3.ArithRef) -> z3.BoolRef:
    """The leader's entry at y is doomed, or every acknowledgement of it is sound and it is safe."""
    t = s.term(lead)
    doomed = z3.Or(
        [z3.And([z3.And(s.term(v) > t, z3.Not(_acker(z, s, lead, v, y))) for v in qs]) for qs in _quorums(z.n) if lead not in qs]
    )
    sound = [z3.Implies(_acker(z, s, lead, k, y), z3.And(_holds(z, s, k, y, t), _s4(z, s, k, y, t))) for k in z.servers]
    return z3.Or(doomed, z3.And(*sound, *_safe_rest(z, s, y, t)))


def z3_leader_entries_acked_safely(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import Z_LEADER

    out = []
    for lead in z.servers:
        y = z3.Int("ay")
        out.append(
            z3.Implies(
                s.role(lead) == Z_LEADER,
                z3.ForAll(
                    [y],
                    z3.Implies(z3.And(1 <= y, y <= s.len(lead), s.log_term(lead)[y] == s.term(lead)), _acked(z, s, lead, y)),
                ),
            )
        )
    return _all(out)


def py_leader_entries_acked_safely(spec: "RaftSpec", s: State) -> bool:
    n = len(s.servers)
    for lead, ls in enumerate(s.servers):
        if ls.role != LEADER:
            continue
        t = ls.current_term
        for y in range(1, len(ls.log) + 1):
            if ls.log[y - 1].term != t:
                continue
            doomed = any(
                all(s.servers[v].current_term > t and not _py_acker(s, lead, v, y) for v in qs)
                for qs in _quorums(n)
                if lead not in qs
            )
            if doomed:
                continue
            for k in range(n):
                if _py_acker(s, lead, k, y) and not (_py_holds(s.servers[k], y, t) and _py_s4(s, k, y, t)):
                    return False
            if not _py_safe_rest(s, y, t):
                return False
    return True


# ----------------------------------------------------- small log facts


def z3_append_entries_from_won_elections(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import RECORDS, field

    out = []
    for src in z.servers:
        for dst in z.servers:
            r = z3.Const("r", RECORDS["AppendEntriesRequest"])
            out.append(z3.ForAll([r], z3.Implies(s.sent("AppendEntriesRequest", src, dst, r), _won(z, s, field(r, "mterm"), by=src))))
    return _all(out)


def py_append_entries_from_won_elections(spec: "RaftSpec", s: State) -> bool:
    return all(_py_won(s, m.mterm, by=m.msource) for m, _ in s.messages if isinstance(m, AppendEntriesRequest))



def z3_no_append_entries_for_candidates(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import RECORDS, Z_CANDIDATE, field

    def older_than_term(x: z3.ArithRef, j: int) -> z3.BoolRef:
        return s.log_term(j)[x] < s.term(j)

    out = []
    for j in z.servers:
        cand = s.role(j) == Z_CANDIDATE
        out.append(z3.Implies(cand, z.forall_index(1, s.len(j), functools.partial(older_than_term, j=j))))
        for k in z.servers:
            r = z3.Const("r", RECORDS["AppendEntriesRequest"])
            out.append(z3.ForAll([r], z3.Implies(z3.And(cand, s.sent("AppendEntriesRequest", j, k, r)), field(r, "mterm") != s.term(j))))
            q = z3.Const("q", RECORDS["AppendEntriesResponse"])
            out.append(
                z3.ForAll(
                    [q],
                    z3.Implies(z3.And(cand, s.sent("AppendEntriesResponse", k, j, q), field(q, "msuccess")), field(q, "mterm") != s.term(j)),
                )
            )
    return _all(out)


def py_no_append_entries_for_candidates(spec: "RaftSpec", s: State) -> bool:
    if any(srv.role == CANDIDATE and any(e.term >= srv.current_term for e in srv.log) for srv in s.servers):
        return False
    for m, _ in s.messages:
        if isinstance(m, AppendEntriesRequest):
            j = s.servers[m.msource]
        elif isinstance(m, AppendEntriesResponse) and m.msuccess:
            j = s.servers[m.mdest]
        else:
            continue
        if j.role == CANDIDATE and j.current_term == m.mterm:
            return False
    return True



def z3_log_terms_grow(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import field

    out = []
    for k in z.servers:
        a, b = z3.Ints("a b")
        lt = s.log_term(k)
        out.append(z3.ForAll([a, b], z3.Implies(z3.And(1 <= a, a <= b, b <= s.len(k)), z3.And(1 <= lt[a], lt[a] <= lt[b]))))
    for r, sent in _ae_records(z, s):
        p = field(r, "mprev_log_index")
        out.append(
            z3.ForAll(
                [r],
                z3.Implies(
                    sent,
                    z3.And(field(r, "mentry_term") >= 1, z3.Or(p == 0, z3.And(field(r, "mprev_log_term") >= 1, field(r, "mprev_log_term") <= field(r, "mentry_term")))),
                ),
            )
        )
    return _all(out)


def py_log_terms_grow(spec: "RaftSpec", s: State) -> bool:
    for srv in s.servers:
        terms = [e.term for e in srv.log]
        if terms and (terms[0] < 1 or terms != sorted(terms)):
            return False
    for m in _py_ae_with_entry(s):
        if m.mentries[0].term < 1 or (m.mprev_log_index > 0 and not 1 <= m.mprev_log_term <= m.mentries[0].term):
            return False
    return True


def z3_terms_not_from_the_future(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import RECORDS, field

    def not_after_term(x: z3.ArithRef, k: int) -> z3.BoolRef:
        return s.log_term(k)[x] <= s.term(k)

    out = []
    for k in z.servers:
        out.append(z.forall_index(1, s.len(k), functools.partial(not_after_term, k=k)))
    for src in z.servers:
        for dst in z.servers:
            r = z3.Const("r", RECORDS["AppendEntriesRequest"])
            out.append(
                z3.ForAll(
                    [r],
                    z3.Implies(
                        s.sent("AppendEntriesRequest", src, dst, r),
                        z3.And(field(r, "mterm") <= s.term(src), z3.Implies(field(r, "mn") == 1, field(r, "mentry_term") <= field(r, "mterm"))),
                    ),
                )
            )
            v = z3.Const("v", RECORDS["RequestVoteRequest"])
            out.append(z3.ForAll([v], z3.Implies(s.sent("RequestVoteRequest", src, dst, v), field(v, "mterm") <= s.term(src))))
            t, granted = _granted_responses(z, s, src, dst, "t")
            out.append(z3.ForAll([t], z3.Implies(granted, t <= s.term(dst))))
            q = z3.Const("q", RECORDS["AppendEntriesResponse"])
            out.append(
                z3.ForAll(
                    [q], z3.Implies(z3.And(s.sent("AppendEntriesResponse", src, dst, q), field(q, "msuccess")), field(q, "mterm") <= s.term(dst))
                )
            )
    return _all(out)


def py_terms_not_from_the_future(spec: "RaftSpec", s: State) -> bool:
    for srv in s.servers:
        if any(e.term > srv.current_term for e in srv.log):
            return False
    for m, _ in s.messages:
        if isinstance(m, AppendEntriesRequest):
            if m.mterm > s.servers[m.msource].current_term or (m.mentries and m.mentries[0].term > m.mterm):
                return False
        if isinstance(m, RequestVoteRequest) and m.mterm > s.servers[m.msource].current_term:
            return False
    if any(isinstance(m, AppendEntriesResponse) and m.msuccess and m.mterm > s.servers[m.mdest].current_term for m, _ in s.messages):
        return False
    return all(m.mterm <= s.servers[m.mdest].current_term for m in _py_granted(s))


def z3_terms_reached_by_quorum(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import Z_LEADER, field

    out = [z3.Implies(s.role(lead) == Z_LEADER, _quorum_reached(z, s, s.term(lead))) for lead in z.servers]

    def reached(x: z3.ArithRef, k: int) -> z3.BoolRef:
        return _quorum_reached(z, s, s.log_term(k)[x])

    for k in z.servers:
        out.append(z.forall_index(1, s.len(k), functools.partial(reached, k=k)))
    from leaderfollower.checker.z3.model import RECORDS

    for src in z.servers:
        for dst in z.servers:
            r = z3.Const("r", RECORDS["AppendEntriesRequest"])
            out.append(z3.ForAll([r], z3.Implies(s.sent("AppendEntriesRequest", src, dst, r), _quorum_reached(z, s, field(r, "mterm")))))
    return _all(out)


def py_terms_reached_by_quorum(spec: "RaftSpec", s: State) -> bool:
    terms = {srv.current_term for srv in s.servers if srv.role == LEADER}
    terms |= {e.term for srv in s.servers for e in srv.log}
    terms |= {m.mterm for m, _ in s.messages if isinstance(m, AppendEntriesRequest)}
    return all(_py_quorum_reached(s, t) for t in terms)


def z3_request_vote_matches_candidate(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import RECORDS, Z_CANDIDATE, field

    out = []
    for c in z.servers:
        for dst in z.servers:
            v = z3.Const("v", RECORDS["RequestVoteRequest"])
            out.append(
                z3.ForAll(
                    [v],
                    z3.Implies(
                        z3.And(s.sent("RequestVoteRequest", c, dst, v), s.role(c) == Z_CANDIDATE, field(v, "mterm") == s.term(c)),
                        z3.And(field(v, "mlast_log_term") == s.last_term(c), field(v, "mlast_log_index") == s.len(c)),
                    ),
                )
            )
    return _all(out)


def py_request_vote_matches_candidate(spec: "RaftSpec", s: State) -> bool:
    for m, _ in s.messages:
        if isinstance(m, RequestVoteRequest):
            c = s.servers[m.msource]
            if c.role == CANDIDATE and c.current_term == m.mterm:
                if (m.mlast_log_term, m.mlast_log_index) != (c.log[-1].term if c.log else 0, len(c.log)):
                    return False
    return True


def z3_leader_messages_match_log(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3.model import RECORDS, Z_LEADER, field

    out = []
    for lead in z.servers:
        is_leader = s.role(lead) == Z_LEADER
        for k in z.servers:
            if k != lead:
                out.append(z3.Implies(is_leader, z3.And(s.next(lead, k) <= s.len(lead) + 1, s.match(lead, k) <= s.len(lead))))
            r = z3.Const("r", RECORDS["AppendEntriesRequest"])
            p = field(r, "mprev_log_index")
            for other in z.servers:
                if other != lead:
                    out.append(
                        z3.ForAll(
                            [r],
                            z3.Implies(z3.And(is_leader, s.sent("AppendEntriesRequest", other, k, r)), field(r, "mterm") != s.term(lead)),
                        )
                    )
            out.append(
                z3.ForAll(
                    [r],
                    z3.Implies(
                        z3.And(is_leader, s.sent("AppendEntriesRequest", lead, k, r), field(r, "mterm") == s.term(lead)),
                        z3.And(
                            p + field(r, "mn") <= s.len(lead),
                            z3.Implies(p >= 1, s.log_term(lead)[p] == field(r, "mprev_log_term")),
                            z3.Implies(
                                field(r, "mn") == 1,
                                z3.And(s.log_term(lead)[p + 1] == field(r, "mentry_term"), s.log_value(lead)[p + 1] == field(r, "mentry_value")),
                            ),
                        ),
                    ),
                )
            )
            q = z3.Const("q", RECORDS["AppendEntriesResponse"])
            out.append(
                z3.ForAll(
                    [q],
                    z3.Implies(
                        z3.And(is_leader, s.sent("AppendEntriesResponse", k, lead, q), field(q, "mterm") == s.term(lead), field(q, "msuccess")),
                        field(q, "mmatch_index") <= s.len(lead),
                    ),
                )
            )
    return _all(out)


def py_leader_messages_match_log(spec: "RaftSpec", s: State) -> bool:
    for lead, ls in enumerate(s.servers):
        if ls.role != LEADER:
            continue
        n = len(s.servers)
        if any(ls.next_index[k] > len(ls.log) + 1 or ls.match_index[k] > len(ls.log) for k in range(n) if k != lead):
            return False
        for m, _ in s.messages:
            if m.mterm != ls.current_term:
                continue
            if isinstance(m, AppendEntriesRequest) and m.msource != lead:
                return False
            if isinstance(m, AppendEntriesRequest) and m.msource == lead:
                p = m.mprev_log_index
                if p + len(m.mentries) > len(ls.log):
                    return False
                if p >= 1 and ls.log[p - 1].term != m.mprev_log_term:
                    return False
                if m.mentries and ls.log[p] != m.mentries[0]:
                    return False
            if isinstance(m, AppendEntriesResponse) and m.mdest == lead and m.msuccess and m.mmatch_index > len(ls.log):
                return False
    return True


LEMMAS: tuple[Lemma, ...] = (
    Lemma("TypeOK", "terms are at least 1, votedFor is Nil or a server, nextIndex at least 1, other indexes not negative", z3_type_ok, py_type_ok),
    Lemma(
        "MessagesTypeOK",
        "AppendEntries requests carry at most one entry and no negative index; responses no negative matchIndex",
        z3_messages_type_ok,
        py_messages_type_ok,
    ),
    Lemma("LeaderHasQuorum", "a leader's votesGranted is a quorum", z3_leader_has_quorum, py_leader_has_quorum),
    Lemma(
        "VotesGrantedMeanVotedFor",
        "a vote counted by a candidate or leader in term t: the voter is past t, or in t and voted for it",
        z3_votes_granted_mean_voted_for,
        py_votes_granted_mean_voted_for,
    ),
    Lemma(
        "GrantedResponsesMeanVotedFor",
        "a granted vote response of term t in flight: the voter is past t, or in t and voted for its addressee",
        z3_granted_responses_mean_voted_for,
        py_granted_responses_mean_voted_for,
    ),
    Lemma(
        "VotesGrantedDisjoint",
        "two candidates or leaders of one term have counted no common voter",
        z3_votes_granted_disjoint,
        py_votes_granted_disjoint,
    ),
    Lemma(
        "GrantedVoteAndResponseDisjoint",
        "a voter counted by a candidate of term t has no granted response of term t in flight to another server",
        z3_granted_vote_and_response_disjoint,
        py_granted_vote_and_response_disjoint,
    ),
    Lemma(
        "GrantedResponsesDisjoint",
        "a voter has granted responses of one term in flight to at most one server",
        z3_granted_responses_disjoint,
        py_granted_responses_disjoint,
    ),
    Lemma(
        "EntriesFromWonElections",
        "every term in a log or an AppendEntries request was won: a quorum voted for one server l in it, "
        "and none of that quorum can still help another candidate of the term",
        z3_entries_from_won_elections,
        py_entries_from_won_elections,
    ),
    Lemma(
        "LeaderHasAllEntriesOfItsTerm",
        "every entry of a leader's term, in any log or AppendEntries request, is in the leader's log at the same index",
        z3_leader_has_all_entries_of_its_term,
        py_leader_has_all_entries_of_its_term,
    ),
    Lemma(
        "AppendEntriesMatchLogs",
        "a log holding an AppendEntries request's entry term at its index holds its value, and prevLogTerm just before",
        z3_append_entries_match_logs,
        py_append_entries_match_logs,
    ),
    Lemma(
        "AppendEntriesMatchEachOther",
        "two AppendEntries requests with an entry of one term at one index carry the same value and prevLogTerm",
        z3_append_entries_match_each_other,
        py_append_entries_match_each_other,
    ),
    Lemma(
        "LogTermsGrow",
        "entry terms are at least 1 and never decrease along a log; a request's prevLogTerm is at most its entry's term",
        z3_log_terms_grow,
        py_log_terms_grow,
    ),
    Lemma(
        "TermsNotFromTheFuture",
        "entry terms are at most their holder's term; requests are no newer than their sender, an entry no newer than its "
        "request; a granted vote response or a successful AppendEntries response no newer than its addressee",
        z3_terms_not_from_the_future,
        py_terms_not_from_the_future,
    ),
    Lemma(
        "TermsReachedByQuorum",
        "a leader's term, every entry's term and every AppendEntries request's term have been reached by a quorum",
        z3_terms_reached_by_quorum,
        py_terms_reached_by_quorum,
    ),
    Lemma(
        "RequestVoteMatchesCandidate",
        "a vote request of a candidate's current term carries the candidate's last log term and length",
        z3_request_vote_matches_candidate,
        py_request_vote_matches_candidate,
    ),
    Lemma(
        "AppendEntriesFromWonElections",
        "an AppendEntries request's sender won the request's term (as in EntriesFromWonElections, with that winner)",
        z3_append_entries_from_won_elections,
        py_append_entries_from_won_elections,
    ),
    Lemma(
        "NoAppendEntriesForCandidates",
        "a candidate has no entry of its term, and no AppendEntries request from it, nor successful response to it, "
        "of its term is in flight",
        z3_no_append_entries_for_candidates,
        py_no_append_entries_for_candidates,
    ),
    Lemma(
        "LeaderMessagesMatchLog",
        "a leader's nextIndex and matchIndex stay within its log; the AppendEntries requests of its term are its own "
        "and agree with its log, and the successful responses match at most its log's length",
        z3_leader_messages_match_log,
        py_leader_messages_match_log,
    ),
    Lemma(
        "LeaderEntriesAckedSafely",
        "a leader's entry of its term is doomed (a quorum is past the term without acknowledging it) or safe: every "
        "server that acknowledged it holds it and gave its later votes only to candidates holding it, every leader of "
        "a term at least its own holds it, and every log or request beyond it agrees",
        z3_leader_entries_acked_safely,
        py_leader_entries_acked_safely,
    ),
    Lemma(
        "CommitIsSafe",
        "commitIndex is within the log, and at most the index of a safe entry whose term is at most the server's "
        "and whose quorum agrees with the server's log at commitIndex",
        z3_commit_is_safe,
        py_commit_is_safe,
    ),
    Lemma(
        "AppendEntriesCommitIsSafe",
        "an AppendEntries request's mcommitIndex is at most its last index, and at most the index of a safe entry "
        "whose term is at most the request's and whose holders agree with the request's last entry",
        z3_append_entries_commit_is_safe,
        py_append_entries_commit_is_safe,
    ),
)
"""Every strengthening lemma, by name."""


def lemma_by_name(name: str) -> Lemma:
    """The lemma called `name`; raises KeyError naming the known ones otherwise."""
    for lemma in LEMMAS:
        if lemma.name == name:
            return lemma
    raise KeyError(f"unknown lemma {name!r}; known: {', '.join(lm.name for lm in LEMMAS)}")


_ELECTION: tuple[str, ...] = (
    "TypeOK",
    "MessagesTypeOK",
    "LeaderHasQuorum",
    "VotesGrantedMeanVotedFor",
    "GrantedResponsesMeanVotedFor",
    "VotesGrantedDisjoint",
    "GrantedVoteAndResponseDisjoint",
    "GrantedResponsesDisjoint",
)
"""The lemmas that make ElectionSafety inductive."""

_LOG: tuple[str, ...] = (
    "EntriesFromWonElections",
    "LeaderHasAllEntriesOfItsTerm",
    "AppendEntriesMatchLogs",
    "AppendEntriesMatchEachOther",
)
"""What LogMatching needs besides ElectionSafety and its lemmas."""

COMMITMENT_LEMMAS: tuple[str, ...] = (
    "LogTermsGrow",
    "TermsNotFromTheFuture",
    "TermsReachedByQuorum",
    "RequestVoteMatchesCandidate",
    "AppendEntriesFromWonElections",
    "NoAppendEntriesForCandidates",
    "LeaderMessagesMatchLog",
    "LeaderEntriesAckedSafely",
    "CommitIsSafe",
    "AppendEntriesCommitIsSafe",
)
"""What the log-safety proof adds to LogMatching's invariant (committed entries are safe)."""

# The order is the order hypotheses are asserted in, which Z3's times depend on.
_LOG_SAFETY: tuple[str, ...] = ("ElectionSafety", "LogMatching", *_ELECTION, *_LOG, *COMMITMENT_LEMMAS)
"""The inductive invariant behind LeaderCompleteness, StateMachineSafety and CommitWithinLog (all three derived)."""


PROOFS: dict[str, tuple[str, ...]] = {
    "ElectionSafety": _ELECTION,
    "LogMatching": ("ElectionSafety", *_ELECTION, *_LOG),
    "LeaderCompleteness": _LOG_SAFETY,
    "StateMachineSafety": _LOG_SAFETY,
    "CommitWithinLog": _LOG_SAFETY,
}
"""For each property proved inductive: the lemmas (or other properties) that, with it, make an inductive invariant."""


DERIVED: frozenset[str] = frozenset({"LeaderCompleteness", "StateMachineSafety", "CommitWithinLog"})
"""Properties proved by implication: their lemmas alone are an inductive invariant, and
imply the property in every state (one query, action `Implied`), so the property
itself is neither assumed nor checked per action."""


def _commit_witnesses(
    z: "Z3Model",
    pre: "Sym",
    post: "Sym",
    index: int,
    inst: Any,
    rec: Optional[z3.ExprRef],
    skolem: Callable[[str, int], Optional[list[z3.ExprRef]]],
    bound: list[z3.ExprRef],
    own: list[z3.ExprRef],
) -> list[list[z3.ExprRef]]:
    """Witnesses for CommitIsSafe's conjunct `index` after a step (conjuncts 2i, 2i + 1 are server i's).

    Where the step may change server i's commitIndex: AdvanceCommitIndex, the
    leader's new commitIndex in its term; HandleAppendEntriesRequest, the request's
    witness (each only where commitIndex changes).  Elsewhere none: the pre-state's
    witness is tried.
    """
    i = index // 2
    same = z3.And(post.commit(i) == pre.commit(i), post.term(i) == pre.term(i))
    if inst.name == "AdvanceCommitIndex" and inst.args[0] == i:
        new = [post.commit(i), post.term(i)]
    elif inst.name == "HandleAppendEntriesRequest" and inst.dst == i and rec is not None:
        w = skolem("AppendEntriesCommitIsSafe", 2 * (inst.src * z.n + inst.dst) + 1)
        if w is None:
            return []
        new = w
    else:
        return []  # commitIndex unchanged (or 0): the pre-state's witness
    return [[z3.If(same, a, b) for a, b in zip(own, new)]]


def _request_commit_witnesses(
    z: "Z3Model",
    pre: "Sym",
    post: "Sym",
    index: int,
    inst: Any,
    rec: Optional[z3.ExprRef],
    skolem: Callable[[str, int], Optional[list[z3.ExprRef]]],
    bound: list[z3.ExprRef],
    own: list[z3.ExprRef],
) -> list[list[z3.ExprRef]]:
    """Witnesses for AppendEntriesCommitIsSafe's conjunct `index` (2p, 2p + 1 for the p-th (source, destination)
    pair): a request that AppendEntries(l, k) sends takes the leader's commit witness."""
    if inst.name != "AppendEntries" or index != 2 * (inst.args[0] * z.n + inst.args[1]) + 1 or len(bound) != 1:
        return []
    leader = skolem("CommitIsSafe", 2 * inst.args[0] + 1)
    if leader is None:
        return []
    before = pre.sent("AppendEntriesRequest", inst.args[0], inst.args[1], bound[0])
    return [[z3.If(before, a, b) for a, b in zip(own, leader)]]


WITNESS_HINTS: dict[str, Callable[..., list[list[z3.ExprRef]]]] = {
    "CommitIsSafe": _commit_witnesses,
    "AppendEntriesCommitIsSafe": _request_commit_witnesses,
}
"""Proof hints for existential lemmas: candidate witnesses after a step, besides the pre-state's own.

A function of (model, post-state, conjunct index, action instance, message record,
skolem lookup) returning lists of witness terms; a wrong candidate only fails to
prove, never proves something false (the witness is one instance of the existential).
"""


_TYPES = ("TypeOK", "MessagesTypeOK")
_SAFE_BASE = _TYPES + (
    "LogMatching",
    "LogTermsGrow",
    "TermsNotFromTheFuture",
    "RequestVoteMatchesCandidate",
    "LeaderHasAllEntriesOfItsTerm",
    "AppendEntriesMatchLogs",
)

ASSUMES: dict[str, tuple[str, ...]] = {
    "LogTermsGrow": _TYPES + ("TermsNotFromTheFuture",),
    "TermsNotFromTheFuture": _TYPES,
    "TermsReachedByQuorum": _TYPES + ("LeaderHasQuorum", "VotesGrantedMeanVotedFor", "TermsNotFromTheFuture"),
    "RequestVoteMatchesCandidate": _TYPES + ("TermsNotFromTheFuture",),
    "NoAppendEntriesForCandidates": _TYPES + ("TermsNotFromTheFuture",),
    "AppendEntriesFromWonElections": _TYPES + ("LeaderHasQuorum", "VotesGrantedMeanVotedFor", "GrantedResponsesMeanVotedFor",
                                              "VotesGrantedDisjoint", "GrantedVoteAndResponseDisjoint", "GrantedResponsesDisjoint"),
    "LeaderMessagesMatchLog": _TYPES + ("NoAppendEntriesForCandidates", "TermsNotFromTheFuture", "AppendEntriesFromWonElections"),
    "CommitIsSafe": _SAFE_BASE,
    "CommitIsSafe/BecomeLeader": _TYPES + ("LeaderHasQuorum", "EntriesFromWonElections"),
    "CommitIsSafe/AdvanceCommitIndex": _TYPES + ("LeaderEntriesAckedSafely", "LeaderMessagesMatchLog"),
    "CommitIsSafe/HandleAppendEntriesRequest": _SAFE_BASE + ("AppendEntriesCommitIsSafe",),
    "AppendEntriesCommitIsSafe": _SAFE_BASE,
    "AppendEntriesCommitIsSafe/BecomeLeader": _TYPES + ("LeaderHasQuorum", "EntriesFromWonElections"),
    "AppendEntriesCommitIsSafe/AppendEntries": _TYPES
    + ("LogMatching", "LogTermsGrow", "TermsNotFromTheFuture", "LeaderMessagesMatchLog", "CommitIsSafe"),
    "CommitIsSafe/AppendEntries": _TYPES + ("LogMatching", "LogTermsGrow", "TermsNotFromTheFuture", "CommitIsSafe"),
    "LeaderMessagesMatchLog/AppendEntries": _TYPES + ("ElectionSafety", "LeaderMessagesMatchLog"),
    # The network's own steps change nothing but the bag: each lemma follows from itself.
    **{
        f"{lemma}/{action}": _TYPES + (lemma,)
        for lemma in ("CommitIsSafe", "AppendEntriesCommitIsSafe", "LeaderEntriesAckedSafely")
        for action in ("DuplicateMessage", "DropMessage")
    },
    "LeaderEntriesAckedSafely/BecomeLeader": _TYPES
    + (
        "ElectionSafety",
        "LeaderHasQuorum",
        "VotesGrantedMeanVotedFor",
        "VotesGrantedDisjoint",
        "NoAppendEntriesForCandidates",
        "LeaderEntriesAckedSafely",
    ),
    "LeaderEntriesAckedSafely": _SAFE_BASE
    + (
        "ElectionSafety",
        "VotesGrantedMeanVotedFor",
        "GrantedResponsesMeanVotedFor",
        "LeaderMessagesMatchLog",
        "TermsReachedByQuorum",
        "NoAppendEntriesForCandidates",
    ),

    "LogMatching": ("TypeOK", "MessagesTypeOK", "LeaderHasAllEntriesOfItsTerm", "AppendEntriesMatchLogs"),
    "LogMatching/HandleAppendEntriesRequest": ("TypeOK", "MessagesTypeOK", "AppendEntriesMatchLogs"),
    "AppendEntriesMatchEachOther": ("TypeOK", "MessagesTypeOK", "AppendEntriesMatchLogs"),
    "AppendEntriesMatchLogs": (
        "TypeOK",
        "MessagesTypeOK",
        "LogMatching",
        "LeaderHasAllEntriesOfItsTerm",
        "AppendEntriesMatchEachOther",
    ),
}
"""Proof hints: the conjuncts that an induction step of a lemma (or property) may assume.

Keyed by "Lemma/Action" for one action, or "Lemma" for every action.

Without a hint an obligation assumes the whole invariant.  Assuming less proves
more, so a hint cannot make a wrong proof pass; it keeps Z3 from instantiating
quantifiers of lemmas the step does not need (docs/performance-z3.md).
"""
