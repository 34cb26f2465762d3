"""The explored graph as the liveness check reads it: adjacency, predicates, enabled fairness conditions.

How this works: the explorer keeps every kept transition in three arrays (source,
target, label id), sources in BFS order; `LivenessGraph` turns them into a compact
adjacency (offsets into the arrays, sorted by source once if needed).  A state
predicate is evaluated once per state (once per servers tuple for a servers-only
one).  Fairness conditions (`spec/fairness.py`) are numbered; each label id maps to
the conditions it counts for.

What is *enabled* in a state comes in two readings:
- `enabled_in_graph`: the conditions of the state's kept transitions (successors
  within the bounds);
- `enabled_in_spec`: those plus the conditions of transitions the bounds cut (the
  spec's action is enabled, its successor lies outside the bounds).  They are found by
  running the spec's `successors` on the state again, only for states the check asks
  about, and remembered.
"""
from __future__ import annotations

from array import array
from typing import Callable

from leaderfollower.spec.actions import Action
from leaderfollower.spec.fairness import Fairness
from leaderfollower.spec.properties import StatePredicate
from leaderfollower.spec.raft import each_outcome
from leaderfollower.checker.explore.result import ExploreResult

Condition = int
"""A fairness condition's number (see `LivenessGraph.conditions`)."""


class LivenessGraph:
    """A search's graph with what the liveness check asks of it (see the module comment)."""

    def __init__(self, result: ExploreResult, fairness: tuple[Fairness, ...]) -> None:
        if result.edge_src is None or result.edge_dst is None or result.edge_label is None:
            raise ValueError("this search kept no graph")
        self.result = result
        self.spec = result.spec
        self.n = result.distinct_states
        src, dst, lab = result.edge_src, result.edge_dst, result.edge_label
        if any(src[k] > src[k + 1] for k in range(len(src) - 1)):
            order = sorted(range(len(src)), key=src.__getitem__)
            src, dst, lab = array("I", (src[k] for k in order)), array("I", (dst[k] for k in order)), array("I", (lab[k] for k in order))
        self.dst, self.lab = dst, lab
        self.start = array("I", bytes(4 * (self.n + 1)))
        for u in src:
            self.start[u + 1] += 1
        for u in range(self.n):
            self.start[u + 1] += self.start[u]
        self.fairness = fairness
        self.fair_names = frozenset(f.action for f in fairness)
        self.conditions: list[tuple[object, ...]] = []
        """Each condition's identity: (declaration,) or (declaration, arguments)."""
        self.condition_ids: dict[tuple[object, ...], Condition] = {}
        self.strong: set[Condition] = set()
        self._label_conditions: dict[int, frozenset[Condition]] = {}
        self._graph_enabled: dict[int, frozenset[Condition]] = {}
        self._spec_enabled: dict[int, frozenset[Condition]] = {}
        self.cut: dict[int, list[Action]] = {}
        """Per state asked about: the fair actions enabled there whose successors the bounds cut."""

    def out(self, u: int) -> range:
        """Indexes of u's kept transitions (into `dst` and `lab`)."""
        return range(self.start[u], self.start[u + 1])

    def predicate(self, fn: StatePredicate, servers_only: bool) -> Callable[[int], bool]:
        """`fn` as a memoised function of a state id."""
        cache: dict[object, bool] = {}
        keys = self.result._store.keys
        result, spec = self.result, self.spec

        def holds(sid: int) -> bool:
            key = keys[sid][:-1] if servers_only else keys[sid]
            value = cache.get(key)
            if value is None:
                value = bool(fn(spec, result.state(sid)))
                cache[key] = value
            return value

        return holds

    def condition_id(self, identity: tuple[object, ...], kind: str) -> Condition:
        """The number of a condition (numbered now if new)."""
        c = self.condition_ids.get(identity)
        if c is None:
            c = len(self.conditions)
            self.conditions.append(identity)
            self.condition_ids[identity] = c
            if kind == "strong":
                self.strong.add(c)
        return c

    def action_conditions(self, action: Action) -> frozenset[Condition]:
        """The fairness conditions a transition labelled `action` counts for."""
        out = set()
        for decl in self.fairness:
            identity = decl.condition(action)
            if identity is not None:
                out.add(self.condition_id(identity, decl.kind))
        return frozenset(out)

    def label_conditions(self, lid: int) -> frozenset[Condition]:
        """`action_conditions` of a label id, remembered."""
        got = self._label_conditions.get(lid)
        if got is None:
            got = self.action_conditions(self.result.labels[lid])
            self._label_conditions[lid] = got
        return got

    def enabled_in_graph(self, u: int) -> frozenset[Condition]:
        """The conditions of u's kept transitions."""
        got = self._graph_enabled.get(u)
        if got is None:
            conds: set[Condition] = set()
            lab = self.lab
            for k in self.out(u):
                conds |= self.label_conditions(lab[k])
            got = frozenset(conds)
            self._graph_enabled[u] = got
        return got

    def enabled_in_spec(self, u: int) -> frozenset[Condition]:
        """The conditions enabled in u by the spec, the bounds' cut successors included."""
        got = self._spec_enabled.get(u)
        if got is None:
            spec = self.spec
            cut: list[Action] = []
            conds = set(self.enabled_in_graph(u))
            s = self.result.state(u)
            # Only the fair actions' instances: the others cannot add a condition.
            for name, method, args in spec.instances(s):
                if name not in self.fair_names:
                    continue
                for t in each_outcome(method(s, *args)):
                    if not spec.within_bounds(t):
                        action = Action(name, args)
                        extra = self.action_conditions(action)
                        if extra:
                            cut.append(action)
                            conds |= extra
                        break
            if cut:
                self.cut[u] = cut
            got = frozenset(conds)
            self._spec_enabled[u] = got
        return got

    def describe(self, c: Condition) -> str:
        """A condition as TLA+ would name it: `SF(HandleAppendEntriesRequest)`, `WF(AppendEntries(0, 1))`."""
        identity = self.conditions[c]
        decl = identity[0]
        assert isinstance(decl, Fairness)
        if len(identity) == 1:
            return str(decl)
        args = identity[1]
        return f"{'WF' if decl.kind == 'weak' else 'SF'}({Action(decl.action, args)})"  # type: ignore[arg-type]

