"""What a search found: counts, coverage, findings, the BFS tree and the state graph.

How this works: `ExploreResult` is the explorer's answer, a plain record over the
search's `StateStore` (states by id, the BFS tree) and its compact edge arrays; the
networkx `MultiDiGraph` is built from the arrays in bulk on first use
(`ExploreResult.graph`), with the action label id as the edge key, so two different
actions between the same pair of states are two edges.  A search that stopped
before its queue was empty says why (`stopped_by`) and how many stored states it
did not expand (`frontier`); one in which actions raised says in how many states
(`unexpanded_states`).  Only a search with none of these is `complete`.
"""
from __future__ import annotations

import gc
import time
from array import array
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from leaderfollower.spec.actions import Action
from leaderfollower.spec.properties import Property
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State

from leaderfollower.checker.explore.store import Key, StateStore

if TYPE_CHECKING:
    import networkx as nx

ProgressFn = Callable[["Progress"], None]


@dataclass
class Progress:
    """A snapshot of a running search, for progress bars."""

    states: int
    transitions: int
    depth: int
    queue: int
    seconds: float


@dataclass
class ActionCoverage:
    """How often one action was enabled, and how many new states it produced."""

    enabled: int = 0
    within_bounds: int = 0
    new_states: int = 0


@dataclass
class Finding:
    """A property's outcome: a violation or a witness, with the state it was found in.

    For an action property (or an exception in an action), `action` is the step that
    broke it, taken from `state` (the stored representative: under symmetry a concrete
    trace may reach a permutation of it, see `checker/explore/traces.py`).  For an action
    property, `target` is the canonical key of the state the step led to, which tells
    apart two successors that share one label.
    """

    property: str
    kind: str
    state: int
    action: Optional[Action] = None
    error: Optional[str] = None
    target: Optional[Key] = None


@dataclass
class ExploreResult:
    """Everything a search found: counts, coverage, findings and the state graph."""

    spec: RaftSpec
    properties: tuple[Property, ...]
    distinct_states: int
    transitions: int
    diameter: int
    seconds: float
    search_seconds: float
    states_per_depth: list[int]
    coverage: dict[str, ActionCoverage]
    violations: list[Finding]
    witnesses: dict[str, Finding]
    deadlocks: list[int]
    complete: bool
    """Every reachable state within the bounds was stored and fully expanded."""
    labels: list[Action]
    parent: array[int]
    parent_label: array[int]
    depth: array[int]
    edge_src: Optional[array[int]]
    edge_dst: Optional[array[int]]
    edge_label: Optional[array[int]]
    _store: "StateStore"
    _graph: Optional["nx.MultiDiGraph"] = field(default=None, repr=False)
    graph_seconds: float = 0.0
    stopped_by: Optional[str] = None
    """Why the search stopped before its queue was empty ("violation", a budget's reason from
    checker/explore/budget.py such as "max-states" or "interrupted", or a reason a
    `stop_when` condition gave), if it did."""
    frontier: int = 0
    """Stored states the search did not expand (it stopped first)."""
    unexpanded_states: int = 0
    """States some of whose actions raised: their other successors were explored, these were not."""
    counts_note: Optional[str] = None
    """Set when the counts may differ from the default one-worker search's, saying whose they are
    (the partitioned search stopped by a violation under symmetry: checker/distributed/search.py)."""
    liveness: list[Any] = field(default_factory=list)
    """The liveness properties' outcomes (checker/liveness/check.py: `LivenessOutcome`), once judged."""
    liveness_seconds: float = 0.0

    @property
    def incomplete_because(self) -> Optional[str]:
        """Why the search is not complete, in a few words (None when it is)."""
        if self.complete:
            return None
        if self.stopped_by == "violation":
            return "stopped at a violation"
        reasons = {"max-states": "state limit reached", "max-depth": "depth limit reached", "max-seconds": "time limit reached"}
        if self.stopped_by in reasons:
            return reasons[self.stopped_by]
        if self.stopped_by is not None:
            return self.stopped_by
        if self.unexpanded_states:
            return "actions raised"
        return "stopped early"

    @property
    def ok(self) -> bool:
        """No violation, no deadlock, every sometimes property witnessed, no liveness property violated or inconclusive."""
        sometimes = [p.name for p in self.properties if p.kind == "sometimes"]
        live_ok = all(o.status in ("holds", "skipped") for o in self.liveness)
        return not self.violations and not self.deadlocks and all(name in self.witnesses for name in sometimes) and live_ok

    def state(self, state_id: int) -> State:
        """The stored state with this id (a representative of its orbit under symmetry)."""
        return self._store.state(state_id)

    def key(self, state_id: int) -> Key:
        """The packed key of a stored state."""
        return self._store.keys[state_id]

    def canonical_key(self, s: State) -> Key:
        """The key under which a (concrete) state is stored, whether or not it was reached."""
        return self._store.canonical_key(s)

    def find(self, s: State) -> Optional[int]:
        """The id of a concrete state (or of its orbit), if the search reached it."""
        return self._store.find(s)

    def path_to(self, state_id: int) -> list[tuple[int, Action]]:
        """The BFS-tree path from the initial state: (state id, action taken into it) per step."""
        return [(node, self.labels[label]) for node, label in self._store.path_to(state_id)]

    @property
    def graph(self) -> "nx.MultiDiGraph":
        """The state graph: node = state id, edge key = action label id (see `labels`)."""
        if self._graph is None:
            if self.edge_src is None or self.edge_dst is None or self.edge_label is None:
                raise RuntimeError("this search kept no graph (run it with keep_graph=True)")
            start = time.perf_counter()
            with collector_paused():
                self._graph = _bulk_graph(self)
            self.graph_seconds = time.perf_counter() - start
        return self._graph


def _bulk_graph(result: "ExploreResult") -> "nx.MultiDiGraph":
    """The networkx graph of a search's edge arrays (see `ExploreResult.graph`)."""
    import networkx as nx

    assert result.edge_src is not None and result.edge_dst is not None and result.edge_label is not None
    g = nx.MultiDiGraph(spec=result.spec.name, params=result.spec.params.describe())
    g.add_nodes_from(range(result.distinct_states))
    # Filled in bulk through networkx's own adjacency structure (successor and
    # predecessor dicts share one key dict per node pair, as add_edge makes them),
    # skipping add_edges_from's per-edge checks; a test compares the result with
    # add_edges_from's.
    succ, pred = g._succ, g._pred
    for u, v, key in zip(result.edge_src, result.edge_dst, result.edge_label):
        keydict = succ[u].get(v)
        if keydict is None:
            keydict = {}
            succ[u][v] = keydict
            pred[v][u] = keydict
        keydict[key] = {}
    return g


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a search allocates millions of long-lived,
    acyclic objects that it would rescan again and again and find nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
