"""The client: put, get and delete against a cluster, following redirects to the leader.

How this works: a `Client` keeps one connection to the node it last found
useful.  A reply naming another leader sends it there; a connection failure, or
a node that knows no leader, makes it try the next address after a short pause,
until `timeout` seconds have passed.  Every reply names the node and term that
answered.  A write whose outcome is unknown (the leader lost leadership, or the
connection broke after sending) is retried, which is safe for put and delete.
"""
from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, Optional

from .server import Address, read_frame
from .wire import CLIENT_REPLY, CLIENT_REQUEST, HELLO_CLIENT, MAX_FRAME, decode_json, encode_frame, encode_json


class ClientError(Exception):
    """The cluster did not answer in time (the message says what was tried last)."""


class Client:
    """A connection to a cluster given every node's address."""

    def __init__(self, addresses: tuple[Address, ...], timeout: float = 10.0) -> None:
        self.addresses = addresses
        self.timeout = timeout
        self._target = 0
        self._ids = itertools.count(1)
        self._conn: Optional[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = None

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn[1].close()
            self._conn = None

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._conn is None:
            host, port = self.addresses[self._target]
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(encode_frame(HELLO_CLIENT, b""))
            self._conn = (reader, writer)
        return self._conn

    async def request_once(self, request: dict[str, Any], node: Optional[int] = None) -> dict[str, Any]:
        """Send one request to one node (the current target, or `node`) and return its reply as is."""
        if node is not None and node != self._target:
            await self.close()
            self._target = node
        reader, writer = await self._connect()
        request_id = next(self._ids)
        writer.write(encode_json(CLIENT_REQUEST, {**request, "id": request_id}))
        await writer.drain()
        while True:
            reply = decode_json(await read_frame(reader, MAX_FRAME), CLIENT_REPLY)
            if reply.get("id") == request_id:
                return reply

    async def request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send a request, following redirects and retrying until it succeeds or `timeout` passes."""
        deadline = time.monotonic() + self.timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                # asyncio.timeout, not wait_for: no extra task (and loop hop) per request.
                async with asyncio.timeout(max(0.05, deadline - time.monotonic())):
                    reply = await self.request_once(request)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
                last = f"node {self._target}: {type(e).__name__} {e}"
                await self.close()
                self._target = (self._target + 1) % len(self.addresses)
                await asyncio.sleep(0.05)
                continue
            if reply.get("ok") or reply.get("error") == "bad_request":
                return reply
            last = reply
            leader = reply.get("leader")
            await self.close()
            if isinstance(leader, int) and leader != self._target and 0 <= leader < len(self.addresses):
                self._target = leader
            else:
                self._target = (self._target + 1) % len(self.addresses)
                await asyncio.sleep(0.05)
        raise ClientError(f"no answer within {self.timeout}s; last: {last}")

    async def put(self, key: str, value: str) -> dict[str, Any]:
        """Set `key` to `value` (committed on a quorum when this returns)."""
        return await self.request({"op": "put", "key": key, "value": value})

    async def get(self, key: str, stale: bool = False) -> dict[str, Any]:
        """Read `key`: linearizable from the leader, or possibly stale from any node."""
        return await self.request({"op": "get", "key": key, "stale": stale})

    async def delete(self, key: str) -> dict[str, Any]:
        """Remove `key`."""
        return await self.request({"op": "delete", "key": key})

    async def status(self, node: int) -> dict[str, Any]:
        """One node's role, term, leader and indexes."""
        return await self.request_once({"op": "status"}, node=node)
