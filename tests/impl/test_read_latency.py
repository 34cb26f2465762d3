"""A linearizable read on an idle cluster starts its quorum round at once (issue 15, bug 7).

The shell asks `Node.has_work()` whether to call `ready()` after an event; a read that
did not count waited for the next heartbeat to start its round (about 88 ms against a
put's 2.1 ms on an idle cluster; benchmarks/cluster_bench.py --op get measures it).
"""
from __future__ import annotations

import random

from leaderfollower.impl.core import CoreConfig
from leaderfollower.impl.messages import LEADER
from leaderfollower.impl.node import Node, NodeConfig

N = 3


def idle_cluster() -> list[Node]:
    nodes = [Node(i, CoreConfig(N, 8), random.Random(i), NodeConfig()) for i in range(N)]
    nodes[0].campaign()
    settle(nodes)
    assert nodes[0].role == LEADER and nodes[0].core.commit_index == 1
    for node in nodes:
        assert not node.has_work()
    return nodes


def settle(nodes: list[Node]) -> list[dict[str, object]]:
    """Deliver everything the nodes produce, with no tick, until they are quiet; the replies given."""
    replies = []
    for _ in range(50):
        out = []
        for node in nodes:
            if node.has_work():
                rd = node.ready()
                out.extend(rd.messages)
                replies.extend(r.body for r in rd.replies)
        if not out:
            return replies
        for env in out:
            nodes[env.message.mdest].step(env)
    raise AssertionError("never quiet")


def test_a_read_on_an_idle_leader_is_answered_without_any_tick() -> None:
    nodes = idle_cluster()
    leader = nodes[0]
    leader.read("r1", "k")
    assert leader.has_work(), "the read's round must start now, not at the next heartbeat"
    rd = leader.ready()
    assert {env.message.mdest for env in rd.messages} == {1, 2} and all(env.ctx == 1 for env in rd.messages)
    for env in rd.messages:
        nodes[env.message.mdest].step(env)
    replies = settle(nodes)
    assert {"ok": True, "node": 0, "term": 2, "value": None} in replies
