"""The liveness check: each eventually / leads_to property of a search, judged on its graph.

How this works: for each property, the pending states (checker/liveness/fair_cycles.py)
are searched for a fair lasso twice, under two readings of "enabled":
1. the spec's (`enabled_in_spec`): an action whose successor the bounds cut is still
   enabled.  A fair cycle found so is a behaviour of the unbounded spec: its states and
   transitions are real, and its fairness is judged exactly as without bounds.  The
   property is *violated*.
2. the bounded graph's (`enabled_in_graph`): an action counts as enabled only where
   a successor is kept.  This is the model a state constraint leaves; every cycle that
   is fair in reading 1 is fair here too.  A cycle fair here but not in 1 exists only
   because the bounds cut a fair action's successor: a fair behaviour would take that
   action and leave the bounds, where the model cannot follow it.  The property is
   *inconclusive at these bounds*, and the cut actions are named.
If neither reading has a fair pending cycle (or stutter), the property *holds* for
every fair behaviour that stays within the bounds.

A graph reduced by symmetry stores one state per orbit.  Fairness per argument
tuple (`each=True`, `args=...`) tells servers apart, which the reduced graph's labels
cannot follow from one orbit to the next, so with symmetry such a declaration makes
the check `skipped` (run without symmetry); declarations over whole actions are
judged exactly on the reduced graph, as are predicates that do not tell servers apart.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import networkx as nx

from leaderfollower.spec.actions import ActionName
from leaderfollower.spec.fairness import Fairness
from leaderfollower.spec.properties import LIVENESS_KINDS, Property
from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.liveness.fair_cycles import Enabled, fair_component, pending_graph, pending_states, stutter_state
from leaderfollower.checker.liveness.graph import LivenessGraph
from leaderfollower.checker.liveness.lasso import Lasso, concretise, fair_cycle, prefix_to


@dataclass
class LivenessOutcome:
    """One liveness property's verdict: holds, violated, inconclusive or skipped, with its lasso if any."""

    property: Property
    status: str
    """"holds", "violated", "inconclusive" or "skipped"."""
    why: str = ""
    """Why it was skipped or inconclusive, or what the violation means."""
    lasso: Optional[Lasso] = None
    pending: int = 0
    """States where the property was still owed its goal."""
    cut_actions: list[str] = field(default_factory=list)
    """For an inconclusive verdict: fair actions enabled on the cycle whose successors the bounds cut."""


def liveness_properties(result: ExploreResult) -> list[Property]:
    """The search's eventually and leads_to properties, in report order."""
    return [p for p in result.properties if p.kind in LIVENESS_KINDS]


def skip_reason(result: ExploreResult, fairness: tuple[Fairness, ...]) -> Optional[str]:
    """Why the liveness properties cannot be judged on this search (None: they can)."""
    if not result.complete:
        return f"the search is incomplete ({result.incomplete_because}): a cycle may run through states it did not expand"
    if result.edge_src is None:
        return "no graph was kept (--no-graph, --workers, --ray): liveness needs the state graph"
    if result.spec.params.symmetry and not all(f.symmetric for f in fairness):
        names = ", ".join(str(f) for f in fairness if not f.symmetric)
        return f"fairness per argument ({names}) cannot be judged on a symmetry-reduced graph; run with symmetry off"
    return None


def check_liveness(result: ExploreResult) -> list[LivenessOutcome]:
    """Judge every liveness property of a search (see the module comment)."""
    props = liveness_properties(result)
    if not props:
        return []
    fairness: tuple[Fairness, ...] = tuple(getattr(result.spec, "fairness", ()))
    why = skip_reason(result, fairness)
    if why is not None:
        return [LivenessOutcome(p, "skipped", why) for p in props]
    g = LivenessGraph(result, fairness)
    return [check_property(g, p) for p in props]


def check_property(g: LivenessGraph, prop: Property) -> LivenessOutcome:
    """One property's verdict on the graph."""
    assert prop.holds is not None
    goal = g.predicate(prop.holds, prop.servers_only)
    if prop.kind == "leads_to":
        assert prop.premise is not None
        premise = g.predicate(prop.premise, prop.servers_only)
        seeds = [u for u in range(g.n) if premise(u) and not goal(u)]
    else:
        seeds = [0]
    pending = pending_states(g, seeds, goal)
    if not pending:
        return LivenessOutcome(prop, "holds", pending=0)
    dg = pending_graph(g, pending)
    lasso = find_lasso(g, pending, dg, g.enabled_in_spec)
    if lasso is not None:
        return LivenessOutcome(prop, "violated", explain(g, lasso), lasso, len(pending))
    lasso = find_lasso(g, pending, dg, g.enabled_in_graph)
    if lasso is not None:
        states = {e[0] for e in lasso.cycle} or {lasso.prefix[-1][2] if lasso.prefix else 0}
        for u in states:
            g.enabled_in_spec(u)
        cut = sorted({str(a) for u in states for a in g.cut.get(u, [])})
        why = (
            "a fair cycle exists only because the bounds cut the successors of fair actions enabled on it "
            f"({', '.join(cut) or 'see the cycle'}): a fair behaviour takes them and leaves the bounds; "
            "raise the bounds to decide"
        )
        return LivenessOutcome(prop, "inconclusive", why, lasso, len(pending), cut)
    return LivenessOutcome(prop, "holds", pending=len(pending))


def find_lasso(g: LivenessGraph, pending: dict[int, int], dg: "nx.DiGraph", enabled: Enabled) -> Optional[Lasso]:
    """A fair lasso through pending states under one reading of "enabled", if any."""
    # Stuttering: cheap to rule out where a kept transition already enables a fair condition.
    stop = stutter_state((u for u in pending if not g.enabled_in_graph(u)), enabled)
    if stop is not None:
        prefix = prefix_to(g, pending, stop)
        lasso = Lasso(prefix, [], ["no fair action is enabled in the last state: the behaviour may stop there"])
    else:
        comp = fair_component(g, dg, enabled, g.enabled_in_graph if enabled != g.enabled_in_graph else None)
        if comp is None:
            return None
        entry = _first_reached(pending, comp)
        cycle, satisfied = fair_cycle(g, comp, entry, enabled)
        lasso = Lasso(prefix_to(g, pending, entry), cycle, satisfied)
    lasso.trace, lasso.loop = concretise(g, lasso.prefix, lasso.cycle)
    return lasso


def _first_reached(pending: dict[int, int], comp: frozenset[int]) -> int:
    """The state of `comp` the pending BFS reached first (dicts keep insertion order: BFS order)."""
    return next(u for u in pending if u in comp)


def explain(g: LivenessGraph, lasso: Lasso) -> str:
    """What the violating lasso means, in a sentence, for the reader who meets it first."""
    if not lasso.cycle:
        return "the behaviour may stop in a state where no fair action is enabled (it stutters forever)"
    names = {g.result.labels[lid].name for _, lid, _ in lasso.cycle}
    lossy = {ActionName.DropMessage, ActionName.DuplicateMessage, ActionName.Timeout, ActionName.Restart} & names
    text = "a fair cycle never reaches the goal"
    if lossy:
        text += (
            f"; the cycle takes the unfair actions {', '.join(sorted(lossy))} forever: if the network may lose messages"
            " forever, the property needs a fairness assumption that rules this out (strong fairness of delivery)"
        )
    return text


def timed_check(result: ExploreResult) -> tuple[list[LivenessOutcome], float]:
    """`check_liveness` and how long it took (seconds)."""
    start = time.perf_counter()
    out = check_liveness(result)
    return out, time.perf_counter() - start

