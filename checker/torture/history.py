"""The history of a run: every client operation, when it was invoked and completed, and what it returned.

How this works: an `Op` is one call of `put`, `get` or `delete` on one key by one
client.  Its outcome is `ok` (the client got an answer), `fail` (it certainly had
no effect: a read that failed, which the checker drops) or `unknown` (a write that
raised or timed out: it may take effect at any time after its invocation, or never;
Jepsen's `:info`).  Times are the client's monotonic clock in nanoseconds; an
unknown operation's `complete` is when the client gave up, kept for the charts
only (the checker treats its end as open).

A history file is JSON Lines, one operation per line, in the order the operations
were invoked:

    {"id": 0, "client": 3, "kind": "put", "key": "k1", "value": "3-17",
     "invoke": 1200, "complete": 5400, "outcome": "ok"}

`value` is the value written (put) or read (get; null: the key was absent);
`existed` is a delete's answer (absent: not known); `error` says why an operation
failed or is unknown.  `load_history` checks every line and names the first bad
one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

PUT, GET, DELETE = "put", "get", "delete"
KINDS = (PUT, GET, DELETE)
"""The operations of the key-value store."""
WRITES = (PUT, DELETE)

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"
OUTCOMES = (OK, FAIL, UNKNOWN)
"""What the client learnt: an answer, a certain failure, or nothing certain."""


class HistoryError(ValueError):
    """A history file or value that is not a well-formed history (the message names where)."""


@dataclass(frozen=True)
class Op:
    """One client operation on one key, with its timing and its outcome."""

    id: int
    """Position in the history (unique)."""
    client: int
    kind: str
    """put, get or delete."""
    key: str
    value: Optional[str]
    """put: the value written; get: the value read (None: absent, or not known if the read did not answer)."""
    invoke: int
    """Nanoseconds (monotonic) when the client called the operation."""
    complete: int
    """Nanoseconds when it returned or gave up (>= invoke)."""
    outcome: str = OK
    existed: Optional[bool] = None
    """delete: whether the key existed, as answered (None: not known)."""
    error: str = ""
    """Why the operation failed or its outcome is unknown."""

    @property
    def is_write(self) -> bool:
        """Whether the operation changes the store."""
        return self.kind in WRITES

    def describe(self) -> str:
        """A short human form: `put k1 = 'a'`, `get k1 -> absent`, `delete k1 -> existed`."""
        if self.kind == PUT:
            text = f"put {self.key} = {self.value!r}"
        elif self.kind == GET:
            text = f"get {self.key}" + ("" if self.outcome != OK else
                                        f" -> {'absent' if self.value is None else repr(self.value)}")
        else:
            text = f"delete {self.key}" + ("" if self.existed is None else
                                           f" -> {'existed' if self.existed else 'was absent'}")
        if self.outcome != OK:
            text += f" ({self.outcome})"
        return text

    def to_json(self) -> dict[str, Any]:
        """The operation as one line of a history file."""
        doc: dict[str, Any] = {"id": self.id, "client": self.client, "kind": self.kind, "key": self.key,
                               "value": self.value, "invoke": self.invoke, "complete": self.complete,
                               "outcome": self.outcome}
        if self.existed is not None:
            doc["existed"] = self.existed
        if self.error:
            doc["error"] = self.error
        return doc


def validate_op(op: Op, where: str) -> None:
    """Raise HistoryError naming `where` if `op` is not a possible operation."""
    if op.kind not in KINDS:
        raise HistoryError(f"{where}: kind {op.kind!r}; expected one of {', '.join(KINDS)}")
    if op.outcome not in OUTCOMES:
        raise HistoryError(f"{where}: outcome {op.outcome!r}; expected one of {', '.join(OUTCOMES)}")
    if op.complete < op.invoke:
        raise HistoryError(f"{where}: completes at {op.complete} before it is invoked at {op.invoke}")
    if op.kind == PUT and not isinstance(op.value, str):
        raise HistoryError(f"{where}: a put needs a string value, got {op.value!r}")
    if op.kind == DELETE and op.value is not None:
        raise HistoryError(f"{where}: a delete has no value, got {op.value!r}")
    if op.existed is not None and op.kind != DELETE:
        raise HistoryError(f"{where}: only a delete answers 'existed'")


def _field(doc: dict[str, Any], name: str, types: tuple[type, ...], where: str, default: Any = ...) -> Any:
    if name not in doc:
        if default is ...:
            raise HistoryError(f"{where}: missing field {name!r}")
        return default
    value = doc[name]
    if isinstance(value, bool) and bool not in types:
        raise HistoryError(f"{where}: field {name!r} is {value!r}; expected {'/'.join(t.__name__ for t in types)}")
    if not isinstance(value, types):
        raise HistoryError(f"{where}: field {name!r} is {value!r}; expected {'/'.join(t.__name__ for t in types)}")
    return value


def op_from_json(doc: Any, where: str) -> Op:
    """One operation from its JSON form; HistoryError naming `where` if malformed."""
    if not isinstance(doc, dict):
        raise HistoryError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    op = Op(
        id=_field(doc, "id", (int,), where),
        client=_field(doc, "client", (int,), where),
        kind=_field(doc, "kind", (str,), where),
        key=_field(doc, "key", (str,), where),
        value=_field(doc, "value", (str, type(None)), where, None),
        invoke=_field(doc, "invoke", (int,), where),
        complete=_field(doc, "complete", (int,), where),
        outcome=_field(doc, "outcome", (str,), where, OK),
        existed=_field(doc, "existed", (bool, type(None)), where, None),
        error=_field(doc, "error", (str,), where, ""),
    )
    validate_op(op, where)
    return op


def load_history(path: Path) -> list[Op]:
    """Read a history file; HistoryError naming the file and line of the first bad operation."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise HistoryError(f"{path}: cannot read the history: {e}") from None
    ops: list[Op] = []
    seen: set[int] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            doc = json.loads(line)
        except ValueError as e:
            raise HistoryError(f"{where}: not JSON: {e}") from None
        op = op_from_json(doc, where)
        if op.id in seen:
            raise HistoryError(f"{where}: operation id {op.id} appears twice")
        seen.add(op.id)
        ops.append(op)
    return ops


def write_history(ops: Iterable[Op], path: Path) -> None:
    """Write `ops` as a history file (one JSON object per line)."""
    with open(path, "w", encoding="utf-8") as f:
        for op in ops:
            f.write(json.dumps(op.to_json(), separators=(",", ":")) + "\n")


def by_key(ops: Iterable[Op]) -> dict[str, list[Op]]:
    """The operations grouped per key, each group in invocation order (keys sorted)."""
    groups: dict[str, list[Op]] = {}
    for op in sorted(ops, key=lambda o: (o.invoke, o.id)):
        groups.setdefault(op.key, []).append(op)
    return dict(sorted(groups.items()))
