"""Server permutations of an obligation's queries: one query per orbit, each orbit checked to be one.

How this works: the obligation `Inv and A(0,1) => L'` is checked one top-level
conjunct c of L' at a time (`solving.Query`); at 5 servers L' has a conjunct per
server tuple, so c for servers (2,3) and c for servers (3,4) differ only by the
permutation (2 4) of the servers the instance does not name.  `Permutation`
applies a permutation of servers to a Z3 term by renaming: the pre-state constant
of key `(v, i, j)` becomes that of `(v, p(i), p(j))`, and a server *value* (a
`voted_for` term, or an if-then-else between such terms and server numbers) has
its server numbers mapped too.  Any other use of a server value (arithmetic on
it, `<` against a number that splits the servers) is refused (`NotPermutable`),
so a term the renaming cannot follow is never treated as the image of another.

A renaming is a bijection between Z3 models (constants renamed, `voted_for`
values permuted), so `H and G and not c` is satisfiable exactly when its image
is.  Two conjuncts c and d are put in one orbit only when a permutation p, fixing
every server the instance names, maps c to d *and* maps the set of hypothesis
conjuncts (the lemmas the obligation assumes, before skolemizing) and the set of
the step's guard and definitions onto themselves, all compared as Z3 terms (which
are hash-consed: equal terms have equal ids).  Then the queries of c and d are
the same query up to renaming, and c's verdict is d's.  Orbits are the connected
components of those edges under the adjacent transpositions of the free servers
(which generate every permutation of them); an edge that cannot be checked is
simply missing, which can only make orbits smaller.
"""
from __future__ import annotations

from typing import Optional, Sequence

import z3

from leaderfollower.checker.z3.model import Sym

_ORDER = {z3.Z3_OP_LE, z3.Z3_OP_LT, z3.Z3_OP_GE, z3.Z3_OP_GT}
_COMPARE = {
    z3.Z3_OP_LE: lambda a, b: a <= b,
    z3.Z3_OP_LT: lambda a, b: a < b,
    z3.Z3_OP_GE: lambda a, b: a >= b,
    z3.Z3_OP_GT: lambda a, b: a > b,
}


class NotPermutable(Exception):
    """A term uses a server value in a way the renaming cannot follow (no orbit edge is drawn through it)."""


class Permutation:
    """A permutation of the servers, applied to Z3 terms over one symbolic pre-state (memoised per term)."""

    def __init__(self, pre: Sym, image: Sequence[int]) -> None:
        self.n = pre.n
        self.image = tuple(image)
        self._const: dict[int, z3.ExprRef] = {}
        self._valued: set[int] = set()
        for key, const in pre.vars.items():
            moved = (key[0],) + tuple(self.image[k] if isinstance(k, int) else k for k in key[1:])
            self._const[const.get_id()] = pre.vars[moved]
            if key[0] == "voted_for":
                self._valued.add(const.get_id())
        # Keyed by term id, with the term kept alive: a freed term's id is reused.
        self._memo: dict[int, tuple[z3.ExprRef, z3.ExprRef, bool]] = {}

    def __call__(self, e: z3.ExprRef) -> z3.ExprRef:
        """e's image (raises NotPermutable)."""
        return self._walk(e)[0]

    def outside(self, terms: Sequence[z3.ExprRef], canonical: "Permutation") -> Optional[list[z3.ExprRef]]:
        """The images of terms that are not among the terms (compared in `canonical` form); None: not followed."""
        ids = {canonical(t).get_id() for t in terms}
        try:
            return [img for img in (self(t) for t in terms) if img.get_id() not in ids]
        except NotPermutable:
            return None

    def _server(self, value: z3.ExprRef) -> z3.ExprRef:
        """A server number in a server-valued place, mapped (Nil and other numbers stay)."""
        v = value.as_long()  # type: ignore[attr-defined]
        return z3.IntVal(self.image[v]) if 0 <= v < self.n else value

    def _walk(self, e: z3.ExprRef) -> tuple[z3.ExprRef, bool]:
        """(image, whether e is a server value)."""
        hit = self._memo.get(e.get_id())
        if hit is not None:
            return hit[1], hit[2]
        out = self._image(e)
        self._memo[e.get_id()] = (e, out[0], out[1])
        return out

    def _image(self, e: z3.ExprRef) -> tuple[z3.ExprRef, bool]:
        if z3.is_var(e):
            return e, False
        if z3.is_quantifier(e):
            return self._quantifier(e), False
        eid = e.get_id()
        if eid in self._const:
            return self._const[eid], eid in self._valued
        kids = e.children()
        if not kids:
            return e, False
        if e.decl().kind() in (z3.Z3_OP_EQ, z3.Z3_OP_DISTINCT) and all(z3.is_int_value(k) for k in kids):
            # Two numbers, one of them maybe a server (a forgotten vote is Nil = -1): a permutation keeps
            # their (in)equality, so the comparison is folded to its value, the same in c and in its image.
            return z3.simplify(e), False
        walked = [self._walk(k) for k in kids]
        if not any(v for _, v in walked):
            images = [img for img, _ in walked]
            if z3.is_and(e) or z3.is_or(e):
                # And and Or are commutative: their arguments are put in one order (by term id),
                # so that a permuted disjunction over quorums meets the original one.
                images.sort(key=lambda t: t.get_id())
            if all(img.eq(k) for img, k in zip(images, kids)):
                return e, False
            return e.decl()(*images), False
        return self._valued_use(e, kids, walked)

    def _valued_use(self, e: z3.ExprRef, kids: list[z3.ExprRef], walked: list[tuple[z3.ExprRef, bool]]) -> tuple[z3.ExprRef, bool]:
        """e has a server-valued argument: only equality, an if-then-else of servers and harmless bounds are followed."""
        kind = e.decl().kind()
        if kind == z3.Z3_OP_ITE:
            cond, valued = walked[0], walked[1:]
            if cond[1]:
                raise NotPermutable(str(e))
            branches = [self._value_or_number(k, w) for k, w in zip(kids[1:], valued)]
            return z3.If(cond[0], branches[0], branches[1]), True
        if kind in (z3.Z3_OP_EQ, z3.Z3_OP_DISTINCT):
            args = [self._value_or_number(k, w) for k, w in zip(kids, walked)]
            return e.decl()(*args), False
        if kind in _ORDER and len(kids) == 2:
            number = [k for (k, (_, v)) in zip(kids, walked) if not v]
            if len(number) == 1 and z3.is_int_value(number[0]):
                bound = number[0].as_long()  # type: ignore[attr-defined]
                left = walked[0][1]
                # Invariant only when every server number falls on the same side of the bound.
                truth = {_COMPARE[kind](v, bound) if left else _COMPARE[kind](bound, v) for v in range(self.n)}
                if len(truth) == 1:
                    return e.decl()(*[img for img, _ in walked]), False
        raise NotPermutable(str(e))

    def _value_or_number(self, k: z3.ExprRef, w: tuple[z3.ExprRef, bool]) -> z3.ExprRef:
        if w[1]:
            return w[0]
        if z3.is_int_value(k):
            return self._server(k)
        raise NotPermutable(str(k))

    def _quantifier(self, q: z3.QuantifierRef) -> z3.ExprRef:
        if q.is_lambda() or q.num_patterns() or q.num_no_patterns():
            raise NotPermutable(str(q))
        body, valued = self._walk(q.body())
        if valued:
            raise NotPermutable(str(q))
        if body.eq(q.body()):
            return q
        n = q.num_vars()
        sorts = (z3.Sort * n)(*[q.var_sort(i).ast for i in range(n)])
        names = (z3.Symbol * n)(*[z3.to_symbol(q.var_name(i), q.ctx) for i in range(n)])
        ast = z3.Z3_mk_quantifier_ex(
            q.ctx.ref(), q.is_forall(), q.weight(), z3.to_symbol("", q.ctx), z3.to_symbol("", q.ctx),
            0, (z3.Pattern * 0)(), 0, (z3.Ast * 0)(), n, sorts, names, body.as_ast(),
        )
        return z3.QuantifierRef(ast, q.ctx)


def transpositions(n: int, fixed: Sequence[int]) -> list[tuple[int, ...]]:
    """The adjacent transpositions of the servers not in `fixed` (they generate every permutation of those)."""
    free = [k for k in range(n) if k not in set(fixed)]
    out = []
    for a, b in zip(free, free[1:]):
        image = list(range(n))
        image[a], image[b] = b, a
        out.append(tuple(image))
    return out


class Symmetry:
    """The server permutations one proof's queries may be reduced by (per process and proof, with its caches)."""

    def __init__(self, pre: Sym, lemmas: dict[str, list[z3.BoolRef]], timeout_ms: int = 10_000) -> None:
        self.n = pre.n
        self.pre = pre
        self.lemmas = lemmas
        """Each lemma's top-level conjuncts before skolemizing (the hypotheses as the query states them)."""
        self.timeout_ms = timeout_ms
        self.canonical = Permutation(pre, range(pre.n))
        self._perms: dict[tuple[int, ...], Permutation] = {}
        self._kept: dict[tuple[str, tuple[int, ...]], bool] = {}

    def permutation(self, image: tuple[int, ...]) -> Permutation:
        """The permutation with this image (kept: its memo is shared by every query of the proof)."""
        if image not in self._perms:
            self._perms[image] = Permutation(self.pre, image)
        return self._perms[image]

    def keeps(self, lemma: str, image: tuple[int, ...]) -> bool:
        """The permutation (a transposition) maps the lemma to an equivalent formula.

        Each conjunct's image is one of its conjuncts (up to the order of And/Or
        arguments), or else Z3 proves the images from the conjuncts: then L implies
        p(L), hence p(L) implies p(p(L)) = L.  An image Z3 cannot prove in time means
        "not kept", which only loses the reduction.
        """
        key = (lemma, image)
        if key not in self._kept:
            cs = self.lemmas[lemma]
            extra = self.permutation(image).outside(cs, self.canonical)
            if extra is None:
                self._kept[key] = False
            elif not extra:
                self._kept[key] = True
            else:
                s = z3.Solver()
                s.set("timeout", self.timeout_ms)
                s.add(*cs)
                s.add(z3.Or([z3.Not(x) for x in extra]))
                self._kept[key] = s.check() == z3.unsat
        return self._kept[key]

    def generators(self, fixed: Sequence[int], assumed: Sequence[str], step: Sequence[z3.ExprRef]) -> list[Permutation]:
        """The transpositions of servers outside `fixed` that keep every assumed lemma and the step's terms."""
        out = []
        for image in transpositions(self.n, fixed):
            g = self.permutation(image)
            if all(self.keeps(name, image) for name in assumed) and g.outside(step, self.canonical) == []:
                out.append(g)
        return out

    def orbits(self, parts: Sequence[z3.ExprRef], generators: Sequence[Permutation]) -> list[list[int]]:
        """The parts grouped by the generators' images among them (positions; each group's first is its representative)."""
        return orbits([self.canonical(p) for p in parts], generators)


def arrangements(n: int, k: int) -> int:
    """How many instances of an action one canonical instance naming k distinct servers stands for: n!/(n-k)!."""
    out = 1
    for m in range(n - k + 1, n + 1):
        out *= m
    return out


def orbits(parts: Sequence[z3.ExprRef], generators: Sequence[Permutation]) -> list[list[int]]:
    """The parts grouped by the generators' images among them (positions; each group's first is its representative)."""
    parent = list(range(len(parts)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    where = {p.get_id(): k for k, p in enumerate(parts)}  # parts in canonical form (`Symmetry.orbits`)
    for g in generators:
        for k, p in enumerate(parts):
            try:
                other = where.get(g(p).get_id())
            except NotPermutable:
                continue
            if other is not None:
                a, b = root(k), root(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for k in range(len(parts)):
        groups.setdefault(root(k), []).append(k)
    return list(groups.values())

