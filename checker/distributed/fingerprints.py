"""Stable fingerprints of state parts, the same in every process, and the store that orders orbits by them.

How this works: a worker of the partitioned search interns server states and bags
in the order it meets them, so its ids mean nothing to another worker.  What all
workers must agree on is (a) which member of an orbit stands for it under symmetry
and (b) which worker owns a state.  Both are decided on 128-bit fingerprints of
the parts (a BLAKE2b digest of a canonical text of the part: sets sorted, so the
text does not depend on hashing order or on PYTHONHASHSEED), never on ids: the
representative is the permutation whose tuple of part fingerprints is smallest,
and the owner is the sum of the parts' *owner numbers* (the low 48 bits of their
fingerprints) modulo the number of workers: a sum, so that a successor's owner is
its parent's sum with one server's and the bag's numbers swapped (`Shard.expand`
does that without building the sum again).  Each part is fingerprinted once, when
the worker first interns it; a state costs a few list look-ups.

A collision of two distinct parts' 128-bit fingerprints would merge two orbits;
with a million distinct parts its probability is about 1e-27.  Within one worker a
collision would be caught (`FingerprintCollision`), as two table entries with one
fingerprint.
"""
from __future__ import annotations

import hashlib
from typing import Any

from leaderfollower.spec.raft import RaftSpec

from leaderfollower.checker.explore.store import Key, StateStore, permute_bag, permute_server


OWNER_MASK = (1 << 48) - 1
"""The bits of a part's fingerprint that make its owner number."""


class FingerprintCollision(Exception):
    """Two distinct parts met in one worker share a fingerprint: the search cannot go on soundly."""


def stable_text(value: Any) -> str:
    """A text of a part that is the same in every process: sets sorted, tuples and scalars by repr."""
    if isinstance(value, (frozenset, set)):
        return "{" + ",".join(sorted(stable_text(v) for v in value)) + "}"
    if isinstance(value, tuple):
        # A namedtuple's class name keeps two record types with equal fields apart.
        return type(value).__name__ + "(" + ",".join(stable_text(v) for v in value) + ")"
    return repr(value)


def fingerprint(value: Any) -> int:
    """A 128-bit fingerprint of a part (see `stable_text`)."""
    return int.from_bytes(hashlib.blake2b(stable_text(value).encode(), digest_size=16).digest(), "big")


class FingerprintStore(StateStore):
    """A `StateStore` whose orbit representative is chosen by part fingerprints, not by interned ids.

    `canonicalise` returns the store's own key of the representative; `canonical_and_owner`
    also says which of `workers` shards owns it.
    """

    def __init__(self, spec: RaftSpec, symmetry: bool) -> None:
        super().__init__(spec, symmetry)
        self.server_fps: list[int] = []
        self.bag_fps: list[int] = []
        self.server_owner: list[int] = []
        """Each interned server state's owner number (see the module comment)."""
        self.bag_owner: list[int] = []
        """Each interned bag's owner number."""
        self._fp_seen: dict[int, tuple[str, int]] = {}
        self._best_servers: dict[Key, tuple[tuple[int, ...], tuple[tuple[int, Key], ...]]] = {}

    def sync(self) -> None:
        """Fingerprint the parts interned since the last call."""
        for kind, table, fps, owners in (
            ("server", self.server_table, self.server_fps, self.server_owner),
            ("bag", self.bag_table, self.bag_fps, self.bag_owner),
        ):
            while len(fps) < len(table):
                number = len(fps)
                fp = fingerprint(table[number])
                other = self._fp_seen.get(fp)
                if other is not None and other[0] == kind:
                    raise FingerprintCollision(f"{kind} parts {other[1]} and {number} share fingerprint {fp:#x}")
                self._fp_seen[fp] = (kind, number)
                fps.append(fp)
                owners.append(fp & OWNER_MASK)

    def canonicalise(self, key: Key) -> Key:
        """The key of the orbit member with the smallest tuple of part fingerprints."""
        return self.canonical_and_owner(key, 1)[0]

    def canonical_and_owner(self, key: Key, workers: int) -> tuple[Key, int]:
        """The representative's key and the number of the shard (of `workers`) that owns its orbit."""
        n = self.n
        sfp, bfp = self.server_fps, self.bag_fps
        if len(sfp) != len(self.server_table) or len(bfp) != len(self.bag_table):
            self.sync()
        if not self.perms:
            return key, self.owner(key, workers)
        servers = key[:n]
        best = self._best_servers.get(servers)
        if best is None:
            best = self._servers_orbit(servers)
        choices = best[1]
        bid = key[n]
        if len(choices) == 1:
            p_index, ids = choices[0]
            pbid = bid if p_index < 0 else self._permuted_bag(p_index, bid)
        else:  # several permutations give the same servers: the bag decides
            options = [(bid if p < 0 else self._permuted_bag(p, bid), ids) for p, ids in choices]
            pbid, ids = min(options, key=lambda option: bfp[option[0]])
        rep = (*ids, pbid)
        return rep, self.owner(rep, workers)

    def owner(self, key: Key, workers: int) -> int:
        """The shard (of `workers`) that owns a representative's key: its parts' owner numbers summed, modulo `workers`.

        The key's parts must be fingerprinted (`sync`)."""
        so = self.server_owner
        return (sum([so[x] for x in key[: self.n]]) + self.bag_owner[key[self.n]]) % workers

    def _servers_orbit(self, servers: Key) -> tuple[tuple[int, ...], tuple[tuple[int, Key], ...]]:
        # The permutations (-1: none) whose servers have the smallest fingerprints, and
        # those fingerprints: the whole key's order is decided by them first, and only
        # between these by the bag.  Memoised per servers tuple (far fewer than states).
        n, sfp = self.n, self.server_fps
        candidates: list[tuple[tuple[int, ...], int, Key]] = [(tuple([sfp[x] for x in servers]), -1, servers)]
        for p_index, perm in enumerate(self.perms):
            cache = self._perm_server[p_index]
            new = [0] * n
            for k in range(n):
                psid = cache.get(servers[k])
                if psid is None:
                    psid = self.server_id(permute_server(self.server_table[servers[k]], perm))
                    cache[servers[k]] = psid
                new[perm[k]] = psid
            self.sync()
            candidates.append((tuple([sfp[x] for x in new]), p_index, tuple(new)))
        prefix = min(c[0] for c in candidates)
        result = (prefix, tuple((p, ids) for pre, p, ids in candidates if pre == prefix))
        self._best_servers[servers] = result
        return result

    def _permuted_bag(self, p_index: int, bid: int) -> int:
        bcache = self._perm_bag[p_index]
        pbid = bcache.get(bid)
        if pbid is None:
            pbid = self.bag_id(permute_bag(self.bag_table[bid], self.perms[p_index]))
            bcache[bid] = pbid
            self.sync()
        return pbid
