"""Liveness under fairness (checker/liveness/): eventually and leads_to, weak and strong fairness,
violated / inconclusive / holds / skipped, lasso counterexamples, and a brute-force reference.

The brute force here enumerates every set of edges of a small random graph (up to 6
states), keeps the strongly connected ones among pending states, and judges their fairness
straight from the definitions; the checker's SCC refinement must agree on whether a fair
cycle exists.  Graphs of a few hundred states and real state graphs are compared with a
walk-summary reference in tests/test_liveness_reference.py.
Lassos the checker prints are replayed through the spec and judged on their own.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Optional

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.cli import check
from support.fair_lassos import ToyGraph

from leaderfollower.checker.cli.check import exit_code
from leaderfollower.checker.explore.budget import Budget
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.jobs.check import run_check, summarise, write_traces
from leaderfollower.checker.liveness.check import LivenessOutcome, check_liveness
from leaderfollower.checker.liveness.fair_cycles import fair_component, pending_graph, pending_states, stutter_state
from leaderfollower.checker.liveness.graph import LivenessGraph
from leaderfollower.checker.liveness.lasso import Lasso, format_lasso
from leaderfollower.spec.actions import ActionName
from leaderfollower.spec.fairness import DEFAULT_FAIRNESS, Fairness, strong, weak
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.properties import PROPERTIES, Property, leader_elected
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import LIVENESS_VARIANTS, CommitNotSent, LossyDelivery, SilentFollower

TINY = PRESETS["tiny"]


def outcomes(spec: RaftSpec, properties: Optional[tuple[Property, ...]] = None) -> dict[str, LivenessOutcome]:
    result = explore(spec, properties)
    assert result.complete
    return {o.property.name: o for o in check_liveness(result)}


def assert_real_lasso(spec: RaftSpec, prop: Property, lasso: Lasso) -> None:
    """The lasso is a behaviour of the spec within the bounds, the goal never holds on its pending part, and it loops."""
    trace, loop = lasso.trace, lasso.loop
    assert trace[0].state == spec.init()
    for before, step in zip(trace, trace[1:]):
        assert spec.within_bounds(step.state)
        assert (step.action, step.state) in list(spec.successors(before.state))
    if lasso.cycle:
        assert trace[loop].state == trace[-1].state and loop < len(trace) - 1
    assert prop.holds is not None
    # The goal is false from the moment the behaviour starts owing it, through the loop.
    owing = 0
    if prop.kind == "leads_to":
        assert prop.premise is not None
        owing = max(k for k in range(loop + 1) if prop.premise(spec, trace[k].state))
    assert not any(prop.holds(spec, step.state) for step in trace[owing:])


# ----------------------------------------------------------------- shipped properties


def test_shipped_properties_hold_on_tiny_under_default_fairness() -> None:
    got = outcomes(RaftSpec(TINY))
    assert {name: o.status for name, o in got.items()} == {"EntryCommitsOrLeaderStepsDown": "holds", "CommitReachesFollower": "holds"}
    assert all(o.pending > 0 for o in got.values())  # the premise does occur: the check had something to check


@pytest.mark.long
def test_shipped_properties_hold_on_the_default_model() -> None:
    got = outcomes(RaftSpec(PRESETS["default"]))
    assert {o.status for o in got.values()} == {"holds"}


@pytest.mark.parametrize("cls", list(LIVENESS_VARIANTS.values()), ids=list(LIVENESS_VARIANTS))
def test_each_liveness_variant_is_caught_with_a_lasso(cls: type) -> None:
    spec = cls(cls.quick_params)
    result = explore(spec)
    assert result.complete and not result.violations  # safety still holds: only liveness breaks
    got = {o.property.name: o for o in check_liveness(result)}
    o = got[cls.breaks]
    assert o.status == "violated" and o.lasso is not None and o.lasso.cycle
    assert_real_lasso(spec, o.property, o.lasso)


def test_message_loss_forever_is_explained() -> None:
    o = outcomes(LossyDelivery(TINY))["EntryCommitsOrLeaderStepsDown"]
    assert o.status == "violated" and "DropMessage" in o.why and "strong fairness of delivery" in o.why
    assert any(step.action is not None and step.action.name == ActionName.DropMessage for step in o.lasso.trace[o.lasso.loop :])  # type: ignore[union-attr]


def test_weak_versus_strong_delivery() -> None:
    """The same model: strong fairness of delivery rules out the send-and-lose cycle, weak fairness does not."""
    assert outcomes(RaftSpec(TINY))["EntryCommitsOrLeaderStepsDown"].status == "holds"
    assert outcomes(LossyDelivery(TINY))["EntryCommitsOrLeaderStepsDown"].status == "violated"


def test_no_fairness_at_all_lets_the_leader_stop() -> None:
    class Unfair(RaftSpec):
        fairness: tuple[Fairness, ...] = ()

    o = outcomes(Unfair(TINY))["EntryCommitsOrLeaderStepsDown"]
    assert o.status == "violated" and o.lasso is not None and not o.lasso.cycle  # it stutters
    assert "stutters forever" in format_lasso(o.lasso)


def test_fairness_per_argument_and_per_given_arguments() -> None:
    class PerPair(RaftSpec):
        fairness = tuple(weak(f.action, each=True) if f.action == ActionName.AppendEntries else f for f in DEFAULT_FAIRNESS)

    class OnlyToOne(RaftSpec):
        # Only the leader 0 -> 1 send is fair: a leader 1 need never send, so its entry may never commit.
        fairness = tuple(weak(f.action, args=(0, 1)) if f.action == ActionName.AppendEntries else f for f in DEFAULT_FAIRNESS)

    assert outcomes(PerPair(TINY))["EntryCommitsOrLeaderStepsDown"].status == "holds"
    o = outcomes(OnlyToOne(TINY))["EntryCommitsOrLeaderStepsDown"]
    assert o.status == "violated" and o.lasso is not None
    assert any(srv.role == "Leader" for srv in o.lasso.trace[-1].state.servers[1:2])


def test_per_argument_fairness_is_skipped_under_symmetry() -> None:
    class PerPair(RaftSpec):
        fairness = (weak(ActionName.AppendEntries, each=True),)

    got = outcomes(PerPair(PRESETS["small"]))
    assert {o.status for o in got.values()} == {"skipped"}
    assert "symmetry" in next(iter(got.values())).why


def test_fairness_names_a_known_action() -> None:
    with pytest.raises(KeyError, match="unknown action"):
        weak("Sleep")


# ----------------------------------------------------------------- eventually, inconclusive

ELECTED = Property("LeaderEventuallyElected", "eventually", "a leader is eventually elected", holds=leader_elected, servers_only=True)


class FairTimeouts(RaftSpec):
    """Timeouts weakly fair: a server with nothing to do eventually starts an election."""

    fairness = (*DEFAULT_FAIRNESS, weak(ActionName.Timeout))


def test_eventually_without_timeout_fairness_is_violated_at_init() -> None:
    o = outcomes(RaftSpec(TINY), (ELECTED,))["LeaderEventuallyElected"]
    assert o.status == "violated" and o.lasso is not None and o.lasso.loop == 0 and not o.lasso.cycle


def test_inconclusive_when_a_cycle_exists_only_because_of_a_bound() -> None:
    """Split vote at max_term 2: both servers are candidates of term 2; Timeout (weakly fair) would start
    term 3, which the bound cuts.  Without the bound a fair behaviour must time out: not a violation."""
    o = outcomes(FairTimeouts(TINY), (ELECTED,))["LeaderEventuallyElected"]
    assert o.status == "inconclusive", o.why
    assert o.cut_actions and all(a.startswith("Timeout(") for a in o.cut_actions)
    assert "raise the bounds" in o.why


def test_eventually_holds_when_the_bound_is_not_in_the_way() -> None:
    """With fair timeouts an election eventually starts (term 2 is within the bounds)."""
    started = Property("ElectionStarted", "eventually", "some server reaches term 2", holds=lambda spec, s: any(x.current_term >= 2 for x in s.servers))
    assert outcomes(FairTimeouts(TINY), (started,))["ElectionStarted"].status == "holds"
    assert outcomes(RaftSpec(TINY), (started,))["ElectionStarted"].status == "violated"  # unfair timeouts: nothing need happen


def test_a_follower_at_the_last_term_is_inconclusive_not_violated() -> None:
    """One server at max_term as a follower: its only fair action, Timeout, is cut by the bound."""
    o = outcomes(FairTimeouts(Params(servers=1, values=1, max_term=3, max_log=0, max_in_flight=1)), (ELECTED,))["LeaderEventuallyElected"]
    assert o.status == "inconclusive" and o.cut_actions == ["Timeout(0)"]


# ----------------------------------------------------------------- reports


def test_json_rows_itf_loop_and_exit_codes(tmp_path: Path) -> None:
    r = check("--preset", "tiny", "--spec", "silent-follower", "--json", "--dump-traces", str(tmp_path))
    assert r.exit_code == 1
    doc = json.loads(r.output)
    row = next(p for p in doc["properties"] if p["name"] == "EntryCommitsOrLeaderStepsDown")
    assert row["kind"] == "leads_to" and row["status"] == "violated"
    assert row["prefix_length"] >= 1 and row["cycle_length"] >= 1
    itf = json.loads((tmp_path / "lasso-EntryCommitsOrLeaderStepsDown.itf.json").read_text())
    assert itf["loop"] == row["prefix_length"] and len(itf["states"]) == row["prefix_length"] + row["cycle_length"] + 1
    assert itf["states"][itf["loop"]]["currentTerm"] == itf["states"][-1]["currentTerm"]


def test_no_graph_says_liveness_was_skipped() -> None:
    r = check("--preset", "tiny", "--no-graph", "--json")
    assert r.exit_code == 0
    doc = json.loads(r.output)
    rows = [p for p in doc["properties"] if p["kind"] in ("eventually", "leads_to")]
    assert rows and {p["status"] for p in rows} == {"skipped"} and "graph" in rows[0]["why"]
    assert "liveness skipped" in doc["verdict_line"]


def test_printed_lasso_marks_the_loop_and_lists_fairness() -> None:
    r = check("--preset", "tiny", "--spec", "commit-not-sent")
    assert r.exit_code == 1
    assert "CommitReachesFollower violated" in r.output and "↻  loop: steps" in r.output
    assert "fairness the loop satisfies:" in r.output and "WF(AppendEntries): taken on the cycle" in r.output


def test_inconclusive_exits_3() -> None:
    result = run_check(FairTimeouts(TINY), properties=(ELECTED,))
    doc = summarise(result)
    assert doc["verdict"] == "inconclusive" and doc["properties"][0]["status"] == "inconclusive"
    assert exit_code(doc["verdict"], result, Budget()) == 3


# ----------------------------------------------------------------- brute-force reference


def reference_fair_cycle(n: int, edges: list[tuple[int, int, int]], pending: set[int], enabled: dict[int, frozenset[int]], conds: dict[int, frozenset[int]], strong: set[int]) -> bool:
    """Is there a fair closed walk among pending states?  Every edge set, from the definitions."""
    inner = [e for e in edges if e[0] in pending and e[1] in pending]
    if any(not enabled[u] for u in pending):
        return True  # stuttering forever is fair there
    for size in range(1, len(inner) + 1):
        for subset in itertools.combinations(inner, size):
            g = nx.MultiDiGraph()
            g.add_edges_from((u, v) for u, v, _ in subset)
            if not nx.is_strongly_connected(g):
                continue
            states = set(g.nodes)
            taken = set().union(*(conds[lid] for _, _, lid in subset))
            every = set.intersection(*(set(enabled[u]) for u in states))
            some = set().union(*(enabled[u] for u in states))
            if not (every - taken) and not ({c for c in some if c in strong} - taken):
                return True
    return False


@st.composite
def toy_graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, int]], dict[int, frozenset[int]], set[int], dict[int, frozenset[int]], set[int]]:
    n = draw(st.integers(2, 6))
    n_labels = draw(st.integers(1, 4))
    conds = {lid: frozenset(draw(st.sets(st.integers(0, 2), max_size=2))) for lid in range(n_labels)}
    strong_set = draw(st.sets(st.integers(0, 2), max_size=3))
    edge_list = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(0, n_labels - 1)), min_size=1, max_size=11, unique=True))
    # Enabled in a state: its edges' conditions, plus conditions whose successors a bound "cut".
    cut = {u: frozenset(draw(st.sets(st.integers(0, 2), max_size=1))) for u in range(n)}
    goal = draw(st.sets(st.integers(0, n - 1), max_size=n - 1))
    return n, edge_list, conds, strong_set, cut, goal


@settings(max_examples=150, deadline=None)
@given(toy_graphs())
def test_scc_refinement_agrees_with_brute_force(graph: tuple) -> None:  # type: ignore[type-arg]
    n, edge_list, conds, strong_set, cut, goal = graph
    g = ToyGraph(n, edge_list, conds, strong_set)
    enabled = {u: frozenset(set().union(*(conds[lid] for uu, _, lid in edge_list if uu == u)) | cut[u]) for u in range(n)}
    pending = pending_states(g, [0], goal.__contains__)  # type: ignore[arg-type]
    if not pending:
        return
    dg = pending_graph(g, pending)  # type: ignore[arg-type]
    found = stutter_state(pending, enabled.__getitem__) is not None or fair_component(g, dg, enabled.__getitem__) is not None  # type: ignore[arg-type]
    assert found == reference_fair_cycle(n, edge_list, set(pending), enabled, conds, strong_set)
    # With the cheaper reading (edges only, no cut successors) as a prefilter: the same answer.
    in_graph = {u: frozenset(set().union(*(conds[lid] for uu, _, lid in edge_list if uu == u))) for u in range(n)}
    with_lower = fair_component(g, dg, enabled.__getitem__, in_graph.__getitem__) is not None  # type: ignore[arg-type]
    assert with_lower == (fair_component(g, dg, enabled.__getitem__) is not None)  # type: ignore[arg-type]


def test_every_lasso_on_a_real_graph_is_real() -> None:
    """Every lasso the checker reports on the tiny model's variants replays through the spec (a few hundred to 1,645 states)."""
    for cls in LIVENESS_VARIANTS.values():
        spec = cls(TINY)
        for o in check_liveness(explore(spec)):
            if o.lasso is not None:
                assert_real_lasso(spec, o.property, o.lasso)


def test_report_draws_the_lasso_with_its_loop() -> None:
    from leaderfollower.checker.report.page import build_report, render_html

    data = build_report(SilentFollower, TINY, variants=[], graph_params=None)
    fig = next(f for f in data.figures if f.name == "EntryCommitsOrLeaderStepsDown")
    assert 'class="loop"' in fig.diagram and "repeat forever" in fig.diagram
    assert "lasso: EntryCommitsOrLeaderStepsDown violated" in render_html(data)
    assert not data.ok


def test_verify_reports_liveness_rows() -> None:
    from leaderfollower.checker.jobs.verify import VerifyContext, explorer_engine

    outcome = explorer_engine(VerifyContext(spec=CommitNotSent(TINY)))
    entry = outcome.properties["CommitReachesFollower"]
    assert entry["kind"] == "leads_to" and entry["status"] == "violated" and entry["loop"] >= 1
    assert "↻  loop" in entry["detail"]
    assert outcome.properties["EntryCommitsOrLeaderStepsDown"]["status"] == "holds"
    assert not outcome.ok
