"""etcd-style scenario files for the core and its policy: a story in a text file, with golden output.

A file (tests/impl/testdata/*.txt) is a list of blocks, each a command, a `----`
line and the output the command gave, ended by a blank line; `#` lines before a
command are comments.  `pytest --rewrite-golden` rewrites every output with what
the code prints now (review the diff before committing it).

The cluster is three sans-I/O `Node`s (policy and `RaftCore`), each persisting every
Ready through the real `Storage` on an in-memory crash-faithful file layer before
its messages go on the network, which the script controls.  Commands:

    campaign I                 node I's election timer fires
    tick-heartbeat I           node I's heartbeat timer fires (a leader sends AppendEntries)
    propose I KEY VALUE        a client put on node I
    put I KEY VALUE CLIENT SEQ [retry]    a put in client session CLIENT, write number SEQ
    delete I KEY CLIENT SEQ [retry]       a delete in a client session
    kv I                       node I's key-value map
    deliver-msgs [I...]        deliver every message in flight (to I... only), in order
    stabilize                  deliver until nothing is in flight
    isolate I / heal           drop every message to and from I / stop dropping
    crash I                    node I loses what it did not fsync and restarts from its files
    status                     one line per node: term, role, vote, commit, log
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from leaderfollower.checker.conform.crashfiles import CrashFileLayer
from leaderfollower.impl.core import CoreConfig
from leaderfollower.impl.kv import SessionId
from leaderfollower.impl.messages import Entry, Message
from leaderfollower.impl.node import Envelope, Node, NodeConfig
from leaderfollower.impl.storage import Storage

CONFIG = NodeConfig(election_ticks_min=10, election_ticks_max=20, heartbeat_ticks=3)


def show_value(value: object) -> str:
    """An entry's value as a scenario prints it: `noop`, `put k=v`, or the int."""
    if value == b"":
        return "noop"
    if isinstance(value, bytes):
        op = json.loads(value)
        return f"{op['op']} {op['key']}" + (f"={op['value']}" if "value" in op else "")
    return str(value)


def show_entries(entries: tuple[Entry, ...] | list[Entry]) -> str:
    return "[" + ", ".join(f"{e.term}:{show_value(e.value)}" for e in entries) + "]"


def show_message(m: Message) -> str:
    """One line per message, raft.tla's fields in order."""
    head = f"{m.msource}->{m.mdest} {m.mtype} term={m.mterm}"
    if m.mtype == "RequestVoteRequest":
        return f"{head} lastLog=({m.mlast_log_index},{m.mlast_log_term})"  # type: ignore[union-attr]
    if m.mtype == "RequestVoteResponse":
        return f"{head} granted={m.mvote_granted}"  # type: ignore[union-attr]
    if m.mtype == "AppendEntriesRequest":
        return (f"{head} prev=({m.mprev_log_index},{m.mprev_log_term}) entries={show_entries(m.mentries)}"  # type: ignore[union-attr]
                f" commit={m.mcommit_index}")  # type: ignore[union-attr]
    return f"{head} success={m.msuccess} match={m.mmatch_index}"  # type: ignore[union-attr]


@dataclass
class Scenario:
    """The cluster a scenario file drives (see the module comment)."""

    n: int = 3
    files: list[CrashFileLayer] = field(default_factory=list)
    storages: list[Storage] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    network: list[Envelope] = field(default_factory=list)
    isolated: set[int] = field(default_factory=set)
    out: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i in range(self.n):
            self.files.append(CrashFileLayer())
            self.storages.append(Storage(self.files[i]))
            self.nodes.append(Node(i, CoreConfig(self.n, 8), random.Random(i), CONFIG, self.storages[i].load()))

    # ------------------------------------------------------------- plumbing

    def flush(self, i: int) -> None:
        """Persist node i's Ready, then put its messages on the network (printing them) and its events."""
        rd = self.nodes[i].ready()
        self.storages[i].save(rd.hard_state, rd.log_from, rd.entries)
        for line in rd.events:
            self.out.append(f"  {i}: {line}")
        for env in rd.messages:
            m = env.message
            dropped = m.msource in self.isolated or m.mdest in self.isolated
            self.out.append(f"  {show_message(m)}" + ("  (dropped)" if dropped else ""))
            if not dropped:
                self.network.append(env)
        for reply in rd.replies:
            self.out.append(f"  {i}: reply {json.dumps(reply.body, sort_keys=True)}")

    def deliver(self, only: set[int]) -> int:
        """Deliver every message in flight now (to `only`, if given); returns how many."""
        now = [e for e in self.network if not only or e.message.mdest in only]
        self.network = [e for e in self.network if only and e.message.mdest not in only]
        for env in now:
            dest = env.message.mdest
            if dest in self.isolated or env.message.msource in self.isolated:
                continue
            self.out.append(f"{dest} <- {show_message(env.message)}")
            self.nodes[dest].step(env)
            self.flush(dest)
        return len(now)

    # ------------------------------------------------------------- commands

    def campaign(self, i: str) -> None:
        self.nodes[int(i)].campaign()
        self.flush(int(i))

    def tick_heartbeat(self, i: str) -> None:
        node = self.nodes[int(i)]
        for _ in range(CONFIG.heartbeat_ticks):
            node.tick()
        self.flush(int(i))

    def propose(self, i: str, key: str, value: str) -> None:
        self.nodes[int(i)].write(("client", key, value), "put", key, value)
        self.flush(int(i))

    def put(self, i: str, key: str, value: str, client: str, seq: str, retry: str = "") -> None:
        session = SessionId(client, int(seq), int(seq), retry == "retry")
        self.nodes[int(i)].write(("put", key, value, client, seq, retry), "put", key, value, session)
        self.flush(int(i))

    def delete(self, i: str, key: str, client: str, seq: str, retry: str = "") -> None:
        session = SessionId(client, int(seq), int(seq), retry == "retry")
        self.nodes[int(i)].write(("delete", key, client, seq, retry), "delete", key, None, session)
        self.flush(int(i))

    def kv(self, i: str) -> None:
        self.out.append(json.dumps(self.nodes[int(i)].kv.data, sort_keys=True))

    def deliver_msgs(self, *nodes: str) -> None:
        if not self.deliver({int(i) for i in nodes}):
            self.out.append("no messages")

    def stabilize(self) -> None:
        for _ in range(100):
            if not self.deliver(set()):
                return
        raise AssertionError("stabilize: messages still in flight after 100 rounds")

    def isolate(self, i: str) -> None:
        self.isolated.add(int(i))
        self.network = [e for e in self.network if int(i) not in (e.message.msource, e.message.mdest)]

    def heal(self) -> None:
        self.isolated.clear()

    def crash(self, i: str) -> None:
        k = int(i)
        self.files[k].crash()
        self.storages[k] = Storage(self.files[k])
        self.nodes[k] = Node(k, CoreConfig(self.n, 8), random.Random(k), CONFIG, self.storages[k].load())
        self.network = [e for e in self.network if e.message.mdest != k]
        self.out.append(f"  {k}: restarted from its files")

    def status(self) -> None:
        for node in self.nodes:
            c = node.core
            vote = "-" if c.voted_for is None else c.voted_for
            self.out.append(f"{node.id}: term={c.current_term} {c.role} vote={vote} commit={c.commit_index}"
                            f" applied={node.kv.applied_index} log={show_entries(c.log)}")

    def run(self, command: str) -> str:
        """Run one command line; return what it printed."""
        self.out = []
        name, *args = command.split()
        method: Callable[..., None] | None = getattr(self, name.replace("-", "_"), None)
        if method is None or name.startswith("_") or name in ("run", "flush", "deliver"):
            raise ValueError(f"unknown scenario command {name!r}")
        method(*args)
        return "\n".join(self.out) if self.out else "ok"


@dataclass
class Block:
    """One command of a scenario file, its comments and its golden output."""

    comments: list[str]
    command: str
    expected: str


def parse(text: str, where: str) -> list[Block]:
    """The blocks of a scenario file; ValueError naming the line for a malformed one."""
    blocks: list[Block] = []
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        comments: list[str] = []
        while k < len(lines) and (not lines[k].strip() or lines[k].startswith("#")):
            if lines[k].startswith("#"):
                comments.append(lines[k])
            k += 1
        if k >= len(lines):
            break
        command = lines[k]
        if k + 1 >= len(lines) or lines[k + 1] != "----":
            raise ValueError(f"{where}:{k + 2}: expected '----' after the command {command!r}")
        k += 2
        out: list[str] = []
        while k < len(lines) and lines[k].strip():
            out.append(lines[k])
            k += 1
        blocks.append(Block(comments, command, "\n".join(out)))
    return blocks


def render(blocks: list[Block]) -> str:
    """A scenario file's text for `blocks`."""
    parts = []
    for b in blocks:
        parts.append("\n".join([*b.comments, b.command, "----", b.expected]))
    return "\n\n".join(parts) + "\n"


def run_file(path: Path, rewrite: bool) -> list[tuple[str, str, str]]:
    """Run a scenario file; returns (command, golden output, output now) for every block that differs.

    With `rewrite`, the file is rewritten with the outputs of now.
    """
    blocks = parse(path.read_text(), str(path))
    scenario = Scenario()
    diffs: list[tuple[str, str, str]] = []
    for b in blocks:
        got = scenario.run(b.command)
        if got != b.expected:
            diffs.append((b.command, b.expected, got))
            b.expected = got
    if rewrite and diffs:
        path.write_text(render(blocks))
    return diffs
