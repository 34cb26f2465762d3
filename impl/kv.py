"""The replicated state machine: a key-value map, and how its operations are encoded in the log.

How this works: a write (`put`, `delete`) becomes one log entry's value, the UTF-8 JSON
of `{"op": ..., "key": ..., "value": ...}`.  The empty value `b""` is the no-op
a new leader appends so that it can commit an entry of its own term (raft §8).
Integer values (spec replay) and no-ops leave the map unchanged.  Applying is
deterministic, so every server that applies the same committed prefix holds the
same map.
"""
from __future__ import annotations

import json
from typing import Optional

from .messages import Value

NOOP: bytes = b""
"""The value a new leader appends to commit an entry of its own term."""

WRITE_OPS = ("put", "delete")
"""Operations that go through the log."""


class OperationError(ValueError):
    """A client operation that cannot be encoded or a log value that cannot be decoded."""


def encode_write(op: str, key: str, value: Optional[str] = None) -> bytes:
    """The log value for a write; raises OperationError for an unknown op or a missing value."""
    if op not in WRITE_OPS:
        raise OperationError(f"unknown write operation {op!r}; expected one of {', '.join(WRITE_OPS)}")
    if not isinstance(key, str):
        raise OperationError(f"key must be a string, got {type(key).__name__}")
    if op == "put":
        if not isinstance(value, str):
            raise OperationError(f"put {key!r}: value must be a string, got {type(value).__name__}")
        return json.dumps({"op": "put", "key": key, "value": value}, separators=(",", ":")).encode()
    return json.dumps({"op": "delete", "key": key}, separators=(",", ":")).encode()


class KVStore:
    """The key-value map that committed values are applied to, in log order."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.applied_index = 0
        """The index of the last applied log entry."""

    def apply(self, index: int, value: Value) -> Optional[bool]:
        """Apply the value at log `index`; for a delete, whether the key existed.

        Raises OperationError for a value that is not a valid encoded write: a
        committed entry that cannot be applied means the log is corrupt, and the
        node must stop rather than diverge.
        """
        if index != self.applied_index + 1:
            raise OperationError(f"apply out of order: index {index} after {self.applied_index}")
        self.applied_index = index
        if isinstance(value, int) or value == NOOP:
            return None
        try:
            op = json.loads(value)
            kind, key = op["op"], op["key"]
        except (ValueError, KeyError, TypeError) as e:
            raise OperationError(f"log entry {index}: undecodable value {value[:60]!r}: {e}") from e
        if kind == "put":
            self.data[key] = op["value"]
            return None
        if kind == "delete":
            return self.data.pop(key, None) is not None
        raise OperationError(f"log entry {index}: unknown operation {kind!r}")

    def get(self, key: str) -> Optional[str]:
        """The value of `key`, or None if absent."""
        return self.data.get(key)
