"""Validation of free runs: a real 3-node cluster (processes, TCP on 127.0.0.1, real timers and
files) logs its steps, nodes are killed with SIGKILL and restarted, and `leaderfollower
validate` must accept the log; with nodes built from a conformance mutant (a broken
`RaftCore` subclass of checker/conform/mutants.py, run by tests/support/mutant_node.py
through the server's core-class seam) it must report the step that shows the bug.

Waits poll until something holds (with a deadline that only turns a hang into a
failure); the fault scenario runs a bounded time.
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Optional

from support.cluster import N, ProcessCluster, eventually, run

from leaderfollower.checker.validate.validator import ValidationResult, validate
from leaderfollower.impl.client import ClientError


MUTANT_NODE = Path(__file__).resolve().parent.parent / "support" / "mutant_node.py"


class TracedCluster(ProcessCluster):
    """Node processes that write trace logs into one folder; with `mutant`, nodes built from that mutant."""

    def __init__(self, data_dir: Path, mutant: Optional[str] = None) -> None:
        super().__init__(data_dir)
        self.trace_dir = data_dir / "trace"
        self.trace_dir.mkdir()
        self.mutant = mutant

    def start(self, i: int, extra: tuple[str, ...] = ()) -> None:
        log = open(self.data_dir / f"node{i}.log", "ab")
        options = ["--id", str(i), "--nodes", str(self.n), "--base-port", str(self.base),
                   "--data-dir", str(self.data_dir), "--trace-log", str(self.trace_dir)]
        if self.mutant is None and not extra:
            cmd = [sys.executable, "-m", "leaderfollower.impl.cli", "node", *options]
        else:
            cmd = [sys.executable, str(MUTANT_NODE), *options, *extra]
            if self.mutant is not None:
                cmd += ["--mutant", self.mutant]
        self.procs[i] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    async def role(self, i: int) -> Optional[str]:
        c = self.client(timeout=1)
        try:
            return (await c.status(i))["role"]  # type: ignore[no-any-return]
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ClientError):
            return None
        finally:
            await c.close()

    def validate(self) -> ValidationResult:
        self.stop_all()
        return validate([self.trace_dir])


async def writer(cluster: ProcessCluster, stop: asyncio.Event, acked: list[str]) -> None:
    """Put keys one after another until `stop`, riding out elections (failed writes are retried)."""
    k = 0
    async with cluster.client(timeout=5) as c:
        while not stop.is_set():
            try:
                if (await c.put(f"k{k}", f"v{k}"))["ok"]:
                    acked.append(f"k{k}")
            except ClientError:
                pass
            k += 1


def test_cluster_with_kills_and_restarts_is_a_behaviour_of_the_spec(tmp_path: Path) -> None:
    cluster = TracedCluster(tmp_path)

    async def scenario() -> None:
        for i in range(N):
            cluster.start(i)
        leader = await cluster.leader()
        stop = asyncio.Event()
        acked: list[str] = []
        writes = asyncio.create_task(writer(cluster, stop, acked))
        await asyncio.sleep(0.5)
        # A follower dies mid-write and comes back.
        follower = (leader + 1) % N
        cluster.kill(follower)
        await asyncio.sleep(0.4)
        cluster.start(follower)
        await asyncio.sleep(0.6)
        # The leader dies; a new one is elected; the old one comes back.  Writes pause for the
        # kill: a leader sends AppendEntries while it fsyncs them (Raft thesis 10.2.1), so a kill
        # in that instant loses entries already sent, which raft.tla has no step for (see
        # docs/validation.md); a follower can be killed at any moment.
        stop.set()
        await writes
        old = await cluster.leader()
        cluster.kill(old)
        stop = asyncio.Event()
        writes = asyncio.create_task(writer(cluster, stop, acked))
        await cluster.leader(exclude=old)
        await asyncio.sleep(0.4)
        cluster.start(old)
        # Up (and so its NodeStart logged) before the run ends, however slowly the machine starts a process.
        await eventually(lambda: cluster.role(old), f"node {old} is back up")
        await asyncio.sleep(0.8)
        stop.set()
        await writes
        assert len(acked) > 20, f"only {len(acked)} writes were acknowledged"

    try:
        run(scenario())
        result = cluster.validate()
    finally:
        cluster.stop_all()
    assert result.ok, str(result.mismatch)
    assert result.restarts == N + 2
    assert result.actions["ClientRequest"] > 20 and result.actions["BecomeLeader"] >= 2
    assert result.actions["Apply"] > 0 and result.actions["HandleAppendEntriesRequest"] > 20


def test_vote_without_log_check_is_caught(tmp_path: Path) -> None:
    """A node with a stale log asks for a vote; the buggy voter grants it, which the spec does not."""
    cluster = TracedCluster(tmp_path, mutant="vote-without-log-check")

    async def scenario() -> None:
        for i in range(N):
            cluster.start(i)
        leader = await cluster.leader()
        stale, voter = (leader + 1) % N, (leader + 2) % N
        cluster.kill(stale)
        async with cluster.client() as c:
            for k in range(5):
                assert (await c.put(f"k{k}", "v"))["ok"]  # committed on leader and voter, not on stale
        cluster.kill(leader)
        cluster.kill(voter)
        # The voter never times out itself (test-only timing), so the stale node is the one to ask.
        cluster.start(voter, ("--election-ticks", "5000", "6000"))
        cluster.start(stale)
        await eventually(lambda: _is(cluster.role(stale), "Leader"), "the stale node wins with the buggy vote")

    try:
        run(scenario())
        result = cluster.validate()
    finally:
        cluster.stop_all()
    assert result.mismatch is not None
    assert result.mismatch.event.action == "HandleRequestVoteRequest", str(result.mismatch)
    assert "vote: spec None" in result.mismatch.why and "vote_granted=True" in result.mismatch.why, str(result.mismatch)


def test_apply_before_commit_is_caught(tmp_path: Path) -> None:
    """The leader hands its new entries to the state machine before a quorum holds them."""
    cluster = TracedCluster(tmp_path, mutant="apply-before-commit")

    async def scenario() -> None:
        for i in range(N):
            cluster.start(i)
        await cluster.leader()
        async with cluster.client() as c:
            assert (await c.put("k", "v"))["ok"]

    try:
        run(scenario())
        result = cluster.validate()
    finally:
        cluster.stop_all()
    assert result.mismatch is not None
    assert result.mismatch.event.action == "Apply", str(result.mismatch)
    assert "is not committed" in result.mismatch.why


async def _is(aw: "asyncio.Future[Optional[str]] | object", expected: str) -> bool:
    return await aw == expected  # type: ignore[misc]
