"""The explorer's state store: packed states, interned parts, symmetry, and the BFS tree.

How this works: every distinct `ServerState` and every distinct message bag is
interned once (`Interner`: a table and a dict), and a state is stored as the tuple
of its servers' ids plus its bag's id (its *key*), so hashing a state means hashing
a few small integers, and states share their parts.  Successors reuse the unchanged
`ServerState` objects of their parent, so an identity cache finds most ids without
hashing anything.  With symmetry on, a state is stored under one key per orbit of
server permutations (as TLC's `SYMMETRY Permutations(Server)` counts): the smallest
of its images that list servers in signature order (`symmetry.py`: usually one or a
few permutations, not all n!); permuting a packed key only needs cached per-part
permutations.

The store also keeps, per stored state, its BFS parent, the label of the transition
from it and its depth: enough to rebuild a shortest trace (`path_to`), whatever
else the search keeps.
"""
from __future__ import annotations

from array import array
from typing import Generic, Optional, Sequence, TypeVar

from leaderfollower.checker.explore.symmetry import SignatureOrder, all_permutations
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import Bag, Message, ServerState, State

Key = tuple[int, ...]
"""A packed state: its servers' ids and its bag's id."""
T = TypeVar("T")


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
        """Each stored state's (canonical) key, by state id (0: the initial state)."""
        self.seen: dict[Key, int] = {}
        """Key -> state id."""
        self.parent = array("i")
        """Each state's BFS parent (-1 for the initial state)."""
        self.parent_label = array("i")
        """The label id of the transition from the parent (-1 for the initial state)."""
        self.depth = array("i")
        """Each state's distance from the initial state."""
        self.states_per_depth: list[int] = []
        self.perms: list[tuple[int, ...]] = all_permutations(self.n) if symmetry else []
        """The permutations of server ids other than the identity (none without symmetry)."""
        self.order = SignatureOrder(self.n, self.perms, self.server_table, self.bag_table)
        """Which of them can give an orbit's representative (the ones that sort servers by signature)."""
        self._perm_server: list[dict[int, int]] = [{} for _ in self.perms]
        self._perm_bag: list[dict[int, int]] = [{} for _ in self.perms]

    def add(self, key: Key, parent: int, label: int, depth: int) -> int:
        """Store a new state under `key`, reached from `parent` by label id `label`; its id."""
        sid = len(self.keys)
        self.seen[key] = sid
        self.keys.append(key)
        self.parent.append(parent)
        self.parent_label.append(label)
        self.depth.append(depth)
        if depth >= len(self.states_per_depth):
            self.states_per_depth.append(0)
        self.states_per_depth[depth] += 1
        return sid

    def find(self, s: State) -> Optional[int]:
        """The id of a concrete state (or of its orbit), if it is stored."""
        return self.seen.get(self.canonical_key(s))

    def path_to(self, state_id: int) -> list[tuple[int, int]]:
        """The BFS-tree path from the initial state: (state id, label id into it) per step."""
        steps: list[tuple[int, int]] = []
        node = state_id
        while node > 0:
            steps.append((node, self.parent_label[node]))
            node = self.parent[node]
        steps.reverse()
        return steps

    def raw_key(self, s: State) -> Key:
        """The key of a state as it is (no symmetry applied)."""
        server_id = self.server_id
        return (*[server_id(srv) for srv in s.servers], self.bag_id(s.messages))

    def canonical_key(self, s: State) -> Key:
        """The key under which a state is stored (its orbit's smallest, with symmetry)."""
        key = self.raw_key(s)
        return self.canonicalise(key) if self.perms else key

    def canonicalise(self, key: Key) -> Key:
        """The smallest image of `key` among those listing servers in signature order (`symmetry.py`); `key` itself without symmetry."""
        if not self.perms:
            return key
        candidates = self.order.candidates(key)
        if len(candidates) == 1:
            return key if candidates[0] < 0 else self.image(key, candidates[0])
        best: Optional[Key] = None
        for p_index in candidates:
            cand = key if p_index < 0 else self.image(key, p_index)
            if best is None or cand < best:
                best = cand
        assert best is not None  # the candidates are never empty: sorting servers by signature always works
        return best

    def image(self, key: Key, p_index: int) -> Key:
        """The key of the state `key` stands for with server x renamed perms[p_index][x] (new parts interned)."""
        n = self.n
        perm = self.perms[p_index]
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
        return tuple(new)

    def state(self, state_id: int) -> State:
        """The stored state with this id (a representative of its orbit under symmetry)."""
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
