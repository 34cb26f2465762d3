"""The torture cluster: one process per node, which the nemesis can kill, restart, pause and resume.

Each node runs `leaderfollower.checker.torture.node` with its own data folder and
its own log file (stdout and stderr, appended across restarts).  By default every
connection is mutual TLS, as in `leaderfollower cluster`: the cluster's CA and
certificates are made in the data folder's `tls/` before the nodes start.  `status` and
`leader` ask the nodes themselves over the client port, with short timeouts, so a
paused or dead node just does not answer.
"""
from __future__ import annotations

import asyncio
import signal
import ssl
import subprocess
import sys
from pathlib import Path
from typing import IO, Any, Optional, Sequence

from leaderfollower.impl.client import Client
from leaderfollower.impl.server import Address
from leaderfollower.impl.tls import client_context_for, ensure_cluster_certs
from leaderfollower.impl.wire import FrameError

from .node import format_addresses


class NodeProcesses:
    """The node processes of one cluster (started with `start_all`, always ended with `stop_all`)."""

    def __init__(self, addresses: Sequence[Address], data_dir: Path, tls: bool = True) -> None:
        self.addresses = tuple(addresses)
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.tls: Optional[ssl.SSLContext] = None
        """The clients' TLS context (None: plain TCP); the certificates are made in `data_dir/tls` here."""
        if tls:
            ensure_cluster_certs(data_dir, len(self.addresses))
            self.tls = client_context_for(data_dir)
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.paused: set[int] = set()
        self._logs: dict[int, IO[bytes]] = {}

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.addresses)

    def node_dir(self, i: int) -> Path:
        """Node i's data folder."""
        return self.data_dir / f"node{i}"

    def log_path(self, i: int) -> Path:
        """Node i's output (all its runs)."""
        return self.data_dir / f"node{i}.log"

    def start(self, i: int) -> None:
        """Start node i (again)."""
        if i in self._logs:
            self._logs[i].close()
        self._logs[i] = open(self.log_path(i), "ab")
        self.procs[i] = subprocess.Popen(
            [sys.executable, "-m", "leaderfollower.checker.torture.node", "--id", str(i),
             "--addresses", format_addresses(self.addresses), "--data-dir", str(self.node_dir(i)),
             *(["--tls-from", str(self.data_dir)] if self.tls is not None else [])],
            stdout=self._logs[i], stderr=subprocess.STDOUT,
        )

    def start_all(self) -> None:
        """Start every node."""
        for i in range(self.n):
            self.start(i)

    def running(self, i: int) -> bool:
        """Whether node i's process is alive (paused counts as alive)."""
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def kill(self, i: int) -> None:
        """kill -9 node i and reap it."""
        p = self.procs.get(i)
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.paused.discard(i)

    def pause(self, i: int) -> None:
        """SIGSTOP node i."""
        if self.running(i):
            self.procs[i].send_signal(signal.SIGSTOP)
            self.paused.add(i)

    def resume(self, i: int) -> None:
        """SIGCONT node i."""
        if i in self.paused:
            if self.running(i):
                self.procs[i].send_signal(signal.SIGCONT)
            self.paused.discard(i)

    def exited(self) -> dict[int, int]:
        """Nodes whose process ended by itself (not killed by the nemesis), with their exit codes."""
        return {i: p.returncode for i, p in self.procs.items()
                if p.poll() is not None and p.returncode not in (-signal.SIGKILL, 0)}

    def stop_all(self, timeout: float = 10.0) -> None:
        """Resume paused nodes, SIGTERM every node, and kill -9 those that do not stop in time."""
        for i in list(self.paused):
            self.resume(i)
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in self._logs.values():
            f.close()
        self._logs.clear()

    async def status(self, i: int, timeout: float = 0.5) -> Optional[dict[str, Any]]:
        """Node i's status (role, term, commit index, ...), or None if it does not answer in time."""
        if not self.running(i) or i in self.paused:
            return None
        client = Client(self.addresses, timeout=timeout, tls=self.tls)
        try:
            async with asyncio.timeout(timeout):
                reply = await client.status(i)
        except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, FrameError):
            return None
        finally:
            await client.close()
        return reply if reply.get("ok") else None

    async def statuses(self, timeout: float = 0.5) -> dict[int, Optional[dict[str, Any]]]:
        """Every node's status, asked at once."""
        replies = await asyncio.gather(*(self.status(i, timeout) for i in range(self.n)))
        return dict(enumerate(replies))

    async def leader(self) -> Optional[int]:
        """The node that says it leads in the highest term, if any answers so."""
        leaders = [(st["term"], i) for i, st in (await self.statuses()).items()
                   if st is not None and st.get("role") == "Leader"]
        return max(leaders)[1] if leaders else None
