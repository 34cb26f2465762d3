"""A network namespace of the job's own, and kernel packet rules (nftables) that partition the nodes in it.

How this works: `Namespace.create` runs `ip netns add`, brings its loopback up
(all of 127.0.0.0/8 is then local, so each node can have its own 127.0.0.x), and
moves this process's main thread into it with setns(2), so that the clients, the
node processes it starts and the `nft` commands it runs are all inside; `close`
moves back and deletes the namespace.  `PacketRules` keeps one nftables table in
that namespace: a partition is one `drop` rule per pair of nodes on different
sides (by source and destination address, in the input hook), and healing
flushes them.  Clients connect from 127.0.0.1, which no rule names, so they
reach every node throughout, as Jepsen's clients do.

`unavailable()` says why this machine cannot do it (not root, no `ip` or `nft`,
no namespaces), so that the job can say so and run without partitions.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from typing import Optional, Sequence

CLONE_NEWNET = 0x40000000
"""setns(2)'s flag for a network namespace."""
_TABLE = "lftorture"


class NamespaceError(RuntimeError):
    """A namespace or packet-rule command failed (the message has the command and its error)."""


def _run(cmd: Sequence[str]) -> None:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise NamespaceError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip() or proc.returncode}")


def unavailable() -> Optional[str]:
    """Why partitions cannot be made on this machine, or None when they can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "network namespaces and packet rules need root"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian package {package})"
    if not os.path.exists("/proc/self/ns/net"):
        return "this kernel has no network namespaces"
    return None


def _setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise NamespaceError(f"setns({path}) failed: {os.strerror(errno)}")
    finally:
        os.close(fd)


class Namespace:
    """A network namespace that this process is inside until `close()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._home: Optional[int] = None  # a descriptor of the namespace to go back to

    def create(self) -> "Namespace":
        """Add the namespace, bring its loopback up, and move this thread into it."""
        _run(["ip", "netns", "add", self.name])
        try:
            _run(["ip", "-n", self.name, "link", "set", "lo", "up"])
            self._home = os.open("/proc/self/ns/net", os.O_RDONLY)
            _setns(f"/var/run/netns/{self.name}")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Move back to the namespace this thread came from and delete this one."""
        if self._home is not None:
            try:
                _setns(f"/proc/self/fd/{self._home}")
            finally:
                os.close(self._home)
                self._home = None
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, timeout=30)


class PacketRules:
    """Partitions between node addresses, as nftables rules in the current namespace."""

    def __init__(self, hosts: Sequence[str]) -> None:
        self.hosts = list(hosts)
        _run(["nft", "add", "table", "inet", _TABLE])
        _run(["nft", f"add chain inet {_TABLE} input {{ type filter hook input priority 0; policy accept; }}"])

    def partition(self, sides: Sequence[Sequence[int]]) -> None:
        """Cut every link between nodes on different sides (both directions); links within a side stay."""
        rules = []
        for a, side in enumerate(sides):
            for b, other in enumerate(sides):
                if a != b:
                    rules += [f"add rule inet {_TABLE} input ip saddr {self.hosts[i]} ip daddr {self.hosts[j]} drop"
                              for i in side for j in other]
        self._apply(rules)

    def heal(self) -> None:
        """Remove every partition rule."""
        self._apply([f"flush chain inet {_TABLE} input"])

    def close(self) -> None:
        """Remove the table."""
        subprocess.run(["nft", "delete", "table", "inet", _TABLE], capture_output=True, timeout=30)

    def _apply(self, commands: Sequence[str]) -> None:
        # One nft transaction: the partition appears all at once.
        proc = subprocess.run(["nft", "-f", "-"], input="\n".join(commands) + "\n", capture_output=True, text=True,
                              timeout=30)
        if proc.returncode != 0:
            raise NamespaceError(f"nft failed: {proc.stderr.strip()}")
