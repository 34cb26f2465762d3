"""Walks through the explored graph that together take every transition at least once.

How this works: a greedy edge cover on the networkx state graph.  A walk starts at
the initial state and, while the state it is in has an outgoing transition not yet
covered, takes it.  When it has none, a breadth-first search finds the nearest
state that still has one and the walk goes there along already-covered edges.
When no such state is reachable (terms only grow, so the graph is not strongly
connected), the walk ends and the next one starts again from the initial state: a
reset.  This keeps the number of resets small: each walk is long and keeps taking
new transitions, rather than one shortest path per transition.

Each walk after the first starts with the BFS-tree path to the first state that still
has an uncovered transition (`prefix_len` steps); the replayer shares those prefixes
between walks through snapshots.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional

import networkx as nx

from leaderfollower.checker.explore.result import ExploreResult

Edge = tuple[int, int, int]
"""A transition of the graph: (source id, target id, action label id)."""


@dataclass
class Walk:
    """A replayable sequence of transitions from the initial state."""

    edges: list[Edge]
    prefix_len: int = 0
    """How many leading edges only bring the walk to where its new part starts."""


@dataclass
class Cover:
    """A set of walks covering every transition, with the figures to report."""

    walks: list[Walk]
    transitions: int
    covered: int
    steps: int
    resets: int

    @property
    def complete(self) -> bool:
        """Every transition of the graph is on some walk."""
        return self.covered == self.transitions


def edge_cover(result: ExploreResult, graph: Optional[nx.MultiDiGraph] = None) -> Cover:
    """Greedy walks from the initial state covering every edge of the explored graph.

    When the walk's state has no uncovered transition, a breadth-first search finds
    the nearest state that has one; when none is reachable the walk ends (a reset)
    and the next walk goes straight to the first such state along the BFS tree.
    """
    g = graph if graph is not None else result.graph
    n = g.number_of_nodes()
    total = g.number_of_edges()
    # networkx's raw adjacency dicts, read only: its `succ` view wraps every look-up in
    # view objects, which cost more than half of the cover's time on the default model.
    succ = g._succ
    pending: list[Optional[list[tuple[int, int]]]] = [None] * n
    remaining = [sum(len(keys) for keys in succ[u].values()) for u in range(n)]
    covered_set: set[Edge] = set()
    walks: list[Walk] = []
    left = total

    def mark(e: Edge) -> None:
        nonlocal left
        if e not in covered_set:
            covered_set.add(e)
            remaining[e[0]] -= 1
            left -= 1

    def take(u: int) -> Optional[Edge]:
        lst = pending[u]
        if lst is None:
            lst = sorted(((v, k) for v, keys in succ[u].items() for k in keys), reverse=True)
            pending[u] = lst
        # Prefer a transition into a state that still has uncovered ones: the walk goes on.
        fallback = None
        for pos in range(len(lst) - 1, -1, -1):
            v, k = lst[pos]
            if (u, v, k) in covered_set:
                del lst[pos]
                continue
            if remaining[v] > 0 and v != u:
                del lst[pos]
                return (u, v, k)
            if fallback is None:
                fallback = pos
        if fallback is None:
            return None
        v, k = lst.pop(fallback)
        return (u, v, k)

    # A state from which no uncovered transition is reachable stays that way (covering
    # only removes uncovered transitions), so a search that fails marks everything it
    # saw as dead and later searches skip it: failed searches cost each state once.
    dead = bytearray(n)

    def path_to_uncovered(start: int) -> Optional[list[Edge]]:
        parent: dict[int, Edge] = {}
        seen = [start]
        visited = {start}
        queue = deque([start])
        while queue:
            u = queue.popleft()
            if remaining[u] > 0 and u != start:
                path: list[Edge] = []
                node = u
                while node != start:
                    e = parent[node]
                    path.append(e)
                    node = e[0]
                path.reverse()
                return path
            for v, keys in succ[u].items():
                if v not in visited and not dead[v]:
                    visited.add(v)
                    seen.append(v)
                    parent[v] = (u, v, min(keys))
                    queue.append(v)
        for u in seen:
            dead[u] = 1
        return None

    first_open = 0
    while left > 0:
        while remaining[first_open] == 0:
            first_open += 1
        walk = bfs_prefix(result, first_open)
        prefix_len = len(walk)
        for e in walk:
            mark(e)
        current = first_open
        while True:
            nxt = take(current) if remaining[current] > 0 else None
            if nxt is not None:
                mark(nxt)
                walk.append(nxt)
                current = nxt[1]
                continue
            path = path_to_uncovered(current)
            if path is None:
                break
            for e in path:
                mark(e)
            walk.extend(path)
            current = path[-1][1]
        walks.append(Walk(walk, prefix_len=prefix_len))
    steps = sum(len(w.edges) for w in walks)
    return Cover(walks=walks, transitions=total, covered=len(covered_set), steps=steps, resets=len(walks) - 1)


def sample_walks(result: ExploreResult, sample: int, seed: int = 0) -> tuple[list[Walk], int]:
    """Walks that take one transition of every action label name and `sample` more, drawn at random.

    Each chosen transition is reached along the BFS tree (its shortest path from the
    initial state) and taken last; the replayer shares those paths between walks.
    Returns the walks and the number of distinct transitions they take (the chosen
    ones and those on their paths).  The draw is seeded: the same graph, sample and
    seed give the same walks.
    """
    import random

    src, dst, lab = result.edge_src, result.edge_dst, result.edge_label
    if src is None or dst is None or lab is None:
        raise RuntimeError("a conformance sample needs the explored graph (keep_graph=True)")
    total = len(src)
    first_of_name: dict[str, int] = {}
    for k in range(total):
        first_of_name.setdefault(result.labels[lab[k]].name, k)
    chosen = set(first_of_name.values())
    rest = [k for k in range(total) if k not in chosen]
    chosen.update(random.Random(seed).sample(rest, min(sample, len(rest))))
    walks: list[Walk] = []
    taken: set[Edge] = set()
    for k in sorted(chosen):
        edge = (src[k], dst[k], lab[k])
        prefix = bfs_prefix(result, edge[0])
        walks.append(Walk(prefix + [edge], prefix_len=len(prefix)))
        taken.update(prefix)
        taken.add(edge)
    return walks, len(taken)


def bfs_prefix(result: ExploreResult, node: int) -> list[Edge]:
    """The BFS-tree path from the initial state to `node`, as graph edges."""
    edges: list[Edge] = []
    while node != 0:
        parent = result.parent[node]
        edges.append((parent, node, result.parent_label[node]))
        node = parent
    edges.reverse()
    return edges
