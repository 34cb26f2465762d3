"""A reference for the liveness check: fair lassos found by enumerating closed walks, not by SCCs.

How this works: a lasso violates a liveness property when its prefix reaches a state
where the goal is owed and its loop, a closed walk through owing states, is fair:
every weakly fair condition is taken on the loop or disabled in one of its states,
every strongly fair condition enabled in one of its states is taken on it.  Whether
a closed walk is fair depends only on three small sets it accumulates: the weak
conditions it has satisfied, the strong conditions it has taken, and the strong ones
enabled somewhere on it.  So the walks from a state back to itself can be enumerated
*by their summary*: a search over (state, summary) pairs, finite however long the
walks, visits every summary some closed walk has.  This decides the question from
the definitions, with none of the checker's machinery (no SCCs, no refinement, no
"lower" reading); it is quadratic in the graph and exponential in the number of
conditions, so it suits graphs of a few hundred states with a handful of conditions.

A behaviour may also stop (stutter forever) in an owing state where no fair
condition is enabled.
"""
from __future__ import annotations

from array import array
from collections import deque
from typing import Callable, Iterable, Sequence

Edge = tuple[int, frozenset[int]]
"""A transition as the reference reads it: (target state, the conditions its label counts for)."""


def owing_states(out: Sequence[Sequence[Edge]], seeds: Iterable[int], goal: Callable[[int], bool]) -> set[int]:
    """The states a behaviour reaches from a seed through states where the goal is false."""
    seen = {s for s in seeds if not goal(s)}
    queue = deque(seen)
    while queue:
        u = queue.popleft()
        for v, _ in out[u]:
            if v not in seen and not goal(v):
                seen.add(v)
                queue.append(v)
    return seen


def _mask(conds: Iterable[int], bit: dict[int, int]) -> int:
    m = 0
    for c in conds:
        m |= bit.get(c, 0)
    return m


def fair_lasso_exists(
    out: Sequence[Sequence[Edge]],
    owing: set[int],
    enabled: Callable[[int], frozenset[int]],
    strong: frozenset[int],
) -> bool:
    """Is there a fair closed walk (or a fair stutter) among the `owing` states?

    `out[u]` lists u's transitions; `enabled(u)` the conditions enabled in u under the
    reading being judged; a condition not in `strong` is weak.
    """
    if any(not enabled(u) for u in owing):
        return True
    conds = sorted({c for u in owing for c in enabled(u)} | {c for u in owing for _, cs in out[u] for c in cs})
    bit = {c: 1 << k for k, c in enumerate(conds)}
    strong_bits = _mask(strong, bit)
    weak_bits = _mask(conds, bit) & ~strong_bits
    en = {u: _mask(enabled(u), bit) for u in owing}
    inner = {u: [(v, _mask(cs, bit)) for v, cs in out[u] if v in owing] for u in owing}
    into: dict[int, list[int]] = {u: [] for u in owing}
    for u in owing:
        for v, _ in inner[u]:
            into[v].append(u)
    for s in owing:
        # Only states both reachable from s and reaching s can lie on a closed walk through s.
        on_walks = _closure(s, lambda u: (v for v, _ in inner[u])) & _closure(s, into.__getitem__)
        if _closed_fair_walk(s, inner, en, on_walks, weak_bits, strong_bits):
            return True
    return False


def _closure(s: int, step: Callable[[int], Iterable[int]]) -> set[int]:
    seen = {s}
    queue = deque([s])
    while queue:
        for v in step(queue.popleft()):
            if v not in seen:
                seen.add(v)
                queue.append(v)
    return seen


def _closed_fair_walk(s: int, inner: dict[int, list[tuple[int, int]]], en: dict[int, int], allowed: set[int], weak_bits: int, strong_bits: int) -> bool:
    """Search (state, summary) from s; True when a walk returns to s with a fair summary.

    Summary: (weak conditions satisfied, strong conditions taken, strong conditions
    enabled somewhere and not yet taken).
    """

    def visit(summary: tuple[int, int, int], v: int, taken: int) -> tuple[int, int, int]:
        sat, s_taken, s_owed = summary
        sat |= (taken | ~en[v]) & weak_bits
        s_taken |= taken & strong_bits
        s_owed = (s_owed | (en[v] & strong_bits)) & ~s_taken
        return sat, s_taken, s_owed

    start = visit((0, 0, 0), s, 0)
    seen = {(s, start)}
    queue = deque([(s, start)])
    while queue:
        u, summary = queue.popleft()
        for v, taken in inner[u]:
            if v not in allowed:
                continue
            nxt = visit(summary, v, taken)
            if v == s and nxt[0] == weak_bits and nxt[2] == 0:
                return True
            if (v, nxt) not in seen:
                seen.add((v, nxt))
                queue.append((v, nxt))
    return False


class ToyGraph:
    """The parts of `LivenessGraph` the SCC refinement reads, over a hand-made graph: the checker's view of a toy graph."""

    def __init__(self, n: int, edges: list[tuple[int, int, int]], label_conds: dict[int, frozenset[int]], strong: set[int]) -> None:
        edges = sorted(edges)
        self.n = n
        self.dst = array("I", [v for _, v, _ in edges])
        self.lab = array("I", [lid for _, _, lid in edges])
        self.start = array("I", [sum(1 for u, _, _ in edges if u < x) for x in range(n + 1)])
        self._label_conds = label_conds
        self.strong = strong
        self.conditions = sorted({c for cs in label_conds.values() for c in cs} | strong)

    def out(self, u: int) -> range:
        return range(self.start[u], self.start[u + 1])

    def label_conditions(self, lid: int) -> frozenset[int]:
        return self._label_conds[lid]
