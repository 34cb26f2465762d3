"""Checking the spec's properties along walks, memoised like the explorer's checks.

How this works: every property is one of the spec's `Property` objects
(spec/properties.py), evaluated through its own predicate.  A walk reaches far more
states than it has distinct server tuples, and the safety properties read only a few
fields of each server, so results are cached by what the predicate reads:
- an always property that declares `reads` is evaluated once per tuple of those
  fields across the servers (through a per-server projection id), or, with symmetry
  on and no server ids among those fields, once per multiset of them;
- one that reads only the servers, once per tuple of server ids;
- a split property (`parts`), once per tuple of server ids and once per bag;
- any other, on every state;
- an action property, once per (server before, server after) pair, for each server
  a step changed;
- a sometimes property until its first witness.
Each cached answer is a pure function of its cache key, so the answers are the same
as evaluating every predicate on every state.  A predicate that raises is reported
as a violation whose detail names the exception, as the explorer does.
"""
from __future__ import annotations

from typing import Optional, Sequence

from leaderfollower.spec.properties import Property
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import ServerState, State

from .steps import Key, WalkSteps, safe_call, safe_eval, safe_eval_step

ID_FIELDS = frozenset({"voted_for", "votes_responded", "votes_granted", "next_index", "match_index"})
"""The `ServerState` fields that hold server ids (or are indexed by them): permuting servers changes them."""

Verdict = Optional[tuple[Property, str]]
"""None when every property holds; else the first property broken and a detail ('' or the error)."""


def _first_failure(props: Sequence[Property], results: Sequence["bool | str"]) -> Verdict:
    for prop, ok in zip(props, results):
        if ok is not True:
            return prop, "" if ok is False else ok
    return None


class Monitor:
    """The always, action and sometimes properties of one spec, checked on packed states of one `WalkSteps`."""

    def __init__(self, spec: RaftSpec, steps: WalkSteps, properties: Sequence[Property]) -> None:
        self.spec = spec
        self.steps = steps
        self.n = spec.params.servers
        self.properties = tuple(properties)
        always = [p for p in properties if p.kind == "always"]
        self.projected: list[tuple[tuple[str, ...], list[Property]]] = []
        for p in always:
            if p.servers_only and p.reads is not None:
                for fields, group in self.projected:
                    if fields == p.reads:
                        group.append(p)
                        break
                else:
                    self.projected.append((p.reads, [p]))
        # With symmetry on (`Params.symmetry`), the explorer checks one state per orbit, so it
        # takes every property to be symmetric in the servers; so may the walks: a property
        # that reads only fields holding no server id then depends on the multiset of the
        # servers' projections alone, and is cached per sorted tuple of them.
        self._unordered = [spec.params.symmetry and not (set(fields) & ID_FIELDS) for fields, _ in self.projected]
        self.servers_props = [p for p in always if p.servers_only and p.reads is None]
        self.split_props = [p for p in always if not p.servers_only and p.parts is not None]
        self.state_props = [p for p in always if not p.servers_only and p.parts is None]
        # A split property whose servers part is a check of each server alone is checked once per server state.
        self.each_server = all(p.each_server is not None for p in self.split_props)
        self.action_props = [p for p in properties if p.kind == "action"]
        self.pending_sometimes = [p for p in properties if p.kind == "sometimes"]
        self.reset()

    def reset(self) -> None:
        """Drop every cached answer (after the steps' tables were cleared: ids change meaning)."""
        self._pids: list[list[int]] = [[] for _ in self.projected]
        self._projections: list[dict[tuple[object, ...], int]] = [{} for _ in self.projected]
        self._projected_results: list[dict[Key, Verdict]] = [{} for _ in self.projected]
        self._servers_results: dict[Key, Verdict] = {}
        self._split_servers: dict[Key, Verdict] = {}
        self._split_bags: dict[int, Verdict] = {}
        self._each_server: list[Verdict] = []
        self._step_results: dict[tuple[int, int], Verdict] = {}
        self._sometimes_seen: set[Key] = set()

    def check(self, key: Key) -> Verdict:
        """The first always property the state violates, if any."""
        n = self.n
        servers_key = key[:n]
        table = self.steps.server_table
        s: Optional[State] = None
        for g, (fields, props) in enumerate(self.projected):
            pids = self._pids[g]
            if len(pids) < len(table):
                projections = self._projections[g]
                for srv in table[len(pids) :]:
                    values = tuple([getattr(srv, f) for f in fields])
                    pids.append(projections.setdefault(values, len(projections)))
            pkey = tuple(sorted([pids[x] for x in servers_key]) if self._unordered[g] else [pids[x] for x in servers_key])
            cache = self._projected_results[g]
            if pkey in cache:
                verdict = cache[pkey]
            else:
                s = s or self.steps.state(key)
                verdict = _first_failure(props, [safe_eval(p, self.spec, s) for p in props])
                cache[pkey] = verdict
            if verdict is not None:
                return verdict
        if self.servers_props:
            if servers_key in self._servers_results:
                verdict = self._servers_results[servers_key]
            else:
                s = s or self.steps.state(key)
                verdict = _first_failure(self.servers_props, [safe_eval(p, self.spec, s) for p in self.servers_props])
                self._servers_results[servers_key] = verdict
            if verdict is not None:
                return verdict
        if self.split_props:
            verdict = self._split(key, servers_key)
            if verdict is not None:
                return verdict
        for prop in self.state_props:
            s = s or self.steps.state(key)
            ok = safe_eval(prop, self.spec, s)
            if ok is not True:
                return prop, "" if ok is False else ok
        return None

    def _split(self, key: Key, servers_key: Key) -> Verdict:
        props = self.split_props
        if self.each_server:
            # Every key has n servers, so the servers part is the conjunction of the per-server checks.
            results = self._each_server
            table = self.steps.server_table
            while len(results) < len(table):
                srv = table[len(results)]
                results.append(_first_failure(props, [_each(p, self.spec, srv) for p in props]))
            for x in servers_key:
                if results[x] is not None:
                    return results[x]
        else:
            if servers_key in self._split_servers:
                part_s = self._split_servers[servers_key]
            else:
                part_s = _first_failure(props, [_part(p, 0, self.spec, self.steps.state(key)) for p in props])
                self._split_servers[servers_key] = part_s
            if part_s is not None:
                return part_s
        bid = key[self.n]
        if bid in self._split_bags:
            return self._split_bags[bid]
        s = self.steps.state(key)
        part_b = _first_failure(props, [_part(p, 1, self.spec, s) for p in props])
        self._split_bags[bid] = part_b
        return part_b

    def check_step(self, before: Key, after: Key, pos: int) -> Verdict:
        """The first action property a step breaks, for the servers it changed (pos: the one it may change, -1: any)."""
        if not self.action_props:
            return None
        n = self.n
        for k in ((pos,) if 0 <= pos < n else range(n) if pos < 0 else ()):
            if before[k] == after[k]:
                continue
            pair = (before[k], after[k])
            if pair in self._step_results:
                verdict = self._step_results[pair]
            else:
                table = self.steps.server_table
                b, a = table[pair[0]], table[pair[1]]
                verdict = _first_failure(self.action_props, [safe_eval_step(p, self.spec, b, a) for p in self.action_props])
                self._step_results[pair] = verdict
            if verdict is not None:
                return verdict
        return None

    def witnesses(self, key: Key) -> list[Property]:
        """The sometimes properties that first hold in this state (each is reported once)."""
        if not self.pending_sometimes:
            return []
        servers_key = key[: self.n]
        if servers_key in self._sometimes_seen:
            rest = [p for p in self.pending_sometimes if not p.servers_only]
            if not rest:
                return []
        else:
            rest = self.pending_sometimes
        s = self.steps.state(key)
        found = [p for p in rest if safe_eval(p, self.spec, s) is True]
        self._sometimes_seen.add(servers_key)
        for p in found:
            self.pending_sometimes.remove(p)
        return found


def _each(prop: Property, spec: RaftSpec, srv: ServerState) -> "bool | str":
    assert prop.each_server is not None
    return safe_call(prop, prop.each_server, spec, srv)


def _part(prop: Property, part: int, spec: RaftSpec, s: State) -> "bool | str":
    assert prop.parts is not None
    return safe_call(prop, prop.parts[0], spec, s.servers) if part == 0 else safe_call(prop, prop.parts[1], spec, s.messages)
