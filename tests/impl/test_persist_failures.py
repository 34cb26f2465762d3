"""Any failure while persisting stops the node, loudly, on both fsync paths (issue 15, bug 6).

Storage is given a failure through the server's documented seam (`NodeServer(config,
storage_class=...)`): a `Storage` whose save raises something that is neither a
StorageError nor an OSError, as a bug in the storage code would.  The node must stop
(`failed` set, CRITICAL line) and never send what the failed batch promised.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Optional

import pytest

from leaderfollower.impl.messages import HardState, Log
from leaderfollower.impl.server import NodeServer, ServerConfig, local_addresses
from leaderfollower.impl.storage import Storage

from support.cluster import free_base_port, run


class BrokenSave(Storage):
    """Saves fail (after the first `ok` saves) with an error that is not a storage error."""

    ok = 0

    def save(self, hard_state: Optional[HardState], log_from: Optional[int], entries: Log) -> None:
        if BrokenSave.ok <= 0:
            raise ValueError("a bug in save()")
        BrokenSave.ok -= 1
        super().save(hard_state, log_from, entries)


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "thread"])
def test_an_unexpected_error_while_persisting_stops_the_node(tmp_path: Path, inline: bool,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        addresses = local_addresses(1, free_base_port(1))
        BrokenSave.ok = 0
        server = NodeServer(ServerConfig(0, addresses, tmp_path / "node0"), storage_class=BrokenSave)
        sent: list[object] = []
        server._send = lambda envelopes: sent.extend(envelopes)  # type: ignore[method-assign]
        server.fsync_placement.inline = inline
        server.fsync_placement.fallback_batches = server.fsync_placement._left = 10**9
        await server.start()
        try:
            # Its first election needs the term and vote on disk: the save fails.
            await asyncio.wait_for(server.wait_closed(), 30)
        finally:
            await server.stop()
        assert isinstance(server.failed, ValueError)
        assert sent == [], "a message of the failed batch was sent"

    with caplog.at_level("CRITICAL"):
        run(scenario())
    assert "stopping: a bug in save()" in caplog.text
