"""The Z3 engines' `spec.expr.View`s: the spec's invariants built as Z3 terms on symbolic states.

How this works: `spec/invariants.py` writes each invariant once against a view.
`Z3View` reads a symbolic state of the unbounded encoding (`checker/z3/model.py`:
integers, logs as arrays, quantifiers over log indexes) for the inductive proofs;
`BmcView` reads a state of the finite-domain encoding (`checker/z3/bmc.py`:
bit-vectors, logs as fixed slots, quantifiers over log indexes expanded to
1..max_log) for bounded model checking.  `spec.lemmas.PROPERTY_ENCODINGS` and
`invariant_for_bmc` (for `z3bmc.PROPERTIES`) turn an invariant into each engine's
property function.

The terms are shaped as the proofs found fastest (docs/performance-z3.md): a bound
list folds into one `If`-min as the upper end of a single quantifier, and
`agree_below` is one quantifier over (x, y) with the guard among the
antecedents, not one quantifier nested in another.
"""
from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import z3

from leaderfollower.spec.expr import agree_by_index, same_entry
from leaderfollower.spec.invariants import Invariant, named_after
from leaderfollower.spec.state import LEADER

if TYPE_CHECKING:
    from leaderfollower.checker.z3.bmc import BmcModel, BState
    from leaderfollower.checker.z3.model import Sym, Z3Model

Z3Term = Any


def _all(xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
    items = list(xs)
    return z3.And(items) if items else z3.BoolVal(True)


class _Logic:
    """The connectives both Z3 views share."""

    def true(self) -> z3.BoolRef:
        return z3.BoolVal(True)

    def and_(self, *xs: z3.BoolRef) -> z3.BoolRef:
        return z3.And(*xs)

    def all(self, xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
        return _all(xs)

    def not_(self, x: z3.BoolRef) -> z3.BoolRef:
        return z3.Not(x)

    def implies(self, a: z3.BoolRef, b: z3.BoolRef) -> z3.BoolRef:
        return z3.Implies(a, b)


class Z3View(_Logic):
    """A view of a symbolic state of the unbounded encoding (integers and arrays)."""

    def __init__(self, z: "Z3Model", s: "Sym") -> None:
        from leaderfollower.checker.z3.model import Z_LEADER

        self.z, self.s = z, s
        self.servers = tuple(z.servers)
        self._leader = Z_LEADER

    def term(self, i: int) -> Z3Term:
        return self.s.term(i)

    def is_leader(self, i: int) -> Z3Term:
        return self.s.role(i) == self._leader

    def log_len(self, i: int) -> Z3Term:
        return self.s.len(i)

    def entry_term(self, i: int, x: Z3Term) -> Z3Term:
        return self.s.log_term(i)[x]

    def entry_value(self, i: int, x: Z3Term) -> Z3Term:
        return self.s.log_value(i)[x]

    def commit(self, i: int) -> Z3Term:
        return self.s.commit(i)

    def eq(self, a: Z3Term, b: Z3Term) -> Z3Term:
        return a == b

    def le(self, a: Z3Term, b: Z3Term) -> Z3Term:
        return a <= b

    def positive(self, a: Z3Term) -> Z3Term:
        return a > 0

    def min(self, a: Z3Term, b: Z3Term) -> Z3Term:
        return z3.If(a < b, a, b)

    def is_quorum(self, members: Sequence[Z3Term]) -> Z3Term:
        # The properties' own quorum (spec/expr.py: a strict majority), not the model's, which a
        # variant's switch changes: the property meant to catch that variant must not change with it.
        return 2 * z3.Sum([z3.If(b, 1, 0) for b in members]) > len(members)

    def forall_index(self, bounds: Sequence[Z3Term], body: Callable[[Z3Term], Z3Term]) -> Z3Term:
        return self.z.forall_index(1, reduce(self.min, bounds), body)

    def agree(self, a: int, b: int, top: Z3Term) -> Z3Term:
        return agree_by_index(self, a, b, top)  # type: ignore[arg-type]

    def agree_below(self, a: int, b: int, bounds: Sequence[Z3Term], guard: Callable[[Z3Term], Z3Term]) -> Z3Term:
        if self.z.log_bound is not None:
            return self.z.forall_index(1, reduce(self.min, bounds), lambda x: z3.Implies(guard(x), self.agree(a, b, x)))
        x, y = z3.Ints("x y")
        return z3.ForAll([x, y], z3.Implies(z3.And(1 <= y, y <= x, *[x <= b for b in bounds], guard(x)), same_entry(self, a, b, y)))  # type: ignore[arg-type]


class BmcView(_Logic):
    """A view of a state of the finite-domain encoding: unsigned bit-vectors, log indexes expanded."""

    def __init__(self, z: "BmcModel", s: "BState") -> None:
        self.z, self.s = z, s
        self.servers = tuple(z.servers)

    def term(self, i: int) -> Z3Term:
        return self.s.term(i)

    def is_leader(self, i: int) -> Z3Term:
        return self.s.is_role(i, LEADER)

    def log_len(self, i: int) -> Z3Term:
        return self.s.len(i)

    def entry_term(self, i: int, x: int) -> Z3Term:
        return self.s.log_term(i, x)

    def entry_value(self, i: int, x: int) -> Z3Term:
        return self.s.log_value(i, x)

    def commit(self, i: int) -> Z3Term:
        return self.s.commit(i)

    @staticmethod
    def _pair(a: Z3Term, b: Z3Term) -> tuple[Z3Term, Z3Term]:
        """Lift a Python int (an expanded log index) to the other side's width."""
        if isinstance(a, int):
            return z3.BitVecVal(a, b.size()), b
        if isinstance(b, int):
            return a, z3.BitVecVal(b, a.size())
        return a, b

    def eq(self, a: Z3Term, b: Z3Term) -> Z3Term:
        if isinstance(a, int) and isinstance(b, int):
            return z3.BoolVal(a == b)
        a, b = self._pair(a, b)
        return a == b

    def le(self, a: Z3Term, b: Z3Term) -> Z3Term:
        if isinstance(a, int) and isinstance(b, int):
            return z3.BoolVal(a <= b)
        if isinstance(a, int) and a >= 2 ** b.size():
            return z3.BoolVal(False)  # b cannot hold a
        a, b = self._pair(a, b)
        return z3.ULE(a, b)

    def positive(self, a: Z3Term) -> Z3Term:
        return a != 0

    def min(self, a: Z3Term, b: Z3Term) -> Z3Term:
        a, b = self._pair(a, b)
        return z3.If(z3.ULE(a, b), a, b)

    def is_quorum(self, members: Sequence[Z3Term]) -> Z3Term:
        # The properties' own quorum (spec/expr.py: a strict majority), not the model's switched one.
        return z3.AtLeast(*members, len(members) // 2 + 1) if members else z3.BoolVal(False)

    def forall_index(self, bounds: Sequence[Z3Term], body: Callable[[int], Z3Term]) -> Z3Term:
        return _all(z3.Implies(z3.And([self.le(k, b) for b in bounds]), body(k)) for k in range(1, self.z.params.max_log + 1))

    def agree(self, a: int, b: int, top: Z3Term) -> Z3Term:
        return agree_by_index(self, a, b, top)  # type: ignore[arg-type]

    def agree_below(self, a: int, b: int, bounds: Sequence[Z3Term], guard: Callable[[int], Z3Term]) -> Z3Term:
        return _all(
            z3.Implies(z3.And([self.le(x, b) for b in bounds] + [guard(x)]), self.agree(a, b, x)) for x in range(1, self.z.params.max_log + 1)
        )


def invariant_for_bmc(inv: Invariant) -> Callable[["BmcModel", "BState"], z3.BoolRef]:
    """The invariant as a property of the finite-domain encoding: (model, state) -> Z3 term."""

    def encoded(z: "BmcModel", s: "BState") -> z3.BoolRef:
        return inv(BmcView(z, s))

    return named_after(inv, encoded, "bmc_")
