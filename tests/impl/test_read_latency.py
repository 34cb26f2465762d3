"""A linearizable read on an idle cluster starts its quorum round at once (issue 15, bug 7).

The shell asks `Node.has_work()` whether to call `ready()` after an event; a read that
did not count waited for the next heartbeat to start its round (about 88 ms against a
put's 2.1 ms on an idle cluster; benchmarks/cluster_bench.py --op get measures it).
"""
from __future__ import annotations

from support.sansio import idle_cluster, settle


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
