"""Client sessions (issue 15, bug 1): a retried write is applied at most once and gets its first answer;
a write with no answer is reported as of unknown outcome, never as done."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from leaderfollower.impl import kv as kv_module
from leaderfollower.impl.client import Client, ClientError, OutcomeUnknown
from leaderfollower.impl.kv import SESSION_EXPIRED, KVStore, SessionId, encode_write
from leaderfollower.impl.server import local_addresses, run_in_process

from support.cluster import free_base_port, run, running


def test_the_same_write_twice_in_the_log_is_applied_once_and_answers_alike() -> None:
    store = KVStore()
    first = store.apply(1, encode_write("put", "k", "1", SessionId("a", 1, 1)))
    deleted = store.apply(2, encode_write("delete", "k", None, SessionId("b", 1, 1)))
    store.apply(3, encode_write("put", "k", "2", SessionId("a", 2, 2)))
    again = store.apply(4, encode_write("delete", "k", None, SessionId("b", 1, 1, retry=True)))
    assert first == {"index": 1} and deleted == again == {"index": 2, "existed": True}
    assert store.get("k") == "2"
    assert store.answered(SessionId("b", 1, 1)) == deleted


def test_acknowledged_results_are_forgotten_and_a_stale_retry_is_not_applied() -> None:
    store = KVStore()
    store.apply(1, encode_write("put", "k", "1", SessionId("a", 1, 1)))
    store.apply(2, encode_write("put", "k", "2", SessionId("a", 2, 2)))  # ack 2: the answer to 1 arrived
    assert store.answered(SessionId("a", 1, 0)) is None
    assert store.apply(3, encode_write("put", "k", "1", SessionId("a", 1, 1, retry=True))) == {"error": SESSION_EXPIRED}
    assert store.get("k") == "2"


def test_a_retry_from_a_forgotten_session_is_unknown_not_reapplied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kv_module, "MAX_SESSIONS", 2)
    store = KVStore()
    store.apply(1, encode_write("delete", "k", None, SessionId("old", 1, 1)))
    store.apply(2, encode_write("put", "k", "v", SessionId("x", 1, 1)))
    store.apply(3, encode_write("put", "j", "v", SessionId("y", 1, 1)))  # "old" is dropped
    retry = store.apply(4, encode_write("delete", "k", None, SessionId("old", 1, 1, retry=True)))
    assert retry == {"error": SESSION_EXPIRED} and store.get("k") == "v"
    # A first attempt from a new client is never a duplicate: it starts a session.
    assert store.apply(5, encode_write("put", "z", "1", SessionId("new", 1, 1))) == {"index": 5}


def test_a_retry_over_tcp_is_answered_with_the_first_result(tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = await run_in_process(3, free_base_port(), tmp_path)
        addresses = servers[0].config.addresses
        async with running(servers) as leader:
            async with Client(addresses) as c:
                assert (await c.put("k", "1"))["ok"]
                delete = {"op": "delete", "key": "k", "client": "b", "seq": 1, "ack": 1}
                first = await c.request_once(delete, node=leader.id)
                assert (await c.put("k", "2"))["ok"]
                retry = await c.request_once({**delete, "retry": True}, node=leader.id)
                assert first["ok"] and retry["ok"] and (first["index"], first["existed"]) == (retry["index"], retry["existed"])
                assert (await c.get("k"))["value"] == "2"
                bad = await c.request_once({**delete, "seq": 0}, node=leader.id)
                assert bad["error"] == "bad_request" and "seq must be an integer from 1" in bad["message"]

    run(scenario())


def test_a_write_sent_and_never_answered_is_unknown_and_one_never_sent_is_not() -> None:
    async def scenario() -> None:
        silent: list[bytes] = []

        async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            silent.append(await reader.read(65536))  # reads the request, never answers
            await asyncio.sleep(5)

        server = await asyncio.start_server(swallow, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(OutcomeUnknown, match="may or may not have taken effect"):
                async with Client((("127.0.0.1", port),), timeout=0.5) as c:
                    await c.put("k", "v")
            assert silent and b'"seq":1' in silent[0]
        finally:
            server.close()
        nobody = local_addresses(1, free_base_port(1))
        with pytest.raises(ClientError) as err:
            async with Client(nobody, timeout=0.3) as c:
                await c.delete("k")
        assert not isinstance(err.value, OutcomeUnknown)

    run(scenario())

