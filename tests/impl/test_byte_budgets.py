"""Byte budgets (issue 15, bug 3): AppendEntries batches bounded by bytes, writes bounded at the client API."""
from __future__ import annotations

from pathlib import Path

import pytest

from leaderfollower.impl.client import Client, RequestTooLarge
from leaderfollower.impl.core import CoreConfig, RaftCore, VolatileState
from leaderfollower.impl.kv import MAX_VALUE_BYTES
from leaderfollower.impl.messages import LEADER, Entry, PersistentState
from leaderfollower.impl.node import Envelope
from leaderfollower.impl.server import ServerConfig, run_in_process
from leaderfollower.impl.wire import MAX_FRAME, encode_envelope

from support.cluster import free_base_port, run, running

MIB = 1024 * 1024


def lagging_leader(values: list[bytes], budget: int | None) -> RaftCore:
    log = tuple(Entry(2, v) for v in values)
    return RaftCore.recover(0, CoreConfig(3, 256, budget), PersistentState(2, 0, log), VolatileState(
        role=LEADER, commit_index=len(log), next_index=(len(log) + 1, 1, 1), match_index=(len(log), 0, 0)))


def test_a_lagging_follower_gets_batches_of_at_most_a_mebibyte_of_large_values() -> None:
    """The campaign's case: 100 KB values and a follower 300 entries behind (30 MB) must catch up."""
    core = lagging_leader([bytes([k % 256]) * 100_000 for k in range(300)], budget=MIB)
    sizes = []
    while core.next_index[1] <= len(core.log):
        assert core.append_entries(1)
        (m,) = core.ready().messages
        frame = encode_envelope(Envelope(m, 0))
        assert len(frame) <= MAX_FRAME
        sizes.append(len(m.mentries))
        core.next_index[1] += len(m.mentries)
    assert sizes == [10] * 30  # 10 x 100 KB fit in 1 MiB, 11 do not


def test_an_entry_larger_than_the_budget_still_goes_alone_and_without_a_budget_batches_are_the_spec() -> None:
    core = lagging_leader([b"x" * (2 * MIB), b"y", b"z"], budget=MIB)
    core.append_entries(1)
    assert [len(m.mentries) for m in core.ready().messages] == [1]
    spec_like = lagging_leader([b"x" * (2 * MIB), b"y", b"z"], budget=None)
    spec_like.append_entries(1)
    assert [len(m.mentries) for m in spec_like.ready().messages] == [3]


def test_the_shell_runs_with_a_one_mebibyte_budget_by_default() -> None:
    assert ServerConfig(0, (("127.0.0.1", 1),), Path("x")).max_bytes_per_append == MIB


def test_writes_over_the_limit_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = await run_in_process(3, free_base_port(), tmp_path)
        addresses = servers[0].config.addresses
        async with running(servers) as leader, Client(addresses) as c:
            with pytest.raises(RequestTooLarge, match=f"the limit is {MAX_VALUE_BYTES}"):
                await c.put("k", "v" * (MAX_VALUE_BYTES + 1))
            # Past the client's own check, the node refuses it too, and keeps serving.
            reply = await c.request_once({"op": "put", "key": "k", "value": "v" * (MAX_VALUE_BYTES + 1)},
                                         node=leader.id)
            assert reply["ok"] is False and reply["error"] == "too_large"
            assert (await c.put("k", "v" * (MAX_VALUE_BYTES - 1)))["ok"]
            assert len((await c.get("k"))["value"]) == MAX_VALUE_BYTES - 1

    run(scenario())
