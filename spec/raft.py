"""The protocol's actions: raft.tla's Init and Next, one pure method per action.

How this works: `RaftSpec` is an immutable object holding the model's `Params`.
Each action is a method that takes a `State` (and the action's arguments) and
returns the successor `State`, or `None` when the action is not enabled.  Nothing
is mutated.  `successors(state)` enumerates every enabled action in a fixed order
(raft.tla's `Next`: Timeout, Restart, RequestVote, BecomeLeader, ClientRequest,
AdvanceCommitIndex, AppendEntries, Receive, DuplicateMessage, DropMessage; servers
and values in increasing order; messages in bag order), so the explorer is
deterministic.  Receiving a message is labelled with the handler that ran
(`UpdateTerm`, `HandleRequestVoteRequest`, ..., `DropStaleResponse`): in raft.tla at
most one of them is enabled for a given message and state.

A spec variant (a bug to catch, or a design to try) subclasses `RaftSpec` and
overrides one method; everything else is inherited.  Bounds are not part of the
actions: `within_bounds` is the state constraint the explorer applies.
"""
from __future__ import annotations

from typing import Callable, ClassVar, Iterator, NamedTuple, Optional, Union

from .params import Params
from .state import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    NIL,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    Log,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerId,
    ServerState,
    State,
    bag_add,
    bag_remove,
    entry_at,
    last_term,
)

Arg = Union[int, Message]


class Action(NamedTuple):
    """A transition label: the spec action's name and its arguments.

    Server and value arguments are integers; a message handler's single argument is
    the message it received (its recipient is `mdest`, its sender `msource`).
    """

    name: str
    args: tuple[Arg, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(format_arg(a) for a in self.args)})"


def format_arg(arg: Arg) -> str:
    """A short readable form of an action argument."""
    if isinstance(arg, tuple):
        return format_message(arg)
    return str(arg)


def format_message(m: Message) -> str:
    """A one-line readable form of a message, e.g. `AppendEntriesRequest 0->1 term=2 ...`."""
    fields = []
    for name, value in zip(m._fields, m):
        if name in ("mtype", "msource", "mdest"):
            continue
        if name == "mentries":
            entries: Log = value  # type: ignore[assignment]
            value = "[" + ", ".join(f"t{e.term}:v{e.value}" for e in entries) + "]"
        fields.append(f"{name[1:]}={value}")
    return f"{m.mtype} {m.msource}->{m.mdest} " + " ".join(fields)


ACTION_NAMES: tuple[str, ...] = (
    "Timeout",
    "Restart",
    "RequestVote",
    "BecomeLeader",
    "ClientRequest",
    "AdvanceCommitIndex",
    "AppendEntries",
    "UpdateTerm",
    "HandleRequestVoteRequest",
    "HandleRequestVoteResponse",
    "HandleAppendEntriesRequest",
    "HandleAppendEntriesResponse",
    "DropStaleResponse",
    "DuplicateMessage",
    "DropMessage",
)
"""Every action and message handler, in the order `successors` enumerates them."""


def _put(servers: tuple[ServerState, ...], i: ServerId, server: ServerState) -> tuple[ServerState, ...]:
    return servers[:i] + (server,) + servers[i + 1 :]


class RaftSpec:
    """raft.tla's semantics over `State`, parameterised by `Params`.

    Override a method in a subclass to make a variant; `name` and `description`
    say what the variant is.
    """

    name: ClassVar[str] = "raft"
    description: ClassVar[str] = "raft.tla's semantics (Ongaro), without history variables"
    local_actions: ClassVar[bool] = True
    """Each action reads and changes only its own server (i, or a message's recipient) and
    the bag, as in raft.tla.  The explorer then computes an action once per (server
    state, bag) instead of once per global state.  A subclass that overrides any method
    without restating this in its own body is treated as not local (always safe)."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.server_ids: tuple[ServerId, ...] = tuple(range(params.servers))
        self.value_ids: tuple[int, ...] = tuple(range(params.values))

    # ------------------------------------------------------------------ helpers

    def is_quorum(self, members: frozenset[ServerId]) -> bool:
        """A simple majority of all servers (raft.tla's Quorum)."""
        return 2 * len(members) > self.params.servers

    def vote_log_ok(self, voter: ServerState, m: RequestVoteRequest) -> bool:
        """The candidate's log is at least as up to date as the voter's."""
        lt = last_term(voter.log)
        return m.mlast_log_term > lt or (m.mlast_log_term == lt and m.mlast_log_index >= len(voter.log))

    def append_log_ok(self, follower: ServerState, m: AppendEntriesRequest) -> bool:
        """The follower's log holds the entry the request builds on."""
        prev = m.mprev_log_index
        return prev == 0 or (0 < prev <= len(follower.log) and m.mprev_log_term == entry_at(follower.log, prev).term)

    def init(self) -> State:
        """raft.tla's Init: every server a follower in term 1 with an empty log; no messages."""
        n = self.params.servers
        server = ServerState(
            current_term=1,
            role=FOLLOWER,
            voted_for=NIL,
            log=(),
            commit_index=0,
            votes_responded=frozenset(),
            votes_granted=frozenset(),
            next_index=(1,) * n,
            match_index=(0,) * n,
        )
        return State(servers=(server,) * n, messages=())

    def within_bounds(self, s: State) -> bool:
        """The state constraint: terms, log lengths, copies and messages in flight within bounds."""
        p = self.params
        for server in s.servers:
            if server.current_term > p.max_term or len(server.log) > p.max_log:
                return False
        if len(s.messages) > p.max_in_flight:
            return False
        for _, count in s.messages:
            if count > p.max_copies:
                return False
        return True

    # ------------------------------------------------------------------ actions

    def restart(self, s: State, i: ServerId) -> Optional[State]:
        """Server i restarts from stable storage: it keeps its term, vote and log only."""
        old = s.servers[i]
        n = self.params.servers
        new = ServerState(old.current_term, FOLLOWER, old.voted_for, old.log, 0, frozenset(), frozenset(), (1,) * n, (0,) * n)
        return State(_put(s.servers, i, new), s.messages)

    def timeout(self, s: State, i: ServerId) -> Optional[State]:
        """Server i times out and starts a new election (its own vote travels as a message)."""
        old = s.servers[i]
        if old.role not in (FOLLOWER, CANDIDATE):
            return None
        new = ServerState(
            old.current_term + 1, CANDIDATE, NIL, old.log, old.commit_index, frozenset(), frozenset(), old.next_index, old.match_index
        )
        return State(_put(s.servers, i, new), s.messages)

    def request_vote(self, s: State, i: ServerId, j: ServerId) -> Optional[State]:
        """Candidate i sends j (possibly itself) a RequestVote request."""
        c = s.servers[i]
        if c.role != CANDIDATE or j in c.votes_responded:
            return None
        m = RequestVoteRequest("RequestVoteRequest", c.current_term, last_term(c.log), len(c.log), i, j)
        return State(s.servers, bag_add(s.messages, m))

    def append_entries(self, s: State, i: ServerId, j: ServerId) -> Optional[State]:
        """Leader i sends j an AppendEntries request with at most one entry (empty: a heartbeat)."""
        if i == j:
            return None
        leader = s.servers[i]
        if leader.role != LEADER:
            return None
        next_j = leader.next_index[j]
        prev_index = next_j - 1
        prev_term = entry_at(leader.log, prev_index).term if prev_index > 0 else 0
        last_entry = min(len(leader.log), next_j + self.params.max_entries_per_append - 1)
        entries = leader.log[next_j - 1 : last_entry] if last_entry >= next_j else ()
        m = AppendEntriesRequest(
            "AppendEntriesRequest", leader.current_term, prev_index, prev_term, entries, min(leader.commit_index, last_entry), i, j
        )
        return State(s.servers, bag_add(s.messages, m))

    def become_leader(self, s: State, i: ServerId) -> Optional[State]:
        """Candidate i, granted votes by a quorum, becomes leader."""
        c = s.servers[i]
        if c.role != CANDIDATE or not self.is_quorum(c.votes_granted):
            return None
        n = self.params.servers
        new = ServerState(
            c.current_term, LEADER, c.voted_for, c.log, c.commit_index, c.votes_responded, c.votes_granted, (len(c.log) + 1,) * n, (0,) * n
        )
        return State(_put(s.servers, i, new), s.messages)

    def client_request(self, s: State, i: ServerId, v: int) -> Optional[State]:
        """Leader i receives a client request to add value v to its log."""
        leader = s.servers[i]
        if leader.role != LEADER:
            return None
        new = leader._replace(log=leader.log + (Entry(leader.current_term, v),))
        return State(_put(s.servers, i, new), s.messages)

    def agree_indexes(self, leader: ServerState, i: ServerId) -> list[int]:
        """Log indexes that a quorum (the leader and servers whose matchIndex reaches them) holds."""
        result = []
        for index in range(1, len(leader.log) + 1):
            agree = frozenset([i] + [k for k in self.server_ids if leader.match_index[k] >= index])
            if self.is_quorum(agree):
                result.append(index)
        return result

    def advance_commit_index(self, s: State, i: ServerId) -> Optional[State]:
        """Leader i commits the highest index a quorum holds, if that entry is from its own term."""
        leader = s.servers[i]
        if leader.role != LEADER:
            return None
        agree = self.agree_indexes(leader, i)
        new_commit = leader.commit_index
        if agree and entry_at(leader.log, max(agree)).term == leader.current_term:
            new_commit = max(agree)
        new = leader._replace(commit_index=new_commit)
        return State(_put(s.servers, i, new), s.messages)

    # --------------------------------------------------------- message handlers
    # i = recipient (m.mdest), j = sender (m.msource).

    def update_term(self, s: State, m: Message) -> Optional[State]:
        """Server i sees a newer term in any message and becomes a follower in it (m stays)."""
        i = m.mdest
        old = s.servers[i]
        if m.mterm <= old.current_term:
            return None
        new = ServerState(
            m.mterm, FOLLOWER, NIL, old.log, old.commit_index, old.votes_responded, old.votes_granted, old.next_index, old.match_index
        )
        return State(_put(s.servers, i, new), s.messages)

    def handle_request_vote_request(self, s: State, m: RequestVoteRequest) -> Optional[State]:
        """Server i answers candidate j's vote request, granting it if the term, log and its vote allow."""
        i, j = m.mdest, m.msource
        voter = s.servers[i]
        if m.mterm > voter.current_term:
            return None
        grant = m.mterm == voter.current_term and self.vote_log_ok(voter, m) and voter.voted_for in (NIL, j)
        servers = s.servers
        if grant:
            servers = _put(servers, i, voter._replace(voted_for=j))
        reply = RequestVoteResponse("RequestVoteResponse", voter.current_term, grant, i, j)
        return State(servers, bag_remove(bag_add(s.messages, reply), m))

    def handle_request_vote_response(self, s: State, m: RequestVoteResponse) -> Optional[State]:
        """Server i tallies j's answer to its vote request of the current term."""
        i, j = m.mdest, m.msource
        c = s.servers[i]
        if m.mterm != c.current_term:
            return None
        granted = c.votes_granted | {j} if m.mvote_granted else c.votes_granted
        new = c._replace(votes_responded=c.votes_responded | {j}, votes_granted=granted)
        return State(_put(s.servers, i, new), bag_remove(s.messages, m))

    def handle_append_entries_request(self, s: State, m: AppendEntriesRequest) -> Optional[State]:
        """Server i handles leader j's AppendEntries: reject, step down, or accept (done, conflict, append)."""
        i, j = m.mdest, m.msource
        f = s.servers[i]
        if m.mterm > f.current_term:
            return None
        log_ok = self.append_log_ok(f, m)
        if m.mterm < f.current_term or (f.role == FOLLOWER and not log_ok):
            reply = AppendEntriesResponse("AppendEntriesResponse", f.current_term, False, 0, i, j)
            return State(s.servers, bag_remove(bag_add(s.messages, reply), m))
        if f.role == CANDIDATE:
            # Return to follower state; the message stays to be handled again.
            return State(_put(s.servers, i, f._replace(role=FOLLOWER)), s.messages)
        if f.role != FOLLOWER:
            return None  # a leader receiving its own term's request: no branch applies
        return self.accept_append_entries(s, m)

    def accept_append_entries(self, s: State, m: AppendEntriesRequest) -> Optional[State]:
        """Follower i, whose log matches at the request's previous index, takes the request.

        With one entry this is exactly raft.tla: already done (set commitIndex from the
        message and reply), conflict (remove one entry), or append.  With several
        entries (the `max_entries_per_append` option) the first entry that is missing
        or differs decides which of the three applies.
        """
        i, j = m.mdest, m.msource
        f = s.servers[i]
        log = f.log
        first_new = None
        for k, entry in enumerate(m.mentries):
            index = m.mprev_log_index + 1 + k
            if len(log) < index or entry_at(log, index).term != entry.term:
                first_new = k
                break
        if first_new is None:
            reply = AppendEntriesResponse("AppendEntriesResponse", f.current_term, True, m.mprev_log_index + len(m.mentries), i, j)
            new = f._replace(commit_index=m.mcommit_index)
            return State(_put(s.servers, i, new), bag_remove(bag_add(s.messages, reply), m))
        index = m.mprev_log_index + 1 + first_new
        if len(log) >= index:
            # Conflict: remove one entry (the last), as raft.tla does.
            return State(_put(s.servers, i, f._replace(log=log[:-1])), s.messages)
        if len(log) == index - 1:
            return State(_put(s.servers, i, f._replace(log=log + m.mentries[first_new:])), s.messages)
        return None

    def handle_append_entries_response(self, s: State, m: AppendEntriesResponse) -> Optional[State]:
        """Server i records j's answer to its AppendEntries request of the current term."""
        i, j = m.mdest, m.msource
        leader = s.servers[i]
        if m.mterm != leader.current_term:
            return None
        if m.msuccess:
            next_index = _replace_at(leader.next_index, j, m.mmatch_index + 1)
            match_index = _replace_at(leader.match_index, j, m.mmatch_index)
        else:
            next_index = _replace_at(leader.next_index, j, max(leader.next_index[j] - 1, 1))
            match_index = leader.match_index
        new = leader._replace(next_index=next_index, match_index=match_index)
        return State(_put(s.servers, i, new), bag_remove(s.messages, m))

    def drop_stale_response(self, s: State, m: Message) -> Optional[State]:
        """Server i discards a response from an older term."""
        if m.mterm >= s.servers[m.mdest].current_term:
            return None
        return State(s.servers, bag_remove(s.messages, m))

    def receive(self, s: State, m: Message) -> Optional[tuple[str, State]]:
        """raft.tla's Receive(m): the handler that takes m, and the state after it, if any."""
        if m.mterm > s.servers[m.mdest].current_term:
            nxt = self.update_term(s, m)
            return None if nxt is None else ("UpdateTerm", nxt)
        handler = self._handlers[m.mtype]
        for name, method in handler:
            nxt = method(self, s, m)
            if nxt is not None:
                return name, nxt
        return None

    # --------------------------------------------------------- network faults

    def duplicate_message(self, s: State, m: Message) -> Optional[State]:
        """The network duplicates message m."""
        return State(s.servers, bag_add(s.messages, m))

    def drop_message(self, s: State, m: Message) -> Optional[State]:
        """The network loses message m."""
        return State(s.servers, bag_remove(s.messages, m))

    # ------------------------------------------------------------------- Next

    _handlers: ClassVar[dict[str, tuple[tuple[str, Callable[..., Optional[State]]], ...]]] = {
        "RequestVoteRequest": (("HandleRequestVoteRequest", handle_request_vote_request),),
        "RequestVoteResponse": (
            ("DropStaleResponse", drop_stale_response),
            ("HandleRequestVoteResponse", handle_request_vote_response),
        ),
        "AppendEntriesRequest": (("HandleAppendEntriesRequest", handle_append_entries_request),),
        "AppendEntriesResponse": (
            ("DropStaleResponse", drop_stale_response),
            ("HandleAppendEntriesResponse", handle_append_entries_response),
        ),
    }

    def __init_subclass__(cls, **kwargs: object) -> None:
        # Rebind the handler table so that a subclass overriding a handler method
        # gets its own method called by `receive`.
        super().__init_subclass__(**kwargs)
        if "local_actions" not in cls.__dict__ and any(callable(v) and not k.startswith("__") for k, v in cls.__dict__.items()):
            # A new method may read other servers; only its author can say it does not.
            cls.local_actions = False
        cls._handlers = {
            mtype: tuple((name, getattr(cls, method.__name__)) for name, method in entries)
            for mtype, entries in RaftSpec._handlers.items()
        }

    def successors(self, s: State) -> Iterator[tuple[Action, State]]:
        """Every enabled action from s with its successor, in raft.tla's Next order.

        Bounds are not applied here; a successor may violate `within_bounds`.
        """
        servers, values = self.server_ids, self.value_ids
        for i in servers:
            nxt = self.timeout(s, i)
            if nxt is not None:
                yield Action("Timeout", (i,)), nxt
        for i in servers:
            nxt = self.restart(s, i)
            if nxt is not None:
                yield Action("Restart", (i,)), nxt
        for i in servers:
            for j in servers:
                nxt = self.request_vote(s, i, j)
                if nxt is not None:
                    yield Action("RequestVote", (i, j)), nxt
        for i in servers:
            nxt = self.become_leader(s, i)
            if nxt is not None:
                yield Action("BecomeLeader", (i,)), nxt
        for i in servers:
            for v in values:
                nxt = self.client_request(s, i, v)
                if nxt is not None:
                    yield Action("ClientRequest", (i, v)), nxt
        for i in servers:
            nxt = self.advance_commit_index(s, i)
            if nxt is not None:
                yield Action("AdvanceCommitIndex", (i,)), nxt
        for i in servers:
            for j in servers:
                nxt = self.append_entries(s, i, j)
                if nxt is not None:
                    yield Action("AppendEntries", (i, j)), nxt
        for m, _ in s.messages:
            got = self.receive(s, m)
            if got is not None:
                yield Action(got[0], (m,)), got[1]
        for m, _ in s.messages:
            nxt = self.duplicate_message(s, m)
            if nxt is not None:
                yield Action("DuplicateMessage", (m,)), nxt
        for m, _ in s.messages:
            nxt = self.drop_message(s, m)
            if nxt is not None:
                yield Action("DropMessage", (m,)), nxt

    def apply(self, s: State, action: Action) -> Optional[State]:
        """The successor of s under one named action, or None if it is not enabled there."""
        name, args = action
        if name in ("Timeout", "Restart", "BecomeLeader", "AdvanceCommitIndex", "RequestVote", "ClientRequest", "AppendEntries"):
            method: Callable[..., Optional[State]] = getattr(self, _SNAKE[name])
            return method(s, *args)
        (m,) = args
        if not isinstance(m, tuple) or m not in dict(s.messages):
            return None
        if name in ("DuplicateMessage", "DropMessage"):
            network: Callable[[State, Message], Optional[State]] = getattr(self, _SNAKE[name])
            return network(s, m)
        got = self.receive(s, m)
        if got is None or got[0] != name:
            return None
        return got[1]


def _replace_at(values: tuple[int, ...], k: int, value: int) -> tuple[int, ...]:
    return values[:k] + (value,) + values[k + 1 :]


def snake_case(name: str) -> str:
    """`HandleAppendEntriesRequest` -> `handle_append_entries_request` (spec name to method name)."""
    out = []
    for k, ch in enumerate(name):
        if ch.isupper() and k:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


_SNAKE: dict[str, str] = {name: snake_case(name) for name in ACTION_NAMES}
