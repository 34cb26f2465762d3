"""A sans-I/O cluster of `impl.node.Node`s in one test: no ticks, no sockets, messages delivered by hand."""
from __future__ import annotations

import random

from leaderfollower.impl.core import CoreConfig
from leaderfollower.impl.messages import LEADER
from leaderfollower.impl.node import Node, NodeConfig

N = 3


def idle_cluster() -> list[Node]:
    """Three nodes, node 0 elected and its first entry committed, nothing left to do."""
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
