"""raft.tla's names for the spec's fields: the one mapping every trace format uses.

How this works: the spec's records use Python's snake case (`current_term`,
`mlast_log_term`); raft.tla, and so the ITF traces and the trace log, use its own
names (`currentTerm`, `mlastLogTerm`).  The rule is camel case, with one exception:
a server's `role` is raft.tla's variable `state`.  The ITF writer and reader
(`checker/formats/itf.py`) take every name from here; the implementation's trace
log (`impl/tracelog.py`) keeps its own copy of the rule, as `impl/` imports nothing
of the spec, and tests/test_names.py holds the two together field by field.
"""
from __future__ import annotations

from .state import MESSAGE_TYPES, ServerState

_EXCEPTIONS = {"role": "state"}


def tla_name(field: str) -> str:
    """raft.tla's name for a spec field: `mlast_log_term` -> `mlastLogTerm`, `role` -> `state`."""
    if field in _EXCEPTIONS:
        return _EXCEPTIONS[field]
    head, *rest = field.split("_")
    return head + "".join(part.capitalize() for part in rest)


SERVER_VARIABLES: tuple[tuple[str, str], ...] = tuple((f, tla_name(f)) for f in ServerState._fields)
"""Each `ServerState` field with the raft.tla variable it is (a function of the server in raft.tla)."""

MESSAGE_FIELDS: dict[str, str] = {f: tla_name(f) for cls in MESSAGE_TYPES.values() for f in getattr(cls, "_fields")}
"""Every message field with its raft.tla name (`mtype` stays `mtype`)."""
