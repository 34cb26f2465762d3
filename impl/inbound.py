"""Connections others open to a server: peers' links and clients, from the first byte to the last.

How this works: each accepted connection gets an `InboundConnection` (an asyncio
protocol): frames are decoded in `data_received` as bytes arrive and posted to the
server's inbox at once (`NodeServer.post`).  The first frame says who is calling
(and, with TLS, must agree with the connection's certificate); then peer messages
or client requests follow.  `Inbound` keeps the books: which connections are open,
which are clients (to reply to), and how many are not a peer's link (the limit).
`RateLimitedLog` keeps what a remote side can cause at will to one line a second.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, cast

from .tls import node_name, peer_name
from .wire import (
    CLIENT_REQUEST,
    HELLO_CLIENT,
    HELLO_PEER,
    MAX_CLIENT_FRAME,
    MAX_HELLO_FRAME,
    Frame,
    FrameDecoder,
    FrameError,
    decode_envelope,
    decode_hello_peer,
    decode_json,
)

if TYPE_CHECKING:
    from .server import NodeServer


class ClientOp:
    """A client operation waiting in the inbox."""

    __slots__ = ("token", "request")

    def __init__(self, token: tuple[int, Any], request: dict[str, Any]) -> None:
        self.token = token
        self.request = request



class Inbound:
    """The connections others opened to one server (see the module comment)."""

    def __init__(self, max_clients: int) -> None:
        self.max_clients = max_clients
        self.open: set[asyncio.Transport] = set()
        self.clients: dict[int, asyncio.Transport] = {}
        """Client connections by number (replies go back through them)."""
        self.open_clients = 0
        """Open connections that are not a peer's link (clients, and those that have not said hello)."""
        self._numbers = itertools.count(1)

    def admit(self, transport: asyncio.Transport) -> bool:
        """Count a new connection against the limit; False (and not counted) if the limit is reached."""
        if self.open_clients >= self.max_clients:
            return False
        self.open_clients += 1
        self.open.add(transport)
        return True

    def became_peer(self) -> None:
        """A counted connection said it is a peer's link: it no longer takes a client slot."""
        self.open_clients -= 1

    def add_client(self, transport: asyncio.Transport) -> int:
        """A connection said it is a client: its number, for replies."""
        number = next(self._numbers)
        self.clients[number] = transport
        return number

    def forget(self, transport: asyncio.Transport, client: int, counted: bool) -> None:
        """A connection closed."""
        if counted:
            self.open_clients -= 1
        self.open.discard(transport)
        if client:
            self.clients.pop(client, None)

    def close_all(self) -> None:
        """Close every connection (the server stops)."""
        for transport in list(self.open):
            transport.close()


class RateLimitedLog:
    """At most one line per `interval` seconds; the next line says how many were not logged.

    For what a remote side can cause at will (a bad frame, a refused connection):
    one ERROR line per bad connection let a fuzzer write about 830 KB of log per node.
    """

    def __init__(self, log: logging.Logger, interval: float = 1.0) -> None:
        self.log = log
        self.interval = interval
        self._last = -interval
        self._suppressed = 0

    def error(self, fmt: str, *args: Any) -> None:
        """Log one ERROR line, unless one was logged less than `interval` seconds ago."""
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        if self._suppressed:
            fmt += " (and %d more like it not logged)"
            args = (*args, self._suppressed)
        self.log.error(fmt, *args)
        self._last, self._suppressed = now, 0


class InboundConnection(asyncio.Protocol):
    """A connection another process opened to this server: a peer's link or a client's.

    Frames are decoded in `data_received` as bytes arrive and posted to the
    server's inbox at once: one loop callback per received chunk, no reader task
    or coroutine per frame.  The first frame says who is calling, within
    `hello_timeout` seconds and `MAX_HELLO_FRAME` bytes; then a peer may send frames
    up to `max_frame`, a client up to `MAX_CLIENT_FRAME`.  Connections that are not
    (yet) a peer's count against `max_client_connections`: beyond it a new one is
    closed at once.  A client connection that sends nothing for `client_idle_timeout`
    seconds is closed.  Anything malformed, oversized or unknown is logged (rate
    limited) and closes this connection only.
    """

    def __init__(self, server: "NodeServer") -> None:
        self.server = server
        self.decoder = FrameDecoder(MAX_HELLO_FRAME)
        self.transport: Optional[asyncio.Transport] = None
        self._handle: Callable[[Frame], None] = self._hello
        self._source = -1  # the peer's id, once it said hello
        self._conn_id = 0  # the client's connection number, once it said hello
        self._counted = False  # counted against max_client_connections
        self._timer: Optional[asyncio.TimerHandle] = None
        self._last_data = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (to reply, and to close it on stop), or refuse it over the limit."""
        # A cast, not an isinstance check: uvloop's transports do not derive from asyncio's.
        self.transport = cast(asyncio.Transport, transport)
        server = self.server
        if not server.inbound.admit(self.transport):
            server.refusals.error("node %d: refusing a connection from %s: %d client connections open (the limit)",
                                  server.id, transport.get_extra_info("peername"), server.inbound.open_clients)
            transport.close()
            return
        self._counted = True
        self._timer = asyncio.get_running_loop().call_later(server.config.hello_timeout, self._hello_timed_out)

    def data_received(self, data: bytes) -> None:
        """Decode every complete frame and hand it on; close the connection on a bad one."""
        self._last_data = time.monotonic()
        try:
            for frame in self.decoder.frames(data):
                self._handle(frame)
        except FrameError as e:
            self._close(str(e))

    def _close(self, why: str) -> None:
        assert self.transport is not None
        server = self.server
        server.bad_input.error("node %d: closing connection from %s: %s", server.id,
                               self.transport.get_extra_info("peername"), why)
        self.transport.close()

    def _hello_timed_out(self) -> None:
        self._timer = None
        if self._handle == self._hello:
            self._close(f"no hello within {self.server.config.hello_timeout}s")

    def _idle_check(self) -> None:
        idle = time.monotonic() - self._last_data
        limit = self.server.config.client_idle_timeout
        if idle >= limit:
            self._timer = None
            assert self.transport is not None
            self.server.log.debug("node %d: closing client connection idle for %.0fs", self.server.id, idle)
            self.transport.close()
        else:
            self._timer = asyncio.get_running_loop().call_later(limit - idle, self._idle_check)

    def _hello(self, frame: Frame) -> None:
        server = self.server
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        certified = peer_name(self.transport) if server.config.tls is not None else None
        if frame.kind == HELLO_PEER:
            source, servers = decode_hello_peer(frame.body)
            if servers != server.n or not 0 <= source < server.n or source == server.id:
                raise FrameError(f"peer hello from node {source} of a {servers}-server cluster;"
                                 f" this is node {server.id} of {server.n}")
            if server.config.tls is not None and certified != node_name(source):
                raise FrameError(f"peer hello as node {source} with the certificate of {certified!r}:"
                                 f" only {node_name(source)!r} may speak as node {source}")
            self._source = source
            self._handle = self._peer_frame
            self.decoder.max_frame = server.config.max_frame
            server.inbound.became_peer()  # never idle-closed either
            self._counted = False
        elif frame.kind == HELLO_CLIENT:
            assert self.transport is not None
            self._conn_id = server.inbound.add_client(self.transport)
            self._handle = self._client_frame
            self.decoder.max_frame = MAX_CLIENT_FRAME
            self._timer = asyncio.get_running_loop().call_later(server.config.client_idle_timeout, self._idle_check)
        else:
            raise FrameError(f"first frame is {frame.kind}, expected a HelloPeer or HelloClient")

    def _peer_frame(self, frame: Frame) -> None:
        env = decode_envelope(frame)
        m = env.message
        if m.msource != self._source or m.mdest != self.server.id:
            raise FrameError(f"{m.mtype} from {m.msource} to {m.mdest} on node {self._source}'s link to node {self.server.id}")
        self.server.post(env)

    def _client_frame(self, frame: Frame) -> None:
        req = decode_json(frame, CLIENT_REQUEST)
        request_id = req.get("id")
        if not isinstance(request_id, int):
            raise FrameError(f"client request without an integer id: {str(req)[:80]}")
        self.server.post(ClientOp((self._conn_id, request_id), req))

    def pause_writing(self) -> None:
        """A client that does not read its replies: stop reading its requests until it does."""
        assert self.transport is not None
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        """The client caught up with its replies: read its requests again."""
        assert self.transport is not None
        self.transport.resume_reading()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        """Forget the connection (a client's pending requests may still take effect)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.server.inbound.forget(self.transport, self._conn_id, self._counted)
        self._counted = False
