"""Traces as JSON in the Informal Trace Format (ITF) of the Apalache/Quint tools.

How this works: a trace is an ITF document, `{"#meta": ..., "vars": [...], "states":
[...]}`, whose variables are raft.tla's, with raft.tla's names (`currentTerm`,
`state`, `votedFor`, `log`, `commitIndex`, `votesResponded`, `votesGranted`,
`nextIndex`, `matchIndex`, `messages`), plus the Quint model-based-testing
variables `mbt::actionTaken` (the action's name) and `mbt::nondetPicks` (its
arguments).  Integers are `{"#bigint": "n"}`, sets `{"#set": [...]}`, functions
`{"#map": [[k, v], ...]}`, sequences JSON arrays, records JSON objects; servers and
values are integers and raft.tla's `Nil` is the string "Nil".  `docs/trace-format.md`
describes it with an example.  `read_itf` checks everything it reads and raises
`TraceFormatError` naming the state and the field that is wrong.
"""
from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any, Optional

from leaderfollower.spec.params import Params
from leaderfollower.spec.actions import ACTION_BY_NAME, ACTION_NAMES, Action, ArgKind
from leaderfollower.spec.names import MESSAGE_FIELDS, SERVER_VARIABLES
from leaderfollower.spec.state import MESSAGE_TYPES, ROLES, Entry, Message, ServerState, State

from leaderfollower.checker.explore.traces import Step, Trace

FORMAT_VERSION = 1
VARS = [tla for _, tla in SERVER_VARIABLES] + ["messages", "mbt::actionTaken", "mbt::nondetPicks"]
"""The trace's variables: raft.tla's (spec/names.py), then the Quint model-based-testing ones."""
STATE_VARS = VARS[:-2]
_MSG_FIELDS = MESSAGE_FIELDS
_MSG_CLASSES: dict[str, Any] = dict(MESSAGE_TYPES)


class TraceFormatError(ValueError):
    """A trace file is not a valid ITF trace of this spec; the message says where."""


def _int(n: int) -> dict[str, str]:
    return {"#bigint": str(n)}


def _int_or_nil(n: Optional[int]) -> dict[str, str] | str:
    """raft.tla's Nil for None (no vote), else the integer."""
    return "Nil" if n is None else _int(n)


def _fn(pairs: list[tuple[Any, Any]]) -> dict[str, Any]:
    return {"#map": [[k, v] for k, v in pairs]}


def encode_message(m: Message) -> dict[str, Any]:
    """A message as an ITF record with raft.tla's field names."""
    out: dict[str, Any] = {"mtype": m.mtype}
    for name, value in zip(m._fields[1:], m[1:]):
        key = _MSG_FIELDS[name]
        if name == "mentries" and isinstance(value, tuple):
            out[key] = [{"term": _int(e.term), "value": _int(e.value)} for e in value]
        elif isinstance(value, bool):
            out[key] = value
        elif isinstance(value, int):
            out[key] = _int(value)
        else:
            raise TypeError(f"{m.mtype}.{name}: expected an integer, got {value!r}")
    return out


def _server_value(field: str, value: Any, ids: range) -> Any:
    """One server variable's value in ITF."""
    if field == "log":
        return [{"term": _int(e.term), "value": _int(e.value)} for e in value]
    if field == "voted_for":
        return _int_or_nil(value)
    if isinstance(value, frozenset):
        return {"#set": [_int(x) for x in sorted(value)]}
    if isinstance(value, tuple):  # next_index, match_index: functions of the servers
        return _fn([(_int(j), _int(value[j])) for j in ids])
    return _int(value) if isinstance(value, int) else value


def encode_state(s: State, action: Optional[Action], index: int) -> dict[str, Any]:
    """One ITF state: raft.tla's variables, the action that led here, and `#meta.index`."""
    ids = range(len(s.servers))
    picks: dict[str, Any] = {}
    if action is not None:
        for pos, arg in enumerate(action.args):
            picks[f"arg{pos}"] = encode_message(arg) if isinstance(arg, tuple) else _int(arg)
    out: dict[str, Any] = {"#meta": {"index": index}}
    for k, (field, var) in enumerate(SERVER_VARIABLES):
        out[var] = _fn([(_int(i), _server_value(field, s.servers[i][k], ids)) for i in ids])
    out["messages"] = _fn([(encode_message(m), _int(c)) for m, c in s.messages])
    out["mbt::actionTaken"] = "init" if action is None else str(action.name)
    out["mbt::nondetPicks"] = picks
    return out


def to_itf(
    trace: Trace, params: Params, spec_name: str, description: str = "", raised: Optional[tuple[Action, str]] = None, loop: Optional[int] = None
) -> dict[str, Any]:
    """A whole trace as an ITF document.

    `raised`: an action that raised an exception in the last state, and the exception;
    it led to no state, so it is written in `#meta.raised`, not as a state.
    `loop`: for a lasso (a liveness counterexample), the index of the state the last
    state steps back to, forever; written as ITF's top-level `loop`.
    """
    meta: dict[str, Any] = {
        "format": "ITF",
        "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
        "source": "leaderfollower",
        "leaderfollower-trace-version": FORMAT_VERSION,
        "spec": spec_name,
        "params": params.to_dict(),
        "description": description,
    }
    if raised is not None:
        meta["raised"] = {"action": str(raised[0]), "error": raised[1]}
    doc: dict[str, Any] = {
        "#meta": meta,
        "vars": VARS,
        "states": [encode_state(step.state, step.action, k) for k, step in enumerate(trace)],
    }
    if loop is not None:
        doc["loop"] = loop
    return doc


def write_itf(
    path: Path, trace: Trace, params: Params, spec_name: str, description: str = "", raised: Optional[tuple[Action, str]] = None, loop: Optional[int] = None
) -> None:
    """Write a trace as an ITF JSON file (`raised`, `loop`: see `to_itf`)."""
    path.write_text(json.dumps(to_itf(trace, params, spec_name, description, raised, loop), indent=1) + "\n")


# ------------------------------------------------------------------ reading


class _Reader:
    # The method `int` below shadows the builtin inside this class body, so the
    # annotations after it name `builtins.int`.

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, what: str) -> TraceFormatError:
        return TraceFormatError(f"{self.where}: {what}")

    def int(self, v: Any, what: str) -> int:
        if isinstance(v, dict) and set(v) == {"#bigint"} and isinstance(v["#bigint"], str):
            try:
                return int(v["#bigint"])
            except ValueError:
                raise self.fail(f"{what}: {v['#bigint']!r} is not an integer") from None
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        raise self.fail(f"{what}: expected an integer, got {json.dumps(v)[:60]}")

    def map(self, v: Any, what: str) -> list[tuple[Any, Any]]:
        if not (isinstance(v, dict) and set(v) == {"#map"} and isinstance(v["#map"], list)):
            raise self.fail(f"{what}: expected {{\"#map\": [...]}}, got {json.dumps(v)[:60]}")
        out = []
        for pair in v["#map"]:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise self.fail(f"{what}: a #map entry must be a [key, value] pair")
            out.append((pair[0], pair[1]))
        return out

    def server_fn(self, v: Any, what: str, n: builtins.int) -> list[Any]:
        pairs = self.map(v, what)
        values: list[Any] = [None] * n
        seen = set()
        for k, val in pairs:
            key = self.int(k, f"{what} key")
            if not 0 <= key < n or key in seen:
                raise self.fail(f"{what}: server {key} is unknown or repeated (servers are 0..{n - 1})")
            seen.add(key)
            values[key] = val
        if len(seen) != n:
            raise self.fail(f"{what}: expected a value for each of the {n} servers, got {len(seen)}")
        return values

    def set(self, v: Any, what: str) -> frozenset[builtins.int]:
        if not (isinstance(v, dict) and set(v) == {"#set"} and isinstance(v["#set"], list)):
            raise self.fail(f"{what}: expected {{\"#set\": [...]}}")
        return frozenset(self.int(x, what) for x in v["#set"])

    def log(self, v: Any, what: str) -> tuple[Entry, ...]:
        if not isinstance(v, list):
            raise self.fail(f"{what}: expected a list of entries")
        out = []
        for e in v:
            if not (isinstance(e, dict) and set(e) == {"term", "value"}):
                raise self.fail(f"{what}: an entry must be {{\"term\": ..., \"value\": ...}}")
            out.append(Entry(self.int(e["term"], f"{what} term"), self.int(e["value"], f"{what} value")))
        return tuple(out)

    def message(self, v: Any, what: str) -> Message:
        if not isinstance(v, dict) or not isinstance(v.get("mtype"), str):
            raise self.fail(f"{what}: a message must be a record with an mtype")
        cls = _MSG_CLASSES.get(v["mtype"])
        if cls is None:
            raise self.fail(f"{what}: unknown message type {v['mtype']!r}")
        values: list[Any] = [v["mtype"]]
        expected = {_MSG_FIELDS[f] for f in cls._fields[1:]} | {"mtype"}
        extra = set(v) - expected
        if extra:
            raise self.fail(f"{what}: unexpected field(s) {sorted(extra)} in {v['mtype']}")
        for name in cls._fields[1:]:
            key = _MSG_FIELDS[name]
            if key not in v:
                raise self.fail(f"{what}: {v['mtype']} lacks field {key}")
            if name == "mentries":
                values.append(self.log(v[key], f"{what}.{key}"))
            elif name in ("mvote_granted", "msuccess"):
                if not isinstance(v[key], bool):
                    raise self.fail(f"{what}.{key}: expected true or false")
                values.append(v[key])
            else:
                values.append(self.int(v[key], f"{what}.{key}"))
        return cls(*values)  # type: ignore[no-any-return]


def _decode_server_values(r: _Reader, field: str, var: str, doc: Any, n: int) -> list[Any]:
    """One raft.tla variable (a function of the servers) back into each server's field value."""
    values = r.server_fn(doc, var, n)
    if field == "role":
        for role in values:
            if role not in ROLES:
                raise r.fail(f"state: {role!r} is not one of {', '.join(ROLES)}")
        return values
    if field == "voted_for":
        return [None if x == "Nil" else r.int(x, var) for x in values]
    if field == "log":
        return [r.log(x, var) for x in values]
    if field in ("votes_responded", "votes_granted"):
        return [r.set(x, var) for x in values]
    if field in ("next_index", "match_index"):
        return [tuple(r.int(y, var) for y in r.server_fn(x, var, n)) for x in values]
    return [r.int(x, var) for x in values]


def _decode_bag(r: _Reader, doc: Any) -> tuple[tuple[Message, int], ...]:
    bag = []
    for m, c in r.map(doc, "messages"):
        count = r.int(c, "messages count")
        if count < 1:
            raise r.fail(f"messages: count {count} must be at least 1")
        bag.append((r.message(m, "messages"), count))
    return tuple(sorted(bag))


def _decode_action(r: _Reader, doc: dict[str, Any]) -> Optional[Action]:
    name = doc.get("mbt::actionTaken", "init")
    if name == "init":
        return None
    row = ACTION_BY_NAME.get(name) if isinstance(name, str) else None
    if row is None:
        raise r.fail(f"mbt::actionTaken: unknown action {name!r}; expected one of {', '.join(ACTION_NAMES)}")
    picks = doc.get("mbt::nondetPicks", {})
    if not isinstance(picks, dict):
        raise r.fail("mbt::nondetPicks: expected a record")
    if set(picks) != {f"arg{pos}" for pos in range(row.arity)}:
        raise r.fail(f"mbt::nondetPicks: {row.name} takes {row.arity} argument(s) arg0..arg{row.arity - 1}, got {', '.join(sorted(picks)) or 'none'}")
    args: list[Any] = []
    for pos, kind in enumerate(row.args):
        key = f"arg{pos}"
        args.append(r.message(picks[key], f"mbt::nondetPicks.{key}") if kind is ArgKind.MESSAGE else r.int(picks[key], key))
    return Action(row.name, tuple(args))


def decode_state(doc: dict[str, Any], n: int, where: str) -> tuple[Optional[Action], State]:
    """One ITF state back into (action taken, State); raises TraceFormatError on bad input."""
    r = _Reader(where)
    if not isinstance(doc, dict):
        raise r.fail("a state must be a JSON object")
    missing = [v for v in STATE_VARS if v not in doc]
    if missing:
        raise r.fail(f"missing variable(s) {', '.join(missing)}")
    columns = [_decode_server_values(r, field, var, doc[var], n) for field, var in SERVER_VARIABLES]
    servers = tuple(ServerState(*(column[k] for column in columns)) for k in range(n))
    return _decode_action(r, doc), State(servers, _decode_bag(r, doc["messages"]))


def read_itf(path: Path) -> tuple[dict[str, Any], Trace]:
    """Read an ITF trace file: its `#meta` and its steps.  Raises TraceFormatError naming the problem."""
    where = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TraceFormatError(f"{where}: cannot read: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceFormatError(f"{where}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("states"), list) or not doc["states"]:
        raise TraceFormatError(f"{where}: not an ITF trace (expected an object with a non-empty \"states\" list)")
    meta = doc.get("#meta", {})
    params_doc = meta.get("params") if isinstance(meta, dict) else None
    n = None
    if isinstance(params_doc, dict) and isinstance(params_doc.get("servers"), int):
        n = params_doc["servers"]
    else:
        first = doc["states"][0]
        if isinstance(first, dict) and isinstance(first.get("currentTerm"), dict):
            n = len(first["currentTerm"].get("#map", []))
    if not n:
        raise TraceFormatError(f"{where}: cannot tell the number of servers (no #meta.params.servers)")
    trace: Trace = []
    for k, state_doc in enumerate(doc["states"]):
        if k == 0 and isinstance(state_doc, dict) and state_doc.get("mbt::actionTaken", "init") != "init":
            raise TraceFormatError(f"{where}: state 0: the first state must be the initial one (action 'init')")
        action, state = decode_state(state_doc, n, f"{where}: state {k}")
        if k > 0 and action is None:
            raise TraceFormatError(f"{where}: state {k}: mbt::actionTaken is missing")
        trace.append(Step(action, state))
    return meta if isinstance(meta, dict) else {}, trace
