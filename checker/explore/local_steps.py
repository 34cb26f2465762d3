"""Successors of packed states, memoised per acting server and bag.

How this works: every action of raft.tla reads and writes only one server (the
acting server `i`, or a message's recipient) and the message bag.  So the outcome
of, say, `AppendEntries(0, 2)` is the same in every state where server 0 has the
same variables and the bag is the same, whatever the other servers hold.  On the
full 3-server model 1.9 million states have only 572 distinct server states and 70
bags, about 20,000 (server position, server state, bag) combinations: the spec's
action methods run once per combination, and every other state reuses the answer
as interned ids (the acting server's new id, the new bag's id, whether the
successor is within bounds).

The answers are the spec's own: a cache miss calls the spec's action methods on a
real state, and the successors come out in exactly the order `RaftSpec.successors`
yields them, so ids, counts and traces are the same as without the cache
(tests/test_local_steps.py compares whole searches).  Which actions there are, who
takes each (a server, a message's recipient, the network) and their order come from
the spec's action table (`spec/actions.py`); an action with several branches caches
them all.

Used only where that is sound (`usable`): the spec declares `local_actions` (a
subclass that overrides an action without restating it is not trusted), and it
keeps `RaftSpec.successors` and `RaftSpec.within_bounds` (a conjunction over servers
and bag, so a successor's bounds follow from its changed parts).  A cache miss also
checks that an action changed no other server, and raises `NonLocalAction` if it did.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from leaderfollower.spec.actions import Action, ActionDef, ActionName, Actor
from leaderfollower.spec.raft import ActionMethod, RaftSpec, each_outcome
from leaderfollower.spec.state import MESSAGE_TYPES, State

if TYPE_CHECKING:
    from leaderfollower.checker.explore.store import StateStore

Key = tuple[int, ...]
Step = tuple[int, int, Key, bool, int]
"""One transition: (action name index, label id, successor's raw key, within bounds,
position of the only server it may change, or -1 for any)."""

Result = tuple[int, int, int, int, bool]
"""A cached outcome: (action name index, label id, new server id, new bag id, within bounds)."""

ServerCall = tuple[Action, ActionMethod, tuple[int, ...]]
"""One server action instance: its label, its bound method and its arguments."""


def server_calls(spec: RaftSpec, i: int) -> tuple[tuple[ServerCall, ...], ...]:
    """Server i's actions, one group per server row of the spec's table, in `successors` order.

    Within a row the arguments run in `RaftSpec.successors` order (servers, then values).
    """
    rows = [row for row in spec.actions if row.actor is Actor.SERVER]
    return tuple(
        tuple((Action(row.name, args), getattr(spec, row.method), args) for args in spec.arguments(row) if args[0] == i) for row in rows
    )


class NonLocalAction(Exception):
    """A spec declared `local_actions` but one of its actions changed another server."""

    def __init__(self, action: Action, message: str) -> None:
        super().__init__(message)
        self.action = action


def usable(spec: RaftSpec) -> bool:
    """Whether the spec's successors may be memoised per acting server and bag.

    The table's order must be what the cache replays: every server action, then the
    handlers, then the network's actions (as `spec/actions.py` has it).
    """
    cls = type(spec)
    order = [row.actor for row in spec.actions]
    return (
        bool(getattr(spec, "local_actions", False))
        and cls.successors is RaftSpec.successors
        and cls.instances is RaftSpec.instances
        and cls.within_bounds is RaftSpec.within_bounds
        and order == sorted(order, key=[Actor.SERVER, Actor.RECIPIENT, Actor.NETWORK].index)
    )


class LocalSteps:
    """The successors of packed states, from the spec's actions memoised per (server, bag)."""

    def __init__(self, spec: RaftSpec, store: "StateStore", label_id: Callable[[Action], int], name_index: Callable[[str], int]) -> None:
        self.spec = spec
        self.store = store
        self.n = spec.params.servers
        self.label_id = label_id
        self.name_index = name_index
        self.calls = [server_calls(spec, i) for i in spec.server_ids]
        self.kinds = len(self.calls[0]) if self.calls else 0
        self.handlers: dict[str, tuple[tuple[ActionName, ActionMethod], ...]] = {mtype: spec.handlers_of(mtype) for mtype in MESSAGE_TYPES}
        self.network: list[ActionDef] = [row for row in spec.actions if row.actor is Actor.NETWORK]
        self.server_cache: dict[tuple[int, int, int], tuple[tuple[Result, ...], ...]] = {}
        # Per (bag, message position, recipient's state): every handler's outcomes, () if none.
        self.receive_cache: dict[tuple[int, int, int], tuple[tuple[int, int, int, int, bool, int], ...]] = {}
        self.bag_cache: dict[int, tuple[tuple[int, ...], tuple[tuple[int, int, int, bool], ...]]] = {}

    def successors(self, key: Key, sid: int) -> list[Step]:
        """Every enabled transition from the stored state `sid` (packed key `key`), in Next order."""
        n = self.n
        bid = key[n]
        state: Optional[State] = None
        server_cache = self.server_cache
        entries = []
        for i in range(n):
            entry = server_cache.get((i, key[i], bid))
            if entry is None:
                state = state or self.store.state(sid)
                entry = self._fill_server(state, i, (i, key[i], bid))
            entries.append(entry)
        out: list[Step] = []
        append = out.append
        for kind in range(self.kinds):
            for i in range(n):
                for name, lid, new_sid, new_bid, ok in entries[i][kind]:
                    append((name, lid, (*key[:i], new_sid, *key[i + 1 : n], new_bid), ok, i))
        bag = self.bag_cache.get(bid)
        if bag is None:
            state = state or self.store.state(sid)
            bag = self._fill_bag(state, bid)
        dests, network = bag
        if dests:
            receive_cache = self.receive_cache
            for k, dest in enumerate(dests):
                rkey = (bid, k, key[dest])
                got = receive_cache.get(rkey)
                if got is None:
                    state = state or self.store.state(sid)
                    got = self._fill_receive(state, k, rkey)
                for name, lid, new_sid, new_bid, ok, i in got:
                    append((name, lid, (*key[:i], new_sid, *key[i + 1 : n], new_bid), ok, i))
            servers = key[:n]
            for name, lid, new_bid, ok in network:
                append((name, lid, (*servers, new_bid), ok, n))
        return out

    # ---------------------------------------------------------------- misses

    def _outcome(self, s: State, action: Action, t: State, i: int) -> Result:
        for k in range(self.n):
            if k != i and t.servers[k] != s.servers[k]:
                raise NonLocalAction(
                    action,
                    f"{action} changed server {k}, but {type(self.spec).__name__} declares local_actions "
                    "(each action changes only its own server and the bag); set local_actions = False"
                )
        store = self.store
        new_sid = store.server_id(t.servers[i]) if i < self.n else -1
        ok = self.spec.within_bounds(t)
        # Only transitions the search keeps get a label (-1: outside the bounds), as without the cache.
        return (self.name_index(action.name), self.label_id(action) if ok else -1, new_sid, store.bag_id(t.messages), ok)

    def _fill_server(self, s: State, i: int, cache_key: tuple[int, int, int]) -> tuple[tuple[Result, ...], ...]:
        entry = tuple(
            tuple(self._outcome(s, action, t, i) for action, method, args in kind for t in each_outcome(method(s, *args)))
            for kind in self.calls[i]
        )
        self.server_cache[cache_key] = entry
        return entry

    def _fill_bag(self, s: State, bid: int) -> tuple[tuple[int, ...], tuple[tuple[int, int, int, bool], ...]]:
        n = self.n
        network: list[tuple[int, int, int, bool]] = []
        for row in self.network:
            method = getattr(self.spec, row.method)
            for m, _ in s.messages:
                action = Action(row.name, (m,))
                for t in each_outcome(method(s, m)):
                    name, lid, _, new_bid, ok = self._outcome(s, action, t, n)
                    network.append((name, lid, new_bid, ok))
        entry = (tuple(m.mdest for m, _ in s.messages), tuple(network))
        self.bag_cache[bid] = entry
        return entry

    def _fill_receive(self, s: State, k: int, cache_key: tuple[int, int, int]) -> tuple[tuple[int, int, int, int, bool, int], ...]:
        m = s.messages[k][0]
        i = m.mdest
        result = tuple(
            (*self._outcome(s, action, t, i), i)
            for name, method in self.handlers[m.mtype]
            for action in (Action(name, (m,)),)
            for t in each_outcome(method(s, m))
        )
        self.receive_cache[cache_key] = result
        return result
