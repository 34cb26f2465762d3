"""The explorer's property visitor: every property, judged on every state and transition.

How this works: the search loop hands the visitor each new state (`visit_state`) and
each kept transition that changed a server (`visit_step`); the visitor evaluates the
properties and records the first violation of each (`violations`) and the first
witness of each sometimes property (`witnesses`).  It is not woven into the loop
(Stateright's checker/visitor split): the loop knows only these two calls.

Every check is memoised on exactly what it reads, so the answers are the same as
evaluating every property on every state, only far fewer times:
- a property that reads only the servers and declares the `ServerState` fields it
  reads (`reads`) is evaluated once per distinct tuple of those fields across the
  servers (through a per-server projection id, one per distinct `reads`);
- one that reads only the servers, once per distinct tuple of server states;
- one split into a servers part and a bag part (`parts`), each part once per
  distinct servers tuple and bag (the servers part once per server state when it is
  a check of each server on its own, `each_server`);
- an action property, once per (server before, server after) pair;
- anything else, on every new state.
A cached result is stored as () when every property held (the common case), so
that nothing needs reporting.  A property that raises is reported with its
exception, never swallowed.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from leaderfollower.spec.actions import Action
from leaderfollower.spec.properties import Property
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import ServerState, State

from leaderfollower.checker.explore.result import Finding
from leaderfollower.checker.explore.store import Interner, Key, StateStore

Results = tuple["bool | str", ...]


def _passed(results: Results) -> Results:
    return () if all(ok is True for ok in results) else results


def _call(prop: Property, fn: Callable[..., bool], *args: object) -> "bool | str":
    try:
        return bool(fn(*args))
    except Exception as exc:  # a property that raises is reported, not swallowed
        return f"{type(exc).__name__} while evaluating {prop.name}: {exc}"


def _holds(prop: Property, spec: RaftSpec, s: State) -> "bool | str":
    assert prop.holds is not None
    return _call(prop, prop.holds, spec, s)


class _Projected:
    """Properties that declare the same `reads`: cached per tuple of those fields' projection ids."""

    def __init__(self, fields: tuple[str, ...], props: list[Property]) -> None:
        self.fields = fields
        self.props = props
        self.pids: list[int] = []  # each server table entry's projection id
        self.interner: Interner[tuple[object, ...]] = Interner()
        self.cache: dict[Key, Results] = {}


class PropertyVisitor:
    """Judges the properties on the states and steps a search shows it (see the module comment)."""

    def __init__(self, spec: RaftSpec, properties: Sequence[Property], store: StateStore) -> None:
        self.spec = spec
        self.store = store
        self.violations: list[Finding] = []
        self.violated: set[str] = set()
        self.witnesses: dict[str, Finding] = {}
        always = [p for p in properties if p.kind == "always"]
        self.pending_sometimes = [p for p in properties if p.kind == "sometimes"]
        self.step_props = [p for p in properties if p.kind == "action"]
        groups: dict[tuple[str, ...], list[Property]] = {}
        for p in always:
            if p.servers_only and p.reads is not None:
                groups.setdefault(p.reads, []).append(p)
        self.projected = [_Projected(fields, props) for fields, props in groups.items()]
        self.servers_props = [p for p in always if p.servers_only and p.reads is None]
        self.split_props = [p for p in always if not p.servers_only and p.parts is not None]
        self.split_parts = [p.parts for p in self.split_props if p.parts is not None]
        # Read only when every split property has one, and then in step with split_props.
        self.each_server = all(p.each_server is not None for p in self.split_props)
        self.each_server_checks = [p.each_server for p in self.split_props if p.each_server is not None]
        self.state_props = [p for p in always if not p.servers_only and p.parts is None]
        self.servers_results: dict[Key, Results] = {}
        self.split_server_results: dict[Key, Results] = {}
        self.split_bag_results: dict[int, Results] = {}
        self.server_parts: list[Results] = []
        self.sometimes_seen: set[Key] = set()
        self.step_results: dict[tuple[int, int], Results] = {}

    # ------------------------------------------------------------ recording

    def record(self, finding: Finding) -> None:
        """Keep a finding if it is the first violation of its property."""
        if finding.property not in self.violated:
            self.violated.add(finding.property)
            self.violations.append(finding)

    def _report(self, prop: Property, sid: int, ok: "bool | str", action: Optional[Action] = None, target: Optional[Key] = None) -> None:
        if ok is not True and prop.name not in self.violated:
            self.record(Finding(prop.name, prop.kind, sid, action=action, error=None if ok is False else ok, target=target))

    def _report_all(self, props: Sequence[Property], sid: int, results: Results) -> None:
        for prop, ok in zip(props, results):
            self._report(prop, sid, ok)

    # ------------------------------------------------------------ states

    def visit_state(self, sid: int, raw: Key, s: Optional[State] = None) -> None:
        """Judge a newly stored state (its raw key: servers as they are, before symmetry)."""
        servers_key = raw[:-1]
        for group in self.projected:
            self._check_projected(group, sid, raw, servers_key, s)
        if self.servers_props:
            results = self.servers_results.get(servers_key)
            if results is None:
                s = s or self.store.build(raw)
                results = _passed(tuple(_holds(p, self.spec, s) for p in self.servers_props))
                self.servers_results[servers_key] = results
            self._report_all(self.servers_props, sid, results)
        if self.split_props:
            self._check_split(sid, raw, servers_key, s)
        for prop in self.state_props:
            if prop.name not in self.violated:
                s = s or self.store.build(raw)
                self._report(prop, sid, _holds(prop, self.spec, s))
        if self.pending_sometimes:
            self._check_sometimes(sid, raw, servers_key, s)

    def _check_projected(self, group: _Projected, sid: int, raw: Key, servers_key: Key, s: Optional[State]) -> None:
        table = self.store.server_table
        pids = group.pids
        for srv in table[len(pids) :]:
            pids.append(group.interner.id_of(tuple([getattr(srv, f) for f in group.fields])))
        pkey = tuple([pids[x] for x in servers_key])
        results = group.cache.get(pkey)
        if results is None:
            s = s or self.store.build(raw)
            results = _passed(tuple(_holds(p, self.spec, s) for p in group.props))
            group.cache[pkey] = results
        self._report_all(group.props, sid, results)

    def _check_split(self, sid: int, raw: Key, servers_key: Key, s: Optional[State]) -> None:
        props, n = self.split_props, len(self.split_props)
        part_s = self.split_server_results.get(servers_key)
        if part_s is None:
            part_s = self._servers_part(raw, servers_key, s)
            self.split_server_results[servers_key] = part_s
        part_b = self.split_bag_results.get(raw[-1])
        if part_b is None:
            s = s or self.store.build(raw)
            part_b = _passed(tuple(_call(p, parts[1], self.spec, s.messages) for p, parts in zip(props, self.split_parts)))
            self.split_bag_results[raw[-1]] = part_b
        if part_s or part_b:
            for prop, a, b in zip(props, part_s or (True,) * n, part_b or (True,) * n):
                self._report(prop, sid, a if a is not True else b)

    def _servers_part(self, raw: Key, servers_key: Key, s: Optional[State]) -> Results:
        props = self.split_props
        if not self.each_server:
            s = s or self.store.build(raw)
            return _passed(tuple(_call(p, parts[0], self.spec, s.servers) for p, parts in zip(props, self.split_parts)))
        # Every key has n servers, so the servers part is the per-server checks' conjunction.
        table, cached = self.store.server_table, self.server_parts
        for srv in table[len(cached) :]:
            cached.append(_passed(tuple(_call(p, check, self.spec, srv) for p, check in zip(props, self.each_server_checks))))
        failing = [cached[x] for x in servers_key if cached[x]]
        if not failing:
            return ()
        return tuple(next((r[k] for r in failing if r[k] is not True), True) for k in range(len(props)))

    def _check_sometimes(self, sid: int, raw: Key, servers_key: Key, s: Optional[State]) -> None:
        for prop in list(self.pending_sometimes):
            if prop.servers_only and servers_key in self.sometimes_seen:
                continue
            s = s or self.store.build(raw)
            if _holds(prop, self.spec, s) is True:
                self.witnesses[prop.name] = Finding(prop.name, prop.kind, sid)
                self.pending_sometimes.remove(prop)
        self.sometimes_seen.add(servers_key)

    # ------------------------------------------------------------ steps

    def visit_step(self, sid: int, before: Key, after: Key, pos: int, action: Action, target: Key) -> None:
        """Judge a kept transition from state `sid` (key `before`) to raw key `after`.

        `pos` is the only server the step may change (-1: any); `target` is the key the
        successor is stored under (it tells apart two successors with one label).
        """
        table = self.store.server_table
        for k in ((pos,) if pos >= 0 else range(len(before) - 1)):
            if after[k] == before[k]:
                continue
            pair = (before[k], after[k])
            results = self.step_results.get(pair)
            if results is None:
                b, a = table[before[k]], table[after[k]]
                results = _passed(tuple(self._step_holds(p, b, a) for p in self.step_props))
                self.step_results[pair] = results
            for prop, ok in zip(self.step_props, results):
                self._report(prop, sid, ok, action, target)

    def _step_holds(self, prop: Property, before: ServerState, after: ServerState) -> "bool | str":
        assert prop.step_holds is not None
        return _call(prop, prop.step_holds, self.spec, before, after)
