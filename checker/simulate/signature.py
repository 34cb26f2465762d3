"""The abstract signature of a state that guided search counts as coverage.

How this works: a signature keeps what the protocol's safety hangs on and forgets the
rest: each server's term, role, log (entry terms and values) and commit index, but
not its votes, its replication indexes or the messages in flight.  Two more
reductions make states that behave alike share a signature:
- terms are replaced by their rank among the terms the state mentions (current terms
  and log entries' terms): what raft compares is whether one term is older, equal or
  newer than another, so a state where everything happened in terms 2 and 3 and one
  where it happened in terms 3 and 5 look alike (the one with lower terms has more
  room left below max_term, which is why the guided search keeps it: `cost`);
- the servers' tuples are sorted, so states that differ by a renaming of servers
  share a signature (no server id is left in it to rename).
"""
from __future__ import annotations

from typing import Hashable

from leaderfollower.spec.state import ServerState

Signature = Hashable


def signature(servers: tuple[ServerState, ...]) -> Signature:
    """The rank-compressed, sorted protocol fields of every server."""
    terms = sorted({t for srv in servers for t in (srv.current_term, *(e.term for e in srv.log))})
    rank = {t: k for k, t in enumerate(terms)}
    return tuple(
        sorted((rank[srv.current_term], srv.role, tuple((rank[e.term], e.value) for e in srv.log), srv.commit_index) for srv in servers)
    )


def cost(servers: tuple[ServerState, ...]) -> int:
    """How much of the term budget a state has used: its highest term (lower is better)."""
    return max(srv.current_term for srv in servers)
