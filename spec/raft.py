"""The protocol's actions: raft.tla's Init and Next, one pure method per action.

How this works: `RaftSpec` is an immutable object holding the model's `Params`.
Each action is a method that takes a `State` (and the action's arguments) and
returns the successor `State`, or `None` when the action is not enabled.  Nothing
is mutated.  Which actions exist, their arguments and their order come from the
table in `spec/actions.py`: `successors(state)` walks it and yields every enabled
action with its successor, in a fixed order (raft.tla's `Next`: Timeout, Restart,
RequestVote, BecomeLeader, ClientRequest, AdvanceCommitIndex, AppendEntries, the
handlers of each message in the bag, DuplicateMessage, DropMessage; servers and
values in increasing order; messages in bag order), so the explorer is
deterministic.  Receiving a message is raft.tla's `Receive(m)`: every handler that
takes the message's type is tried, and each successor is labelled with the handler
that produced it (`UpdateTerm`, `HandleRequestVoteRequest`, ..., `DropStaleResponse`).

A spec variant (a bug to catch, or a design to try) subclasses `RaftSpec` and
overrides one method; everything else is inherited.  An action method may also
return several successors (a list, or a generator of states): the branches of one
action, all under its label, as raft.tla's disjunctions give.  Bounds are not part
of the actions: `within_bounds` is the state constraint the explorer applies.
"""
from __future__ import annotations

import functools
from typing import Callable, ClassVar, Iterable, Iterator, NamedTuple, Optional, Union, cast

from .actions import (
    ACTION_BY_NAME,
    ACTIONS,
    Action,
    ActionDef,
    ActionName,
    Actor,
    Arg,
    argument_tuples,
)
from .fairness import DEFAULT_FAIRNESS, Fairness
from .params import Params
from .state import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    NIL,
    AppendEntriesRequest,
    AppendEntriesResponse,
    MESSAGE_TYPES,
    Entry,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerId,
    ServerState,
    State,
    bag_count,
    entry_at,
    last_term,
)

Outcome = Union[None, State, Iterable[State]]
"""What an action method returns: None (not enabled), a successor, or several (its branches)."""

ActionMethod = Callable[..., Outcome]
"""A bound action method: the state, then the action's arguments."""


class AmbiguousAction(ValueError):
    """`apply` was asked for one successor of an action that has several in this state."""


def each_outcome(out: Outcome) -> tuple[State, ...]:
    """The successors an action method returned, as a tuple (empty: not enabled)."""
    if out is None:
        return ()
    if type(out) is State:
        return (out,)
    states = tuple(cast(Iterable[State], out))
    for t in states:
        if type(t) is not State:
            raise TypeError(f"an action returned {t!r} among its successors; expected State values")
    return states


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
    actions: ClassVar[tuple[ActionDef, ...]] = ACTIONS
    """The actions of this spec (`spec/actions.py`); a variant may leave some out."""
    fairness: ClassVar[tuple[Fairness, ...]] = DEFAULT_FAIRNESS
    """Which actions a behaviour must eventually take (`spec/fairness.py`); a variant may change it."""

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
        return s.with_server(i, new)

    def timeout(self, s: State, i: ServerId) -> Optional[State]:
        """Server i times out and starts a new election (its own vote travels as a message)."""
        old = s.servers[i]
        if old.role not in (FOLLOWER, CANDIDATE):
            return None
        new = ServerState(
            old.current_term + 1, CANDIDATE, NIL, old.log, old.commit_index, frozenset(), frozenset(), old.next_index, old.match_index
        )
        return s.with_server(i, new)

    def request_vote(self, s: State, i: ServerId, j: ServerId) -> Optional[State]:
        """Candidate i sends j (possibly itself) a RequestVote request."""
        c = s.servers[i]
        if c.role != CANDIDATE or j in c.votes_responded:
            return None
        return s.with_message(RequestVoteRequest("RequestVoteRequest", c.current_term, last_term(c.log), len(c.log), i, j))

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
        return s.with_message(m)

    def become_leader(self, s: State, i: ServerId) -> Optional[State]:
        """Candidate i, granted votes by a quorum, becomes leader."""
        c = s.servers[i]
        if c.role != CANDIDATE or not self.is_quorum(c.votes_granted):
            return None
        n = self.params.servers
        new = ServerState(
            c.current_term, LEADER, c.voted_for, c.log, c.commit_index, c.votes_responded, c.votes_granted, (len(c.log) + 1,) * n, (0,) * n
        )
        return s.with_server(i, new)

    def client_request(self, s: State, i: ServerId, v: int) -> Optional[State]:
        """Leader i receives a client request to add value v to its log."""
        leader = s.servers[i]
        if leader.role != LEADER:
            return None
        return s.update_server(i, log=leader.log + (Entry(leader.current_term, v),))

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
        return s.update_server(i, commit_index=new_commit)

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
        return s.with_server(i, new)

    def handle_request_vote_request(self, s: State, m: RequestVoteRequest) -> Optional[State]:
        """Server i answers candidate j's vote request, granting it if the term, log and its vote allow."""
        i, j = m.mdest, m.msource
        voter = s.servers[i]
        if m.mterm > voter.current_term:
            return None
        grant = m.mterm == voter.current_term and self.vote_log_ok(voter, m) and voter.voted_for in (NIL, j)
        if grant:
            s = s.update_server(i, voted_for=j)
        return s.reply(RequestVoteResponse("RequestVoteResponse", voter.current_term, grant, i, j), m)

    def handle_request_vote_response(self, s: State, m: RequestVoteResponse) -> Optional[State]:
        """Server i tallies j's answer to its vote request of the current term."""
        i, j = m.mdest, m.msource
        c = s.servers[i]
        if m.mterm != c.current_term:
            return None
        granted = c.votes_granted | {j} if m.mvote_granted else c.votes_granted
        return s.update_server(i, votes_responded=c.votes_responded | {j}, votes_granted=granted).without_message(m)

    def handle_append_entries_request(self, s: State, m: AppendEntriesRequest) -> Optional[State]:
        """Server i handles leader j's AppendEntries: reject, step down, or accept (done, conflict, append)."""
        i, j = m.mdest, m.msource
        f = s.servers[i]
        if m.mterm > f.current_term:
            return None
        log_ok = self.append_log_ok(f, m)
        if m.mterm < f.current_term or (f.role == FOLLOWER and not log_ok):
            return s.reply(AppendEntriesResponse("AppendEntriesResponse", f.current_term, False, 0, i, j), m)
        if f.role == CANDIDATE:
            # Return to follower state; the message stays to be handled again.
            return s.update_server(i, role=FOLLOWER)
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
            return s.update_server(i, commit_index=m.mcommit_index).reply(reply, m)
        index = m.mprev_log_index + 1 + first_new
        if len(log) >= index:
            # Conflict: remove one entry (the last), as raft.tla does.
            return s.update_server(i, log=log[:-1])
        if len(log) == index - 1:
            return s.update_server(i, log=log + m.mentries[first_new:])
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
        return s.update_server(i, next_index=next_index, match_index=match_index).without_message(m)

    def drop_stale_response(self, s: State, m: Message) -> Optional[State]:
        """Server i discards a response from an older term."""
        if m.mterm >= s.servers[m.mdest].current_term:
            return None
        return s.without_message(m)

    # --------------------------------------------------------- network faults

    def duplicate_message(self, s: State, m: Message) -> Optional[State]:
        """The network duplicates message m."""
        return s.with_message(m)

    def drop_message(self, s: State, m: Message) -> Optional[State]:
        """The network loses message m."""
        return s.without_message(m)

    # ------------------------------------------------------------------- Next

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "local_actions" not in cls.__dict__ and any(callable(v) and not k.startswith("__") for k, v in cls.__dict__.items()):
            # A new method may read other servers; only its author can say it does not.
            cls.local_actions = False

    def arguments(self, row: ActionDef) -> tuple[tuple[int, ...], ...]:
        """Every argument tuple of a server action, in `successors` order (servers, then values)."""
        return tuple(argument_tuples(row, self.server_ids, self.value_ids))

    def handlers_of(self, mtype: str) -> tuple[tuple[ActionName, ActionMethod], ...]:
        """The handlers of this spec that take messages of type `mtype`: name and bound method, in table order."""
        return tuple((row.name, getattr(self, row.method)) for row in self.actions if row.actor is Actor.RECIPIENT and mtype in row.takes)

    @functools.cached_property
    def _plan(self) -> tuple[_Segment, ...]:
        # The table resolved once per spec object: bound (possibly overridden) methods and
        # every server action's calls.  All handlers form one segment, at the place of the
        # first: raft.tla's Receive(m) is their disjunction, per message.
        plan: list[_Segment] = []
        for row in self.actions:
            method = getattr(self, row.method)
            if row.actor is Actor.SERVER:
                plan.append(_Segment(row.actor, row.name, method, tuple((row.name, method, args) for args in self.arguments(row))))
            elif row.actor is Actor.NETWORK:
                plan.append(_Segment(row.actor, row.name, method))
            elif not any(seg.actor is Actor.RECIPIENT for seg in plan):
                handlers = {mtype: self.handlers_of(mtype) for mtype in MESSAGE_TYPES}
                plan.append(_Segment(row.actor, row.name, method, handlers=handlers))
        return tuple(plan)

    def instances(self, s: State) -> list[tuple[ActionName, ActionMethod, tuple[Arg, ...]]]:
        """Every action instance that may be enabled in s, in `successors` order: its name,
        its (bound, possibly overridden) method and its arguments, derived from `actions`."""
        calls: list[tuple[ActionName, ActionMethod, tuple[Arg, ...]]] = []
        messages = s.messages
        for seg in self._plan:
            if seg.actor is Actor.SERVER:
                calls.extend(seg.calls)
            elif seg.actor is Actor.RECIPIENT:
                handlers = seg.handlers
                for m, _ in messages:
                    calls.extend((name, method, (m,)) for name, method in handlers[m.mtype])
            else:
                calls.extend((seg.name, seg.method, (m,)) for m, _ in messages)
        return calls

    def successors(self, s: State) -> Iterator[tuple[Action, State]]:
        """Every enabled action from s with its successor, in raft.tla's Next order.

        Bounds are not applied here; a successor may violate `within_bounds`.
        """
        for name, method, args in self.instances(s):
            out = method(s, *args)
            if out is None:
                continue
            if type(out) is State:
                yield Action(name, args), out
            else:
                action = Action(name, args)
                for t in each_outcome(out):
                    yield action, t

    def receive(self, s: State, m: Message) -> list[tuple[Action, State]]:
        """raft.tla's Receive(m): every handler's successors for message m, each labelled by its handler."""
        out: list[tuple[Action, State]] = []
        for name, method in self.handlers_of(m.mtype):
            action = Action(name, (m,))
            out.extend((action, t) for t in each_outcome(method(s, m)))
        return out

    def outcomes(self, s: State, action: Action) -> tuple[State, ...]:
        """Every successor of s under one named action (empty if it is not enabled there)."""
        row = ACTION_BY_NAME.get(action.name)
        if row is None or row not in self.actions:
            return ()
        if row.actor is not Actor.SERVER:
            (m,) = action.args
            if not isinstance(m, tuple) or bag_count(s.messages, m) == 0:
                return ()
            if row.actor is Actor.RECIPIENT and m.mtype not in row.takes:
                return ()
        return each_outcome(getattr(self, row.method)(s, *action.args))

    def apply(self, s: State, action: Action) -> Optional[State]:
        """The successor of s under one named action, or None if it is not enabled there.

        Raises AmbiguousAction if the action has several successors in s (use `outcomes`).
        """
        out = self.outcomes(s, action)
        if len(out) > 1:
            raise AmbiguousAction(f"{action} has {len(out)} successors in this state; pick one from outcomes()")
        return out[0] if out else None


class _Segment(NamedTuple):
    """A stretch of `successors`: one server or network action, or all the handlers."""

    actor: Actor
    name: ActionName
    method: ActionMethod
    calls: tuple[tuple[ActionName, ActionMethod, tuple[Arg, ...]], ...] = ()
    handlers: dict[str, tuple[tuple[ActionName, ActionMethod], ...]] = {}


def _replace_at(values: tuple[int, ...], k: int, value: int) -> tuple[int, ...]:
    return values[:k] + (value,) + values[k + 1 :]
