"""Integration: real TCP on 127.0.0.1, real files in a temporary folder, real processes.

No assertion is about time: waits poll until something holds, with a generous
deadline that only turns a hang into a failure.
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from support.cluster import N, ProcessCluster, _async, _equals, eventually, free_base_port, run, stale_get

from leaderfollower.impl.client import Client
from leaderfollower.impl.messages import Entry
from leaderfollower.impl.server import leader_of, run_in_process
from leaderfollower.impl.server import free_base_port as server_free_base_port
from leaderfollower.impl.storage import LOG_FILE, Storage, encode_record
from leaderfollower.impl.tls import client_context_for
from leaderfollower.impl.wire import HELLO_PEER, encode_frame, encode_hello_peer

# ------------------------------------------------------------------ in-process
def test_free_base_port_stays_outside_the_ephemeral_range() -> None:
    """Ports handed to outgoing connections are never chosen: a late node's port was once taken that way."""
    import random

    from leaderfollower.impl.server import _ephemeral_range

    low, high = _ephemeral_range()
    rng = random.Random(7)
    for _ in range(200):
        base = server_free_base_port(5, rng)
        assert 10000 <= base and base + 4 <= 65535
        assert base + 4 < low or base > high, (base, low, high)


def test_leader_elected_and_writes_readable_everywhere(tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = await run_in_process(N, free_base_port(), tmp_path)
        addresses = servers[0].config.addresses
        try:
            leader = await eventually(lambda: _async(leader_of(servers)), "a leader is elected")
            async with Client(addresses) as c:
                for k in range(20):
                    reply = await c.put(f"k{k}", f"v{k}")
                    assert reply["ok"] and reply["node"] == leader.id and reply["term"] == leader.node.term
                got = await c.get("k7")
                assert got["value"] == "v7" and got["node"] == leader.id
                deleted = await c.delete("k0")
                assert deleted["ok"] and deleted["existed"] is True
                assert (await c.get("k0"))["value"] is None
            for i in range(N):
                await eventually(lambda: _equals(stale_get(addresses, i, "k19"), "v19"), f"node {i} has k19")
            follower = next(s for s in servers if s is not leader)
            c2 = Client(addresses)
            redirect = await c2.request_once({"op": "put", "key": "x", "value": "y"}, node=follower.id)
            await c2.close()
            assert redirect["ok"] is False and redirect["error"] == "not_leader"
            assert redirect["leader"] == leader.id and redirect["node"] == follower.id and "term" in redirect
        finally:
            for s in servers:
                await s.stop()

    run(scenario())


def test_malformed_oversized_and_unknown_frames_are_survived(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad_frames = [
        b"\x00\x00\x00\x01\x01",  # too short to hold version and kind
        b"\xff\xff\xff\xff",  # oversized
        encode_frame(99, b""),  # unknown kind
        b"\x00\x00\x00\x02\x07\x02",  # unknown version
        encode_hello_peer(1, N) + encode_frame(12, b"\x00" * 10),  # truncated AppendEntries
        encode_frame(2, b"") + encode_frame(20, b"{not json"),  # client hello then garbage
        encode_frame(HELLO_PEER, b"\x00\x09\x00\x03"),  # a peer id outside the cluster
    ]

    async def scenario() -> None:
        servers = await run_in_process(N, free_base_port(), tmp_path)
        addresses = servers[0].config.addresses
        for s in servers:
            s.bad_input.interval = 0  # every line, to see each reason (rate limited in real runs)
        try:
            await eventually(lambda: _async(leader_of(servers)), "a leader is elected")
            async with Client(addresses) as c:
                assert (await c.put("before", "1"))["ok"]
            for frame in bad_frames:
                for host, port in addresses:
                    reader, writer = await asyncio.open_connection(host, port)
                    writer.write(frame)
                    await writer.drain()
                    assert await reader.read() == b""  # the node closed this connection
                    writer.close()
            async with Client(addresses) as c:
                assert (await c.put("after", "2"))["ok"]
                assert (await c.get("before"))["value"] == "1"
        finally:
            for s in servers:
                await s.stop()

    with caplog.at_level("ERROR"):
        run(scenario())
    assert "exceeds the limit" in caplog.text and "unknown frame kind 99" in caplog.text and "wire version 7" in caplog.text


# ------------------------------------------------------------------ processes


def test_sigkill_leader_then_restart_and_torn_tail(tmp_path: Path) -> None:
    cluster = ProcessCluster(tmp_path)

    async def scenario() -> None:
        for i in range(N):
            cluster.start(i)
        first = await cluster.leader()
        acknowledged = {}
        async with cluster.client() as c:
            for k in range(30):
                reply = await c.put(f"k{k}", f"v{k}")
                assert reply["ok"]
                acknowledged[f"k{k}"] = f"v{k}"
        cluster.kill(first)
        second = await cluster.leader(exclude=first)
        assert second != first
        async with cluster.client() as c:
            for key, value in acknowledged.items():
                got = await c.get(key)
                assert got["value"] == value and got["node"] == second
            for k in range(30, 40):
                assert (await c.put(f"k{k}", f"v{k}"))["ok"]
                acknowledged[f"k{k}"] = f"v{k}"
        # Tear the restarted node's last record, as a crash in mid-write would.
        log_path = tmp_path / f"node{first}" / LOG_FILE
        with open(log_path, "ab") as f:
            f.write(encode_record(Entry(99, b"half-written"))[:7])
        cluster.start(first)
        await eventually(lambda: _equals(stale_get(cluster.addresses, first, "k39", client_context_for(tmp_path)), "v39"), "the restarted node catches up")
        for key, value in acknowledged.items():
            assert await stale_get(cluster.addresses, first, key, client_context_for(tmp_path)) == value
        text = (tmp_path / f"node{first}.log").read_text()
        assert "cut a torn tail of 7 bytes" in text

    try:
        run(scenario())
    finally:
        cluster.stop_all()


def test_corrupt_log_refuses_to_start_with_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "node0"
    s = Storage.open(folder)
    s.load()
    s.save(None, 1, (Entry(1, b"aaaa"), Entry(1, b"bbbb")))
    s.close()
    data = bytearray((folder / LOG_FILE).read_bytes())
    data[24] ^= 0xFF  # in the first record's payload
    (folder / LOG_FILE).write_bytes(bytes(data))
    proc = subprocess.run(
        [sys.executable, "-m", "leaderfollower.impl.cli", "node", "--id", "0", "--nodes", "1",
         "--base-port", str(free_base_port(1)), "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "record 1 at byte 8: checksum mismatch" in proc.stderr
    assert "Traceback" not in proc.stderr
