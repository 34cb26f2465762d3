"""The Z3 encoding agrees with the Python spec: successors both ways, and every invariant's truth value.

Scenario: for every state in a sample of a small explored graph, and for
Hypothesis-drawn states, the set of (action, successor) pairs the Python spec
enumerates equals the set Z3's transition relation allows (each Z3 model decoded
back into a spec state); each property and lemma has the same truth value in both
engines.  The full graph (1,645 states) is checked by `benchmarks/prove_bench.py
--agreement`; docs/performance-z3.md records the run.
"""
from __future__ import annotations

from functools import lru_cache

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.z3.decode import SuccessorOracle
from leaderfollower.checker.z3.model import VARIANT_SWITCHES, Switches, Z3Model, switches_for
from leaderfollower.checker.z3.lemmas import LEMMAS, PROPERTY_ENCODINGS
from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import property_by_name
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerState,
    State,
)
from leaderfollower.spec.variants import VARIANTS

TINY = Params(servers=2, max_term=2, max_log=1)


@lru_cache(maxsize=None)
def graph(spec_cls: type[RaftSpec], params: Params) -> ExploreResult:
    return explore(spec_cls(params), keep_graph=False, stop_on_violation=False)


def sample(result: ExploreResult, every: int, at_most: int = 400) -> list[State]:
    """Every `every`-th state in BFS order (at most `at_most`, spread over the whole graph)."""
    step = max(every, -(-result.distinct_states // at_most))
    return [result.state(k) for k in range(0, result.distinct_states, step)]


def assert_same_successors(spec: RaftSpec, oracle: SuccessorOracle, s: State) -> None:
    python = set(spec.successors(s))
    z3_side = oracle.successors(s)
    assert python == z3_side, (
        f"from {s}:\n python only: {sorted(map(str, python - z3_side))}\n z3 only: {sorted(map(str, z3_side - python))}"
    )


def z3_truth(model: Z3Model, s: State, definition: object) -> bool:
    """The truth value of a Z3 invariant on a concrete state."""
    e = z3.simplify(definition(model, model.concrete(s)))  # type: ignore[operator]
    if z3.is_true(e) or z3.is_false(e):
        return z3.is_true(e)
    solver = z3.Solver()
    solver.add(z3.Not(e))
    res = solver.check()
    assert res != z3.unknown
    return bool(res == z3.unsat)


def python_definitions() -> list[tuple[str, object, object]]:
    out: list[tuple[str, object, object]] = []
    for name, z in PROPERTY_ENCODINGS.items():
        out.append((name, z, property_by_name(name).holds))
    for lemma in LEMMAS:
        if lemma.holds is not None:
            out.append((lemma.name, lemma.z3, lemma.holds))
    return out


def assert_same_truth(spec: RaftSpec, model: Z3Model, s: State) -> None:
    for name, z, py in python_definitions():
        assert z3_truth(model, s, z) == py(spec, s), f"{name} differs on {s}"  # type: ignore[operator]


# ------------------------------------------------------------- the graph


def test_successors_agree_on_the_tiny_graph_sample() -> None:
    spec = RaftSpec(TINY)
    oracle = SuccessorOracle(Z3Model.for_spec(spec))
    for s in sample(graph(RaftSpec, TINY), every=6):
        assert_same_successors(spec, oracle, s)


def test_invariants_agree_on_the_tiny_graph_sample() -> None:
    spec = RaftSpec(TINY)
    bounded = Z3Model.for_spec(spec, log_bound=TINY.max_log + 1)
    unbounded = Z3Model.for_spec(spec)
    for k, s in enumerate(sample(graph(RaftSpec, TINY), every=5)):
        # Quantifier-free (BMC) and quantified (induction) forms, alternately.
        assert_same_truth(spec, bounded if k % 2 else unbounded, s)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_variant_switch_agrees_with_its_override(name: str) -> None:
    cls = VARIANTS[name]
    params = Params(servers=2, max_term=2, max_log=1)
    spec = cls(params)
    oracle = SuccessorOracle(Z3Model.for_spec(spec))
    for s in sample(graph(cls, params), every=40, at_most=40):
        assert_same_successors(spec, oracle, s)


def test_the_variant_mapping_is_explicit_and_one_to_one() -> None:
    assert set(VARIANT_SWITCHES) == {RaftSpec, *VARIANTS.values()}
    assert switches_for(RaftSpec) == Switches()
    used = [sw for cls, sw in VARIANT_SWITCHES.items() if cls is not RaftSpec]
    assert all(sum(vars(sw).values()) == 1 for sw in used)
    assert len(set(used)) == len(used)


def test_a_spec_without_an_encoding_is_refused() -> None:
    class Custom(RaftSpec):
        name = "custom"

    from leaderfollower.checker.z3.model import EncodingError

    with pytest.raises(EncodingError, match="custom.*no Z3 encoding"):
        switches_for(Custom)


def test_the_agreed_index_of_advance_commit_index_is_unique() -> None:
    """AdvanceCommitIndex's auxiliary constant is a function of the pre-state (so successors are)."""
    model = Z3Model(Params(servers=3))
    pre = model.fresh("pre")
    inst = next(i for i in model.instances if i.name == "AdvanceCommitIndex")
    a = model.effect(inst, pre, tag="a")
    b = model.effect(inst, pre, tag="b")
    solver = z3.Solver()
    solver.add(*a.aux, *b.aux, z3.Int("agreeda_0") != z3.Int("agreedb_0"))
    assert solver.check() == z3.unsat


# ------------------------------------------------------------ Hypothesis


def servers_strategy(n: int) -> st.SearchStrategy[ServerState]:
    @st.composite
    def server(draw: st.DrawFn) -> ServerState:
        log = tuple(Entry(t, 0) for t in sorted(draw(st.lists(st.integers(1, 3), max_size=2))))
        return ServerState(
            current_term=draw(st.integers(1, 3)),
            role=draw(st.sampled_from([FOLLOWER, CANDIDATE, LEADER])),
            voted_for=draw(st.one_of(st.none(), st.integers(0, n - 1))),
            log=log,
            commit_index=draw(st.integers(0, len(log))),
            votes_responded=frozenset(draw(st.sets(st.integers(0, n - 1)))),
            votes_granted=frozenset(draw(st.sets(st.integers(0, n - 1)))),
            next_index=tuple(draw(st.integers(1, len(log) + 1)) for _ in range(n)),
            match_index=tuple(draw(st.integers(0, len(log))) for _ in range(n)),
        )

    return server()


def message_strategy(n: int) -> st.SearchStrategy[object]:
    ids, terms, idx = st.integers(0, n - 1), st.integers(1, 3), st.integers(0, 2)
    return st.one_of(
        st.builds(RequestVoteRequest, st.just("RequestVoteRequest"), terms, st.integers(0, 3), idx, ids, ids),
        st.builds(RequestVoteResponse, st.just("RequestVoteResponse"), terms, st.booleans(), ids, ids),
        st.builds(
            AppendEntriesRequest,
            st.just("AppendEntriesRequest"),
            terms,
            idx,
            st.integers(0, 3),
            st.one_of(st.just(()), st.tuples(st.builds(Entry, terms, st.just(0)))),
            idx,
            ids,
            ids,
        ),
        st.builds(AppendEntriesResponse, st.just("AppendEntriesResponse"), terms, st.booleans(), idx, ids, ids),
    )


@st.composite
def states(draw: st.DrawFn, n: int = 2) -> State:
    servers = tuple(draw(servers_strategy(n)) for _ in range(n))
    msgs = draw(st.dictionaries(message_strategy(n), st.integers(1, 2), max_size=2))
    # A leader's prev entry must exist (Python raises otherwise, as TLC would).
    return State(servers, tuple(sorted(msgs.items())))  # type: ignore[arg-type]


_HYP_SPEC = RaftSpec(Params(servers=2, max_term=3, max_log=2))
_HYP_ORACLE = SuccessorOracle(Z3Model.for_spec(_HYP_SPEC))
_HYP_MODEL = Z3Model.for_spec(_HYP_SPEC)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states())
def test_successors_agree_on_drawn_states(s: State) -> None:
    assert_same_successors(_HYP_SPEC, _HYP_ORACLE, s)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states())
def test_invariants_agree_on_drawn_states(s: State) -> None:
    assert_same_truth(_HYP_SPEC, _HYP_MODEL, s)
