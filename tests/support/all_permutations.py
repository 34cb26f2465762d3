"""The symmetry reduction as it was before signature ordering: every permutation of server ids tried for every state.

A reference for tests and benchmarks (`checker/explore/symmetry.py` explains the
faster form): the same orbits must be counted whichever member each stores.  Both are
seams of the product: a `StateStore` subclass and a `Search` whose `make_store`
returns it.
"""
from __future__ import annotations

from leaderfollower.checker.distributed.fingerprints import FingerprintStore
from leaderfollower.checker.explore.search import Search
from leaderfollower.checker.explore.store import Key, StateStore


class AllPermutationsStore(StateStore):
    """Stores each orbit under the smallest of all its n! images' keys."""

    def canonicalise(self, key: Key) -> Key:
        """The smallest key over every permutation of server ids."""
        best = key
        for p_index in range(len(self.perms)):
            cand = self.image(key, p_index)
            if cand < best:
                best = cand
        return best


class AllPermutationsFingerprintStore(FingerprintStore):
    """Chooses each orbit's member by smallest part fingerprints over all n! images (the shards' former rule)."""

    def canonical_and_owner(self, key: Key, workers: int) -> tuple[Key, int]:
        """The image with the smallest servers' then bag's fingerprints, and its owner."""
        images = [key, *[self.image(key, p_index) for p_index in range(len(self.perms))]]
        self.sync()
        n, sfp, bfp = self.n, self.server_fps, self.bag_fps
        rep = min(images, key=lambda ids: (*[sfp[x] for x in ids[:n]], bfp[ids[n]]))
        return rep, self.owner(rep, workers)


class AllPermutationsSearch(Search):
    """The explorer's search with `AllPermutationsStore`."""

    def make_store(self) -> StateStore:
        """An `AllPermutationsStore`."""
        return AllPermutationsStore(self.spec, self.spec.params.symmetry)
