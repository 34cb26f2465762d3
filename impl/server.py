"""The asyncio shell: one server's sockets, timers and disk around a sans-I/O `Node`.

How this works: every event (a tick, a peer message, a client operation) is put
in an inbox; the first event of a batch schedules one driver callback on the
loop, which takes the whole inbox, feeds it to the `Node`, then carries out the
`NodeReady`: persist, then send, then reply.  Only the driver touches the Node.
Events that arrive in the same loop iteration are one batch.  The fsync
normally runs inline on the loop's thread (cheaper than any hand-off); what
arrives meanwhile waits in the socket buffers and is the next batch, persisted
by one fsync (group commit).  `FsyncPlacement` moves fsyncs to fresh threads
while inline ones are slow (a regime of the benchmark VM, see the class); the
driver then resumes when the thread is done.

Authentication (impl/tls.py, docs/security.md): with `ServerConfig.tls`, every
connection is mutual TLS against the cluster's own CA, a peer's hello must come
with that peer's certificate, and a dialled peer must present its own: frames from
anyone else never reach the protocol.  Every peer message is then checked by the
core (`RaftCore.check_message`) before it is received.

Peers: each server dials every other server (reconnecting with exponential
backoff capped below the election timeout) and writes its messages straight onto
that connection; it receives on the connections the others dialled, decoding
frames in the protocol callback as bytes arrive (impl/inbound.py: no reader task
and no coroutine per frame).  A connection starts with a hello frame saying who is
calling.  Clients use the same port and start with a client hello.  Anything
malformed, oversized or unknown is logged and closes that connection; the server
keeps serving.  A storage failure stops the server loudly.
"""
from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import _thread
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Coroutine, Optional, TypeVar, Union

from .core import CoreConfig, RaftCore
from .inbound import ClientOp, Inbound, InboundConnection, RateLimitedLog
from .kv import MAX_VALUE_BYTES, OperationError, check_session, write_size
from .messages import LEADER
from .node import Envelope, Node, NodeConfig, NodeReady
from .storage import RealFileLayer, Storage, StorageError
from .tls import Identity, node_name, peer_name
from .tracelog import TraceLog, trace_path
from .wire import CLIENT_REPLY, MAX_FRAME, encode_envelope, encode_hello_peer, encode_json

Address = tuple[str, int]
T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on uvloop's event loop when uvloop is installed, on asyncio's own otherwise.

    uvloop does the same work per event (socket readiness, callbacks, timers) in
    C; measured at 1 client it cut a put's latency by about a quarter
    (docs/performance-cluster.md).  It is a dependency, but the shell does not
    rely on it: without it everything runs unchanged on the default loop.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


_PEER_BUFFER_LIMIT = 16 * 1024 * 1024
"""Bytes queued on a peer link beyond which messages to it are dropped (it is not reading)."""


@dataclass(frozen=True)
class ServerConfig:
    """How one server runs: who it is, where everyone is, timing and limits."""

    node_id: int
    addresses: tuple[Address, ...]
    """Every server's (host, port), indexed by id; the port serves peers and clients."""
    data_dir: Path
    """This server's own folder (its log and state files)."""
    tick_seconds: float = 0.01
    node: NodeConfig = field(default_factory=NodeConfig)
    max_entries_per_append: int = 256
    """Entries per AppendEntries (the spec option; 1 is raft.tla)."""
    max_bytes_per_append: Optional[int] = 1024 * 1024
    """Budget for the values in one AppendEntries (etcd: 1 MiB per message); at least one entry is always sent."""
    max_value_bytes: int = MAX_VALUE_BYTES
    """Largest key plus value of a client write, in UTF-8 bytes; larger writes get the error `too_large`."""
    max_frame: int = MAX_FRAME
    """Largest frame a peer may send."""
    max_client_connections: int = 256
    """Connections that are not a peer's link (clients, and anyone who has not said hello yet) open at once;
    beyond it a new connection is closed at once (1,100 idle connections once exhausted the file descriptors)."""
    hello_timeout: float = 5.0
    """Seconds a new connection has to say who it is."""
    client_idle_timeout: float = 60.0
    """A client connection that sends nothing for this long is closed."""
    seed: Optional[int] = None
    """Seed of the election-timeout generator (None: from the node id and the OS)."""
    bind_host: Optional[str] = None
    """Host to listen on (default: this server's host in `addresses`)."""
    source_host: Optional[str] = None
    """Address this server's connections to its peers come from (None: the OS picks one).  Set it when every
    server has an address of its own, so that peers and packet filters can tell which server is calling."""
    tls: Optional[Identity] = None
    """This server's certificate, key and the cluster's CA: mutual TLS on every connection.
    None: plain TCP, no authentication (anyone who can reach the port can rewrite the cluster)."""
    trace_log: Optional[Path] = None
    """Write one JSON line per spec action here (a file, or a folder: `node<i>.jsonl` in it); None: off."""
    max_dial_backoff: Optional[float] = None
    """Longest pause between attempts to reach a peer, in seconds (None: one heartbeat interval).

    Must stay below the shortest election timeout: a peer that comes up must hear
    the leader before its own timer fires, or it starts an election that deposes
    a healthy leader (with backoff capped at 1 s this happened on idle clusters)."""

    @property
    def dial_backoff_cap(self) -> float:
        """The effective cap on the reconnect backoff, in seconds."""
        if self.max_dial_backoff is not None:
            return self.max_dial_backoff
        return self.node.heartbeat_ticks * self.tick_seconds

    def __post_init__(self) -> None:
        shortest_timeout = self.node.election_ticks_min * self.tick_seconds
        if not 0 < self.dial_backoff_cap < shortest_timeout:
            raise ValueError(
                f"reconnect backoff cap {self.dial_backoff_cap}s: expected above 0 and below the shortest election"
                f" timeout {shortest_timeout}s, or a peer that comes up times out before the leader reaches it"
            )


class FsyncPlacement:
    """Where the next fsync runs: inline on the loop's thread, or on a thread started for it.

    Inline is the cheapest: the fsync itself and nothing else.  A thread started
    per batch adds its start-up and a cross-thread wake-up of the loop (0.1-0.2 ms
    per batch, on every put's critical path: leader and follower), and at 1 client
    inline fsyncs gave about 1.6x the throughput of fresh threads when this disk
    was fast.  But the benchmark VM has periods in which a thread that sleeps in
    fdatasync on an otherwise idle vCPU is woken only at the next 4 ms timer tick;
    in those periods inline fsyncs hit that grid more often than fsyncs on a fresh
    thread (which starts on the loop's busy vCPU), a few percent of them, and each
    costs up to 4 ms (docs/performance-cluster.md).  So: inline while inline fsyncs
    are fast; once `slow_count` of the last `window` inline fsyncs took longer than
    `slow_seconds`, fresh threads for the next `fallback_batches` batches, then
    inline again.  Either way the fsync completes before anything that depends on
    it is sent.
    """

    def __init__(self, slow_seconds: float = 0.002, window: int = 100, slow_count: int = 2,
                 fallback_batches: int = 1000) -> None:
        self.slow_seconds = slow_seconds
        self.window = window
        self.slow_count = slow_count
        self.fallback_batches = fallback_batches
        self.inline = True
        """Whether the next fsync runs inline (else on a fresh thread)."""
        self._recent: deque[bool] = deque(maxlen=window)  # the last inline fsyncs: slow or not
        self._slow = 0  # how many of `_recent` were slow
        self._left = 0  # thread batches left before inline is tried again

    def record(self, seconds: float) -> None:
        """One fsync batch done, as placed by `inline`; `seconds` is how long it took."""
        if not self.inline:
            self._left -= 1
            if self._left <= 0:
                self.inline = True
                self._recent.clear()
                self._slow = 0
            return
        if len(self._recent) == self.window and self._recent[0]:
            self._slow -= 1  # about to fall out of the window
        slow = seconds > self.slow_seconds
        self._recent.append(slow)
        self._slow += slow
        if self._slow >= self.slow_count:
            self.inline, self._left = False, self.fallback_batches


class _Tick:
    pass


_TICK = _Tick()


class LinkUp:
    """This server's link to peer `peer` has (re)connected (an inbox event)."""

    __slots__ = ("peer",)

    def __init__(self, peer: int) -> None:
        self.peer = peer


Event = Union[_Tick, Envelope, ClientOp, LinkUp]


def _writable(transport: asyncio.BaseTransport) -> bool:
    # uvloop raises on a write to a closed transport (asyncio ignores it): a
    # link or client that has just gone away must not stop the driver.
    return not transport.is_closing()


class NodeServer:
    """One running server; `await start()`, then `await stop()` (or `await wait_closed()`).

    `core_class` and `storage_class` are the classes the server builds its protocol
    core and its storage from: `RaftCore` and `Storage`, or subclasses of them (a
    seam: the validation tests run nodes built from the conformance engine's
    mutants through it, tests/support/mutant_node.py).
    """

    def __init__(self, config: ServerConfig, core_class: type[RaftCore] = RaftCore,
                 storage_class: type[Storage] = Storage) -> None:
        self.config = config
        self.core_class = core_class
        self.storage_class = storage_class
        self.id = config.node_id
        self.n = len(config.addresses)
        self.log = logging.getLogger(f"leaderfollower.node{self.id}")
        self.storage: Optional[Storage] = None
        self.node: Optional[Node] = None
        self.failed: Optional[BaseException] = None
        self.trace: Optional[TraceLog] = None
        self._inbox: list[Event] = []
        self._drive_scheduled = False  # a driver callback is on the loop's ready queue
        self._waiting_for_fsync = False  # a persist runs in a thread; the driver resumes when it is done
        self._stopping = False
        self._stopped = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._server: Optional[asyncio.base_events.Server] = None
        self._peer_writers: dict[int, asyncio.StreamWriter] = {}  # peer -> the connection this server dialled
        self._conn_writers: set[asyncio.StreamWriter] = set()  # the connections this server dialled
        self.inbound = Inbound(config.max_client_connections)
        """The connections others opened to this server."""
        self.bad_input = RateLimitedLog(self.log)
        """Where bad frames are logged (a remote side can cause them at will)."""
        self.refusals = RateLimitedLog(self.log)
        """Where connections refused over the limit are logged."""
        self._persisting: Optional[_FsyncThread] = None  # the thread running the current fsync
        self._dial_tls: Optional[ssl.SSLContext] = None
        self.fsync_placement = FsyncPlacement()

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Recover from disk, listen, and start the timers and peer links."""
        cfg = self.config
        files = RealFileLayer(cfg.data_dir)
        files.check_writable()
        self.storage = self.storage_class(files, name=str(cfg.data_dir))
        stored = self.storage.load()
        if self.storage.recovery.torn_bytes:
            self.log.warning(
                "node %d: recovered %s: cut a torn tail of %d bytes after entry %d",
                self.id, cfg.data_dir, self.storage.recovery.torn_bytes, self.storage.recovery.entries,
            )
        seed = cfg.seed if cfg.seed is not None else random.SystemRandom().randrange(2**63)
        core_config = CoreConfig(self.n, cfg.max_entries_per_append, cfg.max_bytes_per_append)
        if cfg.trace_log is not None:
            self.trace = TraceLog(trace_path(cfg.trace_log, self.id), self.id)
        self.node = Node(self.id, core_config, random.Random(seed), cfg.node, stored, trace=self.trace,
                         core_class=self.core_class)
        if self.trace is not None:
            self.trace.flush()  # the NodeStart event
        self.log.info("node %d: started in term %d with %d log entries", self.id, stored.current_term, len(stored.log))
        host, port = cfg.addresses[self.id]
        loop = asyncio.get_running_loop()
        tls = cfg.tls.server_context() if cfg.tls is not None else None
        self._dial_tls = cfg.tls.client_context() if cfg.tls is not None else None
        self._server = await loop.create_server(lambda: InboundConnection(self), cfg.bind_host or host, port, ssl=tls,
                                                ssl_handshake_timeout=cfg.hello_timeout if tls else None)
        self._tasks.append(asyncio.create_task(self._ticker()))
        for j in range(self.n):
            if j != self.id:
                self._tasks.append(asyncio.create_task(self._dial(j)))

    async def stop(self) -> None:
        """Close every connection and task."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True  # from here on the driver does nothing
        if self._server is not None:
            self._server.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down; errors were logged
                pass
        for w in list(self._conn_writers):
            w.close()
        self.inbound.close_all()
        if self._server is not None:
            await self._server.wait_closed()
        if self._persisting is not None:
            self._persisting.join()  # never close the files under a running fsync
        if self.storage is not None:
            self.storage.close()
        if self.trace is not None:
            self.trace.close()
            self.trace = None
        self._stopped.set()

    async def wait_closed(self) -> None:
        """Wait until the server stops (after a storage failure, or `stop()`)."""
        await self._stopped.wait()

    def status(self) -> dict[str, Any]:
        """Role, term, leader and indexes, for the client `status` operation and tests."""
        assert self.node is not None
        core = self.node.core
        return {
            "ok": True,
            "node": self.id,
            "term": core.current_term,
            "role": core.role,
            "leader": self.node.leader_id,
            "commit_index": core.commit_index,
            "applied_index": self.node.kv.applied_index,
            "log_length": len(core.log),
        }

    # --------------------------------------------------------------- the driver

    def post(self, event: Event) -> None:
        """Queue an event for the driver (a peer message, a client operation, a tick, a link up)."""
        self._inbox.append(event)
        if not self._drive_scheduled:
            # One driver call per loop iteration: what arrives in the same
            # iteration (and during an inline fsync) is one batch.
            self._drive_scheduled = True
            asyncio.get_running_loop().call_soon(self._drive)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_seconds)
            self.post(_TICK)

    def _drive(self) -> None:
        self._drive_scheduled = False
        if self._stopping or self._waiting_for_fsync or not self._inbox:
            return  # stopped; or the fsync thread's completion drives again
        events, self._inbox = self._inbox, []
        try:
            self._feed(events)
            self._carry_out()
        except (StorageError, OSError) as e:
            self._fail(e)
        except Exception as e:
            # A bug: never serve on from a half-carried-out batch.  Stop, loudly.
            self.log.exception("node %d: internal error in the driver", self.id)
            self._fail(e, "internal error")

    def _fail(self, e: BaseException, what: str = "storage failure") -> None:
        # Storage failures are never swallowed: stop serving, loudly.
        if self._stopping:
            return
        self.failed = e
        self.log.critical("node %d: %s, stopping: %s", self.id, what, e)
        asyncio.get_running_loop().create_task(self.stop())

    def _feed(self, events: list[Event]) -> None:
        node = self.node
        assert node is not None
        for ev in events:
            if ev is _TICK:
                node.tick()
            elif isinstance(ev, Envelope):
                node.step(ev)
            elif isinstance(ev, ClientOp):
                self._client_op(ev)
            elif isinstance(ev, LinkUp):
                node.peer_connected(ev.peer)

    def _client_op(self, op: ClientOp) -> None:
        node = self.node
        assert node is not None
        req = op.request
        kind = req.get("op")
        key = req.get("key")
        if kind == "status":
            self._reply(op.token, self.status())
        elif kind in ("put", "delete") and write_size(key, req.get("value")) > self.config.max_value_bytes:
            self._reply(op.token, {"ok": False, "node": self.id, "term": node.term, "error": "too_large",
                                   "message": f"{kind}: key and value are {write_size(key, req.get('value'))} bytes;"
                                              f" the limit is {self.config.max_value_bytes}"})
        elif kind in ("put", "delete"):
            session = None
            if "client" in req:
                try:
                    session = check_session(req.get("client"), req.get("seq"), req.get("ack", 0), req.get("retry", False))
                except OperationError as e:
                    self._reply(op.token, {"ok": False, "node": self.id, "term": node.term, "error": "bad_request",
                                           "message": str(e)})
                    return
            node.write(op.token, kind, key, req.get("value"), session)  # type: ignore[arg-type]
        elif kind == "get" and isinstance(key, str):
            node.read(op.token, key, stale=bool(req.get("stale", False)))
        else:
            self._reply(op.token, {"ok": False, "node": self.id, "term": node.term, "error": "bad_request",
                                   "message": f"unknown operation {kind!r} or missing key; expected put, get, delete or status"})

    def _carry_out(self) -> None:
        node, storage = self.node, self.storage
        assert node is not None and storage is not None
        if not node.has_work():
            return
        rd = node.ready()
        if self.trace is not None:
            # Log the batch's steps before anything they produced is persisted or sent:
            # a message is always logged before it can be received.
            self.trace.flush()
        messages = rd.messages
        if rd.must_persist:
            if rd.hard_state is None and node.role == LEADER:
                # The one exception to persist-before-send (Raft thesis 10.2.1, as
                # etcd does): a leader's AppendEntries promise nothing about its own
                # disk, so they leave while it fsyncs.  Safe because the driver steps
                # no message, so counts no acknowledgement, before the fsync returns
                # (inline: it is still running; on a thread: `_waiting_for_fsync`):
                # the leader never counts itself for an entry not yet on its disk.
                early = [env for env in messages if env.message.mtype == "AppendEntriesRequest"]
                messages = tuple(env for env in messages if env.message.mtype != "AppendEntriesRequest")
                self._send(early)
            # Persist before send: nothing below leaves before the fsync returns.
            placement = self.fsync_placement
            started = time.perf_counter()
            if not placement.inline:
                self._persist_in_thread(rd, messages, started)
                return
            # Blocks the loop for the fsync (about 0.1 ms here): what arrives
            # meanwhile waits in the socket buffers and is the next batch.
            storage.save(rd.hard_state, rd.log_from, rd.entries)
            placement.record(time.perf_counter() - started)
        self._after_persist(rd, messages)

    def _persist_in_thread(self, rd: NodeReady, messages: tuple[Envelope, ...], started: float) -> None:
        # The driver stays idle (events queue up in the inbox: the next batch)
        # until the thread is done; then the rest of this Ready is carried out.
        storage = self.storage
        assert storage is not None

        def persisted(error: Optional[BaseException]) -> None:
            self._waiting_for_fsync = False
            if self._stopping:
                return
            try:
                if error is not None:
                    raise error
                self.fsync_placement.record(time.perf_counter() - started)
                self._after_persist(rd, messages)
            except (StorageError, OSError) as e:
                self._fail(e)
                return
            except BaseException as e:  # noqa: BLE001 - any failure stops the node, as on the inline path
                # Whatever went wrong, this batch is not known to be on disk: never
                # send what it promises, never serve on.  Stop, loudly.
                self.log.critical("node %d: internal error in the persist thread", self.id, exc_info=e)
                self._fail(e, "internal error")
                return
            if self._inbox and not self._drive_scheduled:
                self._drive_scheduled = True
                asyncio.get_running_loop().call_soon(self._drive)

        self._waiting_for_fsync = True
        self._persisting = _start_thread(asyncio.get_running_loop(), persisted, storage.save,
                                         rd.hard_state, rd.log_from, rd.entries)

    def _after_persist(self, rd: NodeReady, messages: tuple[Envelope, ...]) -> None:
        for line in rd.events:
            # Role and term changes at INFO; commits (about 100 batches a second under load) at DEBUG.
            self.log.log(logging.DEBUG if line.startswith("commit ") else logging.INFO, "node %d: %s", self.id, line)
        for reason in rd.rejected:
            self.bad_input.error("node %d: dropped a peer message: %s", self.id, reason)
        self._send(messages)
        for token, body in rd.replies:
            if body.get("error") in ("not_leader", "leadership_lost") and body.get("leader") is not None:
                host, port = self.config.addresses[body["leader"]]
                body = {**body, "leader_addr": f"{host}:{port}"}
            self._reply(token, body)

    def _send(self, envelopes: Any) -> None:
        for env in envelopes:
            dest = env.message.mdest
            if dest == self.id:
                self.post(env)
            else:
                writer = self._peer_writers.get(dest)
                if (writer is None or not _writable(writer.transport)
                        or writer.transport.get_write_buffer_size() > _PEER_BUFFER_LIMIT):
                    # Link down, or the peer is not reading: drop.  Raft resends what
                    # matters (heartbeats, the next append, the next election's votes).
                    continue
                # Straight onto the socket (no queue and writer task: one loop hop less per message).
                writer.write(encode_envelope(env))

    def _reply(self, token: Any, body: dict[str, Any]) -> None:
        conn_id, request_id = token
        transport = self.inbound.clients.get(conn_id)
        if transport is None or not _writable(transport):
            return  # the client went away; its request may still have taken effect
        transport.write(encode_json(CLIENT_REPLY, {"id": request_id, **body}))

    # ------------------------------------------------------------------- peers

    async def _dial(self, j: int) -> None:
        host, port = self.config.addresses[j]
        cap = self.config.dial_backoff_cap
        backoff = min(0.02, cap)
        source = None if self.config.source_host is None else (self.config.source_host, 0)
        while True:
            try:
                reader, writer = await asyncio.open_connection(host, port, ssl=self._dial_tls, local_addr=source,
                                                               ssl_handshake_timeout=self.config.hello_timeout if self._dial_tls else None)
            except (OSError, asyncio.TimeoutError):
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, cap)
                continue
            if self._dial_tls is not None and peer_name(writer.transport) != node_name(j):
                self.bad_input.error("node %d: %s:%d presented the certificate of %r, not %r's; not using it",
                                     self.id, host, port, peer_name(writer.transport), node_name(j))
                writer.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, cap)
                continue
            backoff = min(0.02, cap)
            self._conn_writers.add(writer)
            try:
                writer.write(encode_hello_peer(self.id, self.n))
                self._peer_writers[j] = writer
                self.post(LinkUp(j))
                # `_send` writes to this connection; the peer never writes back on it,
                # so a read returns only when the link closes.
                while await reader.read(4096):
                    pass
            except (OSError, ConnectionError) as e:
                self.log.debug("node %d: link to node %d lost: %s", self.id, j, e)
            finally:
                if self._peer_writers.get(j) is writer:
                    del self._peer_writers[j]
                self._conn_writers.discard(writer)
                writer.close()
            await asyncio.sleep(backoff)

class _FsyncThread:
    """A thread started for one persist (`_thread`, not `threading`: see `_start_thread`)."""

    def __init__(self) -> None:
        self._running = _thread.allocate_lock()
        self._running.acquire()

    def join(self) -> None:
        """Wait until the thread has finished."""
        with self._running:
            pass


def _start_thread(loop: asyncio.AbstractEventLoop, on_done: Callable[[Optional[BaseException]], None],
                  fn: Callable[..., None], *args: Any) -> _FsyncThread:
    """Run fn(*args) in a thread of its own; then `on_done(error or None)` runs on the loop.

    A new thread per fsync, not a long-lived worker: on the benchmark VM a thread
    sleeping in fdatasync on an idle vCPU was woken only at the next 4 ms tick,
    and a fresh thread (which starts on the loop's busy vCPU) hit that less often
    (`FsyncPlacement`, docs/performance-cluster.md).  Started with
    `_thread.start_new_thread`: `threading.Thread.start` waits until the new thread
    has started, which cost 0.1-0.2 ms of GIL hand-offs per batch here.  The loop
    keeps reading meanwhile: the next batch is then one fsync for many writes
    (group commit).
    """
    thread = _FsyncThread()

    def run() -> None:
        try:
            fn(*args)
        except BaseException as e:  # handed to on_done, which stops the node
            error: Optional[BaseException] = e
        else:
            error = None
        try:
            loop.call_soon_threadsafe(on_done, error)
        except RuntimeError:
            pass  # the loop has closed: nobody waits any more
        finally:
            thread._running.release()

    _thread.start_new_thread(run, ())
    return thread


def local_addresses(nodes: int, base_port: int, host: str = "127.0.0.1") -> tuple[Address, ...]:
    """Addresses of a local cluster: node i listens on base_port + i."""
    return tuple((host, base_port + i) for i in range(nodes))


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux default if unreadable)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_base_port(nodes: int, rng: Optional[random.Random] = None) -> int:
    """A base port with `nodes` consecutive free ports outside the ephemeral range (tests, benchmarks).

    Outside, because a port inside it can be handed to any outgoing connection between
    the check and the bind, and a node that reconnects to its own not-yet-bound port
    can even connect to itself (TCP simultaneous open) and hold it.
    """
    rng = rng or random.Random()
    low, high = _ephemeral_range()
    spans = [(s, e) for s, e in ((10000, low - 1), (high + 1, 65535)) if e - s + 1 >= nodes]
    for _ in range(500):
        start, end = rng.choice(spans)
        base = rng.randint(start, end - nodes + 1)
        socks: list[socket.socket] = []
        try:
            for i in range(nodes):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {nodes} consecutive free ports on 127.0.0.1 outside {low}-{high}")


async def run_in_process(nodes: int, base_port: int, data_dir: Path, **options: Any) -> list[NodeServer]:
    """Start a whole cluster in this process (tests); returns the started servers."""
    addresses = local_addresses(nodes, base_port)
    servers = [NodeServer(ServerConfig(i, addresses, Path(data_dir) / f"node{i}", **options)) for i in range(nodes)]
    for s in servers:
        await s.start()
    return servers


def leader_of(servers: list[NodeServer]) -> Optional[NodeServer]:
    """The running server that is leader in the highest term, if any (tests)."""
    leaders = [s for s in servers if s.node is not None and s.node.role == LEADER and s.failed is None]
    return max(leaders, key=lambda s: s.node.term if s.node else 0, default=None)
