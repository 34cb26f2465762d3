"""The explorer: TLC's counts, determinism, the networkx graph, coverage, errors and deadlocks.

The reachable set is also compared with an independent naive breadth-first search
written here (plain `State` objects in a Python set, no packing, no interning), with
and without symmetry reduction, on small bounds drawn by Hypothesis.
"""
from __future__ import annotations

import itertools
from collections import Counter
from typing import Iterator, Optional

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderfollower.checker.explore.result import ExploreResult, Progress
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.explore.store import permute_state
from leaderfollower.checker.explore.traces import finding_trace, trace_to
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.properties import PROPERTIES, type_ok
from leaderfollower.spec.actions import ACTION_NAMES, Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import CANDIDATE, LEADER, State

TINY = PRESETS["tiny"]  # 2 servers, max term 2, max log 1
TINY_SYM = Params(servers=2, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=1, symmetry=True)


def run(params: Params, **kw: object) -> ExploreResult:
    return explore(RaftSpec(params), **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------- TLC's counts


@pytest.mark.parametrize(
    "params, states, transitions, diameter",
    [(TINY, 1645, 6610, 27), (TINY_SYM, 831, 3333, 27)],
    ids=["tiny", "tiny-symmetry"],
)
def test_counts_equal_tlc(params: Params, states: int, transitions: int, diameter: int) -> None:
    result = run(params)
    assert result.distinct_states == states  # TLC: 1,645 and 831 (SYMMETRY Permutations(Server))
    assert result.transitions == transitions
    assert result.diameter == diameter
    assert result.complete and result.ok
    assert not result.violations and not result.deadlocks
    assert set(result.witnesses) == {"LeaderElected", "ValueCommitted", "StaleFollowerRead"}


@pytest.mark.early
def test_counts_equal_tlc_three_servers_with_symmetry() -> None:
    # TLC: 3 servers, max term 2, max log 0, SYMMETRY: 103,258.  These are also the
    # catch parameters of vote-not-persisted: the correct spec violates nothing here.
    params = PRESETS["small"]
    assert (params.servers, params.max_term, params.max_log, params.symmetry) == (3, 2, 0, True)
    result = run(params, keep_graph=False)
    assert result.distinct_states == 103_258
    assert result.transitions == 557_298
    assert result.diameter == 38
    assert result.complete and not result.violations and not result.deadlocks
    # Nothing can commit without a log: the one sometimes property that cannot hold.
    assert set(result.witnesses) == {"LeaderElected"}


@pytest.mark.early
def test_counts_equal_tlc_full_model() -> None:
    # TLC: 3 servers, max term 2, max log 1, no symmetry: 1,931,973 distinct states.
    # About 22 s on a quiet box since the actions are memoised (it was 100 s and more).
    result = run(PRESETS["full"], keep_graph=False)
    assert result.distinct_states == 1_931_973
    assert result.complete and not result.violations and result.ok


# ----------------------------------------------------------------- determinism


def test_two_runs_are_identical() -> None:
    a, b = run(TINY_SYM), run(TINY_SYM)
    assert (a.distinct_states, a.transitions, a.diameter) == (b.distinct_states, b.transitions, b.diameter)
    assert a.labels == b.labels
    assert [a.key(k) for k in range(a.distinct_states)] == [b.key(k) for k in range(b.distinct_states)]
    assert list(a.parent) == list(b.parent) and list(a.parent_label) == list(b.parent_label)
    assert list(a.edge_src) == list(b.edge_src)  # type: ignore[arg-type]
    assert list(a.edge_dst) == list(b.edge_dst)  # type: ignore[arg-type]
    assert list(a.edge_label) == list(b.edge_label)  # type: ignore[arg-type]
    assert a.states_per_depth == b.states_per_depth


def test_the_first_states_are_the_initial_state_and_its_timeouts() -> None:
    result = run(TINY)
    spec = result.spec
    assert result.state(0) == spec.init()
    assert [result.labels[result.parent_label[k]] for k in (1, 2)] == [Action("Timeout", (0,)), Action("Timeout", (1,))]
    assert result.state(1) == spec.timeout(spec.init(), 0)
    assert result.state(2) == spec.timeout(spec.init(), 1)


# ----------------------------------------------------------------- the graph


@pytest.fixture(scope="module")
def tiny() -> ExploreResult:
    return run(TINY)


def test_graph_is_a_multidigraph_with_one_edge_per_transition(tiny: ExploreResult) -> None:
    g = tiny.graph
    assert isinstance(g, nx.MultiDiGraph)
    assert list(g.nodes) == list(range(tiny.distinct_states))
    assert g.number_of_edges() == tiny.transitions
    assert tiny.graph is g  # built once


def test_every_edge_is_its_labelled_action(tiny: ExploreResult) -> None:
    spec = tiny.spec
    for u, v, k in tiny.graph.edges(keys=True):
        assert spec.apply(tiny.state(u), tiny.labels[k]) == tiny.state(v), (u, v, tiny.labels[k])


def test_out_edges_are_exactly_the_successors_within_bounds(tiny: ExploreResult) -> None:
    spec, g = tiny.spec, tiny.graph
    for u in range(tiny.distinct_states):
        s = tiny.state(u)
        expected = Counter((a, t) for a, t in spec.successors(s) if spec.within_bounds(t))
        got = Counter((tiny.labels[k], tiny.state(v)) for _, v, k in g.out_edges(u, keys=True))
        assert got == expected, u


def test_self_loops_and_parallel_edges_are_kept(tiny: ExploreResult) -> None:
    g = tiny.graph
    # Restarting either follower of the initial state changes nothing: two self-loops, two keys.
    keys_at_init = {tiny.labels[k] for k in g[0][0]}
    assert keys_at_init == {Action("Restart", (0,)), Action("Restart", (1,))}
    assert g.number_of_edges(0, 0) == 2
    # Stuttering steps (a restart of a fresh follower, AdvanceCommitIndex with nothing new) are loops.
    spec = tiny.spec
    stutters = sum(
        t == s for s in map(tiny.state, range(tiny.distinct_states)) for _, t in spec.successors(s) if spec.within_bounds(t)
    )
    assert nx.number_of_selfloops(g) == stutters > 0
    assert any(tiny.labels[k].name == "AdvanceCommitIndex" for u, v, k in g.edges(keys=True) if u == v)
    # Two different actions between the same two distinct states.
    parallel = [(u, v) for u, v in g.edges() if u != v and g.number_of_edges(u, v) > 1]
    assert parallel


def test_diameter_and_depths_agree_with_networkx_shortest_paths(tiny: ExploreResult) -> None:
    lengths = nx.single_source_shortest_path_length(tiny.graph, 0)
    assert len(lengths) == tiny.distinct_states  # every stored state is reachable
    assert max(lengths.values()) == tiny.diameter
    assert all(tiny.depth[k] == lengths[k] for k in range(tiny.distinct_states))
    assert sum(tiny.states_per_depth) == tiny.distinct_states
    assert len(tiny.states_per_depth) == tiny.diameter + 1


def test_path_to_follows_parents_and_replays(tiny: ExploreResult) -> None:
    spec = tiny.spec
    for sid in (1, 100, tiny.distinct_states - 1):
        steps = tiny.path_to(sid)
        assert len(steps) == tiny.depth[sid]
        s = spec.init()
        for node, action in steps:
            s = spec.apply(s, action)  # type: ignore[assignment]
            assert s == tiny.state(node)


def test_without_the_graph_the_counts_and_traces_are_the_same(tiny: ExploreResult) -> None:
    lean = run(TINY, keep_graph=False)
    assert (lean.distinct_states, lean.transitions, lean.diameter) == (tiny.distinct_states, tiny.transitions, tiny.diameter)
    assert lean.edge_src is None
    with pytest.raises(RuntimeError, match="keep_graph"):
        lean.graph
    last = lean.distinct_states - 1
    assert [s.state for s in trace_to(lean, last)] == [s.state for s in trace_to(tiny, last)]


def test_symmetry_graph_edges_lead_into_the_stored_orbit() -> None:
    result = run(TINY_SYM)
    spec, g = result.spec, result.graph
    assert g.number_of_edges() == result.transitions == 3333
    for u, v, k in g.edges(keys=True):
        t = spec.apply(result.state(u), result.labels[k])
        assert t is not None and result.canonical_key(t) == result.key(v)


def test_max_states_stops_the_search_early() -> None:
    result = run(TINY, max_states=100)
    assert not result.complete
    assert 100 <= result.distinct_states < 1645
    assert result.stopped_by == "max-states" and result.incomplete_because == "state limit reached" and result.frontier > 0


def test_a_stop_condition_stops_the_search_and_says_what_it_covered() -> None:
    # How a budget plugs in: a function of the search's progress that gives a reason to stop.
    seen: list[int] = []

    def budget(p: Progress) -> Optional[str]:
        seen.append(p.states)
        return "budget of 300 states" if p.states >= 300 else None

    result = explore(RaftSpec(TINY), stop_when=budget)
    assert not result.complete and result.stopped_by == result.incomplete_because == "budget of 300 states"
    assert 300 <= result.distinct_states < 1645 and result.frontier > 0
    # The frontier is the states stored but not expanded: none of them is anyone's parent.
    expanded = result.distinct_states - result.frontier
    assert max(result.parent) < expanded and result.stopped_by is not None
    assert seen and seen[-1] >= 300
    # Without a stop, the same search is complete.
    assert explore(RaftSpec(TINY), stop_when=lambda p: None).complete


# ----------------------------------------------------------------- coverage


def test_action_coverage_matches_an_independent_count(tiny: ExploreResult) -> None:
    cov = tiny.coverage
    assert set(cov) == set(ACTION_NAMES)
    states = [tiny.state(k) for k in range(tiny.distinct_states)]
    n = TINY.servers
    assert cov["Restart"].enabled == n * len(states)  # always enabled
    assert cov["Timeout"].enabled == sum(srv.role != LEADER for s in states for srv in s.servers)
    assert cov["BecomeLeader"].enabled == sum(
        srv.role == CANDIDATE and 2 * len(srv.votes_granted) > n for s in states for srv in s.servers
    )
    in_flight = sum(len(s.messages) for s in states)
    assert cov["DuplicateMessage"].enabled == cov["DropMessage"].enabled == in_flight
    handlers = ("UpdateTerm", "HandleRequestVoteRequest", "HandleRequestVoteResponse", "HandleAppendEntriesRequest", "HandleAppendEntriesResponse", "DropStaleResponse")
    receivable = sum(len(tiny.spec.receive(s, m)) for s in states for m, _ in s.messages)
    assert sum(cov[h].enabled for h in handlers) == receivable
    # Totals, and enabled >= within bounds >= new states for every action.
    assert sum(c.within_bounds for c in cov.values()) == tiny.transitions
    assert sum(c.new_states for c in cov.values()) == tiny.distinct_states - 1
    for name, c in cov.items():
        assert c.enabled >= c.within_bounds >= c.new_states >= 0, name
    # With max copies 1 a duplicate never fits the bounds, and with max term 2 no
    # response can go stale (its receiver would need a third term): both never fire.
    assert cov["DuplicateMessage"].within_bounds == 0
    assert cov["DropStaleResponse"].enabled == 0
    for name in ("Timeout", "RequestVote", "BecomeLeader", "ClientRequest", "AppendEntries", "HandleAppendEntriesRequest", "HandleAppendEntriesResponse", "DropMessage"):
        assert cov[name].new_states > 0, name


def test_drop_stale_response_fires_with_a_third_term() -> None:
    result = run(Params(servers=2, max_term=3, max_log=0, max_in_flight=1), keep_graph=False)
    assert result.coverage["DropStaleResponse"].within_bounds > 0


# ----------------------------------------------------------------- errors and deadlocks


class RaisesInBecomeLeader(RaftSpec):
    """A broken spec whose BecomeLeader raises once it would be enabled."""

    name = "raises-in-become-leader"

    def become_leader(self, s: State, i: int) -> Optional[State]:
        nxt = super().become_leader(s, i)
        if nxt is not None:
            raise IndexError(f"boom: server {i}")
        return nxt


def test_an_exception_in_an_action_is_reported_as_action_raised() -> None:
    result = explore(RaisesInBecomeLeader(TINY))
    assert len(result.violations) == 1
    finding = result.violations[0]
    assert (finding.property, finding.kind) == ("ActionRaised", "error")
    assert finding.action is not None and finding.action.name == "BecomeLeader"
    assert finding.error is not None and finding.error.startswith("IndexError: boom: server")
    assert "become_leader" in finding.error  # where it was raised
    assert not result.complete and not result.ok
    # The trace leads to a state where the action raises: a quorum of votes, 8 steps.
    ft = finding_trace(result, finding)
    assert ft.steps == 8 and ft.failed == finding.action
    with pytest.raises(IndexError):
        result.spec.apply(ft.trace[-1].state, finding.action)


class StopsAfterATimeout(RaftSpec):
    """A broken spec in which nothing at all can happen once some server has timed out."""

    name = "stops-after-a-timeout"

    def successors(self, s: State) -> Iterator[tuple[Action, State]]:
        if any(srv.current_term > 1 for srv in s.servers):
            return iter(())
        return super().successors(s)


def test_a_state_without_enabled_actions_is_a_deadlock() -> None:
    result = explore(StopsAfterATimeout(TINY))
    assert result.distinct_states == 3
    assert result.deadlocks == [1, 2]
    assert not result.ok and not result.violations


class OnlyTimeouts(RaftSpec):
    """Only Timeout: in the end every timeout leaves the bounds, which is not a deadlock."""

    name = "only-timeouts"

    def successors(self, s: State) -> Iterator[tuple[Action, State]]:
        return ((a, t) for a, t in super().successors(s) if a.name == "Timeout")


def test_actions_disabled_only_by_the_bounds_are_not_a_deadlock() -> None:
    result = explore(OnlyTimeouts(TINY), properties=[p for p in PROPERTIES if p.kind != "sometimes"])
    assert result.distinct_states == 4  # terms (1,1) (2,1) (1,2) (2,2)
    assert result.deadlocks == []
    assert result.coverage["Timeout"].enabled > result.coverage["Timeout"].within_bounds


# ----------------------------------------------------------------- against a naive search

# Small bounds: (servers, values, max_term, max_log, max_copies, max_in_flight); each
# has at most a few thousand states, so the naive search stays quick.
SMALL_BOUNDS = [
    (1, 1, 3, 2, 2, 2),
    (1, 2, 3, 2, 2, 2),
    (2, 1, 2, 0, 1, 1),
    (2, 1, 2, 0, 2, 1),
    (2, 1, 2, 1, 1, 1),
    (2, 2, 2, 1, 1, 1),
    (2, 1, 2, 2, 1, 1),
    (2, 1, 2, 1, 2, 1),
    (2, 1, 3, 0, 1, 1),
    (2, 1, 2, 0, 1, 2),
    (2, 2, 1, 1, 2, 2),
    (3, 1, 1, 0, 1, 1),
]


@st.composite
def small_params(draw: st.DrawFn) -> Params:
    servers, values, max_term, max_log, max_copies, max_in_flight = draw(st.sampled_from(SMALL_BOUNDS))
    return Params(
        servers=servers,
        values=values,
        max_term=max_term,
        max_log=max_log,
        max_copies=max_copies,
        max_in_flight=max_in_flight,
        symmetry=draw(st.booleans()),
    )


def naive_search(spec: RaftSpec) -> tuple[set[State], dict[State, int], int]:
    """Every reachable state within the bounds, each state's out-degree, and the BFS depth."""
    init = spec.init()
    seen = {init}
    out_degree: dict[State, int] = {}
    frontier = [init]
    depth = 0
    while frontier:
        new = []
        for s in frontier:
            out_degree[s] = 0
            for _, t in spec.successors(s):
                if not spec.within_bounds(t):
                    continue
                out_degree[s] += 1
                if t not in seen:
                    seen.add(t)
                    new.append(t)
        if new:
            depth += 1
        frontier = new
    return seen, out_degree, depth


def orbit(s: State) -> frozenset[State]:
    return frozenset(permute_state(s, p) for p in itertools.permutations(range(len(s.servers))))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=small_params())
def test_reachable_set_equals_a_naive_search(params: Params) -> None:
    spec = RaftSpec(params)
    result = explore(spec, keep_graph=False)
    seen, out_degree, depth = naive_search(RaftSpec(_no_symmetry(params)))
    stored = [result.state(k) for k in range(result.distinct_states)]
    assert result.complete and result.diameter == depth
    if not params.symmetry:
        assert len(stored) == len(set(stored)) == result.distinct_states
        assert set(stored) == seen
        assert result.transitions == sum(out_degree.values())
    else:
        orbits = {orbit(s) for s in seen}
        assert result.distinct_states == len(orbits)
        assert {orbit(s) for s in stored} == orbits
        # Successors commute with renaming servers, so any member's out-degree is the orbit's.
        assert result.transitions == sum(out_degree[s] for s in stored)


def _no_symmetry(params: Params) -> Params:
    return Params(**{**params.to_dict(), "symmetry": False})


# ----------------------------------------------------------------- TypeOK everywhere


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    servers=st.integers(1, 3),
    values=st.integers(1, 2),
    max_term=st.integers(1, 3),
    max_log=st.integers(0, 2),
    max_copies=st.integers(1, 2),
    max_in_flight=st.integers(0, 2),
    symmetry=st.booleans(),
)
def test_every_stored_state_satisfies_type_ok_and_the_bounds(
    servers: int, values: int, max_term: int, max_log: int, max_copies: int, max_in_flight: int, symmetry: bool
) -> None:
    params = Params(
        servers=servers, values=values, max_term=max_term, max_log=max_log, max_copies=max_copies, max_in_flight=max_in_flight, symmetry=symmetry
    )
    spec = RaftSpec(params)
    result = explore(spec, keep_graph=False, max_states=3000)
    assert not result.violations
    for k in range(result.distinct_states):
        s = result.state(k)
        assert type_ok(spec, s), s
        assert spec.within_bounds(s), s


def test_bulk_built_graph_equals_networkx_add_edges_from() -> None:
    result = explore(RaftSpec(PRESETS["tiny"]))
    reference = nx.MultiDiGraph()
    reference.add_nodes_from(range(result.distinct_states))
    reference.add_edges_from(zip(result.edge_src, result.edge_dst, result.edge_label))
    g = result.graph
    assert sorted(g.edges(keys=True)) == sorted(reference.edges(keys=True))
    assert g.number_of_edges() == reference.number_of_edges() == result.transitions
    for v in (0, 1, result.distinct_states - 1):
        assert sorted(g.predecessors(v)) == sorted(reference.predecessors(v))
        assert g.in_degree(v) == reference.in_degree(v) and g.out_degree(v) == reference.out_degree(v)
    g.add_edge(0, 1, key=10**6)  # the graph stays a working networkx graph
    assert g.has_edge(0, 1, key=10**6) and 0 in g.pred[1]


class TimeoutVotesForAStranger(RaftSpec):
    """Ill-typed on purpose: a timeout records a vote for server 7, which does not exist."""

    local_actions = True

    def timeout(self, s: State, i: int) -> Optional[State]:
        t = super().timeout(s, i)
        if t is None:
            return None
        return State(t.servers[:i] + (t.servers[i]._replace(voted_for=7),) + t.servers[i + 1 :], t.messages)


@pytest.mark.parametrize("memoise", [True, False])
def test_an_ill_typed_server_is_reported_as_a_type_ok_violation(memoise: bool) -> None:
    # TypeOK's server part is checked once per distinct server state: the state it is
    # found in and the one-step trace must still be the shortest.
    result = explore(TimeoutVotesForAStranger(PRESETS["tiny"]), memoise=memoise)
    (finding,) = result.violations
    assert finding.property == "TypeOK" and result.depth[finding.state] == 1
    assert result.state(finding.state).servers[0].voted_for == 7
