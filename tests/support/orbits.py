"""Orbits of server permutations, numbering-free, and the comparison of two searches that may store different orbit members."""
from __future__ import annotations

import itertools

from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.store import permute_state
from leaderfollower.spec.state import State


def orbit(s: State, n: int) -> State:
    """A numbering-independent representative of s's orbit under server permutations."""
    return min((permute_state(s, p) for p in itertools.permutations(range(n))), key=repr)


def same_search(a: ExploreResult, b: ExploreResult) -> None:
    """The two searches are the same, exactly; with symmetry, the same up to the orbits' representatives.

    Under symmetry an orbit is stored under the smallest of some of its packed keys, and packed keys
    are interned ids whose numbering depends on the order parts were first seen, so
    the two may keep different members of an orbit (and discover orbits through
    different actions).  The orbits, depths and counts must still be the same.
    """
    assert a.distinct_states == b.distinct_states and a.transitions == b.transitions
    # Labels are the actions of kept transitions only (none for a successor outside the bounds).
    assert set(a.labels) == set(b.labels)
    if a.edge_label is not None:
        assert set(a.edge_label) == set(range(len(a.labels)))
    assert a.states_per_depth == b.states_per_depth
    assert {k: (c.enabled, c.within_bounds) for k, c in a.coverage.items()} == {k: (c.enabled, c.within_bounds) for k, c in b.coverage.items()}
    assert [(f.property, a.depth[f.state]) for f in a.violations] == [(f.property, b.depth[f.state]) for f in b.violations]
    assert {k: a.depth[f.state] for k, f in a.witnesses.items()} == {k: b.depth[f.state] for k, f in b.witnesses.items()}
    assert len(a.deadlocks) == len(b.deadlocks) and a.complete == b.complete
    n = a.spec.params.servers
    if a.spec.params.symmetry:
        orbits_a = {(a.depth[k], orbit(a.state(k), n)) for k in range(a.distinct_states)}
        orbits_b = {(b.depth[k], orbit(b.state(k), n)) for k in range(b.distinct_states)}
        assert len(orbits_a) == a.distinct_states and orbits_a == orbits_b
        return
    assert [a.state(k) for k in range(a.distinct_states)] == [b.state(k) for k in range(b.distinct_states)]
    assert list(a.parent) == list(b.parent)
    assert [a.labels[x] for x in a.parent_label[1:]] == [b.labels[x] for x in b.parent_label[1:]]
    assert list(a.depth) == list(b.depth)
    if a.edge_src is not None:
        assert b.edge_src is not None and b.edge_dst is not None and b.edge_label is not None and a.edge_dst is not None and a.edge_label is not None
        assert list(a.edge_src) == list(b.edge_src) and list(a.edge_dst) == list(b.edge_dst)
        assert [a.labels[x] for x in a.edge_label] == [b.labels[x] for x in b.edge_label]
    assert a.coverage == b.coverage
    assert [(f.property, f.state, f.action, f.error) for f in a.violations] == [(f.property, f.state, f.action, f.error) for f in b.violations]
    assert {k: f.state for k, f in a.witnesses.items()} == {k: f.state for k, f in b.witnesses.items()}
    assert a.deadlocks == b.deadlocks and a.complete == b.complete
