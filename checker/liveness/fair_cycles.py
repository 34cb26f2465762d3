"""Fair cycles among the "still pending" states: SCCs refined for fairness (Emerson-Lei).

How this works: the *pending* states are where a behaviour still owes the property
its goal.  For `P ~> Q` they are the product's states with the bit "P seen, Q not
yet": the states reached from a (P and not Q) state through not-Q states (the
product needs no copy of the graph: a state's bit-set copy is reachable exactly
when the state is in that closure).  For `<>Q` they are the not-Q states reached
from the initial state through not-Q states.  A violation is a reachable cycle of
pending states that is *fair*: every weakly fair condition enabled in all its
states is taken on it, every strongly fair condition enabled in any of its states is
taken on it.

`fair_component` decomposes the pending subgraph into strongly connected components
(networkx) and refines each: a component where some weak condition is enabled
everywhere but taken nowhere holds no fair cycle (any cycle in it leaves it enabled
everywhere and untaken); a strong condition enabled somewhere but taken nowhere
rules out the states where it is enabled, and what is left of every component is
decomposed again, together, at the next level.  A component that survives is fair (a
cycle through all its states and edges is).  Each state and edge is looked at once
per level of refinement.

Stuttering counts, as in TLA+: a behaviour may stay in one state forever unless a
fair condition is enabled there (`stutter_state`).
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Optional

import networkx as nx

from leaderfollower.checker.liveness.graph import Condition, LivenessGraph

Enabled = Callable[[int], frozenset[Condition]]
"""The fairness conditions enabled in a state (one of the two readings of `LivenessGraph`)."""


def pending_states(g: LivenessGraph, seeds: Iterable[int], goal: Callable[[int], bool]) -> dict[int, int]:
    """The states reachable from `seeds` through states where `goal` is false: state -> BFS parent (-1: a seed)."""
    parent: dict[int, int] = {}
    queue: deque[int] = deque()
    for s in seeds:
        if s not in parent and not goal(s):
            parent[s] = -1
            queue.append(s)
    dst = g.dst
    while queue:
        u = queue.popleft()
        for k in g.out(u):
            v = dst[k]
            if v not in parent and not goal(v):
                parent[v] = u
                queue.append(v)
    return parent


def pending_graph(g: LivenessGraph, pending: dict[int, int]) -> "nx.DiGraph":
    """The subgraph of kept transitions between pending states (no labels: those stay in `g`)."""
    dst = g.dst
    dg = nx.DiGraph()
    dg.add_nodes_from(pending)
    dg.add_edges_from((u, dst[k]) for u in pending for k in g.out(u) if dst[k] in pending)
    return dg


def taken_inside(g: LivenessGraph, nodes: "set[int] | frozenset[int]") -> set[Condition]:
    """The conditions of the transitions between states of `nodes`."""
    dst, lab = g.dst, g.lab
    taken: set[Condition] = set()
    for u in nodes:
        for k in g.out(u):
            if dst[k] in nodes:
                taken |= g.label_conditions(lab[k])
    return taken


def unfair_conditions(g: LivenessGraph, nodes: "set[int] | frozenset[int]", enabled: Enabled, taken: set[Condition]) -> tuple[set[Condition], set[Condition]]:
    """(weak conditions enabled in every state but not taken, strong ones enabled in some state but not taken)."""
    every: Optional[set[Condition]] = None
    some: set[Condition] = set()
    for u in nodes:
        en = enabled(u)
        every = set(en) if every is None else every & en
        some |= en
    weak_bad = (every or set()) - taken
    strong_bad = {c for c in some - taken if c in g.strong}
    return weak_bad, strong_bad


def fair_component(g: LivenessGraph, dg: "nx.DiGraph", enabled: Enabled, lower: Optional[Enabled] = None) -> Optional[frozenset[int]]:
    """A fair strongly connected set of pending states with at least one transition inside, if any.

    Level by level: every component of what is left is judged, and what survives a
    strong condition's removal from every component is decomposed again at once (no edge
    between two components closes a cycle, so one decomposition of their union is
    theirs).  `lower`, if given, is a cheaper reading that never says more is enabled
    than `enabled`: a component is judged with it first, which can only rule out or cut
    away less than `enabled` would, and `enabled` is asked only about components it passes.
    """
    nodes: set[int] = set(dg.nodes)
    readings = [r for r in (lower, enabled) if r is not None]
    while nodes:
        sub = dg.subgraph(nodes)
        rest: set[int] = set()
        for comp in nx.strongly_connected_components(sub):
            if len(comp) == 1:
                (u,) = comp
                if not sub.has_edge(u, u):
                    continue
            taken = taken_inside(g, comp)
            for reading in readings:
                weak_bad, strong_bad = unfair_conditions(g, comp, reading, taken)
                if weak_bad:
                    break  # no cycle in it can be fair
                if strong_bad:
                    rest |= {u for u in comp if not (reading(u) & strong_bad)}
                    break
            else:
                return frozenset(comp)
        nodes = rest
    return None


def stutter_state(order: Iterable[int], enabled: Enabled) -> Optional[int]:
    """The first state (in `order`) where no fair condition is enabled: a behaviour may stop there."""
    for u in order:
        if not enabled(u):
            return u
    return None
