"""Stray elections: a healthy leader must not be deposed on an idle cluster.

The story (issue 4, "term 2 -> 3 on an idle local cluster"): the shell redialled
an unreachable peer with exponential backoff capped at 1 s.  A server that came
up after the leader had started dialling it (a slow start, a restart) then heard
nothing for up to a second, far past its 150-300 ms election timeout; it
campaigned, was refused (its log lacked the leader's no-op), campaigned again in
a higher term, and that higher term made the healthy leader step down.

The fix has two halves, tested here: the backoff is capped at one heartbeat
interval, below the shortest election timeout (`ServerConfig` refuses anything
else), and a leader sends its AppendEntries to a peer the moment the link to it
comes up (`Node.peer_connected`).  The sans-I/O tests are deterministic (ticks,
a seeded generator); the TCP test checks the whole shell.
"""
from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from leaderfollower.impl.core import CoreConfig
from leaderfollower.impl.messages import FOLLOWER, LEADER
from leaderfollower.impl.node import Envelope, Node, NodeConfig
from leaderfollower.impl.server import NodeServer, ServerConfig, leader_of, local_addresses

from support.cluster import eventually, free_base_port, run

N = 3
CONFIG = NodeConfig()  # the shell's defaults: election 15-30 ticks, heartbeat every 5


class Net:
    """Lock-step ticks and instant delivery between the servers that are up."""

    def __init__(self, up: set[int]) -> None:
        self.nodes = {i: Node(i, CoreConfig(N, 256), random.Random(i), CONFIG) for i in up}
        self.terms: list[tuple[int, int, str]] = []  # (tick, node, "term a -> b")
        self.now = 0

    def start(self, i: int) -> None:
        """Server i comes up empty; the links to and from it connect."""
        self.nodes[i] = Node(i, CoreConfig(N, 256), random.Random(100 + i), CONFIG)
        for j, node in self.nodes.items():
            if j != i:
                node.peer_connected(i)
                self.nodes[i].peer_connected(j)

    def settle(self) -> None:
        for _ in range(50):
            sent: list[Envelope] = []
            for i, node in self.nodes.items():
                rd = node.ready()
                sent.extend(rd.messages)
                self.terms.extend((self.now, i, e) for e in rd.events if e.startswith("term "))
            if not sent:
                return
            for env in sent:
                if env.message.mdest in self.nodes:  # to a server that is down: lost
                    self.nodes[env.message.mdest].step(env)
        raise AssertionError("messages still flowing after 50 rounds")

    def tick(self, ticks: int) -> None:
        for _ in range(ticks):
            self.now += 1
            for node in self.nodes.values():
                node.tick()
            self.settle()

    def leader(self) -> Node:
        (leader,) = [n for n in self.nodes.values() if n.role == LEADER]
        return leader


def test_an_idle_cluster_keeps_its_leader_for_ten_thousand_ticks() -> None:
    net = Net({0, 1, 2})
    net.tick(100)
    leader = net.leader()
    term = leader.term
    net.tick(10_000)
    assert net.leader() is leader and leader.term == term, net.terms[-6:]
    assert all(n.term == term and (n is leader or n.role == FOLLOWER) for n in net.nodes.values())


def test_a_leader_sends_append_entries_as_soon_as_a_link_comes_up() -> None:
    net = Net({0, 1, 2})
    net.tick(100)
    leader = net.leader()
    j = next(i for i in net.nodes if i != leader.id)
    leader.peer_connected(j)
    sent = [env.message for env in leader.ready().messages]
    assert [(m.mtype, m.mdest) for m in sent] == [("AppendEntriesRequest", j)]


def test_a_candidate_asks_again_for_a_vote_when_a_link_comes_up() -> None:
    net = Net({0, 1, 2})
    candidate = net.nodes[0]
    candidate.campaign()  # its requests are lost: nothing is delivered
    candidate.ready()
    candidate.peer_connected(1)
    sent = [env.message for env in candidate.ready().messages]
    assert [(m.mtype, m.mdest, m.mterm) for m in sent] == [("RequestVoteRequest", 1, candidate.term)]


def test_a_server_that_starts_late_joins_without_an_election() -> None:
    net = Net({0, 1})
    net.tick(200)  # 0 and 1 elect a leader; everything sent to 2 is lost
    leader = net.leader()
    term = leader.term
    net.start(2)
    net.tick(1_000)
    assert net.leader() is leader and leader.term == term, net.terms[-6:]
    assert net.nodes[2].role == FOLLOWER and net.nodes[2].term == term
    assert net.nodes[2].core.log == leader.core.log


def test_the_reconnect_backoff_stays_below_the_shortest_election_timeout(tmp_path: Path) -> None:
    addresses = local_addresses(N, 7400)
    config = ServerConfig(0, addresses, tmp_path)
    assert config.dial_backoff_cap == pytest.approx(CONFIG.heartbeat_ticks * config.tick_seconds)
    assert config.dial_backoff_cap < CONFIG.election_ticks_min * config.tick_seconds
    with pytest.raises(ValueError, match="below the shortest election timeout"):
        ServerConfig(0, addresses, tmp_path, max_dial_backoff=1.0)


def test_a_node_started_late_over_tcp_hears_the_leader_before_it_can_time_out(tmp_path: Path) -> None:
    """A timing claim, with a wide margin: node 2 comes up after the others have
    been dialling it for 2.5 s; it must hear the leader within its shortest
    election timeout (300 ms here), and nobody's term may change.  The new cap
    makes that about one heartbeat (50 ms); the old 1 s cap made the wait uniform
    on 0-1 s, so this failed about two times in three."""
    timing = NodeConfig(election_ticks_min=30, election_ticks_max=45, heartbeat_ticks=5)

    async def scenario() -> None:
        addresses = local_addresses(N, free_base_port())
        servers = [NodeServer(ServerConfig(i, addresses, tmp_path / f"node{i}", node=timing)) for i in range(N)]
        shortest = timing.election_ticks_min * servers[0].config.tick_seconds
        try:
            for s in servers[:2]:
                await s.start()
            first = await eventually(lambda: _leader(servers[:2]), "a leader among nodes 0 and 1")
            term = first.node.term
            await asyncio.sleep(2.5)  # long enough for any backoff to reach its cap
            loop = asyncio.get_running_loop()
            started = loop.time()
            await servers[2].start()
            while servers[2].node.leader_id is None and loop.time() - started < 5.0:
                await asyncio.sleep(0.002)
            heard_after = loop.time() - started
            assert heard_after < shortest, f"node 2 heard the leader after {heard_after:.3f}s, past {shortest}s"
            await asyncio.sleep(2 * timing.election_ticks_max * servers[0].config.tick_seconds)
            assert leader_of(servers) is first and all(s.node.term == term for s in servers), [
                (s.id, s.node.role, s.node.term) for s in servers
            ]
        finally:
            for s in servers:
                if s.node is not None:
                    await s.stop()

    run(scenario())


async def _leader(servers: list[NodeServer]) -> NodeServer | None:
    return leader_of(servers)
