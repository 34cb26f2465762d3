"""Where the shell runs its fsyncs (`FsyncPlacement`): inline while they are fast, fresh threads while they are slow."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from leaderfollower.impl.client import Client
from leaderfollower.impl.server import FsyncPlacement, leader_of, run_in_process

from support.cluster import eventually, free_base_port, run

FAST, SLOW = 0.0001, 0.004


def test_fast_fsyncs_stay_inline() -> None:
    p = FsyncPlacement()
    for _ in range(10_000):
        p.record(FAST)
    assert p.inline


def test_rare_slow_fsyncs_do_not_move_them() -> None:
    p = FsyncPlacement(window=100, slow_count=2)
    for _ in range(50):
        p.record(SLOW)
        for _ in range(100):
            p.record(FAST)
    assert p.inline


def test_slow_fsyncs_within_a_window_move_them_to_threads_then_inline_is_retried() -> None:
    p = FsyncPlacement(window=10, slow_count=2, fallback_batches=5)
    p.record(SLOW)
    for _ in range(8):
        p.record(FAST)
    assert p.inline
    p.record(SLOW)  # two slow among the last ten
    assert not p.inline
    for _ in range(4):
        p.record(SLOW)  # thread batches: their durations do not matter
        assert not p.inline
    p.record(FAST)
    assert p.inline
    p.record(SLOW)
    assert p.inline  # the window starts afresh
    p.record(SLOW)
    assert not p.inline


def test_a_cluster_whose_fsyncs_all_run_on_threads_commits_and_replicates(tmp_path: Path) -> None:
    """The thread path (taken while inline fsyncs are slow) carries out whole Readys, leader and followers."""

    async def scenario() -> None:
        servers = await run_in_process(3, free_base_port(), tmp_path)
        for s in servers:
            s.fsync_placement.inline = False
            s.fsync_placement.fallback_batches = 10**9
            s.fsync_placement._left = 10**9
        try:
            await eventually(lambda: _value(leader_of(servers)), "a leader is elected")
            addresses = servers[0].config.addresses

            async def put(i: int) -> bool:
                async with Client(addresses) as c:
                    return bool((await c.put(f"k{i}", "v"))["ok"])

            assert all(await asyncio.gather(*(put(i) for i in range(20))))  # batches, on threads
            async with Client(addresses) as c:
                assert (await c.get("k19"))["value"] == "v"
            for s in servers:
                await eventually(lambda s=s: _value(s.node is not None and s.node.kv.get("k19") == "v"), f"node {s.id} applied k19")
            assert all(s.fsync_placement.inline is False and s.failed is None for s in servers)
        finally:
            for s in servers:
                await s.stop()

    run(scenario())


async def _value(v: Any) -> Any:
    return v
