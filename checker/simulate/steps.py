"""The moves a walk can take from a packed state: the one place that knows the explorer's internals.

(It also lends monitor.py the explorer's safe property evaluation.)

How this works: a walk needs, at every state, the list of enabled transitions that
stay within the bounds and change something, and the successor of the one it picks.
The explorer already has both fast: states packed as interned server ids plus a bag
id (`StateStore`), and every action memoised per acting server and bag
(`LocalSteps`, checker/local_steps.py).  `WalkSteps` reads those caches directly and
returns compact moves, `(action name index, label id, position, new part id)`, so a
step builds only the successor it takes, not every successor's key as a search does.

Stutter steps (a successor equal to its state: a `Restart` of a fresh follower, an
`AdvanceCommitIndex` with nothing to commit) are left out: they change nothing, so a
walk that takes one wastes a step, and the explorer checks no property on them.

A spec whose actions may not be memoised (`local_steps.usable` is false) gets the
same moves from `RaftSpec.successors`, interned the same way, only slower.

The interned tables grow with every new server state and bag; `clear` drops them
(and every key made from them) when a long run has made them large.
"""
from __future__ import annotations

from typing import Any, Optional

from leaderfollower.spec.actions import Action
from leaderfollower.spec.properties import Property
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import ServerState, State

from ..explore.local_steps import LocalSteps, NonLocalAction, Result
from ..explore.local_steps import usable as local_steps_usable
from ..explore.search import Labels, guarded_successors
from ..explore.store import StateStore
from ..explore.visitor import _call as safe_call
from ..explore.visitor import _holds as safe_eval


def safe_eval_step(prop: Property, spec: RaftSpec, before: ServerState, after: ServerState) -> "bool | str":
    """An action property on one server's change, an exception reported as a string (as the explorer does)."""
    assert prop.step_holds is not None
    return safe_call(prop, prop.step_holds, spec, before, after)


Key = tuple[int, ...]
Move = tuple[int, int, int, int, int]
"""One enabled, in-bounds, non-stutter transition: (action name index, label id,
position of the server it changes (n: none, only the bag; -1: several), the changed
server's new id, the new bag's id)."""

__all__ = ["Key", "WalkSteps", "NonLocalAction", "safe_call", "safe_eval", "safe_eval_step"]
# The explorer's property evaluation (an exception becomes a reported string, not a
# crash) is re-exported for monitor.py, so that this module stays the only one here
# that reaches into the explorer.


class _CachedActions(LocalSteps):
    """`LocalSteps` made cheaper on misses, which walks have far more of than a search.

    Each server's action table is built once, and the bounds of a successor are read
    from its parts: `usable` guarantees `RaftSpec.within_bounds`, a conjunction over the
    servers and the bag, and a walk's states are within bounds, so a successor is
    within bounds exactly when its one changed server and its bag are (each checked
    once, by `within_bounds` itself on a state made of that part alone).
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._server_ok: dict[int, bool] = {}
        self._bag_ok: dict[int, bool] = {}

    def _outcome(self, s: State, action: Action, t: State, i: int) -> Result:
        before, after = s.servers, t.servers
        for k in range(self.n):
            if k != i and after[k] is not before[k] and after[k] != before[k]:
                return super()._outcome(s, action, t, i)  # raises NonLocalAction, naming the server
        store = self.store
        new_sid = store.server_id(after[i]) if i < self.n else -1
        new_bid = store.bag_id(t.messages)
        ok = self._bag_ok.get(new_bid)
        if ok is None:
            ok = self._bag_ok[new_bid] = self.spec.within_bounds(State((), t.messages))
        if ok and new_sid >= 0:
            server_ok = self._server_ok.get(new_sid)
            if server_ok is None:
                server_ok = self._server_ok[new_sid] = self.spec.within_bounds(State((after[i],), ()))
            ok = server_ok
        # Only transitions a walk may take get a label (-1: outside the bounds), as in `LocalSteps`.
        return (self.name_index(action.name), self.label_id(action) if ok else -1, new_sid, new_bid, ok)


class WalkSteps:
    """Enabled moves and successors of packed states, for walks."""

    def __init__(self, spec: RaftSpec) -> None:
        self.spec = spec
        self.n = spec.params.servers
        self.memoised = local_steps_usable(spec)
        # The explorer's numbering of labels and names; `clear` renumbers the labels, never the names.
        self.numbering = Labels()
        self.names: list[str] = self.numbering.names
        self.name_index = self.numbering.name_index
        self.clear()

    def clear(self) -> None:
        """Forget every interned part and cached outcome (keys made before are no longer valid)."""
        self.store = StateStore(self.spec, symmetry=False)
        self.numbering.labels.clear()
        self.numbering.label_ids.clear()
        self.labels: list[Action] = self.numbering.labels
        self._label_id = self.numbering.label_id
        self.local = _CachedActions(self.spec, self.store, self._label_id, self.name_index)
        self._wholes: list[Key] = []
        self._server_moves: dict[tuple[int, int, int], tuple[tuple[Move, ...], int]] = {}
        self._bag_moves: dict[int, tuple[tuple[int, ...], tuple[Move, ...], int]] = {}
        self._receive_moves: dict[tuple[int, int, int], tuple[int, tuple[Move, ...]]] = {}
        self._server_hashes: list[int] = []
        self._bag_hashes: list[int] = []
        self.server_table = self.store.server_table
        self.bag_table = self.store.bag_table

    @property
    def size(self) -> int:
        """How many parts and outcomes are cached (to decide when to `clear`)."""
        local = self.local
        return len(self.server_table) + len(self.bag_table) + len(local.server_cache) + len(local.receive_cache) + len(self._server_moves)

    def key(self, s: State) -> Key:
        """The packed key of a concrete state (interning its parts)."""
        return self.store.raw_key(s)

    def fingerprint(self, key: Key) -> int:
        """A hash of the state's contents, the same in every process forked from one parent."""
        table, hashes = self.server_table, self._server_hashes
        if len(hashes) < len(table):
            hashes.extend(hash(srv) for srv in table[len(hashes) :])
        bags, bag_hashes = self.bag_table, self._bag_hashes
        if len(bag_hashes) < len(bags):
            bag_hashes.extend(hash(bag) for bag in bags[len(bag_hashes) :])
        n = self.n
        return hash((*[hashes[x] for x in key[:n]], bag_hashes[key[n]]))

    def state(self, key: Key) -> State:
        """The concrete state a packed key stands for."""
        return self.store.build(key)

    def moves(self, key: Key) -> tuple[list[Move], int]:
        """The in-bounds, non-stutter moves from `key`, and how many actions were enabled at all.

        Raises `NonLocalAction` if a spec declared local actions wrongly, and whatever a
        spec action raises.
        """
        if not self.memoised:
            return self._spec_moves(key)
        n = self.n
        bid = key[n]
        server_moves = self._server_moves
        moves: list[Move] = []
        enabled = 0
        for i in range(n):
            server = server_moves.get((i, key[i], bid))
            if server is None:
                server = self._fill_server(key, i)
            moves += server[0]
            enabled += server[1]
        bag = self._bag_moves.get(bid)
        if bag is None:
            bag = self._fill_bag(key)
        dests, network, network_enabled = bag
        if dests:
            receive_moves = self._receive_moves
            for k, dest in enumerate(dests):
                rkey = (bid, k, key[dest])
                got = receive_moves.get(rkey)
                if got is None:
                    got = self._fill_receive(key, k, rkey)
                enabled += got[0]
                moves += got[1]
            moves += network
            enabled += network_enabled
        return moves, enabled

    # Misses: the explorer's memo computes the outcomes; these keep only the moves a walk may take.

    def _fill_server(self, key: Key, i: int) -> tuple[tuple[Move, ...], int]:
        sid, bid = key[i], key[self.n]
        local = self.local
        entry = local.server_cache.get((i, sid, bid))
        if entry is None:
            entry = local._fill_server(self.store.build(key), i, (i, sid, bid))
        moves = tuple(
            (name, lid, i, new_sid, new_bid) for kind in entry for name, lid, new_sid, new_bid, ok in kind if ok and (new_sid != sid or new_bid != bid)
        )
        got = (moves, sum(len(kind) for kind in entry))
        self._server_moves[(i, sid, bid)] = got
        return got

    def _fill_bag(self, key: Key) -> tuple[tuple[int, ...], tuple[Move, ...], int]:
        bid = key[self.n]
        local = self.local
        entry = local.bag_cache.get(bid)
        if entry is None:
            entry = local._fill_bag(self.store.build(key), bid)
        dests, network = entry
        moves = tuple((name, lid, self.n, -1, new_bid) for name, lid, new_bid, ok in network if ok and new_bid != bid)
        got = (dests, moves, len(network))
        self._bag_moves[bid] = got
        return got

    def _fill_receive(self, key: Key, k: int, rkey: tuple[int, int, int]) -> tuple[int, tuple[Move, ...]]:
        """How many handler outcomes receiving the message has, and the moves among them (in bounds, not stutters)."""
        local = self.local
        got = local.receive_cache.get(rkey)
        if got is None:
            got = local._fill_receive(self.store.build(key), k, rkey)
        bid = key[self.n]
        moves = tuple((name, lid, i, new_sid, new_bid) for name, lid, new_sid, new_bid, ok, i in got if ok and (new_sid != key[i] or new_bid != bid))
        result = (len(got), moves)
        self._receive_moves[rkey] = result
        return result

    def _spec_moves(self, key: Key) -> tuple[list[Move], int]:
        s = self.store.build(key)
        n = self.n
        store = self.store
        moves: list[Move] = []
        enabled = 0
        self._wholes = []
        for action, t in self.spec.successors(s):
            enabled += 1
            if t == s or not self.spec.within_bounds(t):
                continue
            changed = [k for k in range(n) if t.servers[k] != s.servers[k]]
            name = self.name_index(action.name)
            lid = self._label_id(action)
            bid = store.bag_id(t.messages)
            if len(changed) == 1:
                moves.append((name, lid, changed[0], store.server_id(t.servers[changed[0]]), bid))
            elif not changed:
                moves.append((name, lid, n, -1, bid))
            else:  # an action that changes several servers: the whole key, position -1
                moves.append((name, lid, -1, len(self._wholes), bid))
                self._wholes.append(store.raw_key(t))
        return moves, enabled

    def successor(self, key: Key, move: Move) -> Key:
        """The key a move leads to."""
        _, _, pos, part, bag = move
        n = self.n
        if pos == n:
            return (*key[:n], bag)
        if pos < 0:  # only from `_spec_moves`, for the moves of its last call
            return self._wholes[part]
        return (*key[:pos], part, *key[pos + 1 : n], bag)

    def culprit(self, key: Key) -> tuple[Optional[Action], str]:
        """The action that raises in `key`'s state, and its error (for a finding)."""
        _, failures = guarded_successors(self.spec, self.state(key))
        return failures[0]

