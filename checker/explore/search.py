"""The exhaustive bounded breadth-first explorer.

How this works: states are stored packed.  Every distinct `ServerState` and every
distinct message bag is interned once (a table and a dict), and a state is stored
as the tuple of its servers' ids plus its bag's id, so hashing a state means
hashing a few small integers, and states share their parts.  Successors reuse the
unchanged `ServerState` objects of their parent, so an identity cache finds most
ids without hashing anything.  With symmetry on, a state is stored under the
smallest key over all permutations of server identities (one state per orbit, as
TLC's `SYMMETRY Permutations(Server)` counts); permuting a packed state only needs
cached per-part permutations.

Successors come from the spec's actions memoised per acting server and bag
(checker/explore/local_steps.py): on the full 3-server model about 20,000 (server, bag)
combinations stand for 1.9 million states, so most transitions are a few dictionary
look-ups of interned ids, in the same order the spec's `successors` gives them.

Every transition is kept in three compact arrays (source id, target id, action
label id); the networkx `MultiDiGraph` is built from them in bulk after the search
(`ExploreResult.graph`), with the action label id as the edge key, so two different
actions between the same pair of states are two edges.  Without a graph
(`keep_graph=False`) only each state's BFS parent and label are kept: enough for
shortest counterexamples.

Bounds are a state constraint, as TLC applies a CONSTRAINT: a successor outside
them is not stored, counted, checked or explored.  Always properties are checked on
every new state, action properties on every transition (for each server whose
variables changed), sometimes properties until their first witness.  The search is
deterministic: the same spec and parameters give the same ids, counts and traces.
"""
from __future__ import annotations

import functools
import gc
import itertools
import time
from contextlib import contextmanager
import traceback
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Generic, Iterator, Optional, Sequence, TypeVar

from leaderfollower.spec.properties import PROPERTIES, Property
from leaderfollower.spec.raft import ACTION_NAMES, Action, RaftSpec
from leaderfollower.spec.state import Bag, Message, ServerState, State

from leaderfollower.checker.explore.local_steps import SERVER_KINDS, LocalSteps, NonLocalAction, Step, server_actions
from leaderfollower.checker.explore.local_steps import usable as local_steps_usable

if TYPE_CHECKING:
    import networkx as nx

Key = tuple[int, ...]
T = TypeVar("T")
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
    broke it, taken from `state`.
    """

    property: str
    kind: str
    state: int
    action: Optional[Action] = None
    error: Optional[str] = None


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

    @property
    def ok(self) -> bool:
        """No violation, no deadlock, and every sometimes property witnessed."""
        sometimes = [p.name for p in self.properties if p.kind == "sometimes"]
        return not self.violations and not self.deadlocks and all(name in self.witnesses for name in sometimes)

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
        return self._store.seen.get(self._store.canonical_key(s))

    def path_to(self, state_id: int) -> list[tuple[int, Action]]:
        """The BFS-tree path from the initial state: (state id, action taken into it) per step."""
        steps: list[tuple[int, Action]] = []
        node = state_id
        while node != 0:
            steps.append((node, self.labels[self.parent_label[node]]))
            node = self.parent[node]
        steps.reverse()
        return steps

    @property
    def graph(self) -> "nx.MultiDiGraph":
        """The state graph: node = state id, edge key = action label id (see `labels`)."""
        if self._graph is None:
            if self.edge_src is None or self.edge_dst is None or self.edge_label is None:
                raise RuntimeError("this search kept no graph (run it with keep_graph=True)")
            start = time.perf_counter()
            with _collector_paused():
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


class Interner(Generic[T]):
    """Each distinct value once, numbered in order of first sight.

    An identity cache answers first: a successor shares its parent's unchanged parts,
    which are objects from the table, so most look-ups need no hashing.  Only table
    objects enter the identity cache, and they live as long as the table, so an id()
    never names two objects.
    """

    def __init__(self) -> None:
        self.table: list[T] = []
        self.ids: dict[T, int] = {}
        self.by_identity: dict[int, int] = {}

    def id_of(self, value: T) -> int:
        """The number of `value` (interned now if it is new)."""
        number = self.by_identity.get(id(value))
        if number is None:
            number = self.ids.get(value)
            if number is None:
                number = len(self.table)
                self.table.append(value)
                self.ids[value] = number
                self.by_identity[id(value)] = number
        return number


class StateStore:
    """Interned parts and packed keys of states, with symmetry canonicalisation."""

    def __init__(self, spec: RaftSpec, symmetry: bool) -> None:
        self.spec = spec
        self.n = spec.params.servers
        self.servers: Interner[ServerState] = Interner()
        self.bags: Interner[Bag] = Interner()
        self.server_table = self.servers.table
        self.bag_table = self.bags.table
        self.server_id = self.servers.id_of
        self.bag_id = self.bags.id_of
        self.keys: list[Key] = []
        self.seen: dict[Key, int] = {}
        perms = list(itertools.permutations(range(self.n))) if symmetry else [tuple(range(self.n))]
        self.perms: list[tuple[int, ...]] = perms[1:] if symmetry else []
        self._perm_server: list[dict[int, int]] = [{} for _ in self.perms]
        self._perm_bag: list[dict[int, int]] = [{} for _ in self.perms]

    def raw_key(self, s: State) -> Key:
        server_id = self.server_id
        return (*[server_id(srv) for srv in s.servers], self.bag_id(s.messages))

    def canonical_key(self, s: State) -> Key:
        key = self.raw_key(s)
        return self.canonicalise(key) if self.perms else key

    def canonicalise(self, key: Key) -> Key:
        best = key
        n = self.n
        for p_index, perm in enumerate(self.perms):
            cache = self._perm_server[p_index]
            new = [0] * (n + 1)
            for k in range(n):
                sid = key[k]
                psid = cache.get(sid)
                if psid is None:
                    psid = self.server_id(permute_server(self.server_table[sid], perm))
                    cache[sid] = psid
                new[perm[k]] = psid
            bid = key[n]
            bcache = self._perm_bag[p_index]
            pbid = bcache.get(bid)
            if pbid is None:
                pbid = self.bag_id(permute_bag(self.bag_table[bid], perm))
                bcache[bid] = pbid
            new[n] = pbid
            cand = tuple(new)
            if cand < best:
                best = cand
        return best

    def state(self, state_id: int) -> State:
        return self.build(self.keys[state_id])

    def build(self, key: Key) -> State:
        """The state a packed key stands for."""
        table = self.server_table
        return State(tuple([table[k] for k in key[:-1]]), self.bag_table[key[-1]])


def permute_server(srv: ServerState, perm: Sequence[int]) -> ServerState:
    """A server's variables with every server id x renamed perm[x] (its own slot moves too)."""
    n = len(perm)
    next_index = [0] * n
    match_index = [0] * n
    for k in range(n):
        next_index[perm[k]] = srv.next_index[k]
        match_index[perm[k]] = srv.match_index[k]
    return ServerState(
        srv.current_term,
        srv.role,
        None if srv.voted_for is None else perm[srv.voted_for],
        srv.log,
        srv.commit_index,
        frozenset(perm[k] for k in srv.votes_responded),
        frozenset(perm[k] for k in srv.votes_granted),
        tuple(next_index),
        tuple(match_index),
    )


def permute_message(m: Message, perm: Sequence[int]) -> Message:
    """A message with its source and destination renamed."""
    return m._replace(msource=perm[m.msource], mdest=perm[m.mdest])


def permute_bag(bag: Bag, perm: Sequence[int]) -> Bag:
    """A bag with every message renamed, sorted again."""
    return tuple(sorted((permute_message(m, perm), c) for m, c in bag))


def permute_state(s: State, perm: Sequence[int]) -> State:
    """The state with server x renamed perm[x] everywhere."""
    servers: list[Optional[ServerState]] = [None] * len(perm)
    for k, srv in enumerate(s.servers):
        servers[perm[k]] = permute_server(srv, perm)
    return State(tuple(servers), permute_bag(s.messages, perm))  # type: ignore[arg-type]


def explore(
    spec: RaftSpec,
    properties: Optional[Sequence[Property]] = None,
    *,
    keep_graph: bool = True,
    stop_on_violation: bool = True,
    progress: Optional[ProgressFn] = None,
    progress_every: int = 20000,
    max_states: Optional[int] = None,
    memoise: bool = True,
) -> ExploreResult:
    """Explore every state reachable within the bounds, breadth first, and check the properties.

    Stops at the first violation unless `stop_on_violation` is false, in which case
    each property's first (shortest) violation is recorded and the search goes on.
    `memoise=False` calls the spec's `successors` on every state instead of computing
    each action once per (server, bag) (checker/explore/local_steps.py); the results are the
    same, only slower.
    """
    # The search allocates millions of long-lived, acyclic objects (tuples, dicts):
    # the cyclic garbage collector would rescan them again and again and find nothing.
    with _collector_paused():
        return _explore(
            spec,
            properties,
            keep_graph=keep_graph,
            stop_on_violation=stop_on_violation,
            progress=progress,
            progress_every=progress_every,
            max_states=max_states,
            memoise=memoise,
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _explore(
    spec: RaftSpec,
    properties: Optional[Sequence[Property]] = None,
    *,
    keep_graph: bool = True,
    stop_on_violation: bool = True,
    progress: Optional[ProgressFn] = None,
    progress_every: int = 20000,
    max_states: Optional[int] = None,
    memoise: bool = True,
) -> ExploreResult:
    # A spec may carry its own property list (a variant's); getattr's Any is pinned here.
    props: tuple[Property, ...] = tuple(properties if properties is not None else getattr(spec, "properties", PROPERTIES))
    always = [p for p in props if p.kind == "always"]
    pending_sometimes = [p for p in props if p.kind == "sometimes"]
    steps = [p for p in props if p.kind == "action"]
    params = spec.params
    store = StateStore(spec, params.symmetry)
    symmetric = bool(store.perms)
    seen = store.seen
    keys = store.keys
    server_id = store.server_id
    bag_id = store.bag_id
    canonicalise = store.canonicalise
    within_bounds = spec.within_bounds
    successors = spec.successors
    n = params.servers

    labels: list[Action] = []
    label_ids: dict[Action, int] = {}
    names: list[str] = list(ACTION_NAMES)
    name_ids: dict[str, int] = {name: k for k, name in enumerate(names)}
    enabled_count: list[int] = [0] * len(names)
    bounded_count: list[int] = [0] * len(names)
    new_count: list[int] = [0] * len(names)

    def label_id(action: Action) -> int:
        lid = label_ids.get(action)
        if lid is None:
            lid = len(labels)
            label_ids[action] = lid
            labels.append(action)
        return lid

    def name_index(name: str) -> int:
        k = name_ids.get(name)
        if k is None:  # a user's spec may add actions of its own
            k = len(names)
            names.append(name)
            name_ids[name] = k
            for counts in (enabled_count, bounded_count, new_count):
                counts.append(0)
        return k

    def spec_successors(s_key: Key, sid: int) -> list[Step]:
        """The transitions from a stored state, straight from the spec's `successors`."""
        s = store.state(sid)
        out: list[Step] = []
        for action, t in successors(s):
            ok = within_bounds(t)
            raw = (*[server_id(x) for x in t.servers], bag_id(t.messages))
            out.append((name_index(action.name), label_id(action) if ok else -1, raw, ok, -1))
        return out

    parent = array("i")
    parent_label = array("i")
    depth = array("i")
    src_arr = array("I") if keep_graph else None
    dst_arr = array("I") if keep_graph else None
    lab_arr = array("I") if keep_graph else None
    violations: list[Finding] = []
    violated: set[str] = set()
    witnesses: dict[str, Finding] = {}
    deadlocks: list[int] = []
    states_per_depth: list[int] = []

    def record_violation(finding: Finding) -> None:
        if finding.property not in violated:
            violated.add(finding.property)
            violations.append(finding)

    # Memoised property checks: a predicate that reads only the servers is evaluated
    # once per distinct tuple of server states (states that differ only in their
    # messages share it), or of the server fields it declares it reads; a split predicate once per servers tuple and once per bag;
    # a step predicate once per (server before, server after) pair.  Each is a pure
    # function of exactly what its cache is keyed by, so the answers are the same.
    # Declared `reads`: once per distinct tuple of those fields over the servers,
    # through a per-server projection id (one group per distinct `reads`).
    groups: dict[tuple[str, ...], list[Property]] = {}
    for p in always:
        if p.servers_only and p.reads is not None:
            groups.setdefault(p.reads, []).append(p)
    # Per group: its fields, its properties, each table server's projection id, the
    # projection interner, and the cached results per tuple of projection ids.
    projected: list[tuple[tuple[str, ...], list[Property], list[int], Interner[tuple[object, ...]], dict[Key, tuple["bool | str", ...]]]] = [
        (fields, props_, [], Interner(), {}) for fields, props_ in groups.items()
    ]
    servers_props = [p for p in always if p.servers_only and p.reads is None]
    split_props = [p for p in always if not p.servers_only and p.parts is not None]
    # The same properties' parts, narrowed from Optional once rather than on every state.
    split_parts = [p.parts for p in split_props if p.parts is not None]
    state_props = [p for p in always if not p.servers_only and p.parts is None]
    servers_results: dict[Key, tuple["bool | str", ...]] = {}
    split_server_results: dict[Key, tuple["bool | str", ...]] = {}
    split_bag_results: dict[int, tuple["bool | str", ...]] = {}
    sometimes_seen: set[Key] = set()
    step_results: dict[tuple[int, int], tuple["bool | str", ...]] = {}

    def report(prop: Property, sid: int, ok: "bool | str", action: Optional[Action] = None) -> None:
        if ok is not True and prop.name not in violated:
            record_violation(Finding(prop.name, prop.kind, sid, action=action, error=None if ok is False else ok))

    # A cached result tuple is stored as () when every property held, the common case,
    # so that nothing needs reporting and the loops below have nothing to walk.
    n_split = len(split_props)
    each_server = all(p.each_server is not None for p in split_props)
    # Read only when each_server holds, and then in step with split_props.
    each_server_checks = [p.each_server for p in split_props if p.each_server is not None]
    server_parts: list[tuple["bool | str", ...]] = []

    def passed(results: tuple["bool | str", ...]) -> tuple["bool | str", ...]:
        return () if all(ok is True for ok in results) else results

    server_table = store.server_table

    def check_state(sid: int, raw: Key, s: Optional[State] = None) -> None:
        servers_key = raw[:-1]
        for fields, props_, pids, interner, cache in projected:
            if len(pids) < len(server_table):
                for srv in server_table[len(pids) :]:
                    pids.append(interner.id_of(tuple([getattr(srv, f) for f in fields])))
            pkey = tuple([pids[x] for x in servers_key])
            results = cache.get(pkey)
            if results is None:
                s = s or store.build(raw)
                results = passed(tuple(_safe_eval(prop, spec, s) for prop in props_))
                cache[pkey] = results
            for prop, ok in zip(props_, results):
                report(prop, sid, ok)
        if servers_props:
            results = servers_results.get(servers_key)
            if results is None:
                s = s or store.build(raw)
                results = passed(tuple(_safe_eval(prop, spec, s) for prop in servers_props))
                servers_results[servers_key] = results
            for prop, ok in zip(servers_props, results):
                report(prop, sid, ok)
        if split_props:
            part_s = split_server_results.get(servers_key)
            if part_s is None:
                if each_server:
                    # Every key has n servers, so the servers part is the per-server checks' conjunction.
                    while len(server_parts) < len(server_table):
                        srv = server_table[len(server_parts)]
                        server_parts.append(passed(tuple(_safe_call(prop, check, spec, srv) for prop, check in zip(split_props, each_server_checks))))
                    failing = [server_parts[x] for x in servers_key if server_parts[x]]
                    part_s = () if not failing else tuple(next((r[k] for r in failing if r[k] is not True), True) for k in range(n_split))
                else:
                    s = s or store.build(raw)
                    part_s = passed(tuple(_safe_call(prop, parts[0], spec, s.servers) for prop, parts in zip(split_props, split_parts)))
                split_server_results[servers_key] = part_s
            part_b = split_bag_results.get(raw[-1])
            if part_b is None:
                s = s or store.build(raw)
                part_b = passed(tuple(_safe_call(prop, parts[1], spec, s.messages) for prop, parts in zip(split_props, split_parts)))
                split_bag_results[raw[-1]] = part_b
            if part_s or part_b:
                for prop, a, b in zip(split_props, part_s or (True,) * n_split, part_b or (True,) * n_split):
                    report(prop, sid, a if a is not True else b)
        for prop in state_props:
            if prop.name not in violated:
                s = s or store.build(raw)
                report(prop, sid, _safe_eval(prop, spec, s))
        if pending_sometimes:
            for prop in list(pending_sometimes):
                if prop.servers_only:
                    if servers_key in sometimes_seen:
                        continue
                s = s or store.build(raw)
                if _safe_eval(prop, spec, s) is True:
                    witnesses[prop.name] = Finding(prop.name, prop.kind, sid)
                    pending_sometimes.remove(prop)
            sometimes_seen.add(servers_key)

    start = time.perf_counter()
    init = spec.init()
    init_key = store.canonical_key(init)
    seen[init_key] = 0
    keys.append(init_key)
    parent.append(-1)
    parent_label.append(-1)
    depth.append(0)
    states_per_depth.append(1)
    init_state = store.state(0)

    init_in_bounds = within_bounds(init_state)
    if init_in_bounds:
        check_state(0, store.raw_key(init_state), init_state)
    # Memoised per acting server and bag where the spec allows it (checker/explore/local_steps.py);
    # an initial state outside the bounds would make the cached bounds flags unsound.
    steps_of = LocalSteps(spec, store, label_id, name_index).successors if memoise and init_in_bounds and local_steps_usable(spec) else spec_successors

    transitions = 0
    complete = True
    head = 0
    stop = bool(violations) and stop_on_violation
    while head < len(keys) and not stop:
        sid = head
        head += 1
        d = depth[sid]
        if progress is not None and sid % progress_every == 0:
            progress(Progress(len(keys), transitions, d, len(keys) - head, time.perf_counter() - start))
        s_key = keys[sid]
        try:
            outgoing = steps_of(s_key, sid)
        except NonLocalAction as exc:  # the spec's local_actions declaration is wrong: say where
            record_violation(Finding("LocalActions", "error", sid, action=exc.action, error=str(exc)))
            outgoing = []
        except Exception:  # an action raised: report it like a violation, with the culprit
            action, message = _find_raising_action(spec, store.state(sid))
            record_violation(Finding("ActionRaised", "error", sid, action=action, error=message))
            outgoing = []
        else:
            if not outgoing:
                deadlocks.append(sid)
        for name, lid, raw, ok, pos in outgoing:
            enabled_count[name] += 1
            if not ok:
                continue
            bounded_count[name] += 1
            transitions += 1
            if steps and pos < n:  # pos == n: a network action, no server changed
                for k in ((pos,) if pos >= 0 else range(n)):
                    if raw[k] != s_key[k]:
                        pair = (s_key[k], raw[k])
                        results = step_results.get(pair)
                        if results is None:
                            before, after = server_table[s_key[k]], server_table[raw[k]]
                            results = passed(tuple(_safe_eval_step(prop, spec, before, after) for prop in steps))
                            step_results[pair] = results
                        for prop, good in zip(steps, results):
                            report(prop, sid, good, labels[lid])
            key = canonicalise(raw) if symmetric else raw
            tid = seen.get(key)
            if tid is None:
                tid = len(keys)
                seen[key] = tid
                keys.append(key)
                parent.append(sid)
                parent_label.append(lid)
                depth.append(d + 1)
                if d + 1 >= len(states_per_depth):
                    states_per_depth.append(0)
                states_per_depth[d + 1] += 1
                new_count[name] += 1
                check_state(tid, raw)
            if keep_graph:
                src_arr.append(sid)  # type: ignore[union-attr]
                dst_arr.append(tid)  # type: ignore[union-attr]
                lab_arr.append(lid)  # type: ignore[union-attr]
        if violations and stop_on_violation:
            stop = True
        if max_states is not None and len(keys) >= max_states:
            complete = head >= len(keys)
            break
    if stop:
        complete = False
    search_seconds = time.perf_counter() - start
    if progress is not None:
        progress(Progress(len(keys), transitions, max(depth) if depth else 0, len(keys) - head, search_seconds))
    result = ExploreResult(
        spec=spec,
        properties=props,
        distinct_states=len(keys),
        transitions=transitions,
        diameter=len(states_per_depth) - 1,
        seconds=search_seconds,
        search_seconds=search_seconds,
        states_per_depth=states_per_depth,
        coverage={name: ActionCoverage(enabled_count[k], bounded_count[k], new_count[k]) for k, name in enumerate(names)},
        violations=violations,
        witnesses=witnesses,
        deadlocks=deadlocks,
        complete=complete,
        labels=labels,
        parent=parent,
        parent_label=parent_label,
        depth=depth,
        edge_src=src_arr,
        edge_dst=dst_arr,
        edge_label=lab_arr,
        _store=store,
    )
    return result


def _safe_eval(prop: Property, spec: RaftSpec, s: State) -> "bool | str":
    assert prop.holds is not None
    try:
        return bool(prop.holds(spec, s))
    except Exception as exc:  # a property that raises is reported, not swallowed
        return f"{type(exc).__name__} while evaluating {prop.name}: {exc}"


def _safe_call(prop: Property, fn: Callable[..., bool], *args: object) -> "bool | str":
    try:
        return bool(fn(*args))
    except Exception as exc:
        return f"{type(exc).__name__} while evaluating {prop.name}: {exc}"


def _safe_eval_step(prop: Property, spec: RaftSpec, before: ServerState, after: ServerState) -> "bool | str":
    assert prop.step_holds is not None
    try:
        return bool(prop.step_holds(spec, before, after))
    except Exception as exc:
        return f"{type(exc).__name__} while evaluating {prop.name}: {exc}"


def _find_raising_action(spec: RaftSpec, s: State) -> tuple[Optional[Action], str]:
    """Re-run every action from s one by one to name the one that raised, and its error."""
    calls: list[tuple[Action, Callable[[], object]]] = []
    by_server = [server_actions(spec, i) for i in spec.server_ids]
    for kind in range(len(SERVER_KINDS)):
        for groups in by_server:
            calls.extend((action, functools.partial(act, s)) for action, act in groups[kind])
    for m, _ in s.messages:
        calls.append((Action("Receive", (m,)), functools.partial(spec.receive, s, m)))
    for m, _ in s.messages:
        calls.append((Action("DuplicateMessage", (m,)), functools.partial(spec.duplicate_message, s, m)))
        calls.append((Action("DropMessage", (m,)), functools.partial(spec.drop_message, s, m)))
    for action, call in calls:
        try:
            call()
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            return action, f"{type(exc).__name__}: {exc} (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno} in {where.name})"
    return None, "an action raised, but not when run again on its own"
