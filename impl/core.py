"""The sans-I/O protocol core: one server's raft.tla variables and one method per spec action.

How this works: a `RaftCore` holds one server's variables (raft.tla's `currentTerm`,
`state`, `votedFor`, `log`, `commitIndex`, `votesResponded`, `votesGranted`,
`nextIndex`, `matchIndex`) and has one method per spec action, named after it
(`Timeout` -> `timeout`, `HandleAppendEntriesRequest` ->
`handle_append_entries_request`, ...).  Each method does exactly what the spec
action does and nothing more: it checks the action's guard, returns False without
touching anything if the action is not enabled, and otherwise updates the variables,
records the effects and returns True.  There are no automatic follow-ups (a
candidate with a quorum does not become leader by itself, a leader does not commit
by itself): the real-run behaviour is composed from these steps by `node.py`, so
the conformance checker can drive the core one spec action per call and compare
`project()` with the spec state after every step.

Effects are recorded, not performed (etcd's `Ready`, Stateright's output buffer):
messages to send, the term and vote to persist, log entries written or removed,
and entries newly committed.  `ready()` hands them over; the caller must persist
before it sends (see `Ready`).  There is no I/O, no clock and no randomness here.

Messages leave the bag differently from raft.tla only in bookkeeping: the spec's
handlers remove the message they consume from the bag; here `receive` says whether
the message was consumed (`Received.consumed`) or stays to be handled again
(UpdateTerm, a candidate stepping down, a conflict, an append).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional, Sequence

from .messages import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    INITIAL_PERSISTENT_STATE,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Value,
    Entry,
    HardState,
    Log,
    Message,
    PersistentState,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerId,
    append_entries_request,
    append_entries_response,
    request_vote_request,
    request_vote_response,
)


TERM_LIMIT = 2**63 - 1
"""The highest term a server takes: no message may carry a higher one, and a server at it does not time out."""
MAX_TERM_JUMP = 2**32
"""The most a message's term may exceed the receiver's: 2^32 election timeouts, centuries of them, is no real run."""
INDEX_LIMIT = 2**62
"""No log index in a message may exceed this."""


class ProtocolError(Exception):
    """The caller used the core wrongly (a message for another server, a bad index).

    Like h11's LocalProtocolError: the fault is on this side, not the peer's.
    """


@dataclass(frozen=True)
class CoreConfig:
    """What every server of a cluster must agree on."""

    servers: int
    """Number of servers; their ids are 0..servers-1."""
    max_entries_per_append: int = 1
    """Option shared with the spec (raft.tla: 1): entries a leader puts in one AppendEntries."""
    max_bytes_per_append: Optional[int] = None
    """Not in the spec: a budget for the entries' values in one AppendEntries (etcd's MaxSizePerMsg).

    A batch stops before the entry that would take it over the budget, but always
    carries at least one entry.  None: no budget (conformance runs, where the spec's
    values are small ints).  A batch cut by it is the spec's AppendEntries with a
    smaller `max_entries_per_append`, which is how the validator takes it."""

    def __post_init__(self) -> None:
        if self.servers < 1:
            raise ValueError(f"CoreConfig.servers: expected at least 1, got {self.servers}")
        if self.max_entries_per_append < 1:
            raise ValueError(f"CoreConfig.max_entries_per_append: expected at least 1, got {self.max_entries_per_append}")
        if self.max_bytes_per_append is not None and self.max_bytes_per_append < 1:
            raise ValueError(f"CoreConfig.max_bytes_per_append: expected at least 1 or None, got {self.max_bytes_per_append}")


class Projection(NamedTuple):
    """The core's state in the spec's shape (field for field `spec.state.ServerState`)."""

    current_term: int
    role: str
    voted_for: Optional[ServerId]
    log: Log
    commit_index: int
    votes_responded: frozenset[ServerId]
    votes_granted: frozenset[ServerId]
    next_index: tuple[int, ...]
    match_index: tuple[int, ...]


@dataclass(frozen=True)
class VolatileState:
    """A server's volatile variables, for the test hook `RaftCore.recover(..., volatile=...)`."""

    role: str = FOLLOWER
    commit_index: int = 0
    votes_responded: frozenset[ServerId] = frozenset()
    votes_granted: frozenset[ServerId] = frozenset()
    next_index: Optional[tuple[int, ...]] = None
    """None: all 1, as after a restart."""
    match_index: Optional[tuple[int, ...]] = None
    """None: all 0, as after a restart."""


@dataclass(frozen=True)
class Ready:
    """Everything the core wants done since the last `ready()` call.

    Ordering rule (persist before send): the caller must first make `hard_state`
    durable, truncate the stored log to `log_from - 1` entries and append `entries`,
    and fsync all of it; only then may it send `messages` (a vote or an
    acknowledgement must never leave before what it promises is on disk).  Applying
    `committed` may happen in any order relative to persisting: those entries are
    already on a quorum of disks.
    """

    hard_state: Optional[HardState]
    """The new term and vote, if either changed."""
    log_from: Optional[int]
    """1-based index of the first log entry that changed (None: the log is unchanged)."""
    entries: Log
    """The log from `log_from` on: what to write after truncating to `log_from - 1` entries."""
    messages: tuple[Message, ...]
    """Messages to send, in the order the actions produced them."""
    committed: tuple[tuple[int, Entry], ...]
    """(index, entry) pairs newly committed, in log order, to apply to the state machine."""

    @property
    def must_persist(self) -> bool:
        """Whether anything must reach the disk before `messages` are sent."""
        return self.hard_state is not None or self.log_from is not None

    @property
    def empty(self) -> bool:
        """Whether there is nothing at all to do."""
        return not self.must_persist and not self.messages and not self.committed


class Received(NamedTuple):
    """What `receive(m)` did: the spec action that ran and whether it consumed m."""

    action: str
    """The spec name of the handler: "UpdateTerm", "HandleAppendEntriesRequest", ..."""
    consumed: bool
    """False when m stays to be handled again (UpdateTerm, step-down, conflict, append)."""


# Outcomes of the AppendEntries request handler: which raft.tla branch ran.
_REJECT, _STEP_DOWN, _DONE, _CONFLICT, _APPEND = "reject", "step_down", "done", "conflict", "append"
_AE_CONSUMES = {_REJECT: True, _STEP_DOWN: False, _DONE: True, _CONFLICT: False, _APPEND: False}


class RaftCore:
    """One server's protocol state; one method per spec action (see the module comment).

    Construct a fresh server with `RaftCore(i, config)`, or one recovered from its
    storage with `RaftCore.recover(i, config, storage.load())`.

    Three small methods carry one raft.tla expression each (`vote_log_ok`,
    `append_log_ok`, `rejects_append_entries`) and one says how far the state
    machine may be fed (`applicable_index`): they are the seams a subclass
    overrides to model a broken implementation (checker/conform/mutants.py), the
    way the spec's broken variants override spec actions.
    """

    def __init__(self, node_id: ServerId, config: CoreConfig, persistent: PersistentState = INITIAL_PERSISTENT_STATE) -> None:
        if not 0 <= node_id < config.servers:
            raise ValueError(f"node id {node_id} outside 0..{config.servers - 1}")
        self.id = node_id
        self.config = config
        self.servers: tuple[ServerId, ...] = tuple(range(config.servers))
        # Persistent variables (raft.tla's currentTerm, votedFor, log).
        self.current_term = persistent.current_term
        self.voted_for: Optional[ServerId] = persistent.voted_for
        # A list, not a tuple: a leader appends one entry per client request.
        self.log: list[Entry] = [Entry(e[0], e[1]) for e in persistent.log]
        # Volatile variables, reset by restart.
        self.role = FOLLOWER
        self.commit_index = 0
        self.votes_responded: frozenset[ServerId] = frozenset()
        self.votes_granted: frozenset[ServerId] = frozenset()
        self.next_index: list[int] = [1] * config.servers
        self.match_index: list[int] = [0] * config.servers
        # Bookkeeping for `ready()` (not spec variables).
        self._applied = 0  # entries handed out as committed; the state machine is volatile
        self._stable_hard_state = HardState(self.current_term, self.voted_for)
        self._log_dirty_from: Optional[int] = None
        self._outbox: list[Message] = []

    # ------------------------------------------------------------ construction

    @classmethod
    def recover(
        cls,
        node_id: ServerId,
        config: CoreConfig,
        persistent: PersistentState,
        volatile: Optional[VolatileState] = None,
    ) -> "RaftCore":
        """A server restarted from what its storage recovered (raft.tla's Restart).

        Test hook: `volatile` puts the server in a given volatile state (role,
        commit index, votes, next/match indexes) on top of the recovered persistent
        state, so a test can start from any spec state whose persistent part was
        written through the real storage code.  Real runs pass no `volatile`.
        """
        core = cls(node_id, config, persistent)
        if volatile is not None:
            core._set_volatile(volatile)
        return core

    def _set_volatile(self, v: VolatileState) -> None:
        n = self.config.servers
        if v.role not in (FOLLOWER, CANDIDATE, LEADER):
            raise ValueError(f"volatile state: unknown role {v.role!r}")
        if not 0 <= v.commit_index <= len(self.log):
            raise ValueError(f"volatile state: commit_index {v.commit_index} outside 0..{len(self.log)}")
        for name in ("next_index", "match_index"):
            values = getattr(v, name)
            if values is not None and len(values) != n:
                raise ValueError(f"volatile state: {name} has {len(values)} slots, expected {n}")
        self.role = v.role
        self.commit_index = v.commit_index
        self.votes_responded = frozenset(v.votes_responded)
        self.votes_granted = frozenset(v.votes_granted)
        self.next_index = list(v.next_index) if v.next_index is not None else [1] * n
        self.match_index = list(v.match_index) if v.match_index is not None else [0] * n

    # ------------------------------------------------------------ observation

    def project(self) -> Projection:
        """The state in the spec's shape: compare it with `spec.state.ServerState`."""
        return Projection(
            self.current_term,
            self.role,
            self.voted_for,
            tuple(self.log),
            self.commit_index,
            self.votes_responded,
            self.votes_granted,
            tuple(self.next_index),
            tuple(self.match_index),
        )

    def persistent_state(self) -> PersistentState:
        """The term, vote and log as they are in memory now."""
        return PersistentState(self.current_term, self.voted_for, tuple(self.log))

    def last_term(self) -> int:
        """The term of the last log entry, or 0 for an empty log (raft.tla's LastTerm)."""
        return self.log[-1].term if self.log else 0

    def is_quorum(self, members: frozenset[ServerId]) -> bool:
        """A simple majority of all servers (raft.tla's Quorum)."""
        return 2 * len(members) > self.config.servers

    def has_pending_ready(self) -> bool:
        """Whether `ready()` would return something."""
        return (
            bool(self._outbox)
            or self._log_dirty_from is not None
            or HardState(self.current_term, self.voted_for) != self._stable_hard_state
            or self.commit_index > self._applied
        )

    def take_messages(self) -> list[Message]:
        """Hand over the messages recorded so far (the rest stays for `ready()`).

        For a driver that tags messages with context as they are produced
        (`node.py` tags replies with a read round).  The persist-before-send rule of
        `Ready` still applies to them: send them only after persisting the next Ready.
        """
        messages = list(self._outbox)
        self._outbox.clear()
        return messages

    def ready(self) -> Ready:
        """Hand over the recorded effects and forget them (etcd's Ready + Advance).

        Persist before send: see `Ready`.
        """
        hard = HardState(self.current_term, self.voted_for)
        hard_state = hard if hard != self._stable_hard_state else None
        self._stable_hard_state = hard
        log_from = self._log_dirty_from
        entries: Log = tuple(self.log[log_from - 1 :]) if log_from is not None else ()
        self._log_dirty_from = None
        committed: tuple[tuple[int, Entry], ...] = ()
        apply_to = self.applicable_index()
        if apply_to > self._applied:
            committed = tuple((k + 1, self.log[k]) for k in range(self._applied, apply_to))
            self._applied = apply_to
        messages = tuple(self._outbox)
        self._outbox.clear()
        return Ready(hard_state, log_from, entries, messages, committed)

    def applicable_index(self) -> int:
        """The highest log index whose entry may be handed to the state machine: the commit index."""
        return self.commit_index

    def vote_log_ok(self, m: RequestVoteRequest) -> bool:
        """raft.tla's logOk of HandleRequestVoteRequest: the candidate's log is at least as up to date."""
        last = self.last_term()
        return m.mlast_log_term > last or (m.mlast_log_term == last and m.mlast_log_index >= len(self.log))

    def append_log_ok(self, m: AppendEntriesRequest) -> bool:
        """raft.tla's logOk of HandleAppendEntriesRequest: this log holds m's previous entry."""
        prev = m.mprev_log_index
        return prev == 0 or (0 < prev <= len(self.log) and m.mprev_log_term == self.log[prev - 1].term)

    def rejects_append_entries(self, m: AppendEntriesRequest, log_ok: bool) -> bool:
        """raft.tla's reject condition: m is from an older term, or a follower's log lacks m's previous entry."""
        return m.mterm < self.current_term or (self.role == FOLLOWER and not log_ok)

    # ----------------------------------------------------------------- helpers

    def _send(self, m: Message) -> None:
        self._outbox.append(m)

    def _log_changed_from(self, index: int) -> None:
        if self._log_dirty_from is None or index < self._log_dirty_from:
            self._log_dirty_from = index

    def _term_at(self, index: int) -> int:
        # raft.tla's log[index].term; indexes outside the log are a protocol bug, as in TLC.
        if index < 1 or index > len(self.log):
            raise ProtocolError(f"server {self.id}: log index {index} outside 1..{len(self.log)}")
        return self.log[index - 1].term

    def _check_dest(self, m: Message) -> None:
        if m.mdest != self.id:
            raise ProtocolError(f"server {self.id} was given {m.mtype} addressed to server {m.mdest}")
        if not 0 <= m.msource < self.config.servers:
            raise ProtocolError(f"server {self.id} was given {m.mtype} from unknown server {m.msource}")

    # ----------------------------------------------------------------- actions

    def restart(self, stored: Optional[PersistentState] = None) -> bool:
        """Server i restarts from stable storage: it keeps its term, vote and log only.

        `stored` is what storage recovered; None keeps the in-memory term, vote and
        log (correct when every Ready was persisted).  Unsent messages and unapplied
        commits are dropped, as a crash drops them; the state machine restarts empty.
        """
        if stored is not None:
            self.current_term = stored.current_term
            self.voted_for = stored.voted_for
            self.log = [Entry(e[0], e[1]) for e in stored.log]
            self._stable_hard_state = HardState(self.current_term, self.voted_for)
            self._log_dirty_from = None
        n = self.config.servers
        self.role = FOLLOWER
        self.commit_index = 0
        self.votes_responded = frozenset()
        self.votes_granted = frozenset()
        self.next_index = [1] * n
        self.match_index = [0] * n
        self._applied = 0
        self._outbox.clear()
        return True

    def timeout(self) -> bool:
        """Server i times out and starts a new election (its own vote travels as a message)."""
        if self.role not in (FOLLOWER, CANDIDATE) or self.current_term >= TERM_LIMIT:
            return False
        self.current_term += 1
        self.role = CANDIDATE
        self.voted_for = None
        self.votes_responded = frozenset()
        self.votes_granted = frozenset()
        return True

    def request_vote(self, j: ServerId) -> bool:
        """Candidate i sends j (possibly itself) a RequestVote request."""
        if self.role != CANDIDATE or j in self.votes_responded:
            return False
        self._send(request_vote_request(self.current_term, self.last_term(), len(self.log), self.id, j))
        return True

    def append_entries(self, j: ServerId) -> bool:
        """Leader i sends j an AppendEntries request with up to max_entries_per_append entries."""
        if j == self.id or self.role != LEADER:
            return False
        next_j = self.next_index[j]
        prev_index = next_j - 1
        prev_term = self._term_at(prev_index) if prev_index > 0 else 0
        last_entry = self._batch_end(next_j)
        entries: Log = tuple(self.log[next_j - 1 : last_entry]) if last_entry >= next_j else ()
        self._send(
            append_entries_request(
                self.current_term, prev_index, prev_term, entries, min(self.commit_index, last_entry), self.id, j
            )
        )
        return True

    def _batch_end(self, first: int) -> int:
        # The last index of a batch starting at `first`: max_entries_per_append
        # entries (the spec), fewer if the byte budget runs out first (at least one).
        last = min(len(self.log), first + self.config.max_entries_per_append - 1)
        budget = self.config.max_bytes_per_append
        if budget is None:
            return last
        used = 0
        for index in range(first, last + 1):
            value = self.log[index - 1].value
            used += len(value) if isinstance(value, bytes) else 8
            if used > budget and index > first:
                return index - 1
        return last

    def become_leader(self) -> bool:
        """Candidate i, granted votes by a quorum, becomes leader."""
        if self.role != CANDIDATE or not self.is_quorum(self.votes_granted):
            return False
        n = self.config.servers
        self.role = LEADER
        self.next_index = [len(self.log) + 1] * n
        self.match_index = [0] * n
        return True

    def client_request(self, value: Value) -> bool:
        """Leader i receives a client request to add `value` to its log."""
        if self.role != LEADER:
            return False
        self._log_changed_from(len(self.log) + 1)
        self.log.append(Entry(self.current_term, value))
        return True

    def agree_max(self) -> int:
        """The highest log index a quorum holds (the leader and servers whose matchIndex reaches it), or 0.

        raft.tla's Max(agreeIndexes), computed from the sorted match indexes instead
        of testing every index: agreement at an index is monotone in the index.
        """
        n = self.config.servers
        quorum = n // 2 + 1
        others = sorted((min(self.match_index[k], len(self.log)) for k in self.servers if k != self.id), reverse=True)
        # The leader always counts itself; it needs quorum - 1 others at or above the index.
        best = len(self.log) if quorum == 1 else others[quorum - 2]
        return best

    def advance_commit_index(self) -> bool:
        """Leader i commits the highest index a quorum holds, if that entry is from its own term."""
        if self.role != LEADER:
            return False
        best = self.agree_max()
        if best >= 1 and self._term_at(best) == self.current_term:
            self.commit_index = best
        return True

    # -------------------------------------------------------- message handlers
    # i = this server (m.mdest), j = the sender (m.msource).

    def update_term(self, m: Message) -> bool:
        """Server i sees a newer term in any message and becomes a follower in it (m stays)."""
        self._check_dest(m)
        if m.mterm <= self.current_term:
            return False
        self.current_term = m.mterm
        self.role = FOLLOWER
        self.voted_for = None
        return True

    def handle_request_vote_request(self, m: RequestVoteRequest) -> bool:
        """Server i answers candidate j's vote request, granting it if the term, log and its vote allow."""
        self._check_dest(m)
        if m.mterm > self.current_term:
            return False
        j = m.msource
        grant = m.mterm == self.current_term and self.vote_log_ok(m) and self.voted_for in (None, j)
        if grant:
            self.voted_for = j
        self._send(request_vote_response(self.current_term, grant, self.id, j))
        return True

    def handle_request_vote_response(self, m: RequestVoteResponse) -> bool:
        """Server i tallies j's answer to its vote request of the current term."""
        self._check_dest(m)
        if m.mterm != self.current_term:
            return False
        j = m.msource
        self.votes_responded = self.votes_responded | {j}
        if m.mvote_granted:
            self.votes_granted = self.votes_granted | {j}
        return True

    def handle_append_entries_request(self, m: AppendEntriesRequest) -> bool:
        """Server i handles leader j's AppendEntries: reject, step down, or accept (done, conflict, append)."""
        return self._append_entries_branch(m) is not None

    def _append_entries_branch(self, m: AppendEntriesRequest) -> Optional[str]:
        self._check_dest(m)
        if m.mterm > self.current_term:
            return None
        j = m.msource
        if self.rejects_append_entries(m, self.append_log_ok(m)):
            self._send(append_entries_response(self.current_term, False, 0, self.id, j))
            return _REJECT
        if self.role == CANDIDATE:
            # Return to follower state; the message stays to be handled again.
            self.role = FOLLOWER
            return _STEP_DOWN
        if self.role != FOLLOWER:
            return None  # a leader given its own term's request: raft.tla has no branch for it
        return self._accept_append_entries(m)

    def _accept_append_entries(self, m: AppendEntriesRequest) -> Optional[str]:
        # With one entry this is raft.tla exactly; with a batch the first entry that
        # is missing or differs decides which of the three branches applies.
        log = self.log
        first_new: Optional[int] = None
        for k, entry in enumerate(m.mentries):
            index = m.mprev_log_index + 1 + k
            if len(log) < index or log[index - 1].term != entry[0]:
                first_new = k
                break
        if first_new is None:
            # Already done with the request: take the commit index and acknowledge.
            self.commit_index = m.mcommit_index
            self._send(
                append_entries_response(self.current_term, True, m.mprev_log_index + len(m.mentries), self.id, m.msource)
            )
            return _DONE
        index = m.mprev_log_index + 1 + first_new
        if len(log) >= index:
            # Conflict: remove one entry (the last), as raft.tla does; m stays.
            self._log_changed_from(len(log))
            log.pop()
            return _CONFLICT
        if len(log) == index - 1:
            self._log_changed_from(index)
            log.extend(Entry(e[0], e[1]) for e in m.mentries[first_new:])
            return _APPEND
        return None

    def handle_append_entries_response(self, m: AppendEntriesResponse) -> bool:
        """Server i records j's answer to its AppendEntries request of the current term."""
        self._check_dest(m)
        if m.mterm != self.current_term:
            return False
        j = m.msource
        if m.msuccess:
            self.next_index[j] = m.mmatch_index + 1
            self.match_index[j] = m.mmatch_index
        else:
            self.next_index[j] = max(self.next_index[j] - 1, 1)
        return True

    def drop_stale_response(self, m: Message) -> bool:
        """Server i discards a response from an older term."""
        self._check_dest(m)
        return m.mterm < self.current_term

    def check_message(self, m: Message) -> Optional[str]:
        """Why m cannot come from a correct server (a forged or corrupt frame), or None if it can.

        Every message a server following the spec sends passes: the ranges and
        relations checked here hold for them (a leader never sends a commit index past
        the entries it sends, entries of a later term than the message's, a success
        for entries it does not have...).  A message that fails is to be dropped
        before `receive`: taken, it could crash the core (a commit index past the
        log), stop the cluster for good (a term at 2^64-1), or undo committed
        entries.  Checks the addressing too, so a bad message never raises.
        """
        n = self.config.servers
        if m.mdest != self.id or not 0 <= m.msource < n or m.msource == m.mdest and m.mtype.startswith("Append"):
            return f"{m.mtype} from {m.msource} to {m.mdest} given to server {self.id} of {n}"
        if not 1 <= m.mterm <= TERM_LIMIT:
            return f"term {m.mterm} outside 1..{TERM_LIMIT}"
        if m.mterm > self.current_term + MAX_TERM_JUMP:
            return f"term {m.mterm} is more than {MAX_TERM_JUMP} past this server's {self.current_term}"
        if m.mtype == "RequestVoteRequest":
            if m.mlast_log_term > m.mterm or not 0 <= m.mlast_log_index <= INDEX_LIMIT:  # type: ignore[union-attr]
                return "last log term past the message's term, or last log index out of range"
        elif m.mtype == "AppendEntriesRequest":
            return self._check_append_entries(m)  # type: ignore[arg-type]
        elif m.mtype == "AppendEntriesResponse":
            match = m.mmatch_index  # type: ignore[union-attr]
            if not 0 <= match <= INDEX_LIMIT:
                return f"match index {match} out of range"
            if (m.msuccess and m.mterm == self.current_term and self.role == LEADER  # type: ignore[union-attr]
                    and match > len(self.log)):
                return f"success at match index {match}, past this leader's log of {len(self.log)}"
        elif m.mtype != "RequestVoteResponse":
            return f"unknown message type {m.mtype!r}"
        return None

    def _check_append_entries(self, m: AppendEntriesRequest) -> Optional[str]:
        prev, commit, entries = m.mprev_log_index, m.mcommit_index, m.mentries
        if not 0 <= prev <= INDEX_LIMIT or not 0 <= commit <= INDEX_LIMIT:
            return "previous or commit index out of range"
        if commit > prev + len(entries):
            return f"commit index {commit} past the last entry it carries ({prev + len(entries)})"
        if m.mprev_log_term > m.mterm or (prev == 0) != (m.mprev_log_term == 0):
            return f"previous log term {m.mprev_log_term} does not fit index {prev} and term {m.mterm}"
        last = m.mprev_log_term
        for e in entries:
            if not last <= e[0] <= m.mterm:
                return f"entry terms out of order or past the message's term {m.mterm}"
            last = e[0]
        if m.mterm < self.current_term:
            return None  # rejected by the handler anyway (with an answer that tells the sender the term)
        # A correct leader's log holds every committed entry (Leader Completeness):
        # a request of a current or newer term that contradicts one is forged.
        for k, e in enumerate(entries):
            index = prev + 1 + k
            if index > min(self.commit_index, len(self.log)):
                break
            if self.log[index - 1].term != e[0]:
                return f"it would replace committed entry {index}"
        if 0 < prev <= min(self.commit_index, len(self.log)) and self.log[prev - 1].term != m.mprev_log_term:
            return f"it contradicts committed entry {prev}"
        return None

    def receive(self, m: Message) -> Optional[Received]:
        """raft.tla's Receive(m): run the one handler enabled for m, if any, and say which.

        A newer term is always handled by UpdateTerm first, leaving m to be
        received again; responses from older terms are dropped.  None: no handler
        is enabled (raft.tla leaves such a message in the bag; a real run drops it).
        """
        self._check_dest(m)
        if m.mterm > self.current_term:
            return Received("UpdateTerm", False) if self.update_term(m) else None
        # Dispatch on the type name, not the class: the checker may hand in the spec's
        # own message tuples, which are equal field for field but another class.
        if m.mtype == "AppendEntriesRequest":
            branch = self._append_entries_branch(m)  # type: ignore[arg-type]
            return None if branch is None else Received("HandleAppendEntriesRequest", _AE_CONSUMES[branch])
        handlers = _HANDLERS.get(m.mtype)
        if handlers is None:
            raise ProtocolError(f"server {self.id} was given a message of unknown type {m.mtype!r}")
        for name, method in handlers:
            if method(self, m):
                return Received(name, True)
        return None


_Handler = Callable[[RaftCore, Any], bool]

_HANDLERS: dict[str, Sequence[tuple[str, _Handler]]] = {
    "RequestVoteRequest": (("HandleRequestVoteRequest", RaftCore.handle_request_vote_request),),
    "RequestVoteResponse": (
        ("DropStaleResponse", RaftCore.drop_stale_response),
        ("HandleRequestVoteResponse", RaftCore.handle_request_vote_response),
    ),
    "AppendEntriesResponse": (
        ("DropStaleResponse", RaftCore.drop_stale_response),
        ("HandleAppendEntriesResponse", RaftCore.handle_append_entries_response),
    ),
}
"""Which handlers `receive` tries for each message type, in raft.tla's order."""
