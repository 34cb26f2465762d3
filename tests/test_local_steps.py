"""The memoised successors (checker/explore/local_steps.py) give exactly the spec's own search.

Each test runs the same search twice, once with the actions memoised per (server,
bag) and once calling the spec's `successors` on every state, and compares
everything the search produces: the states and their ids, BFS parents and labels,
every transition, coverage, findings and deadlocks.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Optional

import pytest

from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.explore.store import permute_state
from leaderfollower.checker.explore.local_steps import usable
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import NIL, State
from leaderfollower.spec.variants import VARIANTS


def orbit(s: State, n: int) -> State:
    """A numbering-independent representative of s's orbit under server permutations."""
    return min((permute_state(s, p) for p in itertools.permutations(range(n))), key=repr)


def same_search(a: ExploreResult, b: ExploreResult) -> None:
    """The two searches are the same, exactly; with symmetry, the same up to the orbits' representatives.

    Under symmetry an orbit is stored under its smallest packed key, and packed keys
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


def both(spec: RaftSpec, **kw: object) -> tuple[ExploreResult, ExploreResult]:
    return explore(spec, memoise=True, **kw), explore(spec, memoise=False, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "params",
    [
        PRESETS["tiny"],
        Params(servers=2, values=2, max_term=2, max_log=1, max_copies=2, max_in_flight=1, symmetry=True),
        Params(servers=2, values=1, max_term=2, max_log=2, max_in_flight=1, max_entries_per_append=2),
        pytest.param(PRESETS["small"], marks=pytest.mark.long),
    ],
    ids=["tiny", "two-values-two-copies-symmetric", "batched-appends", "small-symmetric"],
)
def test_memoised_search_is_the_spec_search(params: Params) -> None:
    spec = RaftSpec(params)
    assert usable(spec)
    fast, slow = both(spec, stop_on_violation=False)
    same_search(fast, slow)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_memoised_search_is_the_spec_search_on_every_broken_variant(name: str) -> None:
    cls = VARIANTS[name]
    # Without symmetry the comparison is exact, so a search cut short is comparable too.
    spec = cls(dataclasses.replace(cls.catch_params, symmetry=False))
    assert usable(spec), f"{name} declares local_actions"
    fast, slow = both(spec, stop_on_violation=False, max_states=3000)
    same_search(fast, slow)


class TimeoutResetsNeighbour(RaftSpec):
    """Not local: a timeout also clears the next server's vote."""

    def timeout(self, s: State, i: int) -> Optional[State]:
        t = super().timeout(s, i)
        if t is None:
            return None
        k = (i + 1) % self.params.servers
        servers = list(t.servers)
        servers[k] = servers[k]._replace(voted_for=NIL)
        return State(tuple(servers), t.messages)


class WronglyDeclaredLocal(TimeoutResetsNeighbour):
    local_actions = True

    def timeout(self, s: State, i: int) -> Optional[State]:
        return super().timeout(s, i)


def test_a_subclass_that_overrides_an_action_is_not_trusted_to_be_local() -> None:
    spec = TimeoutResetsNeighbour(PRESETS["tiny"])
    assert not TimeoutResetsNeighbour.local_actions and not usable(spec)
    # It is searched through its own successors, so its (non-local) semantics hold.
    fast, slow = both(spec, stop_on_violation=False)
    same_search(fast, slow)


def test_a_wrong_local_actions_declaration_is_reported_with_the_action() -> None:
    result = explore(WronglyDeclaredLocal(PRESETS["tiny"]))
    (finding,) = result.violations
    assert finding.property == "LocalActions" and finding.action is not None and finding.action.name == "Timeout"
    assert "changed server" in (finding.error or "")


class ReadsNeighbourButClaimsLocal(RaftSpec):
    """Declares local_actions falsely: a timeout's guard reads the next server's term."""

    local_actions = True

    def timeout(self, s: State, i: int) -> Optional[State]:
        if s.servers[(i + 1) % self.params.servers].current_term > s.servers[i].current_term:
            return None
        return super().timeout(s, i)


def test_the_comparison_catches_a_spec_whose_actions_read_another_server() -> None:
    # The memoised search reuses an answer computed for another neighbour: a different
    # search, which `same_search` must notice (reads cannot be checked at run time,
    # hence the declaration and the rule that an override drops it).
    fast, slow = both(ReadsNeighbourButClaimsLocal(PRESETS["tiny"]), stop_on_violation=False)
    with pytest.raises(AssertionError):
        same_search(fast, slow)
