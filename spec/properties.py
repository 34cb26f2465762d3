"""Named properties of the protocol, each with an expectation.

How this works: a `Property` has a human name, a kind and a predicate.
- *always*: an invariant, a predicate on one state that must hold in every
  reachable state (`ElectionSafety`, `LogMatching`, ...).
- *sometimes*: a predicate that must hold in at least one reachable state; its
  shortest witness trace documents that the thing can happen (a leader is elected,
  a value commits, a follower serves a stale read).  A run in which it never holds
  fails, so a spec in which nothing can happen cannot pass.
- *action*: a predicate on one server's variables before and after a transition,
  checked for every server whose variables the transition changed.
- *eventually* (liveness): every fair behaviour reaches a state where `holds` is true
  (TLA+ `<>P`).
- *leads_to* (liveness): in every fair behaviour, a state where `premise` holds is
  followed (then or later) by one where `holds` does (TLA+ `P ~> Q`).
  Fairness is the spec's (`spec/fairness.py`); checker/liveness/ checks both kinds on
  the explored graph.  Their predicates should not tell servers apart (say "some
  leader", not "server 0") when the model uses symmetry.

The always properties other than TypeOK are defined once in `spec/invariants.py`
(against the expression layer of `spec/expr.py`, so that the Z3 engines build the
same definitions); here they are evaluated on concrete states.

Reads are predicates too: `read(server)` is what a read served by that server
returns (its state machine: the values of its log up to `commit_index`).  They add
no state variables, so state counts stay comparable with TLC's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal, Optional

from . import invariants
from .expr import StateView
from .invariants import Invariant, named_after
from .state import (
    FOLLOWER,
    LEADER,
    MESSAGE_TYPES,
    ROLES,
    Bag,
    Log,
    ServerState,
    State,
    Value,
)

if TYPE_CHECKING:
    from .params import Params
    from .raft import RaftSpec

Kind = Literal["always", "sometimes", "action", "eventually", "leads_to"]
LIVENESS_KINDS: frozenset[str] = frozenset({"eventually", "leads_to"})
"""The kinds checked on the state graph under fairness (checker/liveness/)."""
StatePredicate = Callable[["RaftSpec", State], bool]
StepPredicate = Callable[["RaftSpec", ServerState, ServerState], bool]


@dataclass(frozen=True)
class Property:
    """A named property: what is expected (kind), what it says, and how to evaluate it."""

    name: str
    kind: Kind
    description: str
    holds: Optional[StatePredicate] = None
    """For always and sometimes properties: the predicate on a state; for liveness ones, the goal (Q)."""
    premise: Optional[StatePredicate] = None
    """For a leads_to property: P of P ~> Q."""
    step_holds: Optional[StepPredicate] = None
    """For action properties: the predicate on one server before and after a step."""
    servers_only: bool = False
    """The predicate reads only `state.servers`, never the messages: the explorer may
    evaluate it once per distinct tuple of server states (many states differ only in
    their messages) and reuse the answer."""
    reads: Optional[tuple[str, ...]] = None
    """Optionally, for a servers-only predicate: the `ServerState` fields it reads (a
    superset is fine).  The explorer may then evaluate it once per distinct tuple of
    those fields across the servers: far fewer than distinct server tuples, since votes
    and replication indexes vary most."""
    parts: Optional[tuple[Callable[["RaftSpec", tuple[ServerState, ...]], bool], Callable[["RaftSpec", "Bag"], bool]]] = None
    """Optionally, `holds` split into a check of the servers and a check of the bag, whose
    conjunction is `holds`: each part is evaluated once per distinct servers tuple / bag."""
    each_server: Optional[Callable[["RaftSpec", ServerState], bool]] = None
    """Optionally, for a split property whose servers part is a check of each server on
    its own (given the right number of servers): that check, which the explorer then
    evaluates once per distinct server state."""
    impossible_when: Optional[Callable[["Params"], Optional[str]]] = None
    """Optionally, for a sometimes property: why the model's bounds rule it out (None: they
    may not), so that a run that never witnesses it says why instead of a bare failure.
    Only sound reasons belong here: a test checks that the explorer never witnesses the
    property on bounds it gives a reason for."""

    def __post_init__(self) -> None:
        if self.reads is not None:
            unknown = [f for f in self.reads if f not in ServerState._fields]
            if unknown or not self.servers_only:
                raise ValueError(
                    f"property {self.name}: reads={self.reads!r} needs servers_only=True and fields of ServerState"
                    + (f" (unknown: {', '.join(unknown)})" if unknown else "")
                )


def read(server: ServerState) -> tuple[Value, ...]:
    """What a read served by this server returns: its state machine at `commit_index`."""
    return tuple(e.value for e in server.log[: server.commit_index])


def _is_prefix(short: Log, long: Log) -> bool:
    return len(short) <= len(long) and long[: len(short)] == short


# ------------------------------------------------------------------ always


def type_ok_servers(spec: "RaftSpec", servers: tuple[ServerState, ...]) -> bool:
    """Every server variable has a value of its type and range."""
    return len(servers) == spec.params.servers and all(type_ok_server(spec, srv) for srv in servers)


def type_ok_server(spec: "RaftSpec", srv: ServerState) -> bool:
    """One server's variables have values of their types and ranges."""
    n = spec.params.servers
    ids = range(n)
    if not (isinstance(srv.current_term, int) and srv.current_term >= 1 and srv.role in ROLES):
        return False
    if not (srv.voted_for is None or srv.voted_for in ids):
        return False
    for e in srv.log:
        if not (1 <= e.term and 0 <= e.value < spec.params.values):
            return False
    if srv.commit_index < 0:
        return False
    if not all(k in ids for k in srv.votes_responded) or not all(k in ids for k in srv.votes_granted):
        return False
    if len(srv.next_index) != n or len(srv.match_index) != n:
        return False
    return min(srv.next_index) >= 1 and min(srv.match_index) >= 0


def type_ok_messages(spec: "RaftSpec", bag: "Bag") -> bool:
    """The bag holds well-formed messages between known servers, sorted, each once, counts at least 1."""
    ids = range(spec.params.servers)
    prev = None
    for m, count in bag:
        if not (isinstance(count, int) and count >= 1 and type(m) is MESSAGE_TYPES.get(m.mtype)):
            return False
        if m.msource not in ids or m.mdest not in ids or m.mterm < 1:
            return False
        if prev is not None and not prev < m:
            return False
        prev = m
    return True


def type_ok(spec: "RaftSpec", s: State) -> bool:
    """Every variable has a value of its type and range."""
    return type_ok_servers(spec, s.servers) and type_ok_messages(spec, s.messages)


def _on_servers(inv: Invariant) -> StatePredicate:
    """The invariant of `spec.invariants` as a predicate on a concrete state (its one definition)."""

    def holds(spec: "RaftSpec", s: State) -> bool:
        return bool(inv(StateView(spec, s.servers)))

    return named_after(inv, holds)


election_safety = _on_servers(invariants.election_safety)
log_matching = _on_servers(invariants.log_matching)
commit_within_log = _on_servers(invariants.commit_within_log)
state_machine_safety = _on_servers(invariants.state_machine_safety)
leader_completeness = _on_servers(invariants.leader_completeness)
no_uncommitted_read = _on_servers(invariants.no_uncommitted_read)


# --------------------------------------------------------------- sometimes


def leader_elected(spec: "RaftSpec", s: State) -> bool:
    """Some server is a leader."""
    return any(srv.role == LEADER for srv in s.servers)


def value_committed(spec: "RaftSpec", s: State) -> bool:
    """Some leader has committed an entry."""
    return any(srv.role == LEADER and srv.commit_index >= 1 for srv in s.servers)


def stale_follower_read(spec: "RaftSpec", s: State) -> bool:
    """A follower, or a leader deposed by a newer term it has not heard of, serves a stale read.

    Stale: it returns less than another server's read already shows committed.
    """
    newest = max(srv.current_term for srv in s.servers)
    longest = max(len(read(srv)) for srv in s.servers)
    if longest == 0:
        return False
    for srv in s.servers:
        deposed = srv.role == LEADER and srv.current_term < newest
        if (srv.role == FOLLOWER or deposed) and srv.commit_index < longest:
            return True
    return False


def no_election_because(p: "Params") -> Optional[str]:
    """Why no leader can be elected within these bounds (None: one can)."""
    if p.max_term < 2:
        return f"no election can start: terms start at 1 and a candidate needs term 2 (max_term={p.max_term})"
    if p.max_in_flight == 0:
        return "no vote can be cast: votes are messages and max_in_flight=0"
    return None


def no_commit_because(p: "Params") -> Optional[str]:
    """Why no value can be committed within these bounds (None: one can)."""
    if p.max_log == 0:
        return "no log entry can exist within the bounds (max_log=0)"
    return no_election_because(p)


def no_stale_read_because(p: "Params") -> Optional[str]:
    """Why no server can serve a stale read within these bounds (None: one can)."""
    if p.servers < 2:
        return "a stale read needs a second server (servers=1)"
    return no_commit_because(p)


# ---------------------------------------------------------------- liveness


def _own_term_entry_uncommitted(srv: ServerState) -> bool:
    return srv.role == LEADER and any(e.term == srv.current_term for e in srv.log[srv.commit_index :])


def leader_entry_pending(spec: "RaftSpec", s: State) -> bool:
    """Some leader holds an entry of its own term above its commitIndex."""
    return any(_own_term_entry_uncommitted(srv) for srv in s.servers)


def no_leader_entry_pending(spec: "RaftSpec", s: State) -> bool:
    """No leader holds an uncommitted entry of its own term (committed, or the leader stepped down)."""
    return not leader_entry_pending(spec, s)


def commit_known_to_leader_only(spec: "RaftSpec", s: State) -> bool:
    """Some leader has committed an index that no other server has committed yet."""
    for k, srv in enumerate(s.servers):
        if srv.role == LEADER and srv.commit_index >= 1:
            if all(other.commit_index < srv.commit_index for j, other in enumerate(s.servers) if j != k):
                return True
    return False


def commit_known_beyond_leader(spec: "RaftSpec", s: State) -> bool:
    """No leader is alone in knowing how far it has committed."""
    return not commit_known_to_leader_only(spec, s)


# ------------------------------------------------------------------ action


def leader_append_only(spec: "RaftSpec", before: ServerState, after: ServerState) -> bool:
    """While a server stays leader of one term, its log only grows."""
    if before.role == LEADER and after.role == LEADER and before.current_term == after.current_term:
        return _is_prefix(before.log, after.log)
    return True


def term_never_decreases(spec: "RaftSpec", before: ServerState, after: ServerState) -> bool:
    """A server's current term never goes down."""
    return after.current_term >= before.current_term


def leader_keeps_committed(spec: "RaftSpec", before: ServerState, after: ServerState) -> bool:
    """A leader never removes an entry it has committed from its log."""
    if before.role == LEADER:
        return _is_prefix(before.log[: before.commit_index], after.log)
    return True


PROTOCOL_FIELDS: tuple[str, ...] = ("current_term", "role", "log", "commit_index")
"""What the safety properties and witnesses read of a server (not votes, nor replication indexes)."""

PROPERTIES: tuple[Property, ...] = (
    Property("TypeOK", "always", "every variable has a value of its type", holds=type_ok, parts=(type_ok_servers, type_ok_messages), each_server=type_ok_server),
    Property("ElectionSafety", "always", "at most one leader per term", holds=election_safety, servers_only=True, reads=PROTOCOL_FIELDS),
    Property("LogMatching", "always", "logs that agree on an entry's index and term agree up to it", holds=log_matching, servers_only=True, reads=PROTOCOL_FIELDS),
    Property(
        "LeaderCompleteness", "always", "a leader holds every entry committed in its term or before", holds=leader_completeness, servers_only=True, reads=PROTOCOL_FIELDS
    ),
    Property(
        "StateMachineSafety", "always", "servers never apply different values at one index", holds=state_machine_safety, servers_only=True, reads=PROTOCOL_FIELDS
    ),
    Property("CommitWithinLog", "always", "commitIndex never points past the end of the log", holds=commit_within_log, servers_only=True, reads=PROTOCOL_FIELDS),
    Property("NoUncommittedRead", "always", "no read ever returns a value a quorum does not hold", holds=no_uncommitted_read, servers_only=True, reads=PROTOCOL_FIELDS),
    Property(
        "LeaderElected", "sometimes", "a leader is elected", holds=leader_elected, servers_only=True, reads=PROTOCOL_FIELDS, impossible_when=no_election_because
    ),
    Property(
        "ValueCommitted", "sometimes", "a leader commits a value", holds=value_committed, servers_only=True, reads=PROTOCOL_FIELDS, impossible_when=no_commit_because
    ),
    Property(
        "StaleFollowerRead",
        "sometimes",
        "a follower or a deposed leader serves a stale read",
        holds=stale_follower_read,
        servers_only=True,
        reads=PROTOCOL_FIELDS,
        impossible_when=no_stale_read_because,
    ),
    Property(
        "EntryCommitsOrLeaderStepsDown",
        "leads_to",
        "a leader's entry of its own term is eventually committed, or the leader steps down",
        premise=leader_entry_pending,
        holds=no_leader_entry_pending,
        servers_only=True,
    ),
    Property(
        "CommitReachesFollower",
        "leads_to",
        "a leader's commit is eventually known to another server, or the leader steps down",
        premise=commit_known_to_leader_only,
        holds=commit_known_beyond_leader,
        servers_only=True,
    ),
    Property("LeaderAppendOnly", "action", "a leader's log only grows within its term", step_holds=leader_append_only),
    Property("TermNeverDecreases", "action", "a server's term never goes down", step_holds=term_never_decreases),
    Property("LeaderKeepsCommitted", "action", "a leader never removes its committed entries", step_holds=leader_keeps_committed),
)
"""Every property the checker verifies, in report order."""


def property_by_name(name: str) -> Property:
    """The property called `name`; raises KeyError naming the known ones otherwise."""
    for p in PROPERTIES:
        if p.name == name:
            return p
    raise KeyError(f"unknown property {name!r}; known: {', '.join(p.name for p in PROPERTIES)}")
