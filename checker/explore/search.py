"""The exhaustive bounded breadth-first explorer: the search loop.

How this works: three parts, each in its own module, as Stateright splits its
checker.  The *state store* (`checker/explore/store.py`) keeps every state packed
(interned server states and bags, one orbit per state under symmetry) with its BFS
parent, label and depth.  The *property visitor* (`checker/explore/visitor.py`)
judges every property on the states and transitions the loop shows it.  The *loop*,
here, takes states from the queue in order, asks for their successors, counts
coverage, stores new states, keeps the edges, and stops when the queue is empty or
a stop condition says so (a violation, a state limit, or any `stop_when` the
caller gives: budgets go there), saying why and how much it left unexpanded.

Successors come from the spec's actions memoised per acting server and bag
(`checker/explore/local_steps.py`): on the full 3-server model about 20,000
(server, bag) combinations stand for 1.9 million states, so most transitions are a
few dictionary look-ups of interned ids, in the same order the spec's `successors`
gives them.  When an action raises, the state's other actions are still run one by
one and their successors explored; the state counts as not fully expanded and the
search as incomplete.

Every transition is kept in three compact arrays (source id, target id, action
label id), from which `ExploreResult.graph` builds the networkx graph; without a
graph (`keep_graph=False`) only each state's BFS parent and label are kept: enough
for shortest counterexamples.

Bounds are a state constraint, as TLC applies a CONSTRAINT: a successor outside
them is not stored, counted, checked or explored.  The search is deterministic: the
same spec and parameters give the same ids, counts and traces.
"""
from __future__ import annotations

import time
import traceback
from array import array
from typing import Callable, NamedTuple, Optional, Sequence

from leaderfollower.spec.actions import ACTION_NAMES, Action
from leaderfollower.spec.properties import PROPERTIES, Property
from leaderfollower.spec.raft import RaftSpec, each_outcome
from leaderfollower.spec.state import State

from leaderfollower.checker.explore.budget import STOP_MAX_DEPTH, STOP_MAX_STATES, Budget
from leaderfollower.checker.explore.local_steps import LocalSteps, NonLocalAction, Step
from leaderfollower.checker.explore.local_steps import usable as local_steps_usable
from leaderfollower.checker.explore.result import ActionCoverage, ExploreResult, Finding, Progress, ProgressFn, collector_paused
from leaderfollower.checker.explore.store import Key, StateStore
from leaderfollower.checker.explore.visitor import PropertyVisitor

StopCondition = Callable[[Progress], Optional[str]]
"""Looked at between states: a reason to stop now (it becomes `stopped_by`), or None to go on."""


class Labels:
    """Transition labels and action names, each numbered once, with per-name coverage counts."""

    def __init__(self) -> None:
        self.labels: list[Action] = []
        self.label_ids: dict[Action, int] = {}
        self.names: list[str] = list(ACTION_NAMES)
        self.name_ids: dict[str, int] = {name: k for k, name in enumerate(self.names)}
        self.enabled = [0] * len(self.names)
        self.within_bounds = [0] * len(self.names)
        self.new_states = [0] * len(self.names)

    def label_id(self, action: Action) -> int:
        """The number of a transition label (numbered now if it is new)."""
        lid = self.label_ids.get(action)
        if lid is None:
            lid = len(self.labels)
            self.label_ids[action] = lid
            self.labels.append(action)
        return lid

    def name_index(self, name: str) -> int:
        """The number of an action name; a user's spec may add actions of its own."""
        k = self.name_ids.get(name)
        if k is None:
            k = len(self.names)
            self.names.append(name)
            self.name_ids[name] = k
            for counts in (self.enabled, self.within_bounds, self.new_states):
                counts.append(0)
        return k

    def coverage(self) -> dict[str, ActionCoverage]:
        """Per action name: how often it was enabled, kept within bounds, and produced a new state."""
        return {name: ActionCoverage(self.enabled[k], self.within_bounds[k], self.new_states[k]) for k, name in enumerate(self.names)}


class Search:
    """One breadth-first search of a spec's model (see the module comment); `run` it once."""

    def __init__(
        self,
        spec: RaftSpec,
        properties: Optional[Sequence[Property]] = None,
        *,
        keep_graph: bool = True,
        stop_on_violation: bool = True,
        memoise: bool = True,
    ) -> None:
        self.spec = spec
        # A spec may carry its own property list (a variant's); getattr's Any is pinned here.
        self.properties: tuple[Property, ...] = tuple(properties if properties is not None else getattr(spec, "properties", PROPERTIES))
        self.keep_graph = keep_graph
        self.stop_on_violation = stop_on_violation
        self.memoise = memoise
        self.store = self.make_store()
        self.visitor = PropertyVisitor(spec, self.properties, self.store)
        self.labels = Labels()
        self.edges: Optional[tuple[array[int], array[int], array[int]]] = (array("I"), array("I"), array("I")) if keep_graph else None
        self.transitions = 0
        self.unexpanded = 0
        self.deadlocks: list[int] = []
        self.head = 0
        """The next state to expand: states below it are expanded, the rest are the queue."""

    def make_store(self) -> StateStore:
        """The state store this search keeps its states in (a seam: the partitioned search's shards store theirs by fingerprint order)."""
        return StateStore(self.spec, self.spec.params.symmetry)

    # ------------------------------------------------------------ successors

    def _spec_step(self, action: Action, t: State) -> Step:
        ok = self.spec.within_bounds(t)
        raw = self.store.raw_key(t)
        return (self.labels.name_index(action.name), self.labels.label_id(action) if ok else -1, raw, ok, -1)

    def spec_successors(self, key: Key, sid: int) -> list[Step]:
        """The transitions from a stored state, straight from the spec's `successors`."""
        return [self._spec_step(action, t) for action, t in self.spec.successors(self.store.state(sid))]

    def expand(self, sid: int, steps_of: Callable[[Key, int], list[Step]]) -> list[Step]:
        """The transitions from stored state `sid`; an action that raised is recorded, not fatal."""
        try:
            outgoing = steps_of(self.store.keys[sid], sid)
        except NonLocalAction as exc:  # the spec's local_actions declaration is wrong: say where
            # Memoised answers may be wrong anywhere now; the search cannot be complete.
            self.visitor.record(Finding("LocalActions", "error", sid, action=exc.action, error=str(exc)))
            self.unexpanded += 1
            return []
        except Exception as exc:  # an action raised: report it like a violation, with the culprit
            # Explore the successors of the actions that did not raise; this state is
            # not fully expanded, so the search will not be complete.
            pairs, failures = guarded_successors(self.spec, self.store.state(sid))
            action, message = failures[0] if failures else (None, describe_exception(exc))
            self.visitor.record(Finding("ActionRaised", "error", sid, action=action, error=message))
            self.unexpanded += 1
            return [self._spec_step(a, t) for a, t in pairs]
        if not outgoing:
            self.deadlocks.append(sid)
        return outgoing

    # ------------------------------------------------------------------ loop

    def run(
        self,
        *,
        progress: Optional[ProgressFn] = None,
        progress_every: int = 20000,
        max_states: Optional[int] = None,
        stop_when: Optional[StopCondition] = None,
        check_every: int = 1000,
        budget: Optional[Budget] = None,
    ) -> ExploreResult:
        """Search until the queue is empty or a stop condition holds; the result says which.

        `stop_when` and the `budget`'s time and stop request are looked at every
        `check_every` states (and `progress` called every `progress_every`) with a
        `Progress` snapshot; the budget's state and depth limits at every state.
        """
        start = time.perf_counter()
        steps_of = self._start()
        stopped_by = "violation" if self.visitor.violations and self.stop_on_violation else None
        store, keys = self.store, self.store.keys
        if budget is not None:
            max_states = budget.max_states if budget.max_states is not None else max_states
            stop_when = _either(budget.stop_reason, stop_when)
        max_depth = budget.max_depth if budget is not None else None
        context, visit, expand = self._visit_context(), self._visit, self.expand
        while stopped_by is None and self.head < len(keys):
            sid = self.head
            if max_depth is not None and store.depth[sid] > max_depth:
                # Every state within max_depth steps is expanded; the states one step
                # further are checked but not expanded.  None there: the search is complete.
                stopped_by = STOP_MAX_DEPTH
                break
            if progress is not None and sid % progress_every == 0:
                progress(self.progress(start))
            if stop_when is not None and sid % check_every == 0:
                stopped_by = stop_when(self.progress(start))
                if stopped_by is not None:
                    break
            self.head += 1
            self.transitions += visit(context, sid, store.depth[sid], expand(sid, steps_of))
            if self.visitor.violations and self.stop_on_violation:
                stopped_by = "violation"
            elif max_states is not None and len(keys) >= max_states and self.head < len(keys):
                stopped_by = STOP_MAX_STATES
        seconds = time.perf_counter() - start
        if progress is not None:
            progress(self.progress(start))
        return self._result(stopped_by, seconds)

    def progress(self, start: float) -> Progress:
        """Where the search is now: states stored, transitions, the depth it expands, the queue."""
        keys, depth = self.store.keys, self.store.depth
        now = depth[min(self.head, len(keys) - 1)] if keys else 0
        return Progress(len(keys), self.transitions, now, len(keys) - self.head, time.perf_counter() - start)

    def _start(self) -> Callable[[Key, int], list[Step]]:
        spec, store = self.spec, self.store
        init = spec.init()
        store.add(store.canonical_key(init), -1, -1, 0)
        init_state = store.state(0)
        init_in_bounds = spec.within_bounds(init_state)
        if init_in_bounds:
            self.visitor.visit_state(0, store.raw_key(init_state), init_state)
        return self.successor_function(init_in_bounds)

    def successor_function(self, init_in_bounds: bool) -> Callable[[Key, int], list[Step]]:
        """How this search finds a stored state's transitions: memoised or straight from the spec."""
        # Memoised per acting server and bag where the spec allows it (local_steps.py); an
        # initial state outside the bounds would make the cached bounds flags unsound.
        if self.memoise and init_in_bounds and local_steps_usable(self.spec):
            return LocalSteps(self.spec, self.store, self.labels.label_id, self.labels.name_index).successors
        return self.spec_successors

    def _visit_context(self) -> "_VisitContext":
        store, visitor, labels = self.store, self.visitor, self.labels
        return _VisitContext(
            store, visitor, labels, store.keys, store.seen, store.canonicalise, bool(store.perms), labels.enabled,
            labels.within_bounds, labels.new_states, store.n, bool(visitor.step_props), self.edges,
        )

    def _visit(self, context: "_VisitContext", sid: int, depth: int, outgoing: list[Step]) -> int:
        # The innermost loop: everything it needs is bound to a local name, from a tuple
        # made once per search (a dozen attribute look-ups per state add up).
        store, visitor, labels, keys, seen, canonicalise, symmetric, enabled, within, new_states, n, check_steps, edges = context
        s_key = keys[sid]
        kept = 0
        for name, lid, raw, ok, pos in outgoing:
            enabled[name] += 1
            if not ok:
                continue
            within[name] += 1
            kept += 1
            key = canonicalise(raw) if symmetric else raw
            if check_steps and pos < n:  # pos == n: a network action, no server changed
                visitor.visit_step(sid, s_key, raw, pos, labels.labels[lid], key)
            tid = seen.get(key)
            if tid is None:
                tid = store.add(key, sid, lid, depth + 1)
                new_states[name] += 1
                visitor.visit_state(tid, raw)
            if edges is not None:
                edges[0].append(sid)
                edges[1].append(tid)
                edges[2].append(lid)
        return kept

    def _result(self, stopped_by: Optional[str], seconds: float) -> ExploreResult:
        store, visitor = self.store, self.visitor
        edges = self.edges
        return ExploreResult(
            spec=self.spec,
            properties=self.properties,
            distinct_states=len(store.keys),
            transitions=self.transitions,
            diameter=len(store.states_per_depth) - 1,
            seconds=seconds,
            search_seconds=seconds,
            states_per_depth=store.states_per_depth,
            coverage=self.labels.coverage(),
            violations=visitor.violations,
            witnesses=visitor.witnesses,
            deadlocks=self.deadlocks,
            complete=stopped_by is None and self.unexpanded == 0,
            labels=self.labels.labels,
            parent=store.parent,
            parent_label=store.parent_label,
            depth=store.depth,
            edge_src=edges[0] if edges is not None else None,
            edge_dst=edges[1] if edges is not None else None,
            edge_label=edges[2] if edges is not None else None,
            _store=store,
            stopped_by=stopped_by,
            frontier=len(store.keys) - self.head,
            unexpanded_states=self.unexpanded,
        )


class _VisitContext(NamedTuple):
    """What `Search._visit` reads, bound once per search."""

    store: StateStore
    visitor: PropertyVisitor
    labels: Labels
    keys: list[Key]
    seen: dict[Key, int]
    canonicalise: Callable[[Key], Key]
    symmetric: bool
    enabled: list[int]
    within: list[int]
    new_states: list[int]
    n: int
    check_steps: bool
    edges: Optional[tuple[array[int], array[int], array[int]]]


def explore(
    spec: RaftSpec,
    properties: Optional[Sequence[Property]] = None,
    *,
    keep_graph: bool = True,
    stop_on_violation: bool = True,
    progress: Optional[ProgressFn] = None,
    progress_every: int = 20000,
    max_states: Optional[int] = None,
    stop_when: Optional[StopCondition] = None,
    memoise: bool = True,
    budget: Optional[Budget] = None,
) -> ExploreResult:
    """Explore every state reachable within the bounds, breadth first, and check the properties.

    Stops at the first violation unless `stop_on_violation` is false, in which case
    each property's first (shortest) violation is recorded and the search goes on.
    `max_states`, `budget` (checker/explore/budget.py) and `stop_when` stop it early
    (the result then says why and is not complete).  `memoise=False` calls the spec's `successors` on every state instead
    of computing each action once per (server, bag) (checker/explore/local_steps.py);
    the results are the same, only slower.
    """
    with collector_paused():
        search = Search(spec, properties, keep_graph=keep_graph, stop_on_violation=stop_on_violation, memoise=memoise)
        return search.run(progress=progress, progress_every=progress_every, max_states=max_states, stop_when=stop_when, budget=budget)


def _either(first: StopCondition, second: Optional[StopCondition]) -> StopCondition:
    """A stop condition that gives the first's reason, else the second's."""
    if second is None:
        return first

    def stop(p: Progress) -> Optional[str]:
        return first(p) or second(p)

    return stop


def describe_exception(exc: BaseException) -> str:
    """`Type: message (at file:line in function)`: an exception an action raised, and where."""
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ is not None else None
    at = f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno} in {where.name})" if where is not None else ""
    return f"{type(exc).__name__}: {exc}{at}"


def guarded_successors(spec: RaftSpec, s: State) -> tuple[list[tuple[Action, State]], list[tuple[Optional[Action], str]]]:
    """The successors of s from the actions that do not raise, and each action that raised with its error.

    Each action instance of the spec's table is run on its own (`RaftSpec.instances`).
    A spec that replaces `successors` cannot be taken apart so; for it, nothing is
    returned but the error of its `successors`.
    """
    if type(spec).successors is not RaftSpec.successors:
        try:
            list(spec.successors(s))
        except Exception as exc:
            return [], [(None, describe_exception(exc))]
        return [], [(None, "an action raised, but not when run again")]
    pairs: list[tuple[Action, State]] = []
    failures: list[tuple[Optional[Action], str]] = []
    for name, method, args in spec.instances(s):
        action = Action(name, args)
        try:
            outcomes = each_outcome(method(s, *args))
        except Exception as exc:
            failures.append((action, describe_exception(exc)))
            continue
        pairs.extend((action, t) for t in outcomes)
    if not failures:
        failures.append((None, "an action raised, but not when run again on its own"))
    return pairs, failures
