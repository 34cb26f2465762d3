"""Stable fingerprints of state parts, the same in every process, and the store that orders orbits by them.

How this works: a worker of the partitioned search interns server states and bags
in the order it meets them, so its ids mean nothing to another worker.  What all
workers must agree on is (a) which member of an orbit stands for it under symmetry
and (b) which worker owns a state.  Both are decided on 128-bit fingerprints of
the parts (a BLAKE2b digest of a canonical text of the part: sets sorted, so the
text does not depend on hashing order or on PYTHONHASHSEED), never on ids: the
representative is the image, among those that list servers in signature order
(`checker/explore/symmetry.py`: a few, chosen by values, not ids), whose tuple of
part fingerprints is smallest, and the owner is the sum of the *owner numbers* (the
low 48 bits of the fingerprints) of the representative's first `OWNER_SERVERS`
servers, modulo the number of workers.  Why only those servers: every transition
changes one server or none (plus the bag), so a successor whose first servers are
its parent's has its parent's owner and never leaves the shard (without symmetry;
`Shard.expand` does that without building the sum again, and for a transition of
one of those servers swaps that server's number in the parent's sum).  With all
parts in the sum, half of all successors went to the other shard of two; with
the first two servers, about a third (measured on the full model: the shards'
total work fell from 42.8 s to 36.5 s, the explorer's being about 30 s).  Why
not one server: the states bunch on a few popular server states, so one server's
number splits them unevenly (46 and 54 % of the full model's states with two
workers, 20 to 34 % with four; with two servers 50 and 50 %, and 24 to 26 %).
Each part is fingerprinted once, when the worker first interns it; a state costs
a few list look-ups.

A collision of two distinct parts' 128-bit fingerprints would merge two orbits;
with a million distinct parts its probability is about 1e-27.  Within one worker a
collision would be caught (`FingerprintCollision`), as two table entries with one
fingerprint.
"""
from __future__ import annotations

from leaderfollower.spec.raft import RaftSpec

from leaderfollower.checker.explore.stable import fingerprint
from leaderfollower.checker.explore.store import Key, StateStore



OWNER_MASK = (1 << 48) - 1
"""The bits of a server part's fingerprint that make its owner number."""

OWNER_SERVERS = 2
"""How many of a representative's servers, from the first, decide its owner (see the module comment)."""


class FingerprintCollision(Exception):
    """Two distinct parts met in one worker share a fingerprint: the search cannot go on soundly."""


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
        self.owner_servers = min(OWNER_SERVERS, self.n)
        """The servers, from the first, whose owner numbers decide a state's owner."""
        self._fp_seen: dict[int, tuple[str, int]] = {}

    def sync(self) -> None:
        """Fingerprint the parts interned since the last call."""
        for kind, table, fps in (("server", self.server_table, self.server_fps), ("bag", self.bag_table, self.bag_fps)):
            while len(fps) < len(table):
                number = len(fps)
                fp = fingerprint(table[number])
                other = self._fp_seen.get(fp)
                if other is not None and other[0] == kind:
                    raise FingerprintCollision(f"{kind} parts {other[1]} and {number} share fingerprint {fp:#x}")
                self._fp_seen[fp] = (kind, number)
                fps.append(fp)
        owners = self.server_owner
        owners.extend([fp & OWNER_MASK for fp in self.server_fps[len(owners) :]])

    def canonicalise(self, key: Key) -> Key:
        """The key of the orbit member with the smallest tuple of part fingerprints."""
        return self.canonical_and_owner(key, 1)[0]

    def canonical_and_owner(self, key: Key, workers: int) -> tuple[Key, int]:
        """The representative's key and the number of the shard (of `workers`) that owns its orbit.

        The representative is, among the images that list servers in signature order
        (`checker/explore/symmetry.py`: a function of the orbit, the same in every
        worker), the one whose servers' fingerprints, then bag's, are smallest."""
        if not self.perms:
            if len(self.server_fps) != len(self.server_table) or len(self.bag_fps) != len(self.bag_table):
                self.sync()
            return key, self.owner(key, workers)
        candidates = self.order.candidates(key)
        if len(candidates) == 1:
            rep = key if candidates[0] < 0 else self.image(key, candidates[0])
        else:
            images = [key if p_index < 0 else self.image(key, p_index) for p_index in candidates]
            self.sync()
            n, sfp, bfp = self.n, self.server_fps, self.bag_fps
            rep = min(images, key=lambda ids: (*[sfp[x] for x in ids[:n]], bfp[ids[n]]))
        if len(self.server_fps) != len(self.server_table) or len(self.bag_fps) != len(self.bag_table):
            self.sync()
        return rep, self.owner(rep, workers)

    def owner(self, key: Key, workers: int) -> int:
        """The shard (of `workers`) that owns a representative's key: its first servers' owner numbers summed, modulo `workers`.

        The key's parts must be fingerprinted (`sync`)."""
        so = self.server_owner
        return sum([so[x] for x in key[: self.owner_servers]]) % workers
