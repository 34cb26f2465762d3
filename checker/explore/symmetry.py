"""Which permutations of server ids can map a state to its orbit's representative: those that sort servers by signature.

How this works: a server's *signature* is what renaming server ids cannot change
about it: its term, role, log, commit index, whom it voted for (nobody, itself or
another), how many votes it holds, its own next/match index and the sorted lists of
them, and the messages it sends or receives with every id replaced by "this server"
or "another one".  Permuting a state moves each server's signature along with it, so
the images of a state that list servers in signature order (ties in any order) are
the same set for every member of its orbit.  A store that takes the smallest key
among those images, instead of among all n! images, still gives each orbit exactly
one representative: the same orbits are counted, with a handful of permutations tried
instead of 119 at five servers.

Signatures are compared by number: a 64-bit fingerprint of the signature's stable text
(`stable.fingerprint`), the same in every process, so the partitioned search's workers
agree on the candidates.  Two signatures with one number would only make a tie, and
ties keep every order: the candidates are still a function of the orbit.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

from leaderfollower.checker.explore.stable import fingerprint
from leaderfollower.spec.state import Bag, ServerState

SIGNATURE_BITS = 64
"""Bits of a signature's number: a server's part and its messages' part are packed side by side."""


def server_signature(srv: ServerState, me: int) -> tuple[Any, ...]:
    """What renaming server ids leaves unchanged about server `me` whose variables are `srv`."""
    voted = 0 if srv.voted_for is None else 1 if srv.voted_for == me else 2
    return (
        srv.current_term,
        srv.role,
        srv.log,
        srv.commit_index,
        voted,
        len(srv.votes_responded),
        len(srv.votes_granted),
        me in srv.votes_responded,
        me in srv.votes_granted,
        srv.next_index[me],
        srv.match_index[me],
        tuple(sorted(srv.next_index)),
        tuple(sorted(srv.match_index)),
    )


def bag_signature(bag: Bag, me: int) -> tuple[Any, ...]:
    """The messages server `me` sends or receives, with source and destination reduced to "me" (1) or not (0)."""
    return tuple(
        sorted(
            (m._replace(msource=int(m.msource == me), mdest=int(m.mdest == me)), count)
            for m, count in bag
            if m.msource == me or m.mdest == me
        )
    )


def candidate_permutations(starts: Sequence[int], perms: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The indices of `perms` (-1: the identity) that send each server k into its group's block of positions.

    `starts[k]` is the first position of server k's group in signature order; the group
    has as many positions as servers share its start.
    """
    n = len(starts)
    fits: list[int] = []
    for p_index, perm in enumerate([tuple(range(n)), *perms]):
        if all(starts[k] <= perm[k] < starts[k] + starts.count(starts[k]) for k in range(n)):
            fits.append(p_index - 1)
    return tuple(fits)


class SignatureOrder:
    """The candidate permutations of a packed key (`candidates`), with the signatures of the parts it has seen.

    `server_table` and `bag_table` are a store's interned parts (ids index them); `perms`
    are its non-identity permutations, whose indices the candidates name (-1: the
    identity).  Signatures are numbered once per interned part.
    """

    def __init__(self, n: int, perms: Sequence[Sequence[int]], server_table: list[ServerState], bag_table: list[Bag]) -> None:
        self.n = n
        self.perms = perms
        self.server_table = server_table
        self.bag_table = bag_table
        self.server_numbers: list[tuple[int, ...]] = []
        """Per interned server state, its signature's number at each position (already shifted left)."""
        self.bag_numbers: list[tuple[int, ...]] = []
        """Per interned bag, the number of each position's messages."""
        self._numbers: tuple[dict[tuple[Any, ...], int], dict[tuple[Any, ...], int]] = ({}, {})
        """Signature -> number, for servers' and bags' signatures apart (they are shifted differently)."""
        self._by_starts: dict[tuple[int, ...], tuple[int, ...]] = {}

    def candidates(self, key: Sequence[int]) -> tuple[int, ...]:
        """The permutations (indices into `perms`, -1: the identity) whose images of `key` list servers in signature order.

        `key` is a packed state (`store.Key`): its servers' ids and its bag's id."""
        n = self.n
        sn = self.server_numbers
        try:
            bag = self.bag_numbers[key[n]]
            sigs = [sn[key[k]][k] | bag[k] for k in range(n)]
        except IndexError:  # a part interned since the last call: number the new ones
            self._number_parts(self.bag_table, self.bag_numbers, bag_signature, 0)
            self._number_parts(self.server_table, sn, server_signature, SIGNATURE_BITS)
            bag = self.bag_numbers[key[n]]
            sigs = [sn[key[k]][k] | bag[k] for k in range(n)]
        order = sorted(sigs)
        starts = tuple([order.index(x) for x in sigs])
        found = self._by_starts.get(starts)
        if found is None:
            found = self._by_starts[starts] = candidate_permutations(starts, self.perms)
        return found

    def _number_parts(self, table: list[Any], numbers: list[tuple[int, ...]], signature: Callable[[Any, int], tuple[Any, ...]], shift: int) -> None:
        known = self._numbers[shift > 0]
        while len(numbers) < len(table):
            part = table[len(numbers)]
            row: list[int] = []
            for me in range(self.n):
                sig = signature(part, me)
                number = known.get(sig)
                if number is None:
                    number = known[sig] = (fingerprint(sig) & ((1 << SIGNATURE_BITS) - 1)) << shift
                row.append(number)
            numbers.append(tuple(row))


def all_permutations(n: int) -> list[tuple[int, ...]]:
    """Every permutation of range(n) but the identity, in `itertools` order (the order stores index them by)."""
    return list(itertools.permutations(range(n)))[1:]
