"""The client: put, get and delete against a cluster, following redirects to the leader.

How this works: a `Client` keeps one connection to the node it last found
useful; replies are decoded in the connection's protocol callback as they
arrive and handed to the waiting request by id (no reader coroutine per reply).
A reply naming another leader sends it there; a connection failure, a node that
knows no leader, or a node silent for `attempt_timeout` (paused, or cut off from
the others) makes it try the next address after a short pause, until `timeout`
seconds have passed.  Every reply names the node and term that
answered.

Writes go in a client session (kv.py; Raft thesis 6.3): the client names itself
with a random id and numbers its writes; a write whose outcome it does not know
(the leader lost leadership, the connection broke or the node went silent after
the write was sent) is sent again with the same number, and the cluster applies it
at most once and answers a retry with the first attempt's result.  A write that
has no answer by the deadline raises `OutcomeUnknown` if it may have reached a
leader (it may or may not have taken effect: never report it as done or as not
done), and plain `ClientError` if it never left this process.
"""
from __future__ import annotations

import asyncio
import itertools
import secrets
import ssl
import time
from typing import Any, Optional, cast

from .kv import MAX_VALUE_BYTES, SESSION_EXPIRED, write_size
from .server import Address
from .tls import node_name, peer_name
from .wire import (
    CLIENT_REPLY,
    CLIENT_REQUEST,
    HELLO_CLIENT,
    MAX_FRAME,
    FrameDecoder,
    FrameError,
    decode_json,
    encode_frame,
    encode_json,
)


class ClientError(Exception):
    """The cluster did not answer in time (the message says what was tried last)."""


class RequestTooLarge(ValueError):
    """A write whose key and value exceed the cluster's limit (`kv.MAX_VALUE_BYTES`); never sent."""


class OutcomeUnknown(ClientError):
    """A write may or may not have taken effect: it was sent, and no answer says which.

    A history checker must treat such a write as possibly applied at any time after
    it was sent (Jepsen's "info" operations).
    """


class _Connection(asyncio.Protocol):
    """One connection to a node: replies are matched to waiting requests by id."""

    def __init__(self) -> None:
        self.decoder = FrameDecoder(MAX_FRAME)
        self.transport: Optional[asyncio.Transport] = None
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.lost: Optional[BaseException] = None
        """Why the connection is unusable (closed, or the node sent something malformed); None while open."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (a cast: uvloop's transports do not derive from asyncio's)."""
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Hand every complete reply to the request waiting for its id."""
        try:
            replies = [decode_json(frame, CLIENT_REPLY) for frame in self.decoder.feed(data)]
        except FrameError as e:
            self._lose(e)
            assert self.transport is not None
            self.transport.close()
            return
        for reply in replies:
            waiter = self.waiting.pop(reply.get("id"), None)  # type: ignore[arg-type]
            if waiter is not None and not waiter.done():
                waiter.set_result(reply)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        """Fail every waiting request: its outcome is unknown."""
        self._lose(exc or ConnectionResetError("the node closed the connection"))

    def _lose(self, error: BaseException) -> None:
        if self.lost is None:
            self.lost = error
        for waiter in self.waiting.values():
            if not waiter.done():
                waiter.set_exception(self.lost)
        self.waiting.clear()


ATTEMPT_TIMEOUT = 1.0
"""Seconds one node may stay silent on a request before the client tries another: several
election timeouts (0.15-0.3 s by default), so a healthy leader is not left for a slow answer."""


class Client:
    """A connection to a cluster given every node's address."""

    def __init__(self, addresses: tuple[Address, ...], timeout: float = 10.0, client_id: Optional[str] = None,
                 tls: Optional[ssl.SSLContext] = None, attempt_timeout: float = ATTEMPT_TIMEOUT) -> None:
        self.addresses = addresses
        self.timeout = timeout
        self.attempt_timeout = attempt_timeout
        """How long one node may stay silent before the request tries another (sessions make that safe)."""
        self.tls = tls
        """Mutual TLS with the cluster's client certificate (`tls.client_context_for(data_dir)`); None: plain TCP."""
        self.client_id = client_id or secrets.token_hex(8)
        """This client's session name (random: two clients never share a session)."""
        self._target = 0
        self._ids = itertools.count(1)
        self._conn: Optional[_Connection] = None
        self._seq = 0  # the last write number handed out
        self._awaiting: set[int] = set()  # write numbers sent and not yet answered
        self._written = False  # whether the last request_once got as far as writing its request

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            if self._conn.transport is not None:
                self._conn.transport.close()
            self._conn = None

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _connect(self) -> _Connection:
        if self._conn is None:
            host, port = self.addresses[self._target]
            _, conn = await asyncio.get_running_loop().create_connection(_Connection, host, port, ssl=self.tls)
            assert conn.transport is not None
            if self.tls is not None and peer_name(conn.transport) != node_name(self._target):
                conn.transport.close()
                raise ConnectionRefusedError(f"{host}:{port} presented the certificate of"
                                             f" {peer_name(conn.transport)!r}, not {node_name(self._target)!r}'s")
            conn.transport.write(encode_frame(HELLO_CLIENT, b""))
            self._conn = conn
        return self._conn

    async def request_once(self, request: dict[str, Any], node: Optional[int] = None) -> dict[str, Any]:
        """Send one request to one node (the current target, or `node`) and return its reply as is."""
        if node is not None and node != self._target:
            await self.close()
            self._target = node
        conn = await self._connect()
        if conn.lost is not None:
            raise conn.lost
        assert conn.transport is not None
        request_id = next(self._ids)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        conn.waiting[request_id] = waiter
        try:
            conn.transport.write(encode_json(CLIENT_REQUEST, {**request, "id": request_id}))
            self._written = True
            return await waiter
        finally:
            conn.waiting.pop(request_id, None)

    async def request(self, request: dict[str, Any], seq: Optional[int] = None) -> dict[str, Any]:
        """Send a request, following redirects and retrying until it succeeds or `timeout` passes.

        `seq`: the request is write number `seq` of this client's session; a retry
        carries the same number.  Raises OutcomeUnknown for a write that may have
        reached a leader and got no answer, ClientError otherwise.
        """
        deadline = time.monotonic() + self.timeout
        last: Any = None
        sent = False  # a write: whether any attempt may have reached a leader
        while time.monotonic() < deadline:
            attempt = request
            if seq is not None:
                attempt = {**request, "client": self.client_id, "seq": seq, "ack": min(self._awaiting), "retry": sent}
            self._written = False
            try:
                # asyncio.timeout, not wait_for: no extra task (and loop hop) per request.
                # A node silent for attempt_timeout (paused, cut off) is left for the next,
                # which knows the new leader by then; waiting out the whole deadline on it
                # stalled every client for the operation's full timeout.
                async with asyncio.timeout(max(0.05, min(self.attempt_timeout, deadline - time.monotonic()))):
                    reply = await self.request_once(attempt)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
                sent = sent or self._written
                last = f"node {self._target}: {type(e).__name__} {e}"
                await self.close()
                self._target = (self._target + 1) % len(self.addresses)
                await asyncio.sleep(0.05)
                continue
            if reply.get("ok") or reply.get("error") == "bad_request":
                return reply
            if reply.get("error") == "leadership_lost":
                sent = True  # appended by a leader that lost office: it may still commit
            elif reply.get("error") == SESSION_EXPIRED:
                raise OutcomeUnknown(f"{request.get('op')} {request.get('key')!r}: {reply.get('message')}")
            last = reply
            leader = reply.get("leader")
            await self.close()
            if isinstance(leader, int) and leader != self._target and 0 <= leader < len(self.addresses):
                self._target = leader
            else:
                self._target = (self._target + 1) % len(self.addresses)
                await asyncio.sleep(0.05)
        if seq is not None and sent:
            raise OutcomeUnknown(f"{request.get('op')} {request.get('key')!r}: sent, but no answer within"
                                 f" {self.timeout}s: it may or may not have taken effect; last: {last}")
        raise ClientError(f"no answer within {self.timeout}s; last: {last}")

    async def write(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send a write (put or delete) as the next write of this client's session.

        Raises RequestTooLarge, without sending anything, for a key and value over
        `kv.MAX_VALUE_BYTES` (the cluster would refuse it).
        """
        size = write_size(request.get("key"), request.get("value"))
        if size > MAX_VALUE_BYTES:
            raise RequestTooLarge(f"{request.get('op')}: key and value are {size} bytes; the limit is {MAX_VALUE_BYTES}")
        self._seq += 1
        seq = self._seq
        self._awaiting.add(seq)
        try:
            return await self.request(request, seq=seq)
        finally:
            # Answered, or given up on: never sent again, so the cluster may forget its result.
            self._awaiting.discard(seq)

    async def put(self, key: str, value: str) -> dict[str, Any]:
        """Set `key` to `value` (committed on a quorum when this returns)."""
        return await self.write({"op": "put", "key": key, "value": value})

    async def get(self, key: str, stale: bool = False) -> dict[str, Any]:
        """Read `key`: linearizable from the leader, or possibly stale from any node."""
        return await self.request({"op": "get", "key": key, "stale": stale})

    async def delete(self, key: str) -> dict[str, Any]:
        """Remove `key`."""
        return await self.write({"op": "delete", "key": key})

    async def status(self, node: int) -> dict[str, Any]:
        """One node's role, term, leader and indexes."""
        return await self.request_once({"op": "status"}, node=node)
