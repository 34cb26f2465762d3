"""Running real clusters in tests: free ports, polling without timing claims, in-process servers, node processes.

No helper makes a claim about time: `eventually` polls until something holds, with a
generous deadline that only turns a hang into a failure.
"""
from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Optional

from leaderfollower.impl.client import Client
from leaderfollower.impl.server import NodeServer, leader_of, local_addresses
from leaderfollower.impl.server import free_base_port as server_free_base_port
from leaderfollower.impl.tls import client_context_for, ensure_cluster_certs

N = 3
DEADLINE = 60.0


def free_base_port(n: int = N) -> int:
    """A base port with n free consecutive ports, outside the ephemeral range."""
    return server_free_base_port(n)


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll `check` until it returns something truthy; fail after DEADLINE seconds (a hang, not a timing claim)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    last: Any = None
    while loop.time() < end:
        try:
            last = await check()
            if last:
                return last
        except (OSError, ConnectionError, asyncio.IncompleteReadError) as e:
            last = e
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what} (last: {last!r})")


@asynccontextmanager
async def running(servers: list[NodeServer]) -> AsyncIterator[NodeServer]:
    """Started servers, until a leader is elected; yields the leader, and stops them all at the end."""
    try:
        yield await eventually(lambda: _async(leader_of(servers)), "a leader is elected")
    finally:
        for s in servers:
            await s.stop()


async def stale_get(addresses: Any, node: int, key: str, tls: Any = None) -> Optional[str]:
    c = Client(addresses, timeout=2, tls=tls)
    try:
        reply = await c.request_once({"op": "get", "key": key, "stale": True}, node=node)
        return reply.get("value")  # type: ignore[no-any-return]
    finally:
        await c.close()


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 3 * DEADLINE))  # type: ignore[arg-type]


async def _async(value: Any) -> Any:
    return value


async def _equals(aw: Awaitable[Any], expected: Any) -> bool:
    return bool(await aw == expected)


class ProcessCluster:
    """Nodes as separate processes (`leaderfollower node`, TLS on as by default), so that one can be SIGKILLed."""

    def __init__(self, data_dir: Path, n: int = N) -> None:
        self.data_dir = data_dir
        self.n = n
        self.base = free_base_port(n)
        self.addresses = local_addresses(n, self.base)
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        ensure_cluster_certs(data_dir, n)  # as `leaderfollower cluster` does before it starts the nodes

    def client(self, timeout: float = 10.0) -> Client:
        """A client of this cluster, with its client certificate."""
        return Client(self.addresses, timeout=timeout, tls=client_context_for(self.data_dir))

    def start(self, i: int) -> None:
        log = open(self.data_dir / f"node{i}.log", "ab")
        self.procs[i] = subprocess.Popen(
            [sys.executable, "-m", "leaderfollower.impl.cli", "node", "--id", str(i), "--nodes", str(self.n),
             "--base-port", str(self.base), "--data-dir", str(self.data_dir)],
            stdout=log, stderr=subprocess.STDOUT,
        )

    def kill(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()

    async def leader(self, exclude: Optional[int] = None) -> int:
        async def check() -> Optional[tuple[int]]:
            c = self.client(timeout=1)
            try:
                for i in range(self.n):
                    if i == exclude or self.procs[i].poll() is not None:
                        continue
                    try:
                        st = await c.status(i)
                    except (OSError, ConnectionError, asyncio.IncompleteReadError):
                        await c.close()
                        continue
                    if st["role"] == "Leader":
                        return (i,)  # a tuple: leader 0 must count as found
                return None
            finally:
                await c.close()

        found = await eventually(check, "a leader is elected")
        return found[0]  # type: ignore[no-any-return]
