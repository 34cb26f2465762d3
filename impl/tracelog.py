"""Trace logging: one JSON line per spec action a real node takes, for `leaderfollower validate`.

How this works: when tracing is on, `Node` talks to a `TracingCore` instead of its
`RaftCore`.  The wrapper passes every call through unchanged and, when an action
method returns True (or `receive` returns a `Received`), appends one event named
after the spec action to a `TraceLog`:

    {"t": 1234, "node": 1, "b": 7, "action": "HandleRequestVoteRequest",
     "args": [{"mtype": "RequestVoteRequest", "mterm": 3, ...}],
     "sent": [{"mtype": "RequestVoteResponse", ...}],
     "state": {"term": 3, "role": "Follower", "vote": 2, "log": 4, "commit": 2}}

`t` is `time.monotonic_ns()` (CLOCK_MONOTONIC is one clock for every process on a
machine, so the logs of several node processes merge by it), `b` the batch (one
flush of the shell), `args` the spec action's arguments (server ids, a value, or
the message, with raft.tla's field names as in the ITF traces), `sent` the messages
the step produced and `state` the node's variables after it.  Log entries are
`{"term": t, "value": v}`: an int value as is, bytes as hex.
Three more events, named so that none can be taken for a spec action: `NodeStart`
when a process starts from its storage (every start, the first one included, with
what it recovered; the validator takes it as raft.tla's Restart), `Discard` when
the node discards a message no handler takes (raft.tla leaves it in the bag; a
real node drops it), and `Apply` (an observation) when entries are handed to the
state machine.

Events are buffered and written by `flush()`, one `os.write` per batch; the shell
calls it before it persists or sends anything the batch produced, so a message is
always logged (with an earlier `t`) before anyone can receive it.  With tracing off
there is no wrapper at all: the core's methods are called directly.
`docs/validation.md` describes the format and what the validator checks.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from .core import RaftCore, Ready, Received
from .messages import Entry, Message, PersistentState, ServerId, Value

TRACE_VERSION = 1

NODE_START = "NodeStart"
"""Event: a node process started from what its storage recovered (every start; raft.tla's Restart)."""
DISCARD = "Discard"
"""Event: the node discarded a message that no handler takes (raft.tla would leave it in the bag)."""
APPLY = "Apply"
"""Event: entries handed to the state machine (an observation, not a transition)."""
EVENTS = (NODE_START, DISCARD, APPLY)
"""The events that are not spec actions; every other event is named after the spec action it is."""


def _camel(name: str) -> str:
    # mlast_log_term -> mlastLogTerm: raft.tla's (and the ITF traces') field names.
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def encode_value(value: Value) -> Any:
    """An entry's value as JSON: an int as is, bytes as a hex string."""
    return value if isinstance(value, int) else value.hex()


def encode_entries(log: Sequence[Entry]) -> list[dict[str, Any]]:
    """Log entries as ITF-style records `{"term": t, "value": v}`."""
    return [{"term": e[0], "value": encode_value(e[1])} for e in log]


def encode_message(m: Message) -> dict[str, Any]:
    """A message as a record with raft.tla's field names (plain JSON ints)."""
    out: dict[str, Any] = {}
    for name, value in zip(m._fields, m):
        out[_camel(name)] = encode_entries(value) if name == "mentries" else value  # type: ignore[arg-type]
    return out


def trace_path(path: Path, node_id: ServerId) -> Path:
    """The file a node writes: `path` itself, or `path/node<i>.jsonl` if `path` is a folder."""
    return path / f"node{node_id}.jsonl" if path.is_dir() else path


class TraceLog:
    """An append-only JSON-lines file of one node's events; `record` buffers, `flush` writes."""

    def __init__(self, path: Path, node_id: ServerId) -> None:
        self.path = path
        self.node_id = node_id
        # O_APPEND: several processes (restarts, or a shared file) never overwrite each other.
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lines: list[str] = []
        self._batch = 0

    def record(self, action: str, args: list[Any], **fields: Any) -> None:
        """Buffer one event (written by the next `flush`)."""
        event = {"t": time.monotonic_ns(), "node": self.node_id, "b": self._batch, "action": action, "args": args, **fields}
        self._lines.append(json.dumps(event, separators=(",", ":")))

    def flush(self) -> None:
        """Write the buffered events in one system call; the next events belong to a new batch."""
        if not self._lines:
            return
        data = ("\n".join(self._lines) + "\n").encode()
        self._lines.clear()
        self._batch += 1
        while data:
            written = os.write(self._fd, data)
            data = data[written:]

    def close(self) -> None:
        """Flush and close the file."""
        self.flush()
        os.close(self._fd)


def _state(core: RaftCore) -> dict[str, Any]:
    return {
        "term": core.current_term,
        "role": core.role,
        "vote": core.voted_for,
        "log": len(core.log),
        "commit": core.commit_index,
    }


class TracingCore:
    """A `RaftCore` that records every action it takes in a `TraceLog` (see the module comment).

    Everything the policy layer calls is passed through to the wrapped core;
    attributes are read from it, so `project()`, `role`, `log`, ... are the core's.
    """

    _core: RaftCore
    _log: TraceLog

    def __init__(self, core: RaftCore, log: TraceLog) -> None:
        self.__dict__["_core"] = core
        self.__dict__["_log"] = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._core, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._core, name, value)

    # --------------------------------------------------------------- recording

    def _record(self, action: str, args: list[Any], sent_from: int) -> None:
        core = self._core
        sent = [encode_message(m) for m in core._outbox[sent_from:]]
        self._log.record(action, args, sent=sent, state=_state(core))

    def record_node_start(self) -> None:
        """Record that this node (re)started from what its storage holds (`NODE_START`)."""
        core = self._core
        self._log.record(
            NODE_START,
            [core.id],
            recovered={"term": core.current_term, "vote": core.voted_for, "log": encode_entries(core.log)},
            servers=core.config.servers,
            max_entries_per_append=core.config.max_entries_per_append,
            max_bytes_per_append=core.config.max_bytes_per_append,
            version=TRACE_VERSION,
        )

    def _server_action(self, name: str, method: str, *args: Any) -> bool:
        before = len(self._core._outbox)
        ok = bool(getattr(self._core, method)(*args))
        if ok:
            self._record(name, [self._core.id, *args], before)
        return ok

    # ------------------------------------------------------------------ actions

    def restart(self, stored: Optional[PersistentState] = None) -> bool:
        """raft.tla's Restart (in-process restarts in tests), recorded as a `NODE_START` with what was recovered."""
        ok = self._core.restart(stored)
        self.record_node_start()
        return ok

    def timeout(self) -> bool:
        return self._server_action("Timeout", "timeout")

    def request_vote(self, j: ServerId) -> bool:
        return self._server_action("RequestVote", "request_vote", j)

    def append_entries(self, j: ServerId) -> bool:
        return self._server_action("AppendEntries", "append_entries", j)

    def become_leader(self) -> bool:
        return self._server_action("BecomeLeader", "become_leader")

    def advance_commit_index(self) -> bool:
        return self._server_action("AdvanceCommitIndex", "advance_commit_index")

    def client_request(self, value: Value) -> bool:
        core = self._core
        before = len(core._outbox)
        ok = core.client_request(value)
        if ok:
            self._record("ClientRequest", [core.id, encode_value(value)], before)
        return ok

    def receive(self, m: Message) -> Optional[Received]:
        core = self._core
        before = len(core._outbox)
        got = core.receive(m)
        if got is None:
            # No handler takes m: the real node drops it (raft.tla would leave it in the bag).
            self._log.record(DISCARD, [encode_message(m)], sent=[], state=_state(core))
        else:
            self._record(got.action, [encode_message(m)], before)
        return got

    def ready(self) -> Ready:
        rd = self._core.ready()
        if rd.committed:
            index, entry = rd.committed[-1]
            self._log.record(APPLY, [self._core.id], index=index, term=entry.term, state=_state(self._core))
        return rd
