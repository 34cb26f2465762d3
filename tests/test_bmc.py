"""Bounded model checking on the finite-domain encoding (`checker/z3/bmc.py`).

Scenarios:
- agreement, both directions: from every state of a small explored graph, a sample
  of the default model's graph and Hypothesis-drawn states (their messages in any
  slots), the (action, successor) pairs the Z3 relation allows, each decoded back
  into a spec state, are exactly the spec's successors within the bounds; every
  property has the same truth value in both engines;
- BMC finds each broken variant's violation at the explorer's shortest
  counterexample length (`tests/test_variants.py` pins it), and the path replays
  through the Python spec into a state that violates the property;
- BMC's depth is the explorer's breadth-first depth for "sometimes" targets too,
  and on the correct spec it finds nothing up to the depth it is asked.
"""
from __future__ import annotations

from functools import lru_cache

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.z3.prove import bmc
from leaderfollower.checker.explore.traces import replay
from leaderfollower.checker.z3.bmc import PROPERTIES, BmcModel, BState, EncodingError, Step
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.properties import property_by_name
from leaderfollower.spec.actions import Action
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
from support.pinned import PINNED_LENGTH  # the explorer's shortest counterexample lengths, pinned once

TINY = Params(servers=2, max_term=2, max_log=1)


@lru_cache(maxsize=None)
def graph(spec_cls: type[RaftSpec], params: Params) -> ExploreResult:
    return explore(spec_cls(params), keep_graph=False, stop_on_violation=False)


class Oracle:
    """Every (action, successor) the BMC relation allows from a concrete state.

    One step of the relation between two states of constants sits in an
    incremental QF_FD solver (the solver BMC uses); a query fixes the pre-state and
    enumerates the enabled choices, blocking each once seen (the successor is a
    function of the pre-state and the choice).
    """

    def __init__(self, spec: RaftSpec) -> None:
        self.spec = spec
        self.model = BmcModel.for_spec(spec)
        self.step: Step = self.model.step(self.model.fresh("pre"), self.model.fresh("post"), "")
        self.solver = z3.SolverFor("QF_FD")
        self.solver.add(self.step.relation)
        # Each property over the pre-state, built once; a model of the fixed pre-state evaluates it.
        self.properties = {name: definition(self.model, self.step.pre) for name, definition in PROPERTIES.items()}

    def successors(self, s: State, slots: tuple[int, ...] | None = None) -> tuple[set[tuple[Action, State]], dict[str, bool]]:
        """The successors Z3 allows from s, and each property's truth value in s."""
        z, step, solver = self.model, self.step, self.solver
        solver.push()
        solver.add(z.equals(step.pre, s, slots))
        out = set()
        truth: dict[str, bool] = {}
        while solver.check() == z3.sat:
            m = solver.model()
            if not truth:
                truth = {name: z3.is_true(m.eval(e, model_completion=True)) for name, e in self.properties.items()}
            out.add((z.decode_action(m, step), z.decode(m, step.post)))
            solver.add(step.choice != m.eval(step.choice, model_completion=True))
        solver.pop()
        if not truth:  # no successor (never so far: Restart is always enabled)
            pre = z.concrete(s, slots)
            truth = {name: z3.is_true(z3.simplify(d(z, pre))) for name, d in PROPERTIES.items()}
        return out, truth

    def check(self, s: State, slots: tuple[int, ...] | None = None) -> None:
        """Z3 and the Python spec agree on s's successors within the bounds and on every property."""
        spec = self.spec
        python = {(a, n) for a, n in spec.successors(s) if spec.within_bounds(n)}
        z3_side, truth = self.successors(s, slots)
        assert python == z3_side, (
            f"from {s} (slots {slots}):\n python only: {sorted(map(str, python - z3_side))}\n z3 only: {sorted(map(str, z3_side - python))}"
        )
        for name, value in truth.items():
            py = property_by_name(name).holds
            assert py is not None
            assert value == py(spec, s), f"{name}: Z3 says {value} on {s}"


# ------------------------------------------------------------- agreement


def test_successors_and_properties_agree_on_every_state_of_the_tiny_graph() -> None:
    spec = RaftSpec(TINY)
    oracle = Oracle(spec)
    result = graph(RaftSpec, TINY)
    assert result.distinct_states == 1645
    for sid in range(result.distinct_states):
        oracle.check(result.state(sid))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_variant_switch_agrees_with_its_override(name: str) -> None:
    cls = VARIANTS[name]
    spec = cls(TINY)
    oracle = Oracle(spec)
    result = graph(cls, TINY)
    for sid in range(0, result.distinct_states, max(1, result.distinct_states // 150)):
        oracle.check(result.state(sid))  # NoUncommittedRead reads the variant's quorum too


@pytest.mark.early
def test_successors_and_properties_agree_on_a_sample_of_the_default_graph() -> None:
    params = PRESETS["default"]
    spec = RaftSpec(params)
    oracle = Oracle(spec)
    result = graph(RaftSpec, params)
    step = result.distinct_states // 150
    for sid in range(0, result.distinct_states, step):
        oracle.check(result.state(sid))


# Wider bounds than any preset: two values, two slots, two copies, logs of two.
WIDE = Params(servers=2, values=2, max_term=3, max_log=2, max_copies=2, max_in_flight=2)
_WIDE_ORACLE = Oracle(RaftSpec(WIDE))


@st.composite
def server(draw: st.DrawFn, p: Params) -> ServerState:
    """A server whose values lie in the encoding's domain (indexes as the actions keep them)."""
    n = p.servers
    log = tuple(Entry(t, draw(st.integers(0, p.values - 1))) for t in sorted(draw(st.lists(st.integers(1, p.max_term), max_size=p.max_log))))
    return ServerState(
        current_term=draw(st.integers(1, p.max_term)),
        role=draw(st.sampled_from([FOLLOWER, CANDIDATE, LEADER])),
        voted_for=draw(st.one_of(st.none(), st.integers(0, n - 1))),
        log=log,
        commit_index=draw(st.integers(0, p.max_log)),
        votes_responded=frozenset(draw(st.sets(st.integers(0, n - 1)))),
        votes_granted=frozenset(draw(st.sets(st.integers(0, n - 1)))),
        next_index=tuple(draw(st.integers(1, len(log) + 1)) for _ in range(n)),  # a leader's prev entry exists
        match_index=tuple(draw(st.integers(0, p.max_log)) for _ in range(n)),
    )


def message(p: Params) -> st.SearchStrategy[Message]:
    ids, terms, idx = st.integers(0, p.servers - 1), st.integers(1, p.max_term), st.integers(0, p.max_log)
    entry = st.builds(Entry, terms, st.integers(0, p.values - 1))
    requests = st.builds(
        AppendEntriesRequest,
        st.just("AppendEntriesRequest"),
        terms,
        st.integers(0, p.max_log - 1),  # room for the entry, which lies at an index <= max_log
        st.integers(0, p.max_term),
        st.one_of(st.just(()), st.tuples(entry)),
        idx,
        ids,
        ids,
    )
    return st.one_of(
        st.builds(RequestVoteRequest, st.just("RequestVoteRequest"), terms, st.integers(0, p.max_term), idx, ids, ids),
        st.builds(RequestVoteResponse, st.just("RequestVoteResponse"), terms, st.booleans(), ids, ids),
        requests,
        st.builds(AppendEntriesResponse, st.just("AppendEntriesResponse"), terms, st.booleans(), idx, ids, ids),
    )


@st.composite
def placed_states(draw: st.DrawFn, p: Params = WIDE) -> tuple[State, tuple[int, ...]]:
    """A state within the bounds, and the slot of each of its messages (any free slots, any order)."""
    servers = tuple(draw(server(p)) for _ in range(p.servers))
    msgs = draw(st.dictionaries(message(p), st.integers(1, p.max_copies), max_size=p.max_in_flight))
    bag = tuple(sorted(msgs.items()))
    slots = draw(st.permutations(range(p.max_in_flight)))[: len(bag)]
    return State(servers, bag), tuple(slots)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placed_states())
def test_successors_and_properties_agree_on_drawn_states(drawn: tuple[State, tuple[int, ...]]) -> None:
    s, slots = drawn
    _WIDE_ORACLE.check(s, slots)


def test_a_spec_without_an_encoding_is_refused() -> None:
    class Custom(RaftSpec):
        name = "custom"

    with pytest.raises(EncodingError, match="custom.*no Z3 encoding"):
        BmcModel.for_spec(Custom(TINY))


def test_a_state_outside_the_bounds_has_no_encoding() -> None:
    z = BmcModel(TINY)
    s = RaftSpec(TINY).init()
    too_late = State((s.servers[0]._replace(current_term=3),) + s.servers[1:], ())
    with pytest.raises(EncodingError, match="max_term"):
        z.values_of(too_late)


# ------------------------------------------------------- shortest depths


def _no_leader(z: BmcModel, s: BState) -> z3.BoolRef:
    return z3.And([z3.Not(s.is_role(i, LEADER)) for i in z.servers])


def _nothing_committed(z: BmcModel, s: BState) -> z3.BoolRef:
    return z3.And([z3.Not(z3.And(s.is_role(i, LEADER), s.commit(i) != 0)) for i in z.servers])


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_bmc_depth_is_the_explorers_breadth_first_depth(preset: str) -> None:
    """'No leader' / 'nothing committed' fail first where the explorer first witnesses LeaderElected / ValueCommitted."""
    params = PRESETS[preset]
    spec = RaftSpec(params)
    result = graph(RaftSpec, params)
    targets = {"NoLeader": ("LeaderElected", _no_leader), "NothingCommitted": ("ValueCommitted", _nothing_committed)}
    expected = {name: int(result.depth[result.witnesses[w].state]) for name, (w, _) in targets.items() if w in result.witnesses}
    assert expected, "the explorer witnessed nothing"
    outs = bmc(spec, list(expected), max(expected.values()) + 1, encodings={name: d for name, (_, d) in targets.items()})
    for out in outs:
        assert out.violated and out.depth == expected[out.property], (out.property, out.depth, expected[out.property])
        assert out.trace is not None and len(out.trace) == out.depth + 1


def test_the_correct_spec_has_no_violation_up_to_the_depth_asked() -> None:
    spec = RaftSpec(TINY)
    outs = bmc(spec, list(PROPERTIES), 12)
    assert [(o.property, o.violated, o.depth) for o in outs] == [(name, False, 12) for name in PROPERTIES]


# ------------------------------------------------------------- variants

# Times on the shared 2-core box are in docs/performance-z3.md; the long ones run with --run-long.
_minutes = pytest.mark.long(reason="7 to 8 minutes of SAT solving")
_hours = pytest.mark.long(reason="25+ steps on 3 servers and 3 terms, hours at 2.3x per step (not run to the end)")
VARIANT_MARKS = {
    "non-majority-quorum": [],
    "vote-not-persisted": [pytest.mark.early],
    "stale-vote-counted": [pytest.mark.early, _minutes],
    "vote-without-log-check": [pytest.mark.early, _hours],
    "accept-stale-term": [pytest.mark.early, _hours],
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=VARIANT_MARKS[n]) for n in sorted(PINNED_LENGTH)])
def test_bmc_finds_each_variant_at_the_explorers_shortest_length(name: str) -> None:
    cls = VARIANTS[name]
    spec = cls(cls.catch_params)
    length = PINNED_LENGTH[name]
    (out,) = bmc(spec, [cls.breaks], length + 1)
    assert out.violated, f"{name}: no violation of {cls.breaks} within {length + 1} steps"
    assert out.depth == length
    # The path is the Python spec's: replayed from Init it reaches a state that violates the property.
    assert out.trace is not None
    again = replay(spec, [step.action for step in out.trace[1:] if step.action is not None])
    assert [step.state for step in again] == [step.state for step in out.trace]
    assert all(spec.within_bounds(step.state) for step in again)
    holds = property_by_name(cls.breaks).holds
    assert holds is not None and not holds(spec, again[-1].state)
    assert all(holds(spec, step.state) for step in again[:-1])


def test_the_correct_spec_passes_where_the_quick_variant_fails() -> None:
    cls = VARIANTS["non-majority-quorum"]
    (out,) = bmc(RaftSpec(cls.catch_params), [cls.breaks], PINNED_LENGTH[cls.name] + 2)
    assert not out.violated


# ------------------------------------------------------- prove and verify


def test_prove_reports_the_bmc_violation_with_exit_code_1() -> None:
    import json

    from click.testing import CliRunner

    from leaderfollower.checker.cli.main import main

    args = ["prove", "--engine", "bmc", "--spec", "non-majority-quorum", "--preset", "tiny", "--max-log", "0", "--no-induction", "--json"]
    res = CliRunner().invoke(main, args + ["--depth", "11", "--property", "ElectionSafety", "--property", "NoUncommittedRead"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    by_name = {b["property"]: b for b in doc["bmc"]}
    assert by_name["ElectionSafety"]["status"] == "violated" and by_name["ElectionSafety"]["depth"] == 10
    assert len(by_name["ElectionSafety"]["trace"]) == 11
    assert by_name["NoUncommittedRead"]["status"] == "holds-to-depth"
    ok = CliRunner().invoke(main, ["prove", "--engine", "bmc", "--preset", "tiny", "--no-induction", "--depth", "4", "--json"])
    assert ok.exit_code == 0, ok.output
    assert {b["property"] for b in json.loads(ok.stdout)["bmc"]} == set(PROPERTIES)


def test_verify_caps_the_bmc_depth_at_the_explored_diameter() -> None:
    from leaderfollower.checker.jobs.verify import run_verify

    params = Params(servers=1, max_term=3, max_log=1)
    doc = run_verify(RaftSpec(params), ("explorer", "z3-bounded"), options={"z3_engine": "bmc", "z3_depth": 100})
    diameter = doc["engines"]["explorer"]["diameter"]
    assert 0 < diameter < 100
    assert doc["engines"]["z3-bounded"]["depth"] == diameter
    assert all(p["status"] == "holds-to-depth" for p in doc["engines"]["z3-bounded"]["properties"].values())
