"""Invariants for Z3: the properties' encodings and the strengthening lemmas of the proofs.

How this works: a `Lemma` has a name, a description, its Z3 definition (a function
of the Z3 model and a symbolic state, `checker.z3model`) and, where one can be
written, a Python predicate on a spec `State`, so that the explorer can confirm
the lemma holds on every reachable state (`tests/test_prove.py`) and the two
definitions can be compared on concrete states (`tests/test_z3_agreement.py`).

`PROPERTY_ENCODINGS` gives the always properties of `spec.properties` their Z3
form (same names).  `PROOFS` says which lemmas strengthen which property into an
inductive invariant: `Init => Inv` and `Inv and Next => Inv'` for the conjunction
of the property and its lemmas (docs/z3.md explains each lemma).

The Z3 definitions quantify over servers by expanding them (the number of servers
is fixed), over message fields and log indexes with Z3 quantifiers.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Callable, Optional

import z3  # type: ignore[import-untyped]

from .state import CANDIDATE, LEADER, AppendEntriesRequest, AppendEntriesResponse, RequestVoteResponse, State

if TYPE_CHECKING:
    from leaderfollower.checker.z3model import Sym, Z3Model

    from .raft import RaftSpec

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
    from leaderfollower.checker.z3model import Z_CANDIDATE, Z_LEADER

    return z3.Or(s.role(i) == Z_CANDIDATE, s.role(i) == Z_LEADER)


def _granted_responses(z: "Z3Model", s: "Sym", j: int, i: int, name: str) -> tuple[z3.ArithRef, z3.BoolRef]:
    """A term variable t and 'a granted vote response j -> i of term t is in flight'."""
    from leaderfollower.checker.z3model import make_record

    t = z3.Int(name)
    rec = make_record("RequestVoteResponse", mterm=t, mvote_granted=True)
    return t, s.sent("RequestVoteResponse", j, i, rec)


def _py_granted(s: State) -> list[RequestVoteResponse]:
    return [m for m, _ in s.messages if isinstance(m, RequestVoteResponse) and m.mvote_granted]


# ------------------------------------------------------------- properties


def z3_election_safety(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3model import Z_LEADER

    return _all(
        [
            z3.Not(z3.And(s.role(a) == Z_LEADER, s.role(b) == Z_LEADER, s.term(a) == s.term(b)))
            for a, b in combinations(z.servers, 2)
        ]
    )


def _same_entry(s: "Sym", a: int, b: int, x: z3.ArithRef) -> z3.BoolRef:
    return z3.And(s.log_term(a)[x] == s.log_term(b)[x], s.log_value(a)[x] == s.log_value(b)[x])


def _min(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return z3.If(a < b, a, b)


def z3_log_matching(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    out = []
    for a, b in combinations(z.servers, 2):
        top = _min(s.len(a), s.len(b))
        if z.log_bound is None:
            # One quantifier over (x, y) rather than one nested in another: Z3's
            # instantiation finds the pairs it needs much faster (docs/performance-z3.md).
            x, y = z3.Ints("x y")
            out.append(
                z3.ForAll(
                    [x, y],
                    z3.Implies(
                        z3.And(1 <= y, y <= x, x <= s.len(a), x <= s.len(b), s.log_term(a)[x] == s.log_term(b)[x]),
                        _same_entry(s, a, b, y),
                    ),
                )
            )
            continue
        out.append(
            z.forall_index(
                1,
                top,
                lambda x, a=a, b=b: z3.Implies(
                    s.log_term(a)[x] == s.log_term(b)[x],
                    z.forall_index(1, x, lambda y: _same_entry(s, a, b, y), name="y"),
                ),
            )
        )
    return _all(out)


def _effective_commit(s: "Sym", i: int) -> z3.ArithRef:
    """min(commit_index, len(log)): how much of the log a read returns (Python slices)."""
    return _min(s.commit(i), s.len(i))


def z3_state_machine_safety(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    out = []
    for a, b in combinations(z.servers, 2):
        top = _min(_effective_commit(s, a), _effective_commit(s, b))
        out.append(z.forall_index(1, top, lambda x, a=a, b=b: _same_entry(s, a, b, x)))
    return _all(out)


def z3_commit_within_log(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    return _all([s.commit(i) <= s.len(i) for i in z.servers])


def z3_leader_completeness(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3model import Z_LEADER

    out = []
    for lead in z.servers:
        for i in z.servers:
            if i == lead:
                continue  # a prefix of itself
            c = _effective_commit(s, i)
            out.append(
                z3.Implies(
                    z3.And(s.role(lead) == Z_LEADER, s.commit(i) > 0, s.term(i) <= s.term(lead)),
                    z3.And(c <= s.len(lead), z.forall_index(1, c, lambda x, i=i, lead=lead: _same_entry(s, i, lead, x))),
                )
            )
    return _all(out)


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
    from leaderfollower.checker.z3model import NIL_ID

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
    from leaderfollower.checker.z3model import RECORDS, field

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
    from leaderfollower.checker.z3model import Z_LEADER

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


def _won(z: "Z3Model", s: "Sym", t: z3.ArithRef) -> z3.BoolRef:
    """Some server l won term t's election with a quorum Q that nobody else of term t can use."""
    from leaderfollower.checker.z3model import Z_CANDIDATE, make_record

    options = []
    for lead in z.servers:
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


def _py_won(s: State, t: int) -> bool:
    n = len(s.servers)
    granted = _py_granted(s)
    for lead, ls in enumerate(s.servers):
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
    from leaderfollower.checker.z3model import RECORDS, field

    out = []
    for src in z.servers:
        for dst in z.servers:
            r = z3.Const(name, RECORDS["AppendEntriesRequest"])
            out.append((r, z3.And(s.sent("AppendEntriesRequest", src, dst, r), field(r, "mn") == 1)))
    return out


def _py_ae_with_entry(s: State) -> list[AppendEntriesRequest]:
    return [m for m, _ in s.messages if isinstance(m, AppendEntriesRequest) and m.mentries]


def z3_entries_from_won_elections(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3model import field

    out = [z.forall_index(1, s.len(k), lambda x, k=k: _won(z, s, s.log_term(k)[x])) for k in z.servers]
    for r, sent in _ae_records(z, s):
        out.append(z3.ForAll([r], z3.Implies(sent, _won(z, s, field(r, "mentry_term")))))
    return _all(out)


def py_entries_from_won_elections(spec: "RaftSpec", s: State) -> bool:
    terms = {e.term for srv in s.servers for e in srv.log} | {m.mentries[0].term for m in _py_ae_with_entry(s)}
    return all(_py_won(s, t) for t in terms)


def z3_leader_has_all_entries_of_its_term(z: "Z3Model", s: "Sym") -> z3.BoolRef:
    from leaderfollower.checker.z3model import Z_LEADER, field

    out = []
    for lead in z.servers:
        is_leader = s.role(lead) == Z_LEADER
        for k in z.servers:
            if k == lead:
                continue
            out.append(
                z3.Implies(
                    is_leader,
                    z.forall_index(
                        1,
                        s.len(k),
                        lambda x, k=k, lead=lead: z3.Implies(
                            s.log_term(k)[x] == s.term(lead), z3.And(x <= s.len(lead), _same_entry(s, k, lead, x))
                        ),
                    ),
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
    from leaderfollower.checker.z3model import field

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
    from leaderfollower.checker.z3model import field

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
)
"""Every strengthening lemma, by name."""


def lemma_by_name(name: str) -> Lemma:
    """The lemma called `name`; raises KeyError naming the known ones otherwise."""
    for lemma in LEMMAS:
        if lemma.name == name:
            return lemma
    raise KeyError(f"unknown lemma {name!r}; known: {', '.join(lm.name for lm in LEMMAS)}")


PROOFS: dict[str, tuple[str, ...]] = {
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
    "LogMatching": (
        "ElectionSafety",
        "TypeOK",
        "MessagesTypeOK",
        "LeaderHasQuorum",
        "VotesGrantedMeanVotedFor",
        "GrantedResponsesMeanVotedFor",
        "VotesGrantedDisjoint",
        "GrantedVoteAndResponseDisjoint",
        "GrantedResponsesDisjoint",
        "EntriesFromWonElections",
        "LeaderHasAllEntriesOfItsTerm",
        "AppendEntriesMatchLogs",
        "AppendEntriesMatchEachOther",
    ),
}
"""For each property proved inductive: the lemmas (or other properties) that, with it, make an inductive invariant."""


ASSUMES: dict[str, tuple[str, ...]] = {
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
