"""The protocol's state invariants, each written once against `spec.expr.View`.

How this works: each function here is the one definition of an always property of
`spec/properties.py`.  The explorer evaluates it on a `StateView` of a concrete
state; `prove` builds it as a Z3 term on a symbolic state, unbounded for the
inductive proofs (`checker/z3/views.py: Z3View`) or finite for bounded model checking
(`checker/z3/views.py: BmcView`).  `TypeOK` is not here: what "well typed" means
differs by engine (Python values, unbounded integers, bit-vectors), so each
engine has its own, compared by the agreement tests.
"""
from __future__ import annotations

from itertools import combinations
from typing import Callable, TypeVar

from .expr import Term, View

Invariant = Callable[[View], Term]
"""An invariant: a function of a view, true where it holds."""

F = TypeVar("F", bound=Callable[..., object])


def named_after(inv: Invariant, engine_form: F, prefix: str = "") -> F:
    """An engine's form of an invariant, given the invariant's name (with a prefix) and docstring."""
    engine_form.__name__ = engine_form.__qualname__ = prefix + inv.__name__
    engine_form.__doc__ = inv.__doc__
    return engine_form


def applied(v: View, i: int) -> Term:
    """How much of server i's log a read returns: min(commit index, log length)."""
    return v.min(v.commit(i), v.log_len(i))


def holds_prefix(v: View, i: int, k: int, top: Term) -> Term:
    """Server k's log holds server i's entries 1..top."""
    return v.and_(v.le(top, v.log_len(k)), v.agree(i, k, top))


def election_safety(v: View) -> Term:
    """At most one leader per term."""
    return v.all(v.not_(v.and_(v.is_leader(a), v.is_leader(b), v.eq(v.term(a), v.term(b)))) for a, b in combinations(v.servers, 2))


def log_matching(v: View) -> Term:
    """If two logs have an entry with the same index and term, they are equal up to that index."""

    def pair(a: int, b: int) -> Term:
        return v.agree_below(a, b, [v.log_len(a), v.log_len(b)], lambda x: v.eq(v.entry_term(a, x), v.entry_term(b, x)))

    return v.all(pair(a, b) for a, b in combinations(v.servers, 2))


def commit_within_log(v: View) -> Term:
    """No server's commitIndex points past the end of its log."""
    return v.all(v.le(v.commit(i), v.log_len(i)) for i in v.servers)


def state_machine_safety(v: View) -> Term:
    """Any two servers' state machines agree: one read result is a prefix of the other."""

    def pair(a: int, b: int) -> Term:
        return v.agree(a, b, v.min(applied(v, a), applied(v, b)))

    return v.all(pair(a, b) for a, b in combinations(v.servers, 2))


def leader_completeness(v: View) -> Term:
    """A leader holds every entry any server knows committed in a term no newer than the leader's.

    Server i's `commit_index` was set in a term no newer than its `current_term`; if
    that is at most the leader's term, the entries were committed in or before the
    leader's term, so the leader must have them.  (raft.tla states this with its
    history variables; this is the same claim on the state alone.)  A leader's own
    read is a prefix of its log, so i ranges over the other servers.
    """
    return v.all(
        v.implies(
            v.and_(v.is_leader(lead), v.positive(v.commit(i)), v.le(v.term(i), v.term(lead))),
            holds_prefix(v, i, lead, applied(v, i)),
        )
        for lead in v.servers
        for i in v.servers
        if i != lead
    )


def no_uncommitted_read(v: View) -> Term:
    """No read returns an uncommitted value: what any server serves is held by a quorum."""
    return v.all(
        v.implies(
            v.positive(v.commit(i)),
            v.is_quorum([v.true() if k == i else holds_prefix(v, i, k, applied(v, i)) for k in v.servers]),
        )
        for i in v.servers
    )


INVARIANTS: dict[str, Invariant] = {
    "ElectionSafety": election_safety,
    "LogMatching": log_matching,
    "LeaderCompleteness": leader_completeness,
    "StateMachineSafety": state_machine_safety,
    "CommitWithinLog": commit_within_log,
    "NoUncommittedRead": no_uncommitted_read,
}
"""Every always property except TypeOK, by name: the one definition each engine evaluates."""
