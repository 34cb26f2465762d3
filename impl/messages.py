"""The protocol's values: log entries and the four messages, shaped exactly like the spec's.

How this works: every message is a NamedTuple whose first field is its type name
(`mtype`) followed by raft.tla's fields in raft.tla's order, so a message the core
emits compares equal (as a tuple) to the spec's message with the same content.
That is what lets the conformance harness compare the set of messages in flight
without translating them.  This module is written independently of
`leaderfollower.spec`: the implementation is what gets checked against the spec.

A log entry is `(term, value)`, named as the spec names it.  A value is the
client's operation: `bytes` in real runs (an encoded key-value operation, see
`kv.py`) or a small `int` when the checker replays a spec trace whose values are
integers.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Union

ServerId = int
"""A server's identity: an integer from 0 to servers - 1."""

Value = Union[bytes, int]
"""A client operation stored in the log (the spec's value): encoded bytes, or an int for spec replay."""

FOLLOWER = "Follower"
CANDIDATE = "Candidate"
LEADER = "Leader"
ROLES: tuple[str, str, str] = (FOLLOWER, CANDIDATE, LEADER)
"""The three roles, named as raft.tla names them."""


class Entry(NamedTuple):
    """One log entry: the term in which a leader created it and the client's value (field for field the spec's)."""

    term: int
    value: Value


Log = tuple[Entry, ...]
"""A log; raft.tla's 1-based index k is `log[k - 1]` here."""


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
"""Any protocol message between servers."""


def request_vote_request(
    term: int, last_log_term: int, last_log_index: int, source: ServerId, dest: ServerId
) -> RequestVoteRequest:
    """A RequestVoteRequest with its `mtype` filled in."""
    return RequestVoteRequest("RequestVoteRequest", term, last_log_term, last_log_index, source, dest)


def request_vote_response(term: int, granted: bool, source: ServerId, dest: ServerId) -> RequestVoteResponse:
    """A RequestVoteResponse with its `mtype` filled in."""
    return RequestVoteResponse("RequestVoteResponse", term, granted, source, dest)


def append_entries_request(
    term: int, prev_index: int, prev_term: int, entries: Log, commit_index: int, source: ServerId, dest: ServerId
) -> AppendEntriesRequest:
    """An AppendEntriesRequest with its `mtype` filled in."""
    return AppendEntriesRequest("AppendEntriesRequest", term, prev_index, prev_term, entries, commit_index, source, dest)


def append_entries_response(
    term: int, success: bool, match_index: int, source: ServerId, dest: ServerId
) -> AppendEntriesResponse:
    """An AppendEntriesResponse with its `mtype` filled in."""
    return AppendEntriesResponse("AppendEntriesResponse", term, success, match_index, source, dest)


class HardState(NamedTuple):
    """The durable term and vote (etcd's HardState); `voted_for` None is raft.tla's Nil."""

    current_term: int
    voted_for: Optional[ServerId]


class PersistentState(NamedTuple):
    """Everything that survives a restart: term, vote and log (what storage recovers)."""

    current_term: int
    voted_for: Optional[ServerId]
    log: Log


INITIAL_PERSISTENT_STATE = PersistentState(1, None, ())
"""A fresh server: term 1 (raft.tla's Init), no vote, empty log."""
