"""The policy layer: a real server's behaviour composed from the core's spec actions.

How this works: `Node` wraps a `RaftCore` and decides *when* to take which spec
action; the core only ever does one action per call.  Still sans-I/O: time enters
as `tick()`, messages as `step(envelope)`, client operations as `write()` and
`read()`, and everything to do comes out of `ready()` (persist, then send, then
reply).  The rules, one per event:

- election timer (followers, candidates): Timeout, then RequestVote to every
  server including itself; the timer is randomised from an injected seeded Random.
- message: Receive repeatedly (UpdateTerm, step-down, conflict and append leave
  the message to be handled again) until a handler consumes it or none is enabled;
  then a candidate tries BecomeLeader, and a leader that got an AppendEntries
  answer does AdvanceCommitIndex and sends that follower what it still lacks.
- becoming leader: ClientRequest(no-op) so that an entry of its own term can
  commit (raft.tla's leaders commit only their own term's entries), then
  AppendEntries to everyone.
- heartbeat timer (leaders): AppendEntries to every other server.
- client write: ClientRequest on the leader; followers answer with a redirect.
  Writes arriving together share one Ready, hence one fsync (group commit), and
  go out together in AppendEntries of up to `max_entries_per_append` entries.
- linearizable read: the leader waits until an entry of its term is committed,
  then runs a read round: AppendEntries to all carrying a context number (in the
  envelope, not the spec message); the read is answered once a quorum has
  answered that round in the current term and the state machine has caught up
  with the commit index noted when the read arrived (etcd's ReadIndex).

Role-specific timer behaviour is swapped as a whole (`self._on_tick`), not tested
with `if role ==` at every tick.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Hashable, NamedTuple, Optional, cast

from .core import CoreConfig, RaftCore, Ready, Received
from .kv import NOOP, KVStore, OperationError, SessionId, encode_write
from .messages import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    Entry,
    HardState,
    Log,
    Message,
    PersistentState,
    ServerId,
)

if TYPE_CHECKING:
    from .tracelog import TraceLog


@dataclass(frozen=True)
class NodeConfig:
    """Timing and policy knobs of a real server (all in ticks)."""

    election_ticks_min: int = 15
    """Lower bound of the randomised election timeout."""
    election_ticks_max: int = 30
    """Upper bound of the randomised election timeout."""
    heartbeat_ticks: int = 5
    """A leader sends AppendEntries to every server this often."""
    noop_on_leader: bool = True
    """Append a no-op on becoming leader so that an entry of the new term commits."""

    def __post_init__(self) -> None:
        if not 1 <= self.election_ticks_min <= self.election_ticks_max:
            raise ValueError(
                f"election timeout: expected 1 <= min <= max, got {self.election_ticks_min}..{self.election_ticks_max}"
            )
        if not 1 <= self.heartbeat_ticks < self.election_ticks_min:
            raise ValueError(
                f"heartbeat_ticks {self.heartbeat_ticks}: expected at least 1 and below election_ticks_min"
                f" {self.election_ticks_min}, or followers time out while the leader is alive"
            )


class Envelope(NamedTuple):
    """A spec message plus the read-round context it carries (0: none) on the wire."""

    message: Message
    ctx: int = 0


class Reply(NamedTuple):
    """An answer for the client request identified by `token` (opaque to the node)."""

    token: Hashable
    body: dict[str, Any]


@dataclass(frozen=True)
class NodeReady:
    """What the shell must do, in this order: persist, then send, then reply.

    Persist before send: make `hard_state`, and the log truncated to `log_from - 1`
    entries plus `entries`, durable (fsync) before sending any of `messages`
    (messages to this node itself included: its own vote is one of them) or `replies`.
    """

    hard_state: Optional[HardState]
    log_from: Optional[int]
    entries: Log
    messages: tuple[Envelope, ...]
    replies: tuple[Reply, ...]
    events: tuple[str, ...]
    """One human line per role change, term change and commit advance, for the log."""
    rejected: tuple[str, ...] = ()
    """One line per peer message dropped as impossible from a correct server (`RaftCore.check_message`)."""

    @property
    def must_persist(self) -> bool:
        """Whether anything must reach the disk before sending."""
        return self.hard_state is not None or self.log_from is not None


class _Read(NamedTuple):
    token: Hashable
    key: str
    read_index: int
    round: int


class Node:
    """A server's behaviour over time: timers, elections, replication, client operations.

    `core_class` is the protocol core it composes (`RaftCore`, or a subclass: the seam
    `NodeServer` passes on).
    """

    def __init__(
        self,
        node_id: ServerId,
        core_config: CoreConfig,
        rng: random.Random,
        config: NodeConfig = NodeConfig(),
        persistent: Optional[PersistentState] = None,
        trace: Optional["TraceLog"] = None,
        core_class: type[RaftCore] = RaftCore,
    ) -> None:
        self.config = config
        self.rng = rng
        self.core = core_class.recover(node_id, core_config, persistent) if persistent else core_class(node_id, core_config)
        if trace is not None:
            # Tracing on: the same core behind a recording wrapper (no wrapper, no cost, when off).
            from .tracelog import TracingCore

            tracing = TracingCore(self.core, trace)
            tracing.record_node_start()
            self.core = cast(RaftCore, tracing)
        self.id = node_id
        self.kv = KVStore()
        self.leader_id: Optional[ServerId] = None
        self._reset_volatile()
        self._last_role = self.core.role
        self._last_term = self.core.current_term
        self._last_commit = 0

    def _reset_volatile(self) -> None:
        n = self.core.config.servers
        self._envelopes: list[Envelope] = []
        self._replies: list[Reply] = []
        self._events: list[str] = []
        self._rejected: list[str] = []
        self._elapsed = 0
        self._election_timeout = self._random_timeout()
        self._on_tick: Callable[[], None] = self._tick_follower
        self._inflight = [False] * n
        self._pending_writes: dict[int, tuple[Hashable, int, str]] = {}  # index -> (token, term, op)
        self._waiting_reads: list[tuple[Hashable, str]] = []  # until an entry of this term commits
        self._reads: list[_Read] = []
        self._round = 0  # last read round sent
        self._heard_commit = False  # took a commit index from a leader of its term since it started
        self._acked_round = [0] * n

    def _random_timeout(self) -> int:
        return self.rng.randint(self.config.election_ticks_min, self.config.election_ticks_max)

    # ------------------------------------------------------------------ status

    @property
    def role(self) -> str:
        """The core's role."""
        return self.core.role

    @property
    def term(self) -> int:
        """The core's current term."""
        return self.core.current_term

    def restart(self, stored: Optional[PersistentState] = None) -> None:
        """Restart from storage (in-process restarts in tests): the core's Restart, and empty volatile state."""
        self.core.restart(stored)
        self.kv = KVStore()
        self.leader_id = None
        self._reset_volatile()
        self._note_changes()

    # ------------------------------------------------------------------ timers

    def tick(self) -> None:
        """One unit of time passes."""
        self._on_tick()

    def _tick_follower(self) -> None:
        self._elapsed += 1
        if self._elapsed >= self._election_timeout:
            self.campaign()

    def _tick_leader(self) -> None:
        self._elapsed += 1
        if self._elapsed >= self.config.heartbeat_ticks:
            self._elapsed = 0
            self._broadcast_append_entries(ctx=0)

    def peer_connected(self, j: ServerId) -> None:
        """The shell's link to j came (back) up; what was in flight on the old one is lost.

        A leader sends j its AppendEntries at once rather than at the next
        heartbeat, so a server that has just started hears the leader well before
        its election timer can fire; a candidate asks j again for its vote (the
        spec's RequestVote is enabled until j answers), which a request lost on a
        link that was not up yet would otherwise wait a whole timeout for.
        """
        if j == self.id:
            return
        self._inflight[j] = False
        if self.core.role == LEADER:
            self._send_append_entries(j, ctx=self._round)
        elif self.core.request_vote(j):
            self._collect(ctx=0)
        self._note_changes()

    def campaign(self) -> None:
        """Start an election now: Timeout, then RequestVote to every server (itself included)."""
        if not self.core.timeout():
            return
        self.leader_id = None
        self._reset_election_timer()
        for j in self.core.servers:
            self.core.request_vote(j)
        self._collect(ctx=0)
        self._note_changes()

    def _reset_election_timer(self) -> None:
        self._elapsed = 0
        self._election_timeout = self._random_timeout()

    # ---------------------------------------------------------------- messages

    def step(self, envelope: Envelope) -> None:
        """Receive one message (with its read-round context) and react to it.

        A message no correct server could have sent (`RaftCore.check_message`: a
        forged or corrupt frame) is dropped, and said so in the next Ready.
        """
        m, ctx = envelope
        core = self.core
        reason = core.check_message(m)
        if reason is not None:
            self._rejected.append(f"{m.mtype} from {m.msource}: {reason}")
            return
        was_leader = core.role == LEADER
        while True:
            got: Optional[Received] = core.receive(m)
            if got is None:
                break
            if got.action == "HandleAppendEntriesRequest" and m.mterm == core.current_term:
                # A current leader exists: do not start an election against it.
                self.leader_id = m.msource
                self._elapsed = 0
                if got.consumed and core.role == FOLLOWER:
                    self._heard_commit = True  # accepted: the commit index is the leader's
            elif got.action == "HandleRequestVoteRequest" and core.voted_for == m.msource and m.msource != self.id:
                self._elapsed = 0
            if got.consumed:
                break
        # Replies produced while handling m echo its read-round context.
        self._collect(ctx=ctx)
        if core.role == CANDIDATE and m.mtype == "RequestVoteResponse":
            if core.become_leader():
                self._on_become_leader()
        elif core.role == LEADER and was_leader and m.mtype == "AppendEntriesResponse" and m.mterm == core.current_term:
            j = m.msource
            self._inflight[j] = False
            if ctx > self._acked_round[j]:
                self._acked_round[j] = ctx
            core.advance_commit_index()
            if core.next_index[j] <= len(core.log):
                self._send_append_entries(j, ctx=0)
        self._note_changes()

    def _on_become_leader(self) -> None:
        self.leader_id = self.id
        n = self.core.config.servers
        self._inflight = [False] * n
        self._acked_round = [0] * n
        self._elapsed = 0
        if self.config.noop_on_leader:
            self.core.client_request(NOOP)
        self._broadcast_append_entries(ctx=0)
        if n == 1:
            self.core.advance_commit_index()

    def _send_append_entries(self, j: ServerId, ctx: int) -> None:
        if self.core.append_entries(j):
            self._inflight[j] = True
            self._collect(ctx)

    def _broadcast_append_entries(self, ctx: int) -> None:
        for j in self.core.servers:
            if j != self.id:
                self._send_append_entries(j, ctx)

    def _collect(self, ctx: int) -> None:
        for m in self.core.take_messages():
            self._envelopes.append(Envelope(m, ctx))

    # ---------------------------------------------------------- client requests

    def _redirect(self, token: Hashable, error: str = "not_leader") -> None:
        self._replies.append(Reply(token, self._reply_body(False, error=error, leader=self.leader_id)))

    def _reply_body(self, ok: bool, **fields: Any) -> dict[str, Any]:
        return {"ok": ok, "node": self.id, "term": self.core.current_term, **fields}

    def write(self, token: Hashable, op: str, key: str, value: Optional[str] = None,
              session: Optional[SessionId] = None) -> None:
        """A client write (`put` or `delete`): a ClientRequest on the leader, a redirect elsewhere.

        With a `session`, a write the state machine has already applied is not
        appended again: its first result is the answer (kv.py, client sessions).
        """
        try:
            encoded = encode_write(op, key, value, session)
        except OperationError as e:
            self._replies.append(Reply(token, self._reply_body(False, error="bad_request", message=str(e))))
            return
        if self.core.role != LEADER:
            self._redirect(token)
            return
        known = self.kv.answered(session) if session is not None else None
        if known is not None:
            # Applied, so committed: answer as the first attempt was answered.
            self._replies.append(Reply(token, self._write_reply(known)))
            return
        if not self.core.client_request(encoded):
            self._redirect(token)
            return
        self._pending_writes[len(self.core.log)] = (token, self.core.current_term, op)
        if self.core.config.servers == 1:
            self.core.advance_commit_index()

    def read(self, token: Hashable, key: str, stale: bool = False) -> None:
        """A client read: linearizable on the leader (a read round), or possibly stale anywhere.

        A stale read is refused (`not_caught_up`) until the node has, since it
        started, taken a commit index from a leader of its term (or committed an
        entry of its own term as leader): before that its state machine may lack
        any number of committed writes, and "absent" would be a wrong answer.
        """
        if stale:
            if not (self._heard_commit or (self.core.role == LEADER and self._committed_own_term())):
                self._replies.append(Reply(token, self._reply_body(
                    False, error="not_caught_up", leader=self.leader_id,
                    message="this node has not heard a leader's commit index since it started; read from the leader")))
                return
            self._replies.append(Reply(token, self._reply_body(True, value=self.kv.get(key), stale=True)))
            return
        if self.core.role != LEADER:
            self._redirect(token)
            return
        self._waiting_reads.append((token, key))

    # --------------------------------------------------------------- the output

    def _committed_own_term(self) -> bool:
        core = self.core
        return core.commit_index > 0 and core.log[core.commit_index - 1].term == core.current_term

    def _start_reads(self) -> None:
        if not self._waiting_reads or not self._committed_own_term():
            return
        self._round += 1
        for token, key in self._waiting_reads:
            self._reads.append(_Read(token, key, self.core.commit_index, self._round))
        self._waiting_reads.clear()
        if self.core.config.servers == 1:
            return
        self._broadcast_append_entries(ctx=self._round)

    def _confirmed_round(self) -> int:
        # The highest round a quorum (this leader included) has answered in this term.
        n = self.core.config.servers
        acks = sorted((self._acked_round[k] for k in self.core.servers if k != self.id), reverse=True)
        quorum = n // 2 + 1
        return self._round if quorum == 1 else acks[quorum - 2]

    def _answer_reads(self) -> None:
        if not self._reads:
            return
        confirmed = self._confirmed_round()
        still: list[_Read] = []
        for r in self._reads:
            if r.round <= confirmed and self.kv.applied_index >= r.read_index:
                self._replies.append(Reply(r.token, self._reply_body(True, value=self.kv.get(r.key))))
            else:
                still.append(r)
        self._reads = still

    def _fail_pending(self) -> None:
        for token, _, _ in self._pending_writes.values():
            self._redirect(token, error="leadership_lost")
        for r in self._reads:
            self._redirect(r.token, error="leadership_lost")
        for token, _ in self._waiting_reads:
            self._redirect(token, error="leadership_lost")
        self._pending_writes.clear()
        self._reads.clear()
        self._waiting_reads.clear()

    def _note_changes(self) -> None:
        core = self.core
        if core.current_term != self._last_term:
            self._events.append(f"term {self._last_term} -> {core.current_term}")
            self._last_term = core.current_term
        if core.role != self._last_role:
            self._events.append(f"role {self._last_role} -> {core.role} in term {core.current_term}")
            if self._last_role == LEADER:
                self._fail_pending()
            self._on_tick = self._tick_leader if core.role == LEADER else self._tick_follower
            if core.role != LEADER:
                self._reset_election_timer()
            self._last_role = core.role

    def _write_reply(self, result: dict[str, Any]) -> dict[str, Any]:
        if "error" in result:
            return self._reply_body(False, **result,
                                    message="the session of this write was forgotten: whether it was applied is unknown")
        return self._reply_body(True, **result)

    def _apply(self, committed: tuple[tuple[int, Entry], ...]) -> None:
        for index, entry in committed:
            result = self.kv.apply(index, entry.value)
            pending = self._pending_writes.pop(index, None)
            if pending is not None:
                token, term, _ = pending
                if entry.term == term and result is not None:
                    self._replies.append(Reply(token, self._write_reply(result)))
                else:
                    self._redirect(token, error="leadership_lost")

    def has_work(self) -> bool:
        """Whether `ready()` would return something to do.

        Reads count: a read that waits for its round to start (it starts in
        `ready()`, at once, not at the next heartbeat), or for its round's quorum
        (answered in `ready()` as soon as the answers are in).
        """
        return bool(
            self._envelopes or self._replies or self._events or self._rejected or self.core.has_pending_ready()
            or self._waiting_reads or self._reads
        )

    def ready(self) -> NodeReady:
        """Everything to do now; persist, then send, then reply (see `NodeReady`)."""
        core = self.core
        if core.role == LEADER:
            # Group commit: the writes of this batch go out together to every
            # follower not already waiting for an answer.
            for j in core.servers:
                if j != self.id and not self._inflight[j] and core.next_index[j] <= len(core.log):
                    self._send_append_entries(j, ctx=0)
            self._start_reads()
        rd: Ready = core.ready()
        self._collect(ctx=0)  # nothing normally; take_messages already drained the outbox
        for m in rd.messages:
            self._envelopes.append(Envelope(m, 0))
        if rd.committed:
            self._apply(rd.committed)
            self._events.append(f"commit {rd.committed[-1][0]} in term {core.current_term}")
        if core.role == LEADER:
            self._answer_reads()
        out = NodeReady(
            rd.hard_state, rd.log_from, rd.entries, tuple(self._envelopes), tuple(self._replies), tuple(self._events),
            tuple(self._rejected),
        )
        self._envelopes.clear()
        self._replies.clear()
        self._events.clear()
        self._rejected.clear()
        return out


__all__ = ["Envelope", "Node", "NodeConfig", "NodeReady", "Reply", "FOLLOWER", "CANDIDATE", "LEADER"]
