"""The liveness check against an independent reference on graphs of a few hundred states.

The reference (tests/support/fair_lassos.py) enumerates closed walks by their fairness
summary, straight from the definitions of weak and strong fairness; the checker finds
fair cycles by SCC refinement (checker/liveness/).  They must agree:
- on random graphs of 100-300 states with weak and strong conditions, "enabled" sets
  that include successors a bound cut, and random goals (the checker's fair-cycle
  search and stutter check, as `check_property` composes them);
- on the real state graphs of the tiny model, its liveness variants and fairness
  changes (a few hundred to 1,645 states), where the reference computes what is
  enabled from the spec's own successors and judges each property's status
  (violated, inconclusive at the bounds, holds) by itself.
"""
from __future__ import annotations

import random
from collections import Counter
from typing import Callable, Optional

import pytest

from support.fair_lassos import Edge, ToyGraph, fair_lasso_exists, owing_states

from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.liveness.check import check_liveness
from leaderfollower.checker.liveness.fair_cycles import fair_component, pending_graph, pending_states, stutter_state
from leaderfollower.spec.actions import ActionName
from leaderfollower.spec.fairness import DEFAULT_FAIRNESS, Fairness, strong, weak
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.properties import LIVENESS_KINDS, Property, leader_elected
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import LIVENESS_VARIANTS

TINY = PRESETS["tiny"]

# ----------------------------------------------------------------- random graphs


def random_graph(seed: int) -> tuple[int, list[tuple[int, int, int]], dict[int, frozenset[int]], set[int], dict[int, frozenset[int]], set[int]]:
    """A random graph of 100-300 states: edges, label conditions, strong conditions, cut conditions, goal."""
    rnd = random.Random(seed)
    n = rnd.randint(100, 300)
    n_conds = rnd.randint(3, 5)
    n_labels = rnd.randint(3, 8)
    # Label 0 leaves a cluster and counts for condition 0 only; the others stay inside and count for 1-2 others.
    conds = {0: frozenset({0})} | {lid: frozenset(rnd.sample(range(1, n_conds), 1 if rnd.random() < 0.7 else 2)) for lid in range(1, n_labels)}
    if rnd.random() < 0.5:
        conds[1] = frozenset()  # an unfair action (a fault): a state with only such transitions may stutter
    strong_set = {0} if rnd.random() < 0.7 else set()
    strong_set |= {c for c in range(1, n_conds) if rnd.random() < 0.6}
    # Clusters joined forward, so the graph has many components of several sizes, not one giant one.
    width = rnd.randint(5, 40)
    edges: set[tuple[int, int, int]] = set()
    for u in range(n):
        for _ in range(rnd.randint(1, 3)):
            if u % 3 or rnd.random() < 0.6:  # a third of the states may leave their cluster
                v = min(n - 1, max(0, u + rnd.randint(-width // 2, width // 2)))
                edges.add((u, v, rnd.randrange(1, n_labels)))
            else:
                edges.add((u, rnd.randrange(u, n), 0))
    # "Near the bound" (the later half): a weak condition no kept transition takes is cut in most states, as a
    # bound-cut Timeout is; then cycles there are fair in the graph's reading only.
    cut = {u: frozenset({n_conds} if u >= n // 2 and rnd.random() < 0.97 else ()) for u in range(n)}
    goal = set(rnd.sample(range(n), rnd.randint(0, n // 15)))
    return n, sorted(edges), conds, strong_set, cut, goal


def checker_finds(g: ToyGraph, pending: dict[int, int], enabled: Callable[[int], frozenset[int]], lower: Optional[Callable[[int], frozenset[int]]]) -> bool:
    """A fair lasso as `check_property` looks for one: a stutter, else a fair component."""
    if stutter_state(pending, enabled) is not None:
        return True
    return fair_component(g, pending_graph(g, pending), enabled, lower) is not None  # type: ignore[arg-type]


def test_random_graphs_of_a_few_hundred_states_agree_with_the_reference() -> None:
    answers: Counter[bool] = Counter()
    for seed in range(60):
        n, edges, conds, strong_set, cut, goal = random_graph(seed)
        g = ToyGraph(n, edges, conds, strong_set)
        out: list[list[Edge]] = [[] for _ in range(n)]
        for u, v, lid in edges:
            out[u].append((v, conds[lid]))
        in_graph = {u: frozenset(c for _, cs in out[u] for c in cs) for u in range(n)}
        in_spec = {u: in_graph[u] | cut[u] for u in range(n)}
        # Seeds late in the graph reach a few clusters only: verdicts about single components, not just the whole graph.
        rnd = random.Random(-seed)
        for seeds in ([0], [u for u in range(n) if u % 7 == 0], *([rnd.randrange(n // 2, n)] for _ in range(6))):
            pending = pending_states(g, seeds, goal.__contains__)  # type: ignore[arg-type]
            owing = owing_states(out, seeds, goal.__contains__)
            assert set(pending) == owing
            for reading, lower in ((in_spec, in_graph), (in_graph, None)):
                expected = fair_lasso_exists(out, owing, reading.__getitem__, frozenset(strong_set))
                assert checker_finds(g, pending, reading.__getitem__, None if lower is None else lower.__getitem__) == expected, (seed, seeds)
                answers[expected] += 1
    # The sample is not one-sided: both answers occur often.
    assert answers[True] >= 100 and answers[False] >= 100, answers


# ----------------------------------------------------------------- real graphs

ELECTED = Property("LeaderEventuallyElected", "eventually", "a leader is eventually elected", holds=leader_elected, servers_only=True)
STARTED = Property("ElectionStarted", "eventually", "some server reaches term 2", holds=lambda spec, s: any(x.current_term >= 2 for x in s.servers))


class FairTimeouts(RaftSpec):
    """Timeouts weakly fair (some cycles are then fair only because a bound cuts Timeout)."""

    fairness = (*DEFAULT_FAIRNESS, weak(ActionName.Timeout))


class StrongSends(RaftSpec):
    """A leader's sends strongly fair instead of weakly."""

    fairness = tuple(strong(f.action) if f.action == ActionName.AppendEntries else f for f in DEFAULT_FAIRNESS)


class Unfair(RaftSpec):
    """No fairness at all: every behaviour may stop."""

    fairness: tuple[Fairness, ...] = ()


def reference_status(result: ExploreResult, prop: Property) -> str:
    """The property's status judged by the reference, with "enabled" computed from the spec itself."""
    spec = result.spec
    fairness: tuple[Fairness, ...] = tuple(spec.fairness)
    ids: dict[tuple[object, ...], int] = {}
    strong_ids: set[int] = set()

    def conditions(action: object) -> frozenset[int]:
        got = set()
        for decl in fairness:
            identity = decl.condition(action)  # type: ignore[arg-type]
            if identity is not None:
                c = ids.setdefault(identity, len(ids))
                got.add(c)
                if decl.kind == "strong":
                    strong_ids.add(c)
        return frozenset(got)

    assert result.edge_src is not None and result.edge_dst is not None and result.edge_label is not None
    n = result.distinct_states
    out: list[list[Edge]] = [[] for _ in range(n)]
    for u, v, lid in zip(result.edge_src, result.edge_dst, result.edge_label):
        out[u].append((v, conditions(result.labels[lid])))
    states = [result.state(u) for u in range(n)]
    in_graph, in_spec = [], []
    for s in states:
        kept: set[int] = set()
        every: set[int] = set()
        for action, t in spec.successors(s):
            cs = conditions(action)
            every |= cs
            if spec.within_bounds(t):
                kept |= cs
        in_graph.append(frozenset(kept))
        in_spec.append(frozenset(every))
    assert prop.holds is not None
    goal = [bool(prop.holds(spec, s)) for s in states]
    if prop.kind == "leads_to":
        assert prop.premise is not None
        seeds = [u for u in range(n) if prop.premise(spec, states[u]) and not goal[u]]
    else:
        seeds = [0]
    owing = owing_states(out, seeds, goal.__getitem__)
    if fair_lasso_exists(out, owing, in_spec.__getitem__, frozenset(strong_ids)):
        return "violated"
    if fair_lasso_exists(out, owing, in_graph.__getitem__, frozenset(strong_ids)):
        return "inconclusive"
    return "holds"


CASES: list[tuple[RaftSpec, Optional[tuple[Property, ...]]]] = [
    (RaftSpec(TINY), None),
    *((cls(TINY), None) for cls in LIVENESS_VARIANTS.values()),
    (StrongSends(TINY), None),
    (Unfair(TINY), None),
    (RaftSpec(TINY), (ELECTED,)),
    (FairTimeouts(TINY), (ELECTED, STARTED)),
    (RaftSpec(TINY), (STARTED,)),
    (FairTimeouts(Params(servers=1, values=1, max_term=3, max_log=0, max_in_flight=1)), (ELECTED,)),
]


@pytest.mark.parametrize("spec,props", CASES, ids=lambda x: type(x).__name__ if isinstance(x, RaftSpec) else "")
def test_real_graphs_agree_with_the_reference(spec: RaftSpec, props: Optional[tuple[Property, ...]]) -> None:
    result = explore(spec, props)
    assert result.complete
    got = {o.property.name: o.status for o in check_liveness(result)}
    want = {p.name: reference_status(result, p) for p in result.properties if p.kind in LIVENESS_KINDS}
    assert got == want


@pytest.mark.long(reason="the reference is quadratic: about 8 minutes on the default model's 322,580 states and its variants")
@pytest.mark.parametrize("cls", [RaftSpec, *LIVENESS_VARIANTS.values()], ids=lambda c: c.__name__)
def test_the_default_model_agrees_with_the_reference(cls: type[RaftSpec]) -> None:
    """Up to 75,791 owing states (EntryCommitsOrLeaderStepsDown on the default model, which holds)."""
    result = explore(cls(PRESETS["default"]))
    assert result.complete
    got = {o.property.name: o.status for o in check_liveness(result)}
    assert got == {p.name: reference_status(result, p) for p in result.properties if p.kind in LIVENESS_KINDS}
