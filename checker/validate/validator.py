"""Trace validation: is a recorded run of a real cluster a behaviour of the spec?

How this works: `read_events` reads the JSON-lines logs that nodes write with
`--trace-log` (format: `impl/tracelog.py`, `docs/validation.md`), checks every line
and merges all files into one sequence ordered by the events' CLOCK_MONOTONIC time
(a node logs a step before it sends what the step produced, so a message's receipt
always comes after its sending).  `validate` then walks that sequence from the
spec's initial state, taking each event as the spec action it names:

- the action must be enabled: a received message must be in flight (in the bag),
  the handler the node ran must be the one the spec runs for that message, a
  server action's guard must hold;
- the successor must be what the node logged: its term, role, vote, log length and
  commit index after the step, and the messages the step sent;
- `NodeStart` (every process start) is taken as raft.tla's Restart, and what the
  node recovered from its storage must equal the spec's persistent state of that
  node (term, vote, log);
- `Discard` (a real node discards a message no handler takes) is taken as the
  spec's DropMessage, of a message in flight that no handler takes;
- `Apply` is an observation, not a transition: the entry handed to the state
  machine must be committed in the spec state of that node;
- every state reached must satisfy the spec's always-properties except TypeOK.

The first event that fails any of these is reported with its step number, file
and line, node, action and why.  Messages lost by the network (a killed node's
unsent messages, a dropped connection) are not logged and simply stay in the bag.

One allowance, because a node is killed at arbitrary moments: a node logs a batch
of steps just before persisting it, so a kill can land between the two.  If a
`NodeStart` recovers exactly the persistent state the node had before its last
batch, that batch is undone (its events are taken as never having happened: none
of its messages were sent before the persist) and the log is replayed from there.

Commands are bytes in real runs and ints in the spec: each distinct logged value
is mapped to an int in order of first appearance.  Bounds do not apply.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import PROPERTIES, Property
from leaderfollower.spec.actions import ACTION_BY_NAME, ACTION_NAMES, ACTIONS, Action, ActionName, Actor, ArgKind, format_message
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import ROLES, Entry, Message, ServerState, State, bag_count

from leaderfollower.checker.formats.itf import TraceFormatError, _Reader
from leaderfollower.impl.tracelog import APPLY, DISCARD, NODE_START

MESSAGE_ACTIONS = frozenset(row.name for row in ACTIONS if row.actor is not Actor.SERVER) | {DISCARD}
"""Events whose one argument is a message (handlers, network actions, and `Discard`)."""
AS_SPEC_ACTION = {NODE_START: "Restart", DISCARD: "DropMessage"}
"""Logged events that are not spec actions but are taken as one (`impl/tracelog.py`)."""
LOG_ACTIONS = (frozenset(ACTION_NAMES) - set(AS_SPEC_ACTION.values())) | {NODE_START, DISCARD, APPLY}
"""Every action name a log line may carry: the spec actions a node takes, and the node's own events."""

INVARIANTS: tuple[Property, ...] = tuple(p for p in PROPERTIES if p.kind == "always" and p.name != "TypeOK")
"""The properties checked on every state a log reaches (TypeOK is skipped: real values are not the model's)."""


class LogFormatError(ValueError):
    """A log line is not a valid event; the message is one line naming the file and line."""


@dataclass(frozen=True)
class Event:
    """One logged step, decoded."""

    file: str
    line: int
    t: int
    node: int
    batch: int
    action: str
    args: tuple[Any, ...]
    sent: Optional[tuple[Message, ...]] = None
    """Messages the step sent (None: not logged)."""
    post: Optional[dict[str, Any]] = None
    """The node's term, role, vote, log length and commit index after the step (None: not logged)."""
    recovered: Optional[tuple[int, Optional[int], tuple[Entry, ...]]] = None
    """Restart: the term, vote and log the node recovered from its storage."""
    servers: Optional[int] = None
    max_entries_per_append: Optional[int] = None
    max_bytes_per_append: Optional[int] = None
    """NodeStart: the node's byte budget per AppendEntries (None: none; not a spec parameter)."""
    applied: Optional[tuple[int, int]] = None
    """Apply: the index and term of the last entry handed to the state machine."""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def describe(self) -> str:
        """`HandleAppendEntriesRequest(AppendEntriesRequest 0->1 term=2 ...)`."""
        if self.action == APPLY:
            return f"Apply(index={self.applied[0] if self.applied else '?'})"
        return str(Action(ActionName(AS_SPEC_ACTION.get(self.action, self.action)), self.args))


# ------------------------------------------------------------------ reading


class _Values:
    """Logged command values (ints or hex strings) to spec values (ints), by first appearance."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, Any], int] = {}

    def map(self, v: Any, where: str) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise LogFormatError(f"{where}: a command value must be an integer or a hex string, got {json.dumps(v)[:40]}")
        key = (type(v).__name__, v)
        if key not in self.ids:
            self.ids[key] = len(self.ids)
        return self.ids[key]

    def entries(self, v: Any, where: str) -> list[dict[str, Any]]:
        if not isinstance(v, list):
            raise LogFormatError(f"{where}: expected a list of entries, got {json.dumps(v)[:40]}")
        out = []
        for e in v:
            if not (isinstance(e, dict) and set(e) == {"term", "value"}):
                raise LogFormatError(f'{where}: an entry must be {{"term": ..., "value": ...}}, got {json.dumps(e)[:60]}')
            out.append({"term": e["term"], "value": self.map(e["value"], where)})
        return out


def _int(doc: dict[str, Any], key: str, where: str, minimum: int = 0) -> int:
    v = doc.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise LogFormatError(f"{where}: field {key!r}: expected an integer >= {minimum}, got {json.dumps(v)[:40]}")
    return v


def _message(v: Any, values: _Values, where: str, what: str) -> Message:
    if isinstance(v, dict) and "mentries" in v:
        v = {**v, "mentries": values.entries(v["mentries"], f"{where}: {what}.mentries")}
    try:
        return _Reader(where).message(v, what)
    except TraceFormatError as e:
        raise LogFormatError(str(e)) from None


def _decode(doc: Any, values: _Values, file: str, line: int) -> Event:
    where = f"{file}:{line}"
    if not isinstance(doc, dict):
        raise LogFormatError(f"{where}: an event must be a JSON object")
    action = doc.get("action")
    if action not in LOG_ACTIONS:
        raise LogFormatError(f"{where}: unknown action {json.dumps(action)[:40]}; expected one of {', '.join(sorted(LOG_ACTIONS))}")
    t = _int(doc, "t", where)
    node = _int(doc, "node", where)
    batch = doc.get("b", 0)
    if isinstance(batch, bool) or not isinstance(batch, int):
        raise LogFormatError(f"{where}: field 'b': expected an integer")
    args = _decode_args(action, doc.get("args"), values, where)
    sent: Optional[tuple[Message, ...]] = None
    if "sent" in doc:
        if not isinstance(doc["sent"], list):
            raise LogFormatError(f"{where}: field 'sent': expected a list of messages")
        sent = tuple(_message(m, values, where, f"sent[{k}]") for k, m in enumerate(doc["sent"]))
    post = _decode_post(doc, where) if "state" in doc else None
    recovered = servers = max_entries = max_bytes = None
    if action == NODE_START:
        recovered, servers, max_entries, max_bytes = _decode_node_start(doc, values, where)
    applied = (_int(doc, "index", where, 1), _int(doc, "term", where, 1)) if action == APPLY else None
    return Event(file, line, t, node, batch, action, args, sent, post, recovered, servers, max_entries, max_bytes, applied)


def _decode_args(action: str, raw_args: Any, values: _Values, where: str) -> tuple[Any, ...]:
    """An event's arguments, checked against the argument kinds of its spec action in the table."""
    if not isinstance(raw_args, list):
        raise LogFormatError(f"{where}: field 'args': expected a list")
    spec_action = AS_SPEC_ACTION.get(action, action)
    kinds = ACTION_BY_NAME[spec_action].args if spec_action in ACTION_BY_NAME else (ArgKind.SERVER,)  # Apply: its node
    if len(raw_args) != len(kinds):
        what = "one message argument" if kinds == (ArgKind.MESSAGE,) else f"{len(kinds)} argument(s)"
        raise LogFormatError(f"{where}: {action} takes {what}, got {len(raw_args)} arguments")
    args: list[Any] = []
    for k, (kind, a) in enumerate(zip(kinds, raw_args)):
        if kind is ArgKind.MESSAGE:
            args.append(_message(a, values, where, f"args[{k}]"))
        elif kind is ArgKind.VALUE:
            args.append(values.map(a, f"{where}: args[{k}]"))
        elif isinstance(a, bool) or not isinstance(a, int) or a < 0:
            raise LogFormatError(f"{where}: args[{k}]: expected a server id, got {json.dumps(a)[:40]}")
        else:
            args.append(a)
    return tuple(args)


def _decode_post(doc: dict[str, Any], where: str) -> dict[str, Any]:
    post = doc["state"]
    if not isinstance(post, dict) or set(post) != {"term", "role", "vote", "log", "commit"}:
        raise LogFormatError(f"{where}: field 'state': expected {{term, role, vote, log, commit}}")
    if post["role"] not in ROLES:
        raise LogFormatError(f"{where}: state.role: {post['role']!r} is not one of {', '.join(ROLES)}")
    return post


def _decode_node_start(
    doc: dict[str, Any], values: _Values, where: str
) -> tuple[tuple[int, Optional[int], tuple[Entry, ...]], Optional[int], Optional[int], Optional[int]]:
    """A NodeStart's recovered state, and the servers, entries and bytes per append it says the node runs with."""
    rec = doc.get("recovered")
    if not isinstance(rec, dict) or set(rec) != {"term", "vote", "log"}:
        raise LogFormatError(f"{where}: a NodeStart needs 'recovered': {{term, vote, log}}")
    vote = rec["vote"]
    if vote is not None and (isinstance(vote, bool) or not isinstance(vote, int)):
        raise LogFormatError(f"{where}: recovered.vote: expected a server id or null")
    log = tuple(Entry(e["term"], e["value"]) for e in values.entries(rec["log"], f"{where}: recovered.log"))
    if any(isinstance(e.term, bool) or not isinstance(e.term, int) for e in log):
        raise LogFormatError(f"{where}: recovered.log: every term must be an integer")
    servers = _int(doc, "servers", where, 1) if "servers" in doc else None
    max_entries = _int(doc, "max_entries_per_append", where, 1) if "max_entries_per_append" in doc else None
    max_bytes = _int(doc, "max_bytes_per_append", where, 1) if doc.get("max_bytes_per_append") is not None else None
    return (_int(rec, "term", where, 1), vote, log), servers, max_entries, max_bytes


def log_files(paths: Iterable[Path]) -> list[Path]:
    """The files to read: each path itself, or the `*.jsonl` files of a folder (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.jsonl"))
            if not found:
                raise LogFormatError(f"{p}: folder holds no *.jsonl trace files")
            out.extend(found)
        else:
            out.append(p)
    return out


def read_events(paths: Sequence[Path]) -> list[Event]:
    """Every event of every log, merged by time (ties keep file and line order)."""
    values = _Values()
    keyed: list[tuple[int, int, int, Event]] = []
    for fk, path in enumerate(log_files(paths)):
        try:
            text = path.read_text()
        except OSError as exc:
            raise LogFormatError(f"{path}: cannot read: {exc.strerror}") from None
        for ln, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise LogFormatError(f"{path}:{ln}: not valid JSON: {exc.msg} (column {exc.colno})") from None
            ev = _decode(doc, values, str(path), ln)
            keyed.append((ev.t, fk, ln, ev))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


# --------------------------------------------------------------- validating


@dataclass(frozen=True)
class Mismatch:
    """The first logged step that no spec transition explains."""

    step: int
    """1-based position of the event in the merged log."""
    event: Event
    why: str

    def __str__(self) -> str:
        ev = self.event
        return f"step {self.step} ({ev.where}): node {ev.node} {ev.describe()}: {self.why}"


@dataclass
class ValidationResult:
    """The outcome of validating a log."""

    steps: int = 0
    """Events taken (replayed ones counted once)."""
    files: int = 0
    servers: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    restarts: int = 0
    """NodeStart events taken: every process start, the first ones included."""
    undone_batches: int = 0
    """Batches taken back because a kill landed between logging and persisting them."""
    mismatch: Optional[Mismatch] = None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


Persistent = tuple[int, Optional[int], tuple[Entry, ...]]


def _persistent(s: ServerState) -> Persistent:
    return (s.current_term, s.voted_for, s.log)


def _describe_persistent(p: tuple[int, Optional[int], tuple[Entry, ...]]) -> str:
    term, vote, log = p
    return f"term {term}, vote {'none' if vote is None else vote}, log of {len(log)} entries (last term {log[-1].term if log else 0})"


def _added(before: State, after: State) -> Counter[Message]:
    out: Counter[Message] = Counter()
    for m, c in after.messages:
        extra = c - bag_count(before.messages, m)
        if extra > 0:
            out[m] += extra
    return out


class Validator:
    """Walks merged events from the spec's initial state (see the module comment)."""

    def __init__(self, events: Sequence[Event], spec_class: type[RaftSpec] = RaftSpec) -> None:
        self.events = events
        restarts = [e for e in events if e.action == NODE_START and e.servers is not None]
        if not restarts:
            raise LogFormatError("no NodeStart event says how many servers there are (every node logs one when it starts)")
        first = restarts[0]
        for e in restarts:
            if e.servers != first.servers or e.max_entries_per_append != first.max_entries_per_append:
                raise LogFormatError(
                    f"{e.where}: node {e.node} runs with {e.servers} servers and max_entries_per_append"
                    f" {e.max_entries_per_append}, but {first.where} says {first.servers} and {first.max_entries_per_append}"
                )
        assert first.servers is not None
        try:
            params = Params(servers=first.servers, max_entries_per_append=first.max_entries_per_append or 1)
        except ValueError as exc:
            raise LogFormatError(f"{first.where}: {exc}") from None
        self.spec = spec_class(params)
        self._spec_class = spec_class
        self._smaller_batches: dict[int, RaftSpec] = {}
        self.byte_budget = first.max_bytes_per_append is not None
        """Nodes cut AppendEntries batches by bytes: a batch of k entries is taken with max_entries_per_append k."""
        for e in events:
            if not 0 <= e.node < params.servers:
                raise LogFormatError(f"{e.where}: node {e.node} outside 0..{params.servers - 1}")
        self.undone_sent: dict[Message, int] = {}
        """Messages sent by undone steps, with the position of the step (to explain a later receipt)."""
        # Which incarnation (process) of its node each event belongs to: NodeStarts seen so far.
        self.incarnation: list[int] = []
        seen: Counter[int] = Counter()
        for e in events:
            if e.action == NODE_START:
                seen[e.node] += 1
            self.incarnation.append(seen[e.node])

    @staticmethod
    def _persisted_prefix(before: ServerState, after: list[tuple[int, Persistent]], recovered: Persistent) -> Optional[int]:
        """The position of the last step of a batch whose persistent state is what the node
        recovered (-1: none of the batch), or None if no prefix of the batch explains it."""
        for k, persistent in reversed(after):
            if persistent == recovered:
                return k
        return -1 if _persistent(before) == recovered else None

    def run(self) -> ValidationResult:
        """Validate the whole log; the result holds the first mismatch, if any."""
        result = ValidationResult(files=len({e.file for e in self.events}), servers=self.spec.params.servers)
        state = self.spec.init()
        skip: set[int] = set()
        # node -> its latest batch: (position, state before, (incarnation, batch), [(position, persistent state after)])
        open_batch: dict[int, tuple[int, State, tuple[int, int], list[tuple[int, Persistent]]]] = {}
        self.undone_sent.clear()
        pos = 0
        events = self.events
        while pos < len(events):
            if pos in skip:
                pos += 1
                continue
            ev = events[pos]
            ob = open_batch.get(ev.node)
            if ev.action == NODE_START:
                open_batch.pop(ev.node, None)
                assert ev.recovered is not None
                if ob is not None and _persistent(state.servers[ev.node]) != ev.recovered:
                    kept = self._persisted_prefix(ob[1].servers[ev.node], ob[3], ev.recovered)
                    if kept is not None:
                        # Killed between logging its last batch and persisting all of it: the
                        # steps after what reached the disk never happened (nothing they
                        # produced was sent before the persist), so undo them and replay.
                        undone = [k for k, _ in ob[3] if k > kept]
                        skip.update(undone)
                        for k in undone:
                            for m in events[k].sent or ():
                                self.undone_sent[m] = k
                        state, pos = ob[1], ob[0]
                        result.undone_batches += 1
                        continue
            elif ob is None or ob[2] != (self.incarnation[pos], ev.batch):
                ob = open_batch[ev.node] = (pos, state, (self.incarnation[pos], ev.batch), [])
            nxt, why = self.step(state, ev)
            if why is not None:
                result.mismatch = Mismatch(pos + 1, ev, why)
                break
            assert nxt is not None
            if ev.action != NODE_START:
                assert ob is not None
                ob[3].append((pos, _persistent(nxt.servers[ev.node])))
            state = nxt
            pos += 1
        taken = [e for k, e in enumerate(events[:pos]) if k not in skip]
        result.steps = len(taken)
        result.actions = Counter(e.action for e in taken)
        result.restarts = result.actions[NODE_START]
        return result

    # ------------------------------------------------------------- one event

    def step(self, s: State, ev: Event) -> tuple[Optional[State], Optional[str]]:
        """The successor of s under ev, or the reason no spec transition explains ev."""
        i = ev.node
        if ev.action == APPLY:
            return self._apply(s, ev)
        if ev.action in MESSAGE_ACTIONS:
            m = ev.args[0]
            if m.mdest != i:
                return None, f"node {i} logged a message addressed to node {m.mdest}"
            if not 0 <= m.msource < self.spec.params.servers:
                return None, f"message from unknown server {m.msource}"
            if bag_count(s.messages, m) == 0:
                if m in self.undone_sent:
                    sender = self.events[self.undone_sent[m]]
                    return None, (
                        f"message not in flight: {format_message(m)} was sent by a step of node {sender.node}"
                        f" ({sender.where}) that its restart shows never reached its disk; raft.tla has no step that"
                        " loses a sent entry (the leader sends AppendEntries while it fsyncs, Raft thesis 10.2.1)"
                    )
                return None, f"message not in flight: {format_message(m)} was never sent, or was already received"
        elif ev.args[0] != i:
            return None, f"node {i} logged an action of server {ev.args[0]}"
        if ev.action == NODE_START:
            assert ev.recovered is not None
            if _persistent(s.servers[i]) != ev.recovered:
                return None, (
                    f"the node recovered {_describe_persistent(ev.recovered)} from its storage, but the spec's"
                    f" persistent state of node {i} is {_describe_persistent(_persistent(s.servers[i]))}"
                    " (something it had acknowledged did not survive the restart)"
                )
        row = ACTION_BY_NAME[AS_SPEC_ACTION.get(ev.action, ev.action)]
        if any(kind is ArgKind.SERVER and not 0 <= a < self.spec.params.servers for kind, a in zip(row.args, ev.args)):
            return None, f"server argument outside 0..{self.spec.params.servers - 1}"
        if ev.action == DISCARD:
            got = self.spec.receive(s, ev.args[0])
            if got:
                return None, f"the node discarded a message that the spec takes with {got[0][0].name}"
        action = Action(row.name, ev.args)
        nxt = self._spec_for(ev).apply(s, action)
        if nxt is None:
            return None, self._not_enabled(s, ev)
        why = self._compare(s, nxt, ev)
        if why is not None:
            return None, why
        for p in INVARIANTS:
            assert p.holds is not None
            if not p.holds(self.spec, nxt):
                return None, f"invariant {p.name} ({p.description}) is violated in the state after this step"
        return nxt, None

    def _spec_for(self, ev: Event) -> RaftSpec:
        """The spec that takes `ev`: for an AppendEntries a byte budget cut short, the spec whose batches are that long."""
        if not (self.byte_budget and ev.action == "AppendEntries" and ev.sent is not None and len(ev.sent) == 1):
            return self.spec
        k = len(ev.sent[0].mentries)  # type: ignore[union-attr]
        if not 1 <= k < self.spec.params.max_entries_per_append:
            return self.spec
        spec = self._smaller_batches.get(k)
        if spec is None:
            spec = self._smaller_batches[k] = self._spec_class(replace(self.spec.params, max_entries_per_append=k))
        return spec

    def _apply(self, s: State, ev: Event) -> tuple[Optional[State], Optional[str]]:
        assert ev.applied is not None
        index, term = ev.applied
        srv = s.servers[ev.node]
        if index > srv.commit_index:
            return None, (
                f"the node applied entry {index} to its state machine, but its commitIndex in the spec is"
                f" {srv.commit_index}: the entry is not committed"
            )
        if srv.log[index - 1].term != term:
            return None, f"the node applied entry {index} of term {term}, but the spec's entry {index} has term {srv.log[index - 1].term}"
        return s, None

    def _not_enabled(self, s: State, ev: Event) -> str:
        i = ev.node
        srv = s.servers[i]
        row = ACTION_BY_NAME.get(ev.action)
        if row is not None and row.actor is Actor.RECIPIENT:
            got = self.spec.receive(s, ev.args[0])
            if not got:
                return f"not enabled: no handler takes this message in the spec (node {i} is {srv.role} in term {srv.current_term})"
            names = ", ".join(sorted({str(a.name) for a, _ in got}))
            return f"not enabled: the spec handles this message with {names} (node {i} is {srv.role} in term {srv.current_term})"
        return f"not enabled: node {i} is {srv.role} in term {srv.current_term}"

    def _compare(self, s: State, nxt: State, ev: Event) -> Optional[str]:
        diffs = []
        if ev.post is not None:
            srv = nxt.servers[ev.node]
            spec_post = {"term": srv.current_term, "role": srv.role, "vote": srv.voted_for, "log": len(srv.log), "commit": srv.commit_index}
            for key, expected in spec_post.items():
                if ev.post[key] != expected:
                    diffs.append(f"{key}: spec {expected!r}, node {ev.post[key]!r}")
        if ev.sent is not None:
            added = _added(s, nxt)
            sent = Counter(ev.sent)
            if sent != added:
                spec_msgs = "; ".join(format_message(m) for m in sorted(added.elements())) or "nothing"
                node_msgs = "; ".join(format_message(m) for m in sorted(sent.elements())) or "nothing"
                diffs.append(f"sent: spec [{spec_msgs}], node [{node_msgs}]")
        if diffs:
            return "successor differs from what the node logged: " + ", ".join(diffs)
        return None


def validate(paths: Sequence[Path], spec_class: type[RaftSpec] = RaftSpec) -> ValidationResult:
    """Read and validate logs; raises LogFormatError (one line) on unreadable input."""
    events = read_events(paths)
    result = Validator(events, spec_class).run()
    return result
