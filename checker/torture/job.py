"""`leaderfollower torture` as a function: run a cluster under faults, record the history, check it, write the page.

How this works, in order: make the network namespace (or say why not, and run on
127.0.0.1 without partitions); start one process per node; wait for a leader;
run the clients and the nemesis side by side until the time is up; heal
everything; wait until every node has caught up; read every key once more; note
each node's commit index; stop the nodes; then check the history's
linearizability, the logs' agreement and the acknowledged writes' durability,
shrink any violation to a minimal sub-history, and write `history.jsonl`,
`result.json` and `torture.html` to the output folder.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from leaderfollower.impl.server import Address, free_base_port, local_addresses, run
from leaderfollower.impl.tls import TlsError

from .cluster import NodeProcesses
from .durability import DurabilityResult, check_durability
from .history import Op, by_key, write_history
from .linearizability import INCONCLUSIVE, LINEARIZABLE, NOT_LINEARIZABLE, HistoryVerdict, check_history
from .nemesis import FaultWindow, Nemesis, NemesisConfig, describe
from .netns import Namespace, NamespaceError, PacketRules, unavailable
from .page import write_page
from .shrink import Witness, shrink
from .workload import Recorder, WorkloadConfig, read_all, run_client

VALID, INVALID, UNDECIDED = "valid", "invalid", "unknown"
"""The job's verdicts: every check holds; one fails; the linearizability search gave up."""

_NODE_PORT = 7400  # inside the namespace every node has its own address, so one port serves all
_CONVERGE_SECONDS = 60.0


class TortureError(RuntimeError):
    """The run could not be carried out (the cluster never elected a leader, a namespace command failed)."""


@dataclass(frozen=True)
class TortureConfig:
    """One torture run."""

    seconds: float = 180.0
    """How long the clients and the nemesis run."""
    nodes: int = 3
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    nemesis: NemesisConfig = field(default_factory=NemesisConfig)
    seed: Optional[int] = None
    partitions: bool = True
    """Make partitions with a network namespace where the machine allows it (False: never)."""
    tls: bool = True
    """Mutual TLS on every connection, as `leaderfollower cluster` has (False: plain TCP, `--insecure`)."""
    check_seconds: float = 600.0
    """Time the linearizability check may take before it says "unknown"."""


@dataclass
class TortureResult:
    """What a run found."""

    verdict: str
    seed: int
    history: list[Op]
    faults: list[FaultWindow]
    linearizability: HistoryVerdict
    durability: DurabilityResult
    witnesses: dict[str, Witness]
    """For each key whose history is not linearizable (at most three), a minimal sub-history."""
    crashed: dict[int, int]
    """Nodes that exited by themselves (not by the nemesis), with their exit codes."""
    partitions: str
    """"on", or why not."""
    started: int
    ended: int
    out: Path
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The result as JSON-ready values (`result.json`)."""
        ops = self.history
        return {
            "verdict": self.verdict,
            "seed": self.seed,
            "partitions": self.partitions,
            "seconds": round((self.ended - self.started) / 1e9, 1),
            "operations": len(ops),
            "by_outcome": {o: sum(1 for op in ops if op.outcome == o) for o in ("ok", "fail", "unknown")},
            "acknowledged_writes": sum(1 for op in ops if op.outcome == "ok" and op.is_write),
            "faults": describe(self.faults),
            "fault_windows": [asdict(w) for w in self.faults],
            "linearizability": self.linearizability.status,
            "keys": {k.key: {"status": k.result.status, "ops": k.result.ops, "configs": k.result.configs,
                             "reason": k.result.reason} for k in self.linearizability.keys},
            "lost_writes": [op.to_json() for op in self.durability.lost],
            "log_disagreements": [asdict(d) for d in self.durability.disagreements],
            "commit_index": self.durability.commit_index,
            "storage_problems": {**{str(i): e for i, e in self.durability.unreadable.items()},
                                 **{"other": p for p in self.durability.problems}},
            "crashed_nodes": self.crashed,
            "witnesses": {key: {"minimal": w.minimal, "ops": [op.to_json() for op in w.ops]}
                          for key, w in self.witnesses.items()},
            "notes": self.notes,
        }


def verdict_of(linearizability: HistoryVerdict, durability: DurabilityResult, crashed: dict[int, int]) -> str:
    """valid, invalid or unknown, from the three checks."""
    if linearizability.status == NOT_LINEARIZABLE or not durability.holds or crashed:
        return INVALID
    if linearizability.status == INCONCLUSIVE:
        return UNDECIDED
    assert linearizability.status == LINEARIZABLE
    return VALID


def witnesses_for(history: list[Op], verdict: HistoryVerdict, time_limit: float = 120.0) -> dict[str, Witness]:
    """A minimal non-linearizable sub-history for each failing key (the first three)."""
    groups = by_key(history)
    return {k.key: shrink(groups[k.key], time_limit=time_limit) for k in verdict.failing[:3]}


def run_torture(config: TortureConfig, out: Path, echo: Callable[[str], None] = print) -> TortureResult:
    """Run the whole job; writes into `out` (created); raises TortureError if the run cannot be carried out."""
    out.mkdir(parents=True, exist_ok=True)
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)
    with contextlib.ExitStack() as cleanup:
        addresses, rules, partitions = _network(config, cleanup, echo)
        try:
            cluster = NodeProcesses(addresses, out / "data", tls=config.tls)
        except (OSError, TlsError) as e:
            raise TortureError(f"cannot make the cluster's certificates: {e}") from None
        cleanup.callback(cluster.stop_all)  # before the namespace goes: the nodes live in it
        recorder = Recorder()
        started = time.monotonic_ns()
        cluster.start_all()
        nemesis = Nemesis(cluster, config.nemesis, rng, rules)
        commit_index, crashed, notes = run(_drive(config, cluster, nemesis, recorder, rules, seed, echo))
        ended = time.monotonic_ns()
    history = sorted(recorder.ops, key=lambda op: op.id)
    write_history(history, out / "history.jsonl")
    echo(f"recorded {len(history)} operations, {len(nemesis.windows)} faults; checking")
    durability = check_durability(history, {i: cluster.node_dir(i) for i in range(config.nodes)}, commit_index)
    linearizability = check_history(history, time_limit=config.check_seconds)
    witnesses = witnesses_for(history, linearizability)
    result = TortureResult(verdict_of(linearizability, durability, crashed), seed, history, nemesis.windows,
                           linearizability, durability, witnesses, crashed, partitions, started, ended, out, notes)
    (out / "result.json").write_text(json.dumps(result.summary(), indent=1) + "\n")
    write_page(result, out / "torture.html")
    return result


def _network(config: TortureConfig, cleanup: contextlib.ExitStack,
             echo: Callable[[str], None]) -> tuple[tuple[Address, ...], Optional[PacketRules], str]:
    """The nodes' addresses, the packet rules (None: no partitions) and what to say about partitions.

    With partitions: a namespace of the job's own, each node on 127.0.0.<11+i>; its
    removal is registered on `cleanup`.  Without (not allowed here, or turned off):
    127.0.0.1 and free ports.
    """
    reason = unavailable() if config.partitions else "turned off (--no-partitions)"
    if reason is None:
        hosts = [f"127.0.0.{11 + i}" for i in range(config.nodes)]
        try:
            namespace = Namespace(f"lftorture-{os.getpid()}").create()
        except NamespaceError as e:
            reason = f"the namespace could not be set up: {e}"
        else:
            cleanup.callback(namespace.close)
            try:
                rules = PacketRules(hosts)
            except NamespaceError as e:
                raise TortureError(f"packet rules could not be set up in namespace {namespace.name}: {e}") from None
            cleanup.callback(rules.close)
            echo(f"partitions: on (network namespace {namespace.name}, nodes on {', '.join(hosts)}, nftables rules)")
            return tuple((host, _NODE_PORT) for host in hosts), rules, "on"
    echo(f"partitions: OFF, {reason}; running the other faults on 127.0.0.1")
    return local_addresses(config.nodes, free_base_port(config.nodes)), None, f"off: {reason}"


async def _drive(config: TortureConfig, cluster: NodeProcesses, nemesis: Nemesis, recorder: Recorder,
                 rules: Optional[PacketRules], seed: int,
                 echo: Callable[[str], None]) -> tuple[dict[int, Optional[int]], dict[int, int], list[str]]:
    """The live part: clients and nemesis, healing, convergence, final reads; returns commit indexes and crashes."""
    notes: list[str] = []
    await _wait_for(lambda: _has_leader(cluster), 30.0, "the cluster elected no leader within 30 s")
    echo(f"cluster of {cluster.n} up; {config.workload.clients} clients for {config.seconds:.0f} s, seed {seed}")
    stop_at = time.monotonic() + config.seconds
    tasks = [run_client(c, cluster.addresses, config.workload, recorder, stop_at, seed * 1000 + c, cluster.tls)
             for c in range(config.workload.clients)]
    await asyncio.gather(nemesis.run(stop_at), *tasks)
    crashed = cluster.exited()
    for i, code in sorted(crashed.items()):
        notes.append(f"node {i} exited by itself with code {code} (see {cluster.log_path(i)})")
    # Heal everything, whatever the nemesis left.
    if rules is not None:
        rules.heal()
    for i in range(cluster.n):
        if not cluster.running(i):
            cluster.start(i)
        cluster.resume(i)
    converged = await _converge(cluster)
    if not converged:
        notes.append(f"the nodes did not all catch up within {_CONVERGE_SECONDS:.0f} s of healing")
    await read_all(config.workload.clients, cluster.addresses, config.workload.keys, recorder,
                   config.workload.op_timeout, cluster.tls)
    statuses = await cluster.statuses(timeout=2.0)
    commit_index = {i: (st["commit_index"] if st is not None else None) for i, st in statuses.items()}
    return commit_index, crashed, notes


async def _has_leader(cluster: NodeProcesses) -> bool:
    return await cluster.leader() is not None


async def _wait_for(check: Callable[[], Any], seconds: float, failure: str) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise TortureError(failure)


async def _converge(cluster: NodeProcesses) -> bool:
    """Wait until every node answers, one leads, and all have committed the leader's whole log."""
    end = time.monotonic() + _CONVERGE_SECONDS
    while time.monotonic() < end:
        st = await cluster.statuses()
        if all(s is not None for s in st.values()):
            leaders = [s for s in st.values() if s is not None and s["role"] == "Leader"]
            if len(leaders) == 1 and all(s is not None and s["commit_index"] == leaders[0]["log_length"]
                                         for s in st.values()):
                return True
        await asyncio.sleep(0.2)
    return False
