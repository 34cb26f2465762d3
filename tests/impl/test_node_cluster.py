"""Several Nodes over a fake network: drops, duplicates, reordering, crashes; invariants after every step.

A Hypothesis `RuleBasedStateMachine` drives three real `Node`s (policy + core),
each persisting every Ready through `Storage` on a `CrashFileLayer`.  The network
is a list of envelopes delivered in any order, dropped or duplicated.  A restart
crashes the node's files (losing whatever was not fsync'd) and recovers from
them.  After every step the spec's invariants (ElectionSafety, LogMatching,
StateMachineSafety, from `spec.properties`) must hold on the nodes' projections,
a term may have had only one leader over the whole run, and every index ever
applied by any node holds the same entry.
"""
from __future__ import annotations

import random

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from leaderfollower.impl.core import CoreConfig
from leaderfollower.impl.messages import LEADER, Entry
from leaderfollower.impl.node import Envelope, Node, NodeConfig
from leaderfollower.checker.conform.crashfiles import CrashFileLayer
from leaderfollower.impl.storage import Storage
from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import election_safety, log_matching, state_machine_safety
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import ServerState, State

N = 3
NODE_CONFIG = NodeConfig(election_ticks_min=4, election_ticks_max=8, heartbeat_ticks=2)


class Cluster(RuleBasedStateMachine):
    """Three nodes, one fake network, the environment's moves as rules."""

    def __init__(self) -> None:
        super().__init__()
        self.spec = RaftSpec(Params(servers=N))
        self.files = [CrashFileLayer() for _ in range(N)]
        self.storages = [Storage(f) for f in self.files]
        self.nodes = []
        for i in range(N):
            stored = self.storages[i].load()
            self.nodes.append(Node(i, CoreConfig(N, max_entries_per_append=2), random.Random(i), NODE_CONFIG, stored))
        self.network: list[Envelope] = []
        self.leaders: dict[int, int] = {}  # term -> the one leader it ever had
        self.applied: dict[int, Entry] = {}  # index -> the entry any node applied there
        self.checked = [0] * N
        self.writes = 0
        self.replies: list[dict[str, object]] = []

    def flush(self, i: int) -> None:
        node = self.nodes[i]
        rd = node.ready()
        assert rd.rejected == (), f"node {i} refused a message of a correct server: {rd.rejected}"
        self.storages[i].save(rd.hard_state, rd.log_from, rd.entries)
        self.network.extend(rd.messages)
        self.replies.extend(r.body for r in rd.replies)
        core = node.core
        for index in range(self.checked[i] + 1, node.kv.applied_index + 1):
            entry = core.log[index - 1]
            assert self.applied.setdefault(index, entry) == entry, f"node {i} applied {entry} at {index}"
        self.checked[i] = node.kv.applied_index

    @rule(i=st.integers(0, N - 1), ticks=st.integers(1, 10))
    def tick(self, i: int, ticks: int) -> None:
        for _ in range(ticks):
            self.nodes[i].tick()
        self.flush(i)

    @precondition(lambda self: self.network)
    @rule(k=st.integers(0, 10_000))
    def deliver(self, k: int) -> None:
        env = self.network.pop(k % len(self.network))
        dest = env.message.mdest
        self.nodes[dest].step(env)
        self.flush(dest)

    @precondition(lambda self: self.network)
    @rule(k=st.integers(0, 10_000))
    def drop(self, k: int) -> None:
        self.network.pop(k % len(self.network))

    @precondition(lambda self: self.network)
    @rule(k=st.integers(0, 10_000))
    def duplicate(self, k: int) -> None:
        self.network.append(self.network[k % len(self.network)])

    @rule(rounds=st.integers(1, 12))
    def stabilize(self, rounds: int) -> None:
        """etcd's `stabilize`: every node ticks, then every message in flight is delivered, in order."""
        for _ in range(rounds):
            for i in range(N):
                self.tick(i, 1)
            for _ in range(200):
                if not self.network:
                    break
                self.deliver(0)

    @rule(i=st.integers(0, N - 1))
    def restart(self, i: int) -> None:
        before = self.nodes[i].core.persistent_state()
        self.files[i].crash()
        self.storages[i] = Storage(self.files[i])
        stored = self.storages[i].load()
        assert stored == before, "everything was fsync'd before sending, so a crash loses nothing"
        self.nodes[i].restart(stored)
        self.checked[i] = 0
        self.flush(i)

    @rule(i=st.integers(0, N - 1))
    def write(self, i: int) -> None:
        self.writes += 1
        self.nodes[i].write(self.writes, "put", f"k{self.writes % 3}", str(self.writes))
        self.flush(i)

    @rule(i=st.integers(0, N - 1))
    def read(self, i: int) -> None:
        self.nodes[i].read(("read", i), "k0")
        self.flush(i)

    @invariant()
    def spec_invariants_hold(self) -> None:
        state = State(tuple(ServerState(*n.core.project()) for n in self.nodes), ())
        assert election_safety(self.spec, state), "ElectionSafety"
        assert log_matching(self.spec, state), "LogMatching"
        assert state_machine_safety(self.spec, state), "StateMachineSafety"
        if any(n.core.commit_index > 1 for n in self.nodes):
            event("a client write committed")  # a *sometimes* witness: the run did something
        for n in self.nodes:
            if n.core.role == LEADER:
                assert self.leaders.setdefault(n.core.current_term, n.id) == n.id, "two leaders in one term"


Cluster.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestCluster = Cluster.TestCase


def test_a_quiet_cluster_elects_a_leader_and_commits() -> None:
    """A scenario: ticks and in-order delivery elect one leader, and a write commits everywhere."""
    c = Cluster()
    for _ in range(200):
        for i in range(N):
            c.tick(i, 1)
        while c.network:
            c.deliver(0)
        if any(n.role == LEADER for n in c.nodes):
            break
    leader = next(n for n in c.nodes if n.role == LEADER)
    c.write(leader.id)
    for _ in range(10):
        for i in range(N):
            c.tick(i, 1)
        while c.network:
            c.deliver(0)
    assert all(n.kv.get("k1") == "1" for n in c.nodes)
    assert {"ok": True, "node": leader.id, "term": leader.term, "index": 2} in c.replies
    c.read(leader.id)
    while c.network:
        c.deliver(0)
    assert any(r.get("value", "x") is None and r["ok"] for r in c.replies)  # k0 is unset: a linearizable None
