"""Terms shared by the parametric lemmas: quantified servers and records, messages in flight, "term t was won".

How this works: small builders of Z3 terms over a `PSym` state, used by the
ElectionSafety and LogMatching lemmas (`lemmas.py`) and the commitment lemmas
(`commitment.py`) alike, so that each reads the same way.
"""
from __future__ import annotations

import z3

from leaderfollower.checker.z3.model import RECORDS, Z_CANDIDATE
from leaderfollower.checker.z3.model import field as rfield
from leaderfollower.checker.z3.parametric.model import PSym, Server, Vote, member


def server_vars(names: str) -> list[z3.ExprRef]:
    """Server variables (for quantifiers), named by the space-separated names."""
    return list(z3.Consts(names, Server))


def response_var(name: str) -> z3.ExprRef:
    """A vote response record variable (quantified over: Z3's model search handles a record variable read by the bag
    far better than a term variable inside a record built under the quantifier)."""
    return z3.Const(name, RECORDS["RequestVoteResponse"])


def granted_response(s: PSym, j: z3.ExprRef, i: z3.ExprRef, r: z3.ExprRef) -> z3.BoolRef:
    """The vote response r from j to i is in flight and grants the vote."""
    return z3.And(s.sent("RequestVoteResponse", j, i, r), rfield(r, "mvote_granted"))


def request_var(name: str) -> z3.ExprRef:
    """An AppendEntries request record variable."""
    return z3.Const(name, RECORDS["AppendEntriesRequest"])


def with_entry(s: PSym, src: z3.ExprRef, dst: z3.ExprRef, r: z3.ExprRef) -> z3.BoolRef:
    """The AppendEntries request r from src to dst is in flight and carries an entry."""
    return z3.And(s.sent("AppendEntriesRequest", src, dst, r), rfield(r, "mn") == 1)


def won_by(s: PSym, t: z3.ArithRef, lead: z3.ExprRef, q: z3.ExprRef) -> z3.BoolRef:
    """Server `lead` won term t with quorum q: none of q's members can still help another candidate of t."""
    j, c = server_vars("wj wc")
    r = response_var("wr")
    usable = z3.And(
        s.term(j) >= t,
        z3.Implies(s.term(j) == t, s.voted(j) == Vote.vote(lead)),
        z3.ForAll([c], z3.Implies(c != lead, z3.Not(z3.And(s.campaigning(c), s.term(c) == t, s.vg(c, j))))),
        z3.ForAll([c, r], z3.Implies(z3.And(c != lead, granted_response(s, j, c, r)), rfield(r, "mterm") != t)),
    )
    return z3.And(s.term(lead) >= t, z3.Implies(s.term(lead) == t, s.role(lead) != Z_CANDIDATE), z3.ForAll([j], z3.Implies(member(j, q), usable)))


