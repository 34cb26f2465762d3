"""A small expression layer, so that each state invariant is written once for every engine.

How this works: an invariant is a function of a `View`: what it reads of the
servers (term, leadership, log length, an entry's term and value, commit index)
and the few operations it combines them with (and, not, implies, equal,
less-or-equal, min, a quorum of servers, "for every log index up to a bound",
"two logs agree up to an index").  A
`View` over a concrete spec `State` (`StateView`, here) returns Python ints and
bools, so the explorer evaluates the invariant directly; the Z3 views
(`checker/z3/views.py`) return Z3 terms over a symbolic state, one for the
unbounded encoding of the inductive proofs and one for the finite-domain encoding
of bounded model checking.  So the three engines read one definition
(`spec/invariants.py`), and cannot drift apart; the agreement tests compare the
engines' answers on explored states all the same.

Log indexes start at 1, as in raft.tla.  An entry past the end of a log reads as
term 0 and value 0 in the concrete view, which no real entry has (terms start at
1); the definitions only compare such entries where a bound has already made the
comparison irrelevant.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, Sequence

from .state import LEADER, ServerState

if TYPE_CHECKING:
    from .raft import RaftSpec

Term = Any
"""A value of the view's engine: a Python int or bool, or a Z3 term."""


class View(Protocol):
    """What an invariant may read of a state, and the operations it may combine readings with."""

    servers: tuple[int, ...]
    """The server ids (the number of servers is fixed in every engine)."""

    def term(self, i: int) -> Term:
        """Server i's current term."""

    def is_leader(self, i: int) -> Term:
        """Server i is a leader."""

    def log_len(self, i: int) -> Term:
        """The length of server i's log."""

    def entry_term(self, i: int, x: Term) -> Term:
        """The term of server i's entry at index x (1-based)."""

    def entry_value(self, i: int, x: Term) -> Term:
        """The value of server i's entry at index x (1-based)."""

    def commit(self, i: int) -> Term:
        """Server i's commit index."""

    def true(self) -> Term:
        """The constant true."""

    def and_(self, *xs: Term) -> Term:
        """Conjunction."""

    def all(self, xs: Iterable[Term]) -> Term:
        """Conjunction of a collection (true if empty)."""

    def not_(self, x: Term) -> Term:
        """Negation."""

    def implies(self, a: Term, b: Term) -> Term:
        """Implication."""

    def eq(self, a: Term, b: Term) -> Term:
        """Equality of two numbers."""

    def le(self, a: Term, b: Term) -> Term:
        """a <= b on numbers (indexes and terms are never negative)."""

    def positive(self, a: Term) -> Term:
        """a > 0."""

    def min(self, a: Term, b: Term) -> Term:
        """The smaller of two numbers."""

    def is_quorum(self, members: Sequence[Term]) -> Term:
        """The servers whose entry is true form a quorum: a strict majority of all servers.

        This is the properties' own definition, not the spec's `is_quorum`: a variant that
        changes the spec's quorum rule (a bug to catch) must not change what the
        properties meant to catch it say.
        """

    def forall_index(self, bounds: Sequence[Term], body: Callable[[Term], Term]) -> Term:
        """body(x) for every log index x with 1 <= x <= each of bounds."""

    def agree(self, a: int, b: int, top: Term) -> Term:
        """Servers a and b hold the same entry at every index 1..top (`agree_by_index`)."""

    def agree_below(self, a: int, b: int, bounds: Sequence[Term], guard: Callable[[Term], Term]) -> Term:
        """a and b agree at every index y <= x for every x <= each of bounds with guard(x) (`agree_below_by_index`)."""


def same_entry(v: View, a: int, b: int, x: Term) -> Term:
    """Servers a and b hold the same entry (term and value) at index x."""
    return v.and_(v.eq(v.entry_term(a, x), v.entry_term(b, x)), v.eq(v.entry_value(a, x), v.entry_value(b, x)))


def agree_by_index(v: View, a: int, b: int, top: Term) -> Term:
    """What `View.agree` means, index by index: the same entry at every x in 1..top."""
    return v.forall_index([top], lambda x: same_entry(v, a, b, x))


def agree_below_by_index(v: "StateView", a: int, b: int, bounds: Sequence[int], guard: Callable[[int], bool]) -> bool:
    """What `View.agree_below` means, pair by pair, on a concrete state (the reference for its fast form)."""
    return all(
        v.implies(guard(x), same_entry(v, a, b, y)) for x in range(1, min(bounds) + 1) for y in range(1, x + 1)
    )


class StateView:
    """A `View` of a concrete state's servers: readings and operations are Python ints and bools."""

    def __init__(self, spec: "RaftSpec", servers: tuple[ServerState, ...]) -> None:
        self.spec = spec
        self.state = servers
        self.servers = tuple(range(len(servers)))

    def term(self, i: int) -> int:
        return self.state[i].current_term

    def is_leader(self, i: int) -> bool:
        return self.state[i].role == LEADER

    def log_len(self, i: int) -> int:
        return len(self.state[i].log)

    def entry_term(self, i: int, x: int) -> int:
        log = self.state[i].log
        return log[x - 1].term if 1 <= x <= len(log) else 0

    def entry_value(self, i: int, x: int) -> int:
        log = self.state[i].log
        return log[x - 1].value if 1 <= x <= len(log) else 0

    def commit(self, i: int) -> int:
        return self.state[i].commit_index

    def true(self) -> bool:
        return True

    def and_(self, *xs: bool) -> bool:
        return all(xs)

    def all(self, xs: Iterable[bool]) -> bool:
        return all(xs)

    def not_(self, x: bool) -> bool:
        return not x

    def implies(self, a: bool, b: bool) -> bool:
        return (not a) or b

    def eq(self, a: int, b: int) -> bool:
        return a == b

    def le(self, a: int, b: int) -> bool:
        return a <= b

    def positive(self, a: int) -> bool:
        return a > 0

    def min(self, a: int, b: int) -> int:
        return a if a < b else b

    def is_quorum(self, members: Sequence[bool]) -> bool:
        return 2 * sum(1 for inside in members if inside) > len(self.servers)

    def forall_index(self, bounds: Sequence[int], body: Callable[[int], bool]) -> bool:
        return all(body(x) for x in range(1, min(bounds) + 1))

    def agree(self, a: int, b: int, top: int) -> bool:
        # Slices, not index by index: validation checks states with long logs.  Past
        # the end of a log, entries read as (0, 0): both logs end before top and are
        # equal, or one ends first and the slices differ in length, as index by index.
        return self.state[a].log[:top] == self.state[b].log[:top]

    def agree_below(self, a: int, b: int, bounds: Sequence[int], guard: Callable[[int], bool]) -> bool:
        # Only the highest guarded index matters: every lower y is below it too.
        top = next((x for x in range(min(bounds), 0, -1) if guard(x)), 0)
        return self.agree(a, b, top)
