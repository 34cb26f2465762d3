"""Lasso counterexamples: a prefix from the initial state and a cycle repeated forever.

How this works: the prefix is the BFS-tree path to the pending seed the cycle is
reached from, then a shortest path through pending states to the cycle's first
state (`pending_states`' BFS parents).  The cycle starts there and visits, through
shortest paths inside the fair component, one transition for each condition the
component must take and one state for each weak condition it must leave disabled,
until the cycle itself is fair (checked on its own states and transitions; each
round adds a waypoint for a condition not yet satisfied, so it ends).  A stutter
lasso's cycle is empty: the behaviour stays in its last state.

`concretise` turns the stored state ids into concrete states by replaying the
spec from its initial state; under symmetry a stored state stands for its orbit, so
one lap of the cycle may end in a renaming of where it started, and the cycle is
repeated until it closes on the very state it started from (at most n! laps).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Optional

from leaderfollower.spec.actions import Action
from leaderfollower.checker.explore.traces import Step, Trace, TraceError, format_trace
from leaderfollower.checker.liveness.fair_cycles import Enabled, unfair_conditions
from leaderfollower.checker.liveness.graph import Condition, LivenessGraph

Edge = tuple[int, int, int]
"""A kept transition: (source state, label id, target state)."""


@dataclass
class Lasso:
    """A counterexample: stored-state prefix and cycle, and the concrete trace with its loop index."""

    prefix: list[Edge]
    """Transitions from the initial state to the cycle's first state."""
    cycle: list[Edge]
    """Transitions of the cycle (empty: stuttering forever in the last state)."""
    satisfied: list[str] = field(default_factory=list)
    """The fairness conditions the cycle satisfies, as TLA+ names them (taken on it, or not always enabled on it)."""
    trace: Trace = field(default_factory=list)
    """Concrete states: the prefix then the cycle (repeated under symmetry until it closes)."""
    loop: int = 0
    """Index in `trace` of the state the cycle returns to."""


def _path_inside(g: LivenessGraph, nodes: frozenset[int], start: int, goal: "set[int]") -> list[Edge]:
    """A shortest path of transitions inside `nodes` from `start` to a state of `goal` (empty if start is one)."""
    if start in goal:
        return []
    parent: dict[int, Edge] = {}
    seen = {start}
    queue = deque([start])
    dst, lab = g.dst, g.lab
    while queue:
        u = queue.popleft()
        for k in g.out(u):
            v = dst[k]
            if v in nodes and v not in seen:
                seen.add(v)
                parent[v] = (u, lab[k], v)
                if v in goal:
                    path = []
                    while v != start:
                        e = parent[v]
                        path.append(e)
                        v = e[0]
                    return path[::-1]
                queue.append(v)
    raise ValueError("no path inside the component (is it strongly connected?)")


def fair_cycle(g: LivenessGraph, comp: frozenset[int], start: int, enabled: Enabled) -> tuple[list[Edge], list[str]]:
    """A cycle from `start` inside the fair component `comp` that is fair on its own, and the conditions it satisfies."""
    dst, lab = g.dst, g.lab
    inner = [(u, lab[k], dst[k]) for u in comp for k in g.out(u) if dst[k] in comp]
    # Waypoints: an edge to take (u, lid, v) or a state to visit (u, -1, u).
    # Begin with a transition from the start, a fair one if there is one (a shorter story).
    waypoints: list[Edge] = [min((e for e in inner if e[0] == start), key=lambda e: not g.label_conditions(e[1]))]
    for _ in range(len(g.conditions) + 2):
        cycle: list[Edge] = []
        here = start
        for u, lid, v in waypoints:
            cycle += _path_inside(g, comp, here, {u})
            if lid >= 0:
                cycle.append((u, lid, v))
            here = v
        cycle += _path_inside(g, comp, here, {start})
        states = {e[0] for e in cycle}
        taken: set[Condition] = set()
        for _, lid, _ in cycle:
            taken |= g.label_conditions(lid)
        weak_bad, strong_bad = unfair_conditions(g, states, enabled, taken)
        if not weak_bad and not strong_bad:
            return cycle, _satisfied(g, states, enabled, taken)
        c = min(weak_bad | strong_bad)
        edge = next((e for e in inner if c in g.label_conditions(e[1])), None)
        if edge is None:  # a weak condition the component never takes: visit a state where it is disabled
            u = next(u for u in comp if c not in enabled(u))
            edge = (u, -1, u)
        waypoints.append(edge)
    raise ValueError("could not build a fair cycle in a fair component (a bug in checker/liveness)")


def _satisfied(g: LivenessGraph, states: set[int], enabled: Enabled, taken: set[Condition]) -> list[str]:
    every: Optional[set[Condition]] = None
    for u in states:
        every = set(enabled(u)) if every is None else every & enabled(u)
    lines = []
    for c in range(len(g.conditions)):
        name = g.describe(c)
        if c in taken:
            lines.append(f"{name}: taken on the cycle")
        elif any(c in enabled(u) for u in states):
            lines.append(f"{name}: enabled only in some of the cycle's states, never continuously")
    lines.append("(every other fair action is enabled in none of the cycle's states)")
    return lines


def prefix_to(g: LivenessGraph, pending: dict[int, int], target: int) -> list[Edge]:
    """The BFS-tree path to the seed `target` is reached from, then pending states to `target`."""
    inside: list[int] = [target]
    while pending[inside[-1]] != -1:
        inside.append(pending[inside[-1]])
    inside.reverse()
    result = g.result
    edges: list[Edge] = []
    node_before = 0
    for node, label in result._store.path_to(inside[0]):
        edges.append((node_before, label, node))
        node_before = node
    dst, lab = g.dst, g.lab
    for u, v in zip(inside, inside[1:]):
        k = next(k for k in g.out(u) if dst[k] == v)
        edges.append((u, lab[k], v))
    return edges


def concretise(g: LivenessGraph, prefix: list[Edge], cycle: list[Edge]) -> tuple[Trace, int]:
    """The concrete trace of a lasso (see the module comment) and the index of its loop state."""
    result, spec = g.result, g.spec
    symmetric = spec.params.symmetry
    current = spec.init()
    trace: Trace = [Step(None, current)]

    def walk(edge: Edge) -> None:
        nonlocal current
        _, lid, v = edge
        label: Action = result.labels[lid]
        target = result.key(v)
        for action, nxt in spec.successors(current):
            if symmetric:
                if action.name == label.name and spec.within_bounds(nxt) and result.canonical_key(nxt) == target:
                    break
            elif action == label and nxt == result.state(v):
                break
        else:
            raise TraceError(f"no successor of {label} leads to the stored state {v}")
        trace.append(Step(action, nxt))
        current = nxt

    for edge in prefix:
        walk(edge)
    loop = len(trace) - 1
    if not cycle:
        return trace, loop
    for _ in range(math.factorial(spec.params.servers)):
        for edge in cycle:
            walk(edge)
        if current == trace[loop].state:
            return trace, loop
    raise TraceError("the cycle did not close on its first concrete state")


def format_lasso(lasso: Lasso) -> str:
    """The lasso as today's traces print, the loop marked and the fairness it satisfies listed."""
    trace, loop = lasso.trace, lasso.loop
    lines = format_trace(trace).split("\n")
    marker = f"  ↻  loop: steps {loop + 1}..{len(trace) - 1} repeat forever, back to the state after step {loop}"
    if loop == len(trace) - 1:
        marker = f"  ↻  loop: the behaviour stutters forever in the state after step {loop}"
        lines.append(marker)
    else:
        at = next(k for k, line in enumerate(lines) if line.startswith(f"{loop + 1:>3}  "))
        lines.insert(at, marker)
        lines.append(f"  ↻  (back to the state after step {loop})")
    lines.append("  fairness the loop satisfies:")
    lines += [f"    {s}" for s in lasso.satisfied] or ["    (no fairness condition is enabled on it)"]
    return "\n".join(lines)
