"""Input handling (issue 15, bugs 4 and 8): linear buffering, connection limits, hello and idle
timeouts, deeply nested JSON, rate-limited error lines, commits off the INFO log."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from leaderfollower.impl import wire
from leaderfollower.impl.client import Client
from leaderfollower.impl.server import run_in_process
from leaderfollower.impl.wire import CLIENT_REQUEST, HELLO_CLIENT, FrameDecoder, encode_frame

from support.cluster import free_base_port, run, running


def test_a_large_frame_fed_in_small_chunks_is_copied_a_bounded_number_of_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """Linear buffering: a 16 MiB frame in 64 KiB chunks (the campaign's case) is not re-copied per chunk."""
    copied = [0]
    real = bytearray

    def counting(*args: Any) -> bytearray:
        out = real(*args)
        copied[0] += len(out)
        return out

    monkeypatch.setattr(wire, "bytearray", counting, raising=False)
    body = b"x" * (16 * 1024 * 1024 - 64)
    frame = encode_frame(CLIENT_REQUEST, body)
    decoder = FrameDecoder(max_frame=len(frame))
    got = []
    for k in range(0, len(frame), 64 * 1024):
        got += decoder.feed(frame[k : k + 64 * 1024])
    assert [f.body for f in got] == [body] and decoder.buffered == 0
    assert copied[0] <= 2 * len(frame), f"{copied[0]:,} bytes copied for a {len(frame):,}-byte frame"


def test_frames_split_anywhere_decode_the_same() -> None:
    frames = [encode_frame(CLIENT_REQUEST, bytes([k]) * k) for k in range(1, 40)]
    stream = b"".join(frames)
    for step in (1, 3, 7, 64, len(stream)):
        decoder = FrameDecoder()
        got = []
        for k in range(0, len(stream), step):
            got += decoder.feed(stream[k : k + step])
        assert [f.body for f in got] == [bytes([k]) * k for k in range(1, 40)], step


async def _closed_by_server(writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), 10) == b""
    except ConnectionResetError:
        return True  # closed with our bytes unread: a reset
    finally:
        writer.close()


def test_limits_and_timeouts_protect_the_node(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        servers = await run_in_process(3, free_base_port(), tmp_path, max_client_connections=4,
                                       hello_timeout=0.3, client_idle_timeout=0.5)
        addresses = servers[0].config.addresses
        host, port = addresses[0]
        async with running(servers):
            # A connection that never says hello is closed after the hello timeout.
            silent = await asyncio.open_connection(host, port)
            assert await _closed_by_server(silent[1], silent[0])
            # A client that says hello and then nothing is closed after the idle timeout.
            idle_r, idle_w = await asyncio.open_connection(host, port)
            idle_w.write(encode_frame(HELLO_CLIENT, b""))
            assert await _closed_by_server(idle_w, idle_r)
            # Beyond the limit, a new connection is closed at once; the cluster keeps replicating.
            held = [await asyncio.open_connection(host, port) for _ in range(4)]
            extra_r, extra_w = await asyncio.open_connection(host, port)
            assert await _closed_by_server(extra_w, extra_r)
            for r, w in held:
                w.close()
            async with Client(addresses) as c:
                assert (await c.put("k", "v"))["ok"]
            # Deeply nested JSON closes the connection with one line, and no traceback.
            deep_r, deep_w = await asyncio.open_connection(host, port)
            deep_w.write(encode_frame(HELLO_CLIENT, b"") + encode_frame(CLIENT_REQUEST, b"[" * 200_000 + b"]" * 200_000))
            assert await _closed_by_server(deep_w, deep_r)

    with caplog.at_level(logging.DEBUG):
        run(scenario())
    assert "no hello within 0.3s" in caplog.text
    assert "closing client connection idle" in caplog.text
    assert "refusing a connection" in caplog.text and "4 client connections open (the limit)" in caplog.text
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


def test_deeply_nested_json_is_a_frame_error_not_a_recursion_error() -> None:
    frame = wire.Frame(CLIENT_REQUEST, b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(wire.FrameError, match="ClientRequest: JSON nested too deeply"):
        wire.decode_json(frame, CLIENT_REQUEST)


def test_bad_connections_are_logged_at_most_once_a_second(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        servers = await run_in_process(1, free_base_port(1), tmp_path)
        host, port = servers[0].config.addresses[0]
        try:
            for _ in range(100):
                r, w = await asyncio.open_connection(host, port)
                w.write(encode_frame(99, b""))
                assert await _closed_by_server(w, r)
        finally:
            await servers[0].stop()

    with caplog.at_level(logging.INFO):
        run(scenario())
    lines = [r for r in caplog.records if "closing connection" in r.getMessage()]
    assert 1 <= len(lines) <= 5, len(lines)
    assert any("more like it not logged" in r.getMessage() for r in lines[1:]) or len(lines) == 1


def test_commits_are_not_logged_at_info(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        servers = await run_in_process(3, free_base_port(), tmp_path)
        async with running(servers), Client(servers[0].config.addresses) as c:
            for k in range(20):
                assert (await c.put(f"k{k}", "v"))["ok"]

    with caplog.at_level(logging.INFO, logger="leaderfollower"):
        run(scenario())
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("role Candidate -> Leader" in m for m in infos)
    assert not any(": commit " in m for m in infos)

