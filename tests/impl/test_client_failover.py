"""A paused leader: the client leaves a node that stays silent and finds the new leader within the
operation's deadline, instead of waiting the whole deadline on the paused one (found by torture)."""
from __future__ import annotations

import signal
from pathlib import Path

from support.cluster import ProcessCluster, run


def test_a_write_and_a_read_succeed_while_the_leader_is_paused(tmp_path: Path) -> None:
    cluster = ProcessCluster(tmp_path)

    async def scenario() -> None:
        for i in range(cluster.n):
            cluster.start(i)
        old = await cluster.leader()
        # A deadline long enough to elect a new leader several times over, but far shorter than
        # the pause: a client that waits on the paused node for the whole deadline fails.
        client = cluster.client(timeout=8.0)
        try:
            first = await client.put("k", "1")  # the client now talks to the leader
            assert first["ok"] and first["node"] == old
            cluster.procs[old].send_signal(signal.SIGSTOP)
            try:
                reply = await client.put("k", "2")
                assert reply["ok"] and reply["node"] != old, reply
                read = await client.get("k")
                assert read["ok"] and read["value"] == "2" and read["node"] != old, read
            finally:
                cluster.procs[old].send_signal(signal.SIGCONT)
        finally:
            await client.close()
            cluster.stop_all()

    run(scenario())
