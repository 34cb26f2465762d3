"""The replicated state machine: a key-value map with client sessions, and how writes are encoded in the log.

How this works: a write (`put`, `delete`) becomes one log entry's value, the UTF-8 JSON
of `{"op": ..., "key": ..., "value": ..., "client": ..., "seq": ..., "ack": ...}`.
The empty value `b""` is the no-op a new leader appends so that it can commit an
entry of its own term (raft §8).  Integer values (spec replay) and no-ops leave the
map unchanged.  Applying is deterministic, so every server that applies the same
committed prefix holds the same map and the same sessions.

Client sessions (Raft thesis, section 6.3): a client names itself (`client`) and
numbers its writes (`seq`, from 1); a retry of a write whose outcome it does not
know carries the same number.  The state machine remembers, per client, the result
of every write it applied that the client may still ask about, and applies a
write it has seen before not again: it returns the first result (the original log
index, whether the key existed).  So a write is applied at most once however often
it is retried, and a retry gets the answer the first attempt would have got.
`ack` is the lowest number the client still awaits an answer for: results below it
are forgotten.  The least recently used sessions are dropped beyond `MAX_SESSIONS`.
A write of a client the store does not know starts a session, unless it is a
retry (`retry`) and some session has been dropped before: that write may be one
whose first attempt was applied in the dropped session, so it gets
`SESSION_EXPIRED` (its outcome cannot be known any more) rather than being
applied again.  This lives above the protocol
core: the spec does not model client sessions.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional

from .messages import Value

NOOP: bytes = b""
"""The value a new leader appends to commit an entry of its own term."""

WRITE_OPS = ("put", "delete")
"""Operations that go through the log."""

MAX_SESSIONS = 10_000
"""Client sessions kept; the least recently used is forgotten beyond this (deterministically: in log order)."""

MAX_VALUE_BYTES = 1024 * 1024
"""Largest key plus value of one write, in UTF-8 bytes (a bound on entries, frames and batches)."""

MAX_CLIENT_ID = 64
"""Longest client id, in characters."""

SESSION_EXPIRED = "session_expired"
"""The error of a write whose session was forgotten: whether its first attempt was applied is unknown."""


# One encoder and decoder for all writes: json.dumps/loads build or look up theirs per call.
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_DECODE = json.JSONDecoder().decode


class OperationError(ValueError):
    """A client operation that cannot be encoded or a log value that cannot be decoded."""


class SessionId(NamedTuple):
    """Who sent a write and which of its writes it is (Raft thesis 6.3)."""

    client: str
    """The client's name, chosen at random by the client."""
    seq: int
    """The write's number, from 1; a retry carries the number of the first attempt."""
    ack: int
    """The lowest number the client still awaits an answer for (results below it may be forgotten)."""
    retry: bool = False
    """Whether this write was sent before (its outcome unknown to the client)."""


def check_session(client: Any, seq: Any, ack: Any, retry: Any = False) -> SessionId:
    """A SessionId from a request's fields; OperationError naming what is wrong."""
    if not isinstance(client, str) or not 0 < len(client) <= MAX_CLIENT_ID:
        raise OperationError(f"client must be a string of 1 to {MAX_CLIENT_ID} characters, got {str(client)[:80]!r}")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < 2**63:
        raise OperationError(f"seq must be an integer from 1, got {str(seq)[:40]!r}")
    if isinstance(ack, bool) or not isinstance(ack, int) or not 0 <= ack <= seq:
        raise OperationError(f"ack must be an integer from 0 to seq ({seq}), got {str(ack)[:40]!r}")
    if not isinstance(retry, bool):
        raise OperationError(f"retry must be true or false, got {str(retry)[:40]!r}")
    return SessionId(client, seq, ack, retry)


def write_size(key: Any, value: Any) -> int:
    """The UTF-8 bytes of a write's key and value (what `MAX_VALUE_BYTES` bounds); non-strings count 0."""
    return sum(len(s.encode()) for s in (key, value) if isinstance(s, str))


def encode_write(op: str, key: str, value: Optional[str] = None, session: Optional[SessionId] = None) -> bytes:
    """The log value for a write; raises OperationError for an unknown op or a missing value."""
    if op not in WRITE_OPS:
        raise OperationError(f"unknown write operation {op!r}; expected one of {', '.join(WRITE_OPS)}")
    if not isinstance(key, str):
        raise OperationError(f"key must be a string, got {type(key).__name__}")
    doc: dict[str, Any] = {"op": op, "key": key}
    if op == "put":
        if not isinstance(value, str):
            raise OperationError(f"put {key!r}: value must be a string, got {type(value).__name__}")
        doc["value"] = value
    if session is not None:
        doc.update(client=session.client, seq=session.seq, ack=session.ack)
        if session.retry:
            doc["retry"] = True
    return _ENCODE(doc).encode()


@dataclass
class _Session:
    floor: int = 0
    """Results of writes numbered below this were forgotten (the client acknowledged them)."""
    results: dict[int, dict[str, Any]] = field(default_factory=dict)


class KVStore:
    """The key-value map that committed values are applied to, in log order, with client sessions."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.applied_index = 0
        """The index of the last applied log entry."""
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._dropped_sessions = 0

    def apply(self, index: int, value: Value) -> Optional[dict[str, Any]]:
        """Apply the value at log `index`; the write's result (its reply fields), or None for a no-op.

        The result of a write is `{"index": i}` (and `"existed"` for a delete), i
        being the index at which it took effect: for a retried write, the index of
        the first attempt.  Raises OperationError for a value that is not a valid
        encoded write: a committed entry that cannot be applied means the log is
        corrupt, and the node must stop rather than diverge.
        """
        if index != self.applied_index + 1:
            raise OperationError(f"apply out of order: index {index} after {self.applied_index}")
        self.applied_index = index
        if isinstance(value, int) or value == NOOP:
            return None
        try:
            op = _DECODE(value.decode())
            kind, key = op["op"], op["key"]
        except (ValueError, KeyError, TypeError) as e:
            raise OperationError(f"log entry {index}: undecodable value {value[:60]!r}: {e}") from e
        if kind not in WRITE_OPS:
            raise OperationError(f"log entry {index}: unknown operation {kind!r}")
        if "client" not in op:
            return self._write(index, kind, key, op)
        session = self._session(op["client"], bool(op.get("retry", False)))
        if session is None:
            return {"error": SESSION_EXPIRED}
        if op["ack"] > session.floor:
            session.floor = op["ack"]
            for old in [s for s in session.results if s < session.floor]:
                del session.results[old]
        seq = op["seq"]
        if seq < session.floor:
            return {"error": SESSION_EXPIRED}  # the client said it had this answer already
        if seq not in session.results:
            session.results[seq] = self._write(index, kind, key, op)
        return session.results[seq]

    def _write(self, index: int, kind: str, key: str, op: dict[str, Any]) -> dict[str, Any]:
        if kind == "put":
            self.data[key] = op["value"]
            return {"index": index}
        return {"index": index, "existed": self.data.pop(key, None) is not None}

    def _session(self, client: str, retry: bool) -> Optional[_Session]:
        session = self._sessions.get(client)
        if session is not None:
            self._sessions.move_to_end(client)
            return session
        if retry and self._dropped_sessions:
            # A retry from a client this store does not know: its session may be one
            # that was dropped, so whether the first attempt was applied is unknown.
            return None
        session = self._sessions[client] = _Session()
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
            self._dropped_sessions += 1
        return session

    def answered(self, session: SessionId) -> Optional[dict[str, Any]]:
        """The result of an applied write, if this store applied it and still remembers it."""
        known = self._sessions.get(session.client)
        return None if known is None else known.results.get(session.seq)

    def get(self, key: str) -> Optional[str]:
        """The value of `key`, or None if absent."""
        return self.data.get(key)
