"""The `conform` job: replay the explored graph through the real implementation, in parallel.

How this works, in two levels:

1. Trace replay.  `edge_cover` computes walks that together take every transition
   of the explored graph; each walk is made concrete (with symmetry on, the stored
   representatives are related by a permutation that is tracked along the walk)
   and replayed from the initial state through real nodes with real storage
   (`conform.ReplayCluster`), comparing every node and the network after every
   step.  Walks are cut into chunks and shared among worker processes (forked, so
   they inherit the explored graph).
2. Transition conformance.  For every transition of a (possibly larger) graph, a
   cluster is built directly in the transition's pre-state (persistent state
   written by the real storage code, volatile state through the core's test hook),
   the one action is applied, and the result is compared with the spec's successor.

A seeded random-walk mode replays long random traces of a model too big to
explore.  Every divergence is saved as an ITF trace prefix that
`leaderfollower conform --replay FILE` reproduces.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import random
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from leaderfollower.spec.actions import Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State

from leaderfollower.checker.conform.mutants import REAL, Implementation
from leaderfollower.checker.conform.replay import Divergence, ReplayCluster, fast_tmp_root, replay_trace
from leaderfollower.checker.explore.cover import Edge, Walk, edge_cover
from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.formats.itf import write_itf
from leaderfollower.checker.explore.traces import Step, perm_between, permute_action


def quiet_worker() -> None:
    """Signal handling for a forked child whose parent owns interrupts (replay pool workers, verify's side process).

    `verify` turns SIGINT and SIGTERM into exceptions while it runs; a forked child
    inherits that, so the pool's own SIGTERM at its end printed a traceback per worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the pool ending its workers: exit quietly


@dataclass
class DivergenceReport:
    """A divergence with the trace prefix that reproduces it."""

    step: int
    action: str
    problems: list[str]
    trace: list[Step]
    file: Optional[str] = None


@dataclass
class ConformResult:
    """What a conformance run covered and found."""

    level: str
    transitions: int
    transitions_covered: int
    actions_total: int
    actions_covered: int
    walks: int
    resets: int
    steps: int
    seconds: float
    divergences: list[DivergenceReport] = field(default_factory=list)
    sampled: bool = False
    """Only a sample of the transitions was meant to be replayed (`run_trace_replay(walks=...)`)."""

    @property
    def ok(self) -> bool:
        """No divergence, and every transition covered (or, for a sample, every one it meant to)."""
        return not self.divergences and (self.sampled or self.transitions_covered == self.transitions)

    def to_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict."""
        return {
            "level": self.level,
            "transitions": self.transitions,
            "transitions_covered": self.transitions_covered,
            "actions_total": self.actions_total,
            "actions_covered": self.actions_covered,
            "walks": self.walks,
            "resets": self.resets,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "steps_per_second": round(self.steps / self.seconds) if self.seconds > 0 else None,
            "divergences": [
                {"step": d.step, "action": d.action, "problems": d.problems, "file": d.file} for d in self.divergences
            ],
        }


# The explored graph, shared with forked workers (copy-on-write).
_SHARED: dict[str, Any] = {}


def concretise(result: ExploreResult, edges: Sequence[Edge]) -> list[Step]:
    """A walk over stored states as a concrete trace from the initial state.

    Without symmetry the stored states are concrete already.  With symmetry the
    concrete state is tracked as a permutation of the stored one, and each stored
    action is renamed by that permutation.
    """
    current = result.spec.init()
    perm: tuple[int, ...] = tuple(range(result.spec.params.servers))
    trace = [Step(None, current)]
    for edge in edges:
        action, current, perm = concrete_step(result, current, perm, edge)
        trace.append(Step(action, current))
    return trace


def concrete_step(result: ExploreResult, current: State, perm: tuple[int, ...], edge: Edge) -> tuple[Action, State, tuple[int, ...]]:
    """Take a stored transition from a concrete state that is `perm` applied to its source.

    Returns the concrete action, the concrete successor, and the permutation that
    turns the stored target into that successor.
    """
    spec = result.spec
    u, v, lid = edge
    action = result.labels[lid]
    if spec.params.symmetry:
        action = permute_action(action, perm)
    nxt = spec.apply(current, action)
    if nxt is None:
        raise RuntimeError(f"walk step {action} is not enabled in its concrete state (stored state {u})")
    if spec.params.symmetry:
        found = perm_between(result.state(v), nxt)
        if found is None:
            raise RuntimeError(f"walk step {action} left the orbit of stored state {v}")
        perm = found
    return action, nxt, perm


def _worker_cluster(tmp_root: str, impl: Implementation) -> ReplayCluster:
    # One cluster per worker process, reset between walks (cheaper than new folders).
    cluster: Optional[ReplayCluster] = _SHARED.get("cluster")
    if cluster is None or _SHARED.get("cluster_pid") != os.getpid():
        result: ExploreResult = _SHARED["result"]
        workdir = Path(tempfile.mkdtemp(prefix=f"worker{os.getpid()}-", dir=tmp_root))
        cluster = ReplayCluster(
            result.spec.params.servers, workdir, max_entries_per_append=result.spec.params.max_entries_per_append, impl=impl
        )
        _SHARED["cluster"] = cluster
        _SHARED["cluster_pid"] = os.getpid()
    return cluster


Outcome = tuple[int, int, int, Optional[tuple[int, str, list[str], list[Step]]]]
"""(walk index, edges of the walk replayed without divergence, steps replayed, divergence if any)."""


def _replay_batch(args: tuple[list[int], str, Implementation]) -> list[Outcome]:
    """Replay a batch of walks, sharing their BFS-tree prefixes through snapshots.

    Walks are sorted by where their new part starts, so consecutive walks share most
    of their way there.  The way is replayed once, step by step through the real
    nodes, with a snapshot of the whole cluster after each step; a later walk whose
    way passes the same states restores the deepest shared snapshot (a state the
    real code reached) and replays only the rest.
    """
    walk_indices, tmp_root, impl = args
    result: ExploreResult = _SHARED["result"]
    walks: list[Walk] = _SHARED["walks"]
    spec = result.spec
    cluster = _worker_cluster(tmp_root, impl)
    cluster.reset()
    init = spec.init()
    identity = tuple(range(spec.params.servers))
    cluster.compare(0, None, init)
    # The replayed way from the initial state: (stored state id, snapshot, concrete state, permutation, action).
    stack: list[tuple[int, Any, Any, tuple[int, ...], Optional[Action]]] = [(0, cluster.snapshot(), init, identity, None)]
    outcomes: list[Outcome] = []

    for wi in walk_indices:
        walk = walks[wi]
        prefix = walk.edges[: walk.prefix_len]
        way = [0] + [e[1] for e in prefix]
        keep = 0
        while keep < len(stack) and keep < len(way) and stack[keep][0] == way[keep]:
            keep += 1
        del stack[keep:]
        cluster.restore(stack[-1][1])
        steps = 0
        done = len(stack) - 1  # edges of this walk already behind us
        try:
            for edge in prefix[done:]:
                _, _, current, perm, _ = stack[-1]
                action, nxt, perm = concrete_step(result, current, perm, edge)
                number = len(stack)
                cluster.step(number, action)
                cluster.compare(number, action, nxt)
                steps += 1
                done += 1
                stack.append((edge[1], cluster.snapshot(), nxt, perm, action))
            current, perm = stack[-1][2], stack[-1][3]
            tail: list[Step] = []
            for edge in walk.edges[walk.prefix_len :]:
                action, nxt, perm = concrete_step(result, current, perm, edge)
                number = len(stack) + len(tail)
                tail.append(Step(action, nxt))
                cluster.step(number, action)
                cluster.compare(number, action, nxt)
                steps += 1
                done += 1
                current = nxt
            outcomes.append((wi, done, steps, None))
        except Divergence as d:
            way_steps = [Step(entry[4], entry[2]) for entry in stack]
            trace = way_steps + (tail if done >= walk.prefix_len else [])
            if done < walk.prefix_len:
                trace = way_steps + [Step(d.action, trace[-1].state)]
            outcomes.append((wi, done, steps + 1, (d.step, str(d.action), d.problems, trace[: d.step + 1])))
    return outcomes


def _save_divergence(report: DivergenceReport, spec: RaftSpec, out_dir: Path, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.itf.json"
    write_itf(path, report.trace, spec.params, spec.name, f"divergence at step {report.step}: {'; '.join(report.problems)}")
    report.file = str(path)


def run_trace_replay(
    result: ExploreResult,
    *,
    workers: int = 0,
    batch: int = 4000,
    impl: Implementation = REAL,
    divergence_dir: Path = Path("leaderfollower-divergences"),
    max_divergences: int = 5,
    progress: Optional[Any] = None,
    walks: Optional[list[Walk]] = None,
) -> ConformResult:
    """Level 1: replay an edge cover of the explored graph through real nodes.

    `walks` replaces the cover with walks of the caller's (a sample, `sample_walks`):
    the result then says how many of the graph's transitions they took.
    """
    start = time.perf_counter()
    sampled = walks is not None
    if walks is None:
        walks = edge_cover(result).walks
    total_transitions = len(result.edge_src) if result.edge_src is not None else result.graph.number_of_edges()
    order = sorted(range(len(walks)), key=lambda k: walks[k].edges[walks[k].prefix_len - 1][1] if walks[k].prefix_len else 0)
    tmp_root = tempfile.mkdtemp(prefix="lf-conform-", dir=fast_tmp_root())
    _SHARED["result"] = result
    _SHARED["walks"] = walks
    batches = [order[k : k + batch] for k in range(0, len(order), batch)]
    jobs = [(b, tmp_root, impl) for b in batches]
    outcomes: list[Outcome] = []
    workers = workers or (os.cpu_count() or 1)
    try:
        if workers > 1 and len(jobs) > 1:
            ctx = mp.get_context("fork")
            with ctx.Pool(workers, initializer=quiet_worker) as pool:
                for done, out in enumerate(pool.imap_unordered(_replay_batch, jobs, chunksize=1), start=1):
                    outcomes.extend(out)
                    if progress is not None:
                        progress(done, len(jobs))
        else:
            for done, job in enumerate(jobs, start=1):
                outcomes.extend(_replay_batch(job))
                if progress is not None:
                    progress(done, len(jobs))
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
        _SHARED.clear()
    covered: set[Edge] = set()
    steps = 0
    divergences: list[DivergenceReport] = []
    for index, good, replayed, div in sorted(outcomes, key=lambda o: o[0]):
        covered.update(walks[index].edges[:good])
        steps += replayed
        if div is not None and len(divergences) < max_divergences:
            report = DivergenceReport(div[0], div[1], div[2], div[3])
            _save_divergence(report, result.spec, divergence_dir, f"divergence-walk{index}-step{div[0]}")
            divergences.append(report)
    labels_covered = {result.labels[lid].name for _, _, lid in covered}
    labels_total = {lab.name for lab in result.labels}
    return ConformResult(
        level="trace-replay",
        transitions=total_transitions,
        transitions_covered=len(covered),
        actions_total=len(labels_total),
        actions_covered=len(labels_covered),
        walks=len(walks),
        resets=len(walks) - 1,
        steps=steps,
        seconds=time.perf_counter() - start,
        divergences=divergences,
        sampled=sampled,
    )


def _check_transitions(args: tuple[list[int], str, Implementation]) -> tuple[int, set[str], Optional[tuple[int, str, list[str]]]]:
    sources, tmp_root, impl = args
    result: ExploreResult = _SHARED["result"]
    spec = result.spec
    g = result.graph
    checked = 0
    names: set[str] = set()
    for u in sources:
        before = result.state(u)
        for _, _, lid in g.out_edges(u, keys=True):
            action = result.labels[lid]
            expected = spec.apply(before, action)
            assert expected is not None
            workdir = Path(tempfile.mkdtemp(prefix=f"t{u}-", dir=tmp_root))
            cluster = ReplayCluster.at_state(
                before, workdir, max_entries_per_append=spec.params.max_entries_per_append, impl=impl
            )
            try:
                cluster.compare(0, None, before)
                cluster.step(1, action)
                cluster.compare(1, action, expected)
            except Divergence as d:
                return checked, names, (u, str(action), d.problems)
            finally:
                cluster.close()
                shutil.rmtree(workdir, ignore_errors=True)
            checked += 1
            names.add(action.name)
    return checked, names, None


def run_transition_conformance(
    result: ExploreResult,
    *,
    workers: int = 0,
    impl: Implementation = REAL,
    batch: int = 200,
) -> ConformResult:
    """Level 2: every transition checked from its pre-state, built directly in the real nodes."""
    start = time.perf_counter()
    g = result.graph
    tmp_root = tempfile.mkdtemp(prefix="lf-conform2-", dir=fast_tmp_root())
    _SHARED["result"] = result
    nodes = list(range(result.distinct_states))
    jobs = [(nodes[k : k + batch], tmp_root, impl) for k in range(0, len(nodes), batch)]
    outcomes = []
    workers = workers or (os.cpu_count() or 1)
    try:
        if workers > 1 and len(jobs) > 1:
            with mp.get_context("fork").Pool(workers, initializer=quiet_worker) as pool:
                outcomes = list(pool.imap_unordered(_check_transitions, jobs, chunksize=1))
        else:
            outcomes = [_check_transitions(j) for j in jobs]
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
        _SHARED.clear()
    checked = sum(o[0] for o in outcomes)
    divergences = []
    for _, _, div in outcomes:
        if div is not None:
            u, action, problems = div
            divergences.append(DivergenceReport(1, action, [f"from stored state {u}: " + p for p in problems], []))
    total_names = {lab.name for lab in result.labels}
    covered_names: set[str] = set()
    for _, names, _ in outcomes:
        covered_names |= names
    return ConformResult(
        level="transition",
        transitions=g.number_of_edges(),
        transitions_covered=checked,
        actions_total=len(total_names),
        actions_covered=len(covered_names),
        walks=0,
        resets=0,
        steps=checked,
        seconds=time.perf_counter() - start,
        divergences=divergences,
    )


def random_walks(
    spec: RaftSpec,
    *,
    walks: int,
    length: int,
    seed: int,
    impl: Implementation = REAL,
    divergence_dir: Path = Path("leaderfollower-divergences"),
) -> ConformResult:
    """Seeded random walks of the spec (within its bounds), each replayed through real nodes."""
    start = time.perf_counter()
    rng = random.Random(seed)
    steps = 0
    actions: set[str] = set()
    divergences: list[DivergenceReport] = []
    for w in range(walks):
        current = spec.init()
        trace = [Step(None, current)]
        for _ in range(length):
            options: dict[str, list[tuple[Action, State]]] = {}
            for a, t in spec.successors(current):
                if spec.within_bounds(t):
                    options.setdefault(a.name, []).append((a, t))
            if not options:
                break
            # Pick the kind of action first, then its arguments: otherwise the many
            # network faults and restarts drown the rarer protocol steps.
            kind = sorted(options)[rng.randrange(len(options))]
            action, current = options[kind][rng.randrange(len(options[kind]))]
            trace.append(Step(action, current))
        try:
            steps += replay_trace(
                [s.state for s in trace], [s.action for s in trace],
                max_entries_per_append=spec.params.max_entries_per_append, impl=impl,
            )
            actions.update(s.action.name for s in trace[1:] if s.action is not None)
        except Divergence as d:
            steps += d.step
            report = DivergenceReport(d.step, str(d.action), d.problems, trace[: d.step + 1])
            _save_divergence(report, spec, divergence_dir, f"divergence-random{seed}-walk{w}-step{d.step}")
            divergences.append(report)
            break
    return ConformResult(
        level="random-walk",
        transitions=0,
        transitions_covered=0,
        actions_total=15,
        actions_covered=len(actions),
        walks=walks,
        resets=walks - 1,
        steps=steps,
        seconds=time.perf_counter() - start,
        divergences=divergences,
    )


def replay_file(trace: list[Step], spec: RaftSpec, impl: Implementation = REAL) -> int:
    """Replay an ITF trace file's steps through real nodes (the one-command reproduction)."""
    states: list[State] = [s.state for s in trace]
    actions: list[Optional[Action]] = [s.action for s in trace]
    return replay_trace(states, actions, max_entries_per_append=spec.params.max_entries_per_append, impl=impl)
