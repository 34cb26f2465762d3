"""The partitioned search's driver: levels, the first findings, stop conditions, and the result.

How this works: a `Backend` runs one `Shard` per worker (local processes in
`checker/distributed/local.py`, Ray actors in `checker/distributed/ray_backend.py`)
and carries out a level: every shard expands, the batches go to their owners,
every owner absorbs.  This driver only reads the level reports: it adds up the
counts, keeps the first violation of each property and the first witness of each
sometimes property by the order the one-worker search would meet them (`Tagged.order`),
decides whether to stop (a violation, a state or depth limit, a `stop_when`
condition), and reports progress with each shard's memory, after each level and,
with the last level's figures, a few times a second while the shards expand.
`stop_when` (a time limit, a signal) is also looked at while the shards expand:
when it says stop, the backend asks the shards to expand no further state, and the
level is cut back, as at a violation (below), to the last state of the level every
shard had expanded, so a stop comes within a second, not at the end of a level.

At the end it asks the shards for their totals (coverage, labels, deadlocks) and
rebuilds, in a small `FingerprintStore` of its own, only the states on the BFS paths
of its findings and deadlocks, walking the parent pointers shard by shard.  The
`ExploreResult` it returns has the whole search's counts and that small store, so
`path_to`, `state` and traces work as with one worker; it keeps no graph.

With `stop_on_violation`, the search stops after the level in which the first
violation is met and reports the violations the one-worker search would: those
met while expanding the first state (in its order) that led to one, the
*culprit*.  The one-worker search stops right after the culprit, in the middle
of its level, so every shard then cuts its figures of that level back to the
culprit (`Shard.cut`): the transitions, coverage, deadlocks and errors of the
states expanded up to it, the new states they found first.  State and transition
counts, states per depth, coverage, deadlocks and the states left unexpanded are
then the one-worker search's, with one exception under symmetry: a shard stores
the orbit member with the smallest fingerprints (checker/distributed/fingerprints.py),
the explorer the first one it meets, and the order in which a level's states are
met follows the stored members' transitions.  So with symmetry the culprit, and
the counts up to it, are those of the explorer storing the shards' members
(`ShardSearch`, which the tests compare against), and may differ from
`check`'s without workers; the result says so (`COUNTS_NOTE_SYMMETRY`).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable, Optional, Protocol, Sequence

from leaderfollower.spec.properties import PROPERTIES, Property
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State

from leaderfollower.checker.distributed.fingerprints import FingerprintStore
from leaderfollower.checker.distributed.shard import LevelReport, PathStep, ShardTotals, Tagged
from leaderfollower.checker.explore.result import ActionCoverage, ExploreResult, Finding, Progress, ProgressFn, collector_paused
from leaderfollower.checker.explore.budget import STOP_MAX_DEPTH, STOP_MAX_STATES
from leaderfollower.checker.explore.search import Labels, StopCondition


COUNTS_NOTE_SYMMETRY = (
    "with symmetry, the counts at a violation are those of a one-worker search storing each orbit's member with the"
    " smallest fingerprint; check without --workers stores another member and meets a level's states in another order,"
    " so its counts at the stop may differ (the shortest violation's length does not)"
)
"""`ExploreResult.counts_note` of a partitioned search stopped in the middle of a level under symmetry."""


class WorkerLost(RuntimeError):
    """A worker of the partitioned search died or stopped answering; the search has no result."""


class Backend(Protocol):
    """Runs the shards: one level at a time, then path look-ups and totals."""

    workers: int

    def start(self) -> list[tuple[bytes, LevelReport]]:
        """Every shard's `Shard.start`."""

    def level(self, rank_lists: list[bytes], stop_now: Callable[[], bool]) -> tuple[list[LevelReport], list[tuple[bytes, LevelReport]]]:
        """One level: every shard's `expand`, the batches to their owners, every shard's `absorb`.

        While the shards expand, `stop_now` is called a few times a second; once it
        says True, every shard is asked to stop expanding (`Shard.stop_asked`)."""

    def path_step(self, shard: int, sid: int) -> PathStep:
        """`Shard.path_step` of one shard."""

    def cut(self, culprit: int) -> list[LevelReport]:
        """Every shard's `Shard.cut`: the last level's figures up to the state of rank `culprit`."""

    def totals(self) -> list[ShardTotals]:
        """Every shard's `Shard.totals`."""

    def close(self) -> None:
        """Stop the workers."""


@dataclasses.dataclass
class ShardProgress(Progress):
    """A `Progress` of the partitioned search, with each shard's stored states and resident memory."""

    shard_states: tuple[int, ...] = ()
    shard_memory: tuple[int, ...] = ()


class PartitionedSearch:
    """One breadth-first search split across a backend's shards (see the module comment); `run` it once."""

    def __init__(self, spec: RaftSpec, backend: Backend, properties: Optional[Sequence[Property]] = None, *, stop_on_violation: bool = True) -> None:
        self.spec = spec
        self.backend = backend
        self.properties: tuple[Property, ...] = tuple(properties if properties is not None else getattr(spec, "properties", PROPERTIES))
        self.stop_on_violation = stop_on_violation
        self.violations: dict[str, Tagged] = {}
        self.witnesses: dict[str, Tagged] = {}
        self.states = 0
        self.transitions = 0
        self.deadlocks = 0
        self.unexpanded = 0
        self.depth = 0
        self.frontier = 0
        self.shard_states: tuple[int, ...] = ()
        self.shard_memory: tuple[int, ...] = ()
        self.cut = False
        """A violation stopped the search in the middle of a level, and the shards cut their figures there."""

    def run(
        self,
        *,
        progress: Optional[ProgressFn] = None,
        max_states: Optional[int] = None,
        max_depth: Optional[int] = None,
        stop_when: Optional[StopCondition] = None,
    ) -> ExploreResult:
        """Search level by level until no state is left or a stop condition holds; the result says which.

        As with one worker, `max_depth` expands the states within that many steps and
        stores and checks the next level without expanding it."""
        start = time.perf_counter()
        asked: list[str] = []
        """Why `stop_when` said stop while the shards expanded, once it did."""

        def stop_now() -> bool:
            # Also the progress display's chance to show, during a long level, that the
            # search is alive (its figures are those of the last level's end).
            snapshot = self.progress(start)
            if progress is not None:
                progress(snapshot)
            if not asked and stop_when is not None:
                reason = stop_when(snapshot)
                if reason is not None:
                    asked.append(reason)
            return bool(asked)

        with collector_paused():
            first = self.backend.start()
            self._absorbed([report for _, report in first])
            stopped_by = "violation" if self.violations and self.stop_on_violation else None
            rank_lists = [ranks for ranks, _ in first]
            while stopped_by is None and self.frontier:
                snapshot = self.progress(start)
                if progress is not None:
                    progress(snapshot)
                if stop_when is not None:
                    stopped_by = stop_when(snapshot)
                    if stopped_by is not None:
                        break
                if max_states is not None and self.states >= max_states:
                    stopped_by = STOP_MAX_STATES
                    break
                if max_depth is not None and self.depth > max_depth:
                    stopped_by = STOP_MAX_DEPTH
                    break
                expanded, absorbed = self.backend.level(rank_lists, stop_now)
                stopped_by = self._expanded(expanded, [report for _, report in absorbed], asked[0] if asked else None)
                rank_lists = [ranks for ranks, _ in absorbed]
            if progress is not None:
                progress(self.progress(start))
            seconds = time.perf_counter() - start
            return self._result(stopped_by, seconds)

    def progress(self, start: float) -> ShardProgress:
        """Where the search is: states stored, transitions, the depth it expands next, the frontier, per-shard memory."""
        return ShardProgress(self.states, self.transitions, self.depth, self.frontier, time.perf_counter() - start, self.shard_states, self.shard_memory)

    # ------------------------------------------------------------ levels

    def _expanded(self, expanded: list[LevelReport], absorbed: list[LevelReport], asked: Optional[str]) -> Optional[str]:
        found = [t for r in expanded for t in r.findings] + [t for r in absorbed for t in r.findings]
        witnessed = [t for r in absorbed for t in r.witnesses]
        level_size = self.frontier
        culprit, stopped_by, found, witnessed = self._where_to_stop(expanded, found, witnessed, asked)
        self.cut = self.cut or stopped_by == "violation"
        if culprit is not None:
            expanded = absorbed = self.backend.cut(culprit)
        self.transitions += sum(r.transitions for r in expanded)
        self.deadlocks += sum(r.deadlocks for r in expanded)
        self.unexpanded += sum(r.unexpanded for r in expanded)
        self._keep_first(self.violations, found)
        self._keep_first(self.witnesses, witnessed)
        self._absorbed(absorbed, count_findings=False)
        self.depth += 1
        if culprit is not None:
            # Left unexpanded: the level's states after the culprit, and the new states.
            self.frontier += level_size - 1 - culprit
        return stopped_by

    def _where_to_stop(
        self, expanded: list[LevelReport], found: list[Tagged], witnessed: list[Tagged], asked: Optional[str]
    ) -> tuple[Optional[int], Optional[str], list[Tagged], list[Tagged]]:
        """Where in this level the one-worker search stops (the rank it stops after; None: not
        in this level), why, and the findings and witnesses it meets up to there."""
        stops = [r.next_rank for r in expanded if r.next_rank >= 0]
        # Asked to stop, each shard expanded a prefix of its part of the level (in rank
        # order); the states up to `last` were expanded by whichever shard owns them.
        last = min(stops) - 1 if stops else None
        if last is not None:
            found = [t for t in found if t.order[1] <= last]
            witnessed = [t for t in witnessed if t.order[1] <= last]
        if found and self.stop_on_violation:
            # The one-worker search stops after the first state whose expansion broke a
            # property: it meets that state's findings and nothing after it, and has
            # counted only the states up to it (the shards cut their figures there).
            culprit = min(t.order[1] for t in found)
            return culprit, "violation", [t for t in found if t.order[1] == culprit], [t for t in witnessed if t.order[1] <= culprit]
        # Asked after every shard had expanded its part (`last` None): stop after this whole level.
        return last, asked, found, witnessed

    def _absorbed(self, reports: list[LevelReport], count_findings: bool = True) -> None:
        if count_findings:  # the initial state's
            self._keep_first(self.violations, [t for r in reports for t in r.findings])
            self._keep_first(self.witnesses, [t for r in reports for t in r.witnesses])
        new = sum(r.new_states for r in reports)
        self.states += new
        self.frontier = new
        self.shard_states = tuple(r.stored for r in reports)
        self.shard_memory = tuple(r.memory for r in reports)

    @staticmethod
    def _keep_first(kept: dict[str, Tagged], found: list[Tagged]) -> None:
        for tagged in sorted(found, key=lambda t: (t.order, t.shard)):
            kept.setdefault(tagged.finding.property, tagged)

    # ------------------------------------------------------------ result

    def _result(self, stopped_by: Optional[str], seconds: float) -> ExploreResult:
        totals = self.backend.totals()
        paths = PathStore(self.spec, self.backend, totals)
        violations = [paths.finding(t) for t in sorted(self.violations.values(), key=lambda t: (t.order, t.shard))]
        witnesses = {name: paths.finding(t) for name, t in self.witnesses.items()}
        deadlocks = [paths.place(shard, sid) for shard, t in enumerate(totals) for sid in t.deadlocks]
        per_depth = [0] * max(len(t.states_per_depth) for t in totals)
        for t in totals:
            for d, count in enumerate(t.states_per_depth):
                per_depth[d] += count
        while per_depth and per_depth[-1] == 0:
            per_depth.pop()
        store = paths.store
        return ExploreResult(
            spec=self.spec,
            properties=self.properties,
            distinct_states=self.states,
            transitions=self.transitions,
            diameter=len(per_depth) - 1,
            seconds=seconds,
            search_seconds=seconds,
            states_per_depth=per_depth,
            coverage=merged_coverage(totals),
            violations=violations,
            witnesses=witnesses,
            deadlocks=deadlocks,
            complete=stopped_by is None and self.unexpanded == 0,
            labels=paths.labels.labels,
            parent=store.parent,
            parent_label=store.parent_label,
            depth=store.depth,
            edge_src=None,
            edge_dst=None,
            edge_label=None,
            _store=store,
            stopped_by=stopped_by,
            frontier=self.frontier if stopped_by is not None else 0,
            unexpanded_states=self.unexpanded,
            counts_note=COUNTS_NOTE_SYMMETRY if self.cut and self.spec.params.symmetry else None,
        )


def merged_coverage(totals: list[ShardTotals]) -> dict[str, ActionCoverage]:
    """Every shard's coverage, by action name (each shard numbers names as it meets them)."""
    coverage: dict[str, ActionCoverage] = {}
    for t in totals:
        for k, name in enumerate(t.names):
            c = coverage.setdefault(name, ActionCoverage())
            c.enabled += t.enabled[k]
            c.within_bounds += t.within_bounds[k]
    for t in totals:
        for (sender, k), count in t.new_by_sender.items():
            coverage[totals[sender].names[k]].new_states += count
    return coverage


class PathStore:
    """The states on the BFS paths of the findings, fetched from their shards into one small store."""

    def __init__(self, spec: RaftSpec, backend: Backend, totals: list[ShardTotals]) -> None:
        self.backend = backend
        self.totals = totals
        self.store = FingerprintStore(spec, spec.params.symmetry)
        self.labels = Labels()
        self.ids: dict[tuple[int, int], int] = {}

    def place(self, shard: int, sid: int) -> int:
        """The id here of state `sid` of `shard`, with its path to the initial state."""
        chain: list[tuple[int, int, PathStep]] = []
        node = (shard, sid)
        while node not in self.ids:
            step = self.backend.path_step(*node)
            chain.append((node[0], node[1], step))
            if step[1] < 0:
                break
            node = (step[0], step[1])
        for at_shard, at_sid, (p_shard, p_sid, label, state, depth) in reversed(chain):
            parent = self.ids[(p_shard, p_sid)] if p_sid >= 0 else -1
            label_id = self.labels.label_id(self.totals[p_shard].labels[label]) if p_sid >= 0 else -1
            self.ids[(at_shard, at_sid)] = self.store.add(self.store.canonical_key(state), parent, label_id, depth)
        return self.ids[(shard, sid)]

    def finding(self, tagged: Tagged) -> Finding:
        """The finding with its state (and an action property's target) in this store's numbering."""
        target: Optional[State] = tagged.target
        return dataclasses.replace(
            tagged.finding,
            state=self.place(tagged.shard, tagged.finding.state),
            target=self.store.canonical_key(target) if target is not None else None,
        )
