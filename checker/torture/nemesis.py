"""The nemesis: faults injected into a running cluster, one at a time, each healed before the next.

How this works: `Nemesis.run` alternates a quiet period and a fault until its end
time; every fault is a `FaultWindow` (what, which nodes, from when to when, in the
clients' monotonic clock) so that the page can shade it and a reader can relate
it to the history.  The faults:

- `kill`: kill -9 a random node; healed by restarting it.
- `kill-leader`: kill -9 the leader (a random node if none answers as leader).
- `kill-minority`: kill -9 a random minority (1 of 3, 2 of 5).
- `kill-all`: kill -9 every node; healed by restarting them all.
- `pause`: SIGSTOP the leader (or a random node); healed by SIGCONT.
- `partition`: cut the network between a random minority (containing the leader
  half of the time) and the rest; healed by removing the rules.  Needs `PacketRules`.
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional, Sequence

from .cluster import NodeProcesses
from .netns import PacketRules

_Heal = Callable[[], Awaitable[None]]
"""A fault's undo step."""

FAULTS = ("kill", "kill-leader", "kill-minority", "kill-all", "pause", "partition")
"""Every fault the nemesis knows, by name."""


@dataclass(frozen=True)
class FaultWindow:
    """One fault: its kind, what it did, and when (monotonic nanoseconds) it started and was healed."""

    kind: str
    detail: str
    start: int
    end: int


@dataclass(frozen=True)
class NemesisConfig:
    """Which faults, and how long the quiet periods and the faults last (seconds, drawn uniformly)."""

    faults: tuple[str, ...] = FAULTS
    quiet: tuple[float, float] = (2.0, 5.0)
    duration: tuple[float, float] = (2.0, 6.0)


class Nemesis:
    """Injects faults into `cluster` (partitions only if `rules` is given)."""

    def __init__(self, cluster: NodeProcesses, config: NemesisConfig, rng: random.Random,
                 rules: Optional[PacketRules] = None) -> None:
        unknown = sorted(set(config.faults) - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
        self.cluster = cluster
        self.config = config
        self.rng = rng
        self.rules = rules
        self.faults = [f for f in config.faults if f != "partition" or rules is not None]
        self.windows: list[FaultWindow] = []

    async def run(self, stop_at: float) -> None:
        """Quiet, fault, heal, ... until `stop_at` (a `time.monotonic()` value); everything is healed on return."""
        if not self.faults:
            return
        while True:
            await asyncio.sleep(self.rng.uniform(*self.config.quiet))
            duration = self.rng.uniform(*self.config.duration)
            if time.monotonic() + duration >= stop_at:
                return
            kind = self.rng.choice(self.faults)
            start = time.monotonic_ns()
            detail, heal = await self._inject(kind)
            await asyncio.sleep(duration)  # if cancelled here, the job heals everything itself
            await heal()
            self.windows.append(FaultWindow(kind, detail, start, time.monotonic_ns()))

    async def _victims(self, kind: str) -> list[int]:
        n = self.cluster.n
        if kind in ("kill-leader", "pause"):
            leader = await self.cluster.leader()
            return [leader if leader is not None else self.rng.randrange(n)]
        if kind == "kill-minority":
            return sorted(self.rng.sample(range(n), (n - 1) // 2))
        if kind == "kill-all":
            return list(range(n))
        return [self.rng.randrange(n)]

    async def _inject(self, kind: str) -> tuple[str, _Heal]:
        cluster = self.cluster
        if kind == "partition":
            assert self.rules is not None
            leader = await cluster.leader()
            size = (cluster.n - 1) // 2
            others = [i for i in range(cluster.n) if i != leader]
            if leader is not None and self.rng.random() < 0.5:
                minority = [leader] + self.rng.sample(others, size - 1)
            else:
                minority = self.rng.sample(others if leader is not None else range(cluster.n), size)
            majority = [i for i in range(cluster.n) if i not in minority]
            self.rules.partition([sorted(minority), majority])
            rules = self.rules

            async def heal_partition() -> None:
                rules.heal()

            lead = f" (leader {leader})" if leader is not None else ""
            return f"nodes {sorted(minority)} cut off from {majority}{lead}", heal_partition
        victims = await self._victims(kind)
        if kind == "pause":
            for i in victims:
                cluster.pause(i)

            async def heal_pause() -> None:
                for i in victims:
                    cluster.resume(i)

            return f"SIGSTOP node {victims[0]}", heal_pause
        for i in victims:
            cluster.kill(i)

        async def heal_kill() -> None:
            for i in victims:
                cluster.start(i)

        return f"kill -9 node{'s' if len(victims) > 1 else ''} {', '.join(map(str, victims))}", heal_kill


def describe(windows: Sequence[FaultWindow]) -> dict[str, int]:
    """How many faults of each kind were injected."""
    counts: dict[str, int] = {}
    for w in windows:
        counts[w.kind] = counts.get(w.kind, 0) + 1
    return counts
