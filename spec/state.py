"""The spec's state: immutable, hashable values that mirror raft.tla's variables.

How this works: a `State` is a tuple of per-server `ServerState` records plus the
network, a bag of messages kept as a sorted tuple of `(message, count)` pairs, so
that equal states are equal tuples and iteration order never depends on hashing.
Servers are the integers `0..n-1`; `NIL` (None) stands for raft.tla's `Nil`.

Every message record starts with its type name (`mtype`), so two messages of
different types never compare equal even where `True == 1` would make their other
fields coincide.

Persistent fields (they survive `Restart`, as raft.tla's stable storage does):
`current_term`, `voted_for`, `log`.  Everything else in `ServerState` is volatile.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Union

ServerId = int
"""A server's identity: an integer from 0 to servers - 1."""

Value = int
"""A client value that goes into the log: an integer from 0 to values - 1."""

NIL: None = None
"""raft.tla's reserved value `Nil` (used for `voted_for`)."""

FOLLOWER = "Follower"
CANDIDATE = "Candidate"
LEADER = "Leader"
ROLES: tuple[str, str, str] = (FOLLOWER, CANDIDATE, LEADER)
"""The three roles, in raft.tla's names (its variable `state`)."""

PERSISTENT_FIELDS: tuple[str, ...] = ("current_term", "voted_for", "log")
"""Fields of `ServerState` that survive a restart (stable storage)."""

VOLATILE_FIELDS: tuple[str, ...] = (
    "role",
    "commit_index",
    "votes_responded",
    "votes_granted",
    "next_index",
    "match_index",
)
"""Fields of `ServerState` that a restart resets."""


class Entry(NamedTuple):
    """One log entry: the term in which a leader created it and the client value."""

    term: int
    value: Value


Log = tuple[Entry, ...]
"""A server's log; index k of raft.tla (1-based) is `log[k - 1]` here."""


class RequestVoteRequest(NamedTuple):
    """Candidate `msource` asks `mdest` for its vote in term `mterm`."""

    mtype: str
    mterm: int
    mlast_log_term: int
    mlast_log_index: int
    msource: ServerId
    mdest: ServerId


class RequestVoteResponse(NamedTuple):
    """`msource` answers a vote request from `mdest`."""

    mtype: str
    mterm: int
    mvote_granted: bool
    msource: ServerId
    mdest: ServerId


class AppendEntriesRequest(NamedTuple):
    """Leader `msource` sends `mdest` entries after `mprev_log_index` (none: a heartbeat)."""

    mtype: str
    mterm: int
    mprev_log_index: int
    mprev_log_term: int
    mentries: Log
    mcommit_index: int
    msource: ServerId
    mdest: ServerId


class AppendEntriesResponse(NamedTuple):
    """`msource` answers an AppendEntries request from `mdest`."""

    mtype: str
    mterm: int
    msuccess: bool
    mmatch_index: int
    msource: ServerId
    mdest: ServerId


Message = Union[RequestVoteRequest, RequestVoteResponse, AppendEntriesRequest, AppendEntriesResponse]
"""Any message on the network."""

MESSAGE_TYPES: dict[str, type] = {
    "RequestVoteRequest": RequestVoteRequest,
    "RequestVoteResponse": RequestVoteResponse,
    "AppendEntriesRequest": AppendEntriesRequest,
    "AppendEntriesResponse": AppendEntriesResponse,
}
"""Message type name (the `mtype` field) to its record class."""

Bag = tuple[tuple[Message, int], ...]
"""The network: `(message, count)` pairs sorted by message, every count at least 1."""


class ServerState(NamedTuple):
    """One server's variables, named as in raft.tla (snake case)."""

    current_term: int  # persistent
    role: str  # volatile: raft.tla's `state`
    voted_for: Optional[ServerId]  # persistent
    log: Log  # persistent
    commit_index: int  # volatile
    votes_responded: frozenset[ServerId]  # volatile, candidates only
    votes_granted: frozenset[ServerId]  # volatile, candidates only
    next_index: tuple[int, ...]  # volatile, leaders only; indexed by server
    match_index: tuple[int, ...]  # volatile, leaders only; indexed by server


class State(NamedTuple):
    """A global state: every server's variables and the message bag.

    The methods build successors without retyping tuple surgery: `with_server` and
    `update_server` replace one server, `with_message`, `without_message` and `reply`
    change the bag (raft.tla's WithMessage, WithoutMessage and Reply).
    """

    servers: tuple[ServerState, ...]
    messages: Bag

    def with_server(self, i: ServerId, server: ServerState) -> "State":
        """This state with server i's variables replaced by `server`."""
        servers = self.servers
        return State(servers[:i] + (server,) + servers[i + 1 :], self.messages)

    def update_server(self, i: ServerId, **fields: Any) -> "State":
        """This state with some of server i's variables changed: `s.update_server(i, voted_for=NIL)`."""
        return self.with_server(i, self.servers[i]._replace(**fields))

    def with_message(self, m: Message) -> "State":
        """This state with one more copy of `m` in the bag (raft.tla's WithMessage)."""
        return State(self.servers, bag_add(self.messages, m))

    def without_message(self, m: Message) -> "State":
        """This state with one copy fewer of `m` in the bag (raft.tla's WithoutMessage)."""
        return State(self.servers, bag_remove(self.messages, m))

    def reply(self, response: Message, request: Message) -> "State":
        """This state with `request` taken from the bag and `response` put in (raft.tla's Reply)."""
        return State(self.servers, bag_remove(bag_add(self.messages, response), request))


def last_term(log: Log) -> int:
    """The term of the last entry of `log`, or 0 if it is empty (raft.tla's LastTerm)."""
    return log[-1].term if log else 0


def entry_at(log: Log, index: int) -> Entry:
    """The entry at 1-based `index`; raises IndexError outside 1..len(log), as TLC would.

    Python's negative indexing would silently read from the end; this does not.
    """
    if index < 1 or index > len(log):
        raise IndexError(f"log index {index} outside 1..{len(log)}")
    return log[index - 1]


def bag_add(bag: Bag, m: Message) -> Bag:
    """The bag with one more copy of `m` (raft.tla's WithMessage)."""
    items = list(bag)
    for k, (msg, count) in enumerate(items):
        if msg == m:
            items[k] = (msg, count + 1)
            return tuple(items)
    items.append((m, 1))
    items.sort()
    return tuple(items)


def bag_remove(bag: Bag, m: Message) -> Bag:
    """The bag with one copy fewer of `m`; a message whose count drops to zero leaves it."""
    items = list(bag)
    for k, (msg, count) in enumerate(items):
        if msg == m:
            if count == 1:
                del items[k]
            else:
                items[k] = (msg, count - 1)
            return tuple(items)
    return bag


def bag_count(bag: Bag, m: Message) -> int:
    """How many copies of `m` the bag holds."""
    for msg, count in bag:
        if msg == m:
            return count
    return 0
