"""The clients of a torture run: each issues one operation at a time and records every one.

How this works: `Recorder` hands out operation ids and keeps the history.  Each
client loop picks an operation (get, put or delete) and a key at random, takes
the monotonic time, calls the client library, takes the time again and records
what came back.  Outcomes are read without relying on the client's error types:
an answer with `ok` is a result; anything else on a write (an exception of any
kind, a timeout, an answer without `ok`) leaves its outcome unknown, and on a read
it is a failed read, which changed nothing.  Every put writes a value no other
put writes (`<client>-<n>`), so a read names the write it saw.
"""
from __future__ import annotations

import asyncio
import random
import ssl
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional, Sequence

from leaderfollower.impl.client import Client
from leaderfollower.impl.server import Address

from .history import DELETE, FAIL, GET, OK, PUT, UNKNOWN, Op


@dataclass(frozen=True)
class WorkloadConfig:
    """What the clients do."""

    clients: int = 8
    keys: int = 8
    read_share: float = 0.5
    delete_share: float = 0.1
    """Shares of gets and deletes; the rest are puts."""
    op_timeout: float = 5.0
    """Seconds the client library keeps trying one operation (its own retries included)."""
    rate: Optional[float] = None
    """Operations per second per client at most (None: as fast as answers come)."""


class Recorder:
    """The history being recorded: operation ids in invocation order, and the operations as they complete."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self._next_id = 0

    def next_id(self) -> int:
        """A fresh operation id."""
        n = self._next_id
        self._next_id += 1
        return n

    async def call(self, client_id: int, kind: str, key: str, value: Optional[str],
                   action: Callable[[], Awaitable[dict[str, Any]]], timeout: float) -> Op:
        """Run one operation, record it, and return it."""
        op_id = self.next_id()
        invoke = time.monotonic_ns()
        error = ""
        reply: Optional[dict[str, Any]] = None
        try:
            # The client library has its own deadline; this one only turns a hang into an unknown outcome.
            async with asyncio.timeout(timeout + 2.0):
                reply = await action()
        except Exception as e:  # noqa: BLE001 - any failure is recorded, never trusted to mean "not applied"
            error = f"{type(e).__name__}: {e}"[:200]
        complete = time.monotonic_ns()
        if reply is not None and reply.get("ok") is True:
            if kind == GET:
                read = reply.get("value")
                op = Op(op_id, client_id, kind, key, read if isinstance(read, str) else None, invoke, complete, OK)
            elif kind == DELETE:
                existed = reply.get("existed")
                op = Op(op_id, client_id, kind, key, None, invoke, complete, OK,
                        existed=existed if isinstance(existed, bool) else None)
            else:
                op = Op(op_id, client_id, kind, key, value, invoke, complete, OK)
        else:
            if reply is not None:
                error = f"answered {reply.get('error', reply)!s}"[:200]
            outcome = FAIL if kind == GET else UNKNOWN
            op = Op(op_id, client_id, kind, key, value if kind == PUT else None, invoke, complete, outcome, error=error)
        self.ops.append(op)
        return op


async def run_client(client_id: int, addresses: Sequence[Address], config: WorkloadConfig, recorder: Recorder,
                     stop_at: float, seed: int, tls: Optional[ssl.SSLContext] = None) -> None:
    """One client's loop until `stop_at` (a `time.monotonic()` value); `tls`: the cluster's client context."""
    rng = random.Random(seed)
    client = Client(tuple(addresses), timeout=config.op_timeout, tls=tls)
    n = 0
    try:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            key = f"k{rng.randrange(config.keys)}"
            roll = rng.random()
            c = client
            if roll < config.read_share:
                op = await recorder.call(client_id, GET, key, None, lambda: c.get(key), config.op_timeout)
            elif roll < config.read_share + config.delete_share:
                op = await recorder.call(client_id, DELETE, key, None, lambda: c.delete(key), config.op_timeout)
            else:
                value = f"{client_id}-{n}"
                op = await recorder.call(client_id, PUT, key, value, lambda: c.put(key, value), config.op_timeout)
            n += 1
            if op.outcome != OK:
                # Start afresh: the old connection may still carry the unanswered request.
                await client.close()
                client = Client(tuple(addresses), timeout=config.op_timeout, tls=tls)
            if config.rate:
                await asyncio.sleep(max(0.0, 1.0 / config.rate - (time.monotonic() - started)))
    finally:
        await client.close()


async def read_all(client_id: int, addresses: Sequence[Address], keys: int, recorder: Recorder,
                   timeout: float, tls: Optional[ssl.SSLContext] = None) -> list[Op]:
    """A linearizable read of every key (recorded like any other operation), retried until one answers."""
    reads = []
    client = Client(tuple(addresses), timeout=timeout, tls=tls)
    try:
        for k in range(keys):
            key = f"k{k}"
            for _ in range(5):
                op = await recorder.call(client_id, GET, key, None, lambda: client.get(key), timeout)
                if op.outcome == OK:
                    reads.append(op)
                    break
    finally:
        await client.close()
    return reads
