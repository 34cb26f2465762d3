"""Symmetry reduction by signature order (checker/explore/symmetry.py) counts the same orbits as trying every permutation.

The stores now try only the permutations that list servers in signature order.  That
is a canonical form only if the candidates depend on the orbit alone; these tests hold
it to that: searches give the counts of the all-permutations store they replace
(tests/support/all_permutations.py) on 2 to 5 servers, every member of an orbit of a
random state (reachable or not) gets one key, states of different orbits get different
keys, and the partitioned search's stores agree on the representative whatever order
they met the parts in.
"""
from __future__ import annotations

import itertools
import math
import random
from typing import Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.all_permutations import AllPermutationsFingerprintStore, AllPermutationsSearch, AllPermutationsStore
from support.orbits import orbit

from leaderfollower.checker.distributed.fingerprints import FingerprintStore
from leaderfollower.checker.explore.budget import Budget
from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.search import Search
from leaderfollower.checker.explore.store import StateStore, permute_state
from leaderfollower.checker.explore.symmetry import candidate_permutations
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerState,
    State,
)
from leaderfollower.spec.variants import VARIANTS


def search(cls: type[Search], spec: RaftSpec, depth: Optional[int]) -> ExploreResult:
    return cls(spec, keep_graph=False, stop_on_violation=False).run(budget=Budget(max_depth=depth))


def same_orbits(a: ExploreResult, b: ExploreResult) -> None:
    """Two searches that may store different members of an orbit found the same orbits, at the same depths, with the same counts.

    (A concrete action label names the stored member's servers, so only the action names are compared.)"""
    assert (a.distinct_states, a.transitions, a.diameter, a.states_per_depth) == (b.distinct_states, b.transitions, b.diameter, b.states_per_depth)
    assert {k: (c.enabled, c.within_bounds) for k, c in a.coverage.items()} == {k: (c.enabled, c.within_bounds) for k, c in b.coverage.items()}
    assert {x.name for x in a.labels} == {x.name for x in b.labels}
    assert sorted((f.property, a.depth[f.state]) for f in a.violations) == sorted((f.property, b.depth[f.state]) for f in b.violations)
    assert {k: a.depth[f.state] for k, f in a.witnesses.items()} == {k: b.depth[f.state] for k, f in b.witnesses.items()}
    assert (len(a.deadlocks), a.complete, a.stopped_by, a.frontier) == (len(b.deadlocks), b.complete, b.stopped_by, b.frontier)
    n = a.spec.params.servers
    if a.distinct_states * math.factorial(n) > 30_000:
        return  # the orbits themselves are compared on the smaller searches (orbit() tries every permutation)
    orbits_a = {(a.depth[k], orbit(a.state(k), n)) for k in range(a.distinct_states)}
    assert len(orbits_a) == a.distinct_states
    assert orbits_a == {(b.depth[k], orbit(b.state(k), n)) for k in range(b.distinct_states)}


@pytest.mark.parametrize(
    "params, depth",
    [
        (Params(servers=2, values=2, max_term=2, max_log=1, max_copies=2, max_in_flight=1, symmetry=True), None),
        (PRESETS["default"], 10),
        (Params(servers=3, values=2, max_term=2, max_log=1, max_in_flight=2, symmetry=True), 7),
        (Params(servers=4, values=1, max_term=2, max_log=1, symmetry=True), 8),
        (Params(servers=5, values=1, max_term=2, max_log=1, symmetry=True), 7),
        pytest.param(PRESETS["small"], None, marks=pytest.mark.long(reason="two searches of 103,258 states")),
    ],
    ids=["2-servers", "3-servers-depth-10", "3-servers-two-in-flight-depth-7", "4-servers-depth-8", "5-servers-depth-7", "small"],
)
def test_the_same_orbits_counts_and_coverage_as_every_permutation(params: Params, depth: Optional[int]) -> None:
    # A search cut at a depth is comparable: which orbits lie within it, and each orbit's
    # transitions, do not depend on the member stored.
    new, old = search(Search, RaftSpec(params), depth), search(AllPermutationsSearch, RaftSpec(params), depth)
    assert new.distinct_states > 500 and new.complete == (depth is None)
    same_orbits(new, old)


@pytest.mark.parametrize(
    "name, depth",
    [("vote-not-persisted", 18), pytest.param("stale-vote-counted", None, marks=pytest.mark.long(reason="two searches of 61,095 orbits"))],
)
def test_a_broken_variant_is_caught_at_the_same_depth(name: str, depth: Optional[int]) -> None:
    cls = VARIANTS[name]
    assert cls.catch_params.symmetry
    new, old = search(Search, cls(cls.catch_params), depth), search(AllPermutationsSearch, cls(cls.catch_params), depth)
    assert any(f.property == cls.breaks for f in new.violations)
    same_orbits(new, old)


@pytest.mark.long(reason="two searches of the 322,580-orbit default model, about a minute")
def test_the_default_preset_keeps_its_known_counts() -> None:
    spec = RaftSpec(PRESETS["default"])
    new = search(Search, spec, None)
    assert (new.distinct_states, new.transitions) == (322_580, 1_832_500)  # measured with every permutation tried
    same_orbits(new, search(AllPermutationsSearch, spec, None))


# ----------------------------------------------------------------- random states


@st.composite
def messages(draw: st.DrawFn, n: int) -> Message:
    src, dst = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
    term = draw(st.integers(1, 3))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return RequestVoteRequest("RequestVoteRequest", term, draw(st.integers(0, 2)), draw(st.integers(0, 2)), src, dst)
    if kind == 1:
        return RequestVoteResponse("RequestVoteResponse", term, draw(st.booleans()), src, dst)
    if kind == 2:
        entries = tuple(Entry(t, 0) for t in draw(st.lists(st.integers(1, 2), max_size=1)))
        return AppendEntriesRequest("AppendEntriesRequest", term, draw(st.integers(0, 1)), draw(st.integers(0, 2)), entries, draw(st.integers(0, 1)), src, dst)
    return AppendEntriesResponse("AppendEntriesResponse", term, draw(st.booleans()), draw(st.integers(0, 1)), src, dst)


@st.composite
def servers(draw: st.DrawFn, n: int) -> ServerState:
    # Few values per field, so that servers often tie and orbits often coincide.
    ids = st.integers(0, n - 1)
    return ServerState(
        draw(st.integers(1, 2)),
        draw(st.sampled_from([FOLLOWER, CANDIDATE, LEADER])),
        draw(st.one_of(st.none(), ids)),
        tuple(Entry(t, v) for t, v in draw(st.lists(st.tuples(st.integers(1, 2), st.integers(0, 1)), max_size=2))),
        draw(st.integers(0, 1)),
        frozenset(draw(st.sets(ids))),
        frozenset(draw(st.sets(ids))),
        tuple(draw(st.lists(st.integers(1, 2), min_size=n, max_size=n))),
        tuple(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))),
    )


@st.composite
def states(draw: st.DrawFn, n: int) -> State:
    bag = draw(st.dictionaries(messages(n), st.integers(1, 2), max_size=3))
    return State(tuple(draw(st.lists(servers(n), min_size=n, max_size=n))), tuple(sorted(bag.items())))


@st.composite
def orbit_cases(draw: st.DrawFn) -> tuple[int, list[State], list[tuple[int, ...]]]:
    """A number of servers, a few states (some equal up to renaming, by drawing a state and a renamed copy), and permutations."""
    n = draw(st.integers(2, 5))
    base = draw(st.lists(states(n), min_size=1, max_size=4))
    perms = st.permutations(list(range(n))).map(tuple)
    renamed = [permute_state(s, draw(perms)) for s in base if draw(st.booleans())]
    return n, base + renamed, draw(st.lists(perms, min_size=1, max_size=4))


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(case=orbit_cases())
def test_every_member_of_an_orbit_gets_one_key_and_different_orbits_different_keys(case: tuple[int, list[State], list[tuple[int, ...]]]) -> None:
    n, group, perms = case
    spec = RaftSpec(Params(servers=n, symmetry=True))
    store, reference = StateStore(spec, True), AllPermutationsStore(spec, True)
    keys = {}
    for s in group:
        key = store.canonical_key(s)
        assert all(store.canonical_key(permute_state(s, p)) == key for p in perms)
        assert store.build(key) in {permute_state(s, p) for p in itertools.permutations(range(n))}
        keys[s] = key
    for s, t in itertools.combinations(group, 2):
        same_orbit = orbit(s, n) == orbit(t, n)
        assert (keys[s] == keys[t]) == same_orbit
        assert (reference.canonical_key(s) == reference.canonical_key(t)) == same_orbit


@SETTINGS
@given(case=orbit_cases(), seed=st.integers(0, 2**32))
def test_the_partitioned_stores_agree_on_the_representative_whatever_they_met_first(
    case: tuple[int, list[State], list[tuple[int, ...]]], seed: int
) -> None:
    # Two workers intern parts in different orders (ids mean nothing between them); the
    # member each picks must be the same state, and so the same owner.
    n, group, perms = case
    spec = RaftSpec(Params(servers=n, symmetry=True))
    one, two = FingerprintStore(spec, True), FingerprintStore(spec, True)
    shuffled = [permute_state(s, p) for s in group for p in perms]
    random.Random(seed).shuffle(shuffled)
    for s in shuffled:
        two.canonical_key(s)
    for s in group:
        rep, owner = one.canonical_and_owner(one.raw_key(s), 3)
        for p in perms:
            other, other_owner = two.canonical_and_owner(two.raw_key(permute_state(s, p)), 3)
            assert two.build(other) == one.build(rep) and other_owner == owner
    for s, t in itertools.combinations(group, 2):
        same = one.build(one.canonical_key(s)) == one.build(one.canonical_key(t))
        assert same == (orbit(s, n) == orbit(t, n))


@SETTINGS
@given(case=orbit_cases())
def test_a_shard_keeps_the_same_orbits_as_with_every_permutation(case: tuple[int, list[State], list[tuple[int, ...]]]) -> None:
    n, group, _ = case
    spec = RaftSpec(Params(servers=n, symmetry=True))
    new, old = FingerprintStore(spec, True), AllPermutationsFingerprintStore(spec, True)
    for s, t in itertools.combinations(group, 2):
        assert (new.canonical_key(s) == new.canonical_key(t)) == (old.canonical_key(s) == old.canonical_key(t))


def test_the_candidates_keep_each_group_in_its_block_in_every_order() -> None:
    perms = list(itertools.permutations(range(4)))[1:]
    # Servers 1 and 3 share the first signature, 0 the next, 2 the last.
    # Server k goes to position perm[k]: 1 and 3 to positions 0 and 1, 0 to 2, 2 to 3.
    assert {perms[p] for p in candidate_permutations((2, 0, 3, 0), perms)} == {(2, 0, 3, 1), (2, 1, 3, 0)}
    # All tied: every order; all apart: the one sorting permutation.
    assert len(candidate_permutations((0, 0, 0, 0), perms)) == 24
    assert [perms[p] for p in candidate_permutations((3, 1, 0, 2), perms)] == [(3, 1, 0, 2)]
    assert candidate_permutations((0, 1, 2, 3), perms) == (-1,)
