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
from leaderfollower.spec.raft import ACTION_NAMES, Action
from leaderfollower.spec.state import (
    ROLES,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerState,
    State,
)

from leaderfollower.checker.explore.traces import Step, Trace

FORMAT_VERSION = 1
VARS = [
    "currentTerm",
    "state",
    "votedFor",
    "log",
    "commitIndex",
    "votesResponded",
    "votesGranted",
    "nextIndex",
    "matchIndex",
    "messages",
    "mbt::actionTaken",
    "mbt::nondetPicks",
]

# Message fields: our name -> raft.tla's name.
_MSG_FIELDS = {
    "mterm": "mterm",
    "mlast_log_term": "mlastLogTerm",
    "mlast_log_index": "mlastLogIndex",
    "mvote_granted": "mvoteGranted",
    "mprev_log_index": "mprevLogIndex",
    "mprev_log_term": "mprevLogTerm",
    "mentries": "mentries",
    "mcommit_index": "mcommitIndex",
    "msuccess": "msuccess",
    "mmatch_index": "mmatchIndex",
    "msource": "msource",
    "mdest": "mdest",
}
_MSG_CLASSES: dict[str, Any] = {
    "RequestVoteRequest": RequestVoteRequest,
    "RequestVoteResponse": RequestVoteResponse,
    "AppendEntriesRequest": AppendEntriesRequest,
    "AppendEntriesResponse": AppendEntriesResponse,
}


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


def encode_state(s: State, action: Optional[Action], index: int) -> dict[str, Any]:
    """One ITF state: raft.tla's variables, the action that led here, and `#meta.index`."""
    ids = range(len(s.servers))
    srv = s.servers
    picks: dict[str, Any] = {}
    if action is not None:
        for pos, arg in enumerate(action.args):
            picks[f"arg{pos}"] = encode_message(arg) if isinstance(arg, tuple) else _int(arg)
    return {
        "#meta": {"index": index},
        "currentTerm": _fn([(_int(k), _int(srv[k].current_term)) for k in ids]),
        "state": _fn([(_int(k), srv[k].role) for k in ids]),
        "votedFor": _fn([(_int(k), _int_or_nil(srv[k].voted_for)) for k in ids]),
        "log": _fn([(_int(k), [{"term": _int(e.term), "value": _int(e.value)} for e in srv[k].log]) for k in ids]),
        "commitIndex": _fn([(_int(k), _int(srv[k].commit_index)) for k in ids]),
        "votesResponded": _fn([(_int(k), {"#set": [_int(x) for x in sorted(srv[k].votes_responded)]}) for k in ids]),
        "votesGranted": _fn([(_int(k), {"#set": [_int(x) for x in sorted(srv[k].votes_granted)]}) for k in ids]),
        "nextIndex": _fn([(_int(k), _fn([(_int(j), _int(srv[k].next_index[j])) for j in ids])) for k in ids]),
        "matchIndex": _fn([(_int(k), _fn([(_int(j), _int(srv[k].match_index[j])) for j in ids])) for k in ids]),
        "messages": _fn([(encode_message(m), _int(c)) for m, c in s.messages]),
        "mbt::actionTaken": "init" if action is None else action.name,
        "mbt::nondetPicks": picks,
    }


def to_itf(trace: Trace, params: Params, spec_name: str, description: str = "") -> dict[str, Any]:
    """A whole trace as an ITF document."""
    return {
        "#meta": {
            "format": "ITF",
            "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
            "source": "leaderfollower",
            "leaderfollower-trace-version": FORMAT_VERSION,
            "spec": spec_name,
            "params": params.to_dict(),
            "description": description,
        },
        "vars": VARS,
        "states": [encode_state(step.state, step.action, k) for k, step in enumerate(trace)],
    }


def write_itf(path: Path, trace: Trace, params: Params, spec_name: str, description: str = "") -> None:
    """Write a trace as an ITF JSON file."""
    path.write_text(json.dumps(to_itf(trace, params, spec_name, description), indent=1) + "\n")


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


def decode_state(doc: dict[str, Any], n: int, where: str) -> tuple[Optional[Action], State]:
    """One ITF state back into (action taken, State); raises TraceFormatError on bad input."""
    r = _Reader(where)
    if not isinstance(doc, dict):
        raise r.fail("a state must be a JSON object")
    missing = [v for v in VARS[:10] if v not in doc]
    if missing:
        raise r.fail(f"missing variable(s) {', '.join(missing)}")
    terms = [r.int(x, "currentTerm") for x in r.server_fn(doc["currentTerm"], "currentTerm", n)]
    roles = r.server_fn(doc["state"], "state", n)
    for role in roles:
        if role not in ROLES:
            raise r.fail(f"state: {role!r} is not one of {', '.join(ROLES)}")
    votes = [None if x == "Nil" else r.int(x, "votedFor") for x in r.server_fn(doc["votedFor"], "votedFor", n)]
    logs = [r.log(x, "log") for x in r.server_fn(doc["log"], "log", n)]
    commits = [r.int(x, "commitIndex") for x in r.server_fn(doc["commitIndex"], "commitIndex", n)]
    responded = [r.set(x, "votesResponded") for x in r.server_fn(doc["votesResponded"], "votesResponded", n)]
    granted = [r.set(x, "votesGranted") for x in r.server_fn(doc["votesGranted"], "votesGranted", n)]
    nexts = [tuple(r.int(y, "nextIndex") for y in r.server_fn(x, "nextIndex", n)) for x in r.server_fn(doc["nextIndex"], "nextIndex", n)]
    matches = [tuple(r.int(y, "matchIndex") for y in r.server_fn(x, "matchIndex", n)) for x in r.server_fn(doc["matchIndex"], "matchIndex", n)]
    bag = []
    for m, c in r.map(doc["messages"], "messages"):
        count = r.int(c, "messages count")
        if count < 1:
            raise r.fail(f"messages: count {count} must be at least 1")
        bag.append((r.message(m, "messages"), count))
    bag.sort()
    servers = tuple(
        ServerState(terms[k], roles[k], votes[k], logs[k], commits[k], responded[k], granted[k], nexts[k], matches[k]) for k in range(n)
    )
    action: Optional[Action] = None
    name = doc.get("mbt::actionTaken", "init")
    if name != "init":
        if name not in ACTION_NAMES:
            raise r.fail(f"mbt::actionTaken: unknown action {name!r}")
        picks = doc.get("mbt::nondetPicks", {})
        if not isinstance(picks, dict):
            raise r.fail("mbt::nondetPicks: expected a record")
        args: list[Any] = []
        for pos in range(len(picks)):
            key = f"arg{pos}"
            if key not in picks:
                raise r.fail(f"mbt::nondetPicks: missing {key}")
            v = picks[key]
            args.append(r.message(v, f"mbt::nondetPicks.{key}") if isinstance(v, dict) and "mtype" in v else r.int(v, key))
        action = Action(name, tuple(args))
    return action, State(servers, tuple(bag))


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
        action, state = decode_state(state_doc, n, f"{where}: state {k}")
        if k == 0 and action is not None:
            raise TraceFormatError(f"{where}: state 0: the first state must be the initial one (action 'init')")
        if k > 0 and action is None:
            raise TraceFormatError(f"{where}: state {k}: mbt::actionTaken is missing")
        trace.append(Step(action, state))
    return meta if isinstance(meta, dict) else {}, trace
