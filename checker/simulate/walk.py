"""One worker's walks: step through the spec, check every property, stop at the first violation.

How this works: a walk asks its strategy where to start and how to weigh moves, then
takes up to its limit of steps.  At each state it gets the in-bounds, non-stutter
moves (steps.py), picks one by weight, and checks the successor: always properties
on the new state, action properties on the servers the step changed, sometimes
properties until each has a witness.  A walk ends early where no move is left.  The
worker stops when its walk or time budget is spent, when it finds a violation, or
when another worker has (the shared stop flag).

Everything random comes from one `random.Random` seeded by the worker's seed, and the
clock only decides when to stop, so a worker given the same seed and walk budget
takes the same walks.  The result carries actions, not packed ids: ids belong to one
process's tables.
"""
from __future__ import annotations

import bisect
import gc
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from leaderfollower.spec.properties import Property
from leaderfollower.spec.actions import Action
from leaderfollower.spec.raft import RaftSpec

from .monitor import Monitor
from .steps import Key, Move, NonLocalAction, WalkSteps
from .strategies import STRATEGIES

CLEAR_AT = 4_000_000
"""Cached parts and outcomes after which the tables are dropped and rebuilt (memory)."""

DISTINCT_CAP = 2_000_000
"""Distinct states counted exactly up to this many per worker; beyond, the count is a lower bound."""

REPORT_EVERY = 20_000
"""Steps between two progress reports."""


@dataclass
class Found:
    """A property outcome found on a walk: the actions from the initial state to it."""

    property: str
    kind: str
    actions: list[Action]
    detail: str = ""
    walk: int = 0
    seconds: float = 0.0


@dataclass
class WorkerResult:
    """What one worker did and found."""

    worker: int
    seed: int
    walks: int = 0
    steps: int = 0
    seconds: float = 0.0
    max_depth: int = 0
    distinct: set[int] = field(default_factory=set)
    distinct_capped: bool = False
    clears: int = 0
    taken: dict[str, int] = field(default_factory=dict)
    enabled: dict[str, int] = field(default_factory=dict)
    violation: Optional[Found] = None
    witnesses: dict[str, Found] = field(default_factory=dict)
    figures: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    """When the worker started, on the monotonic clock (finds are timed from here)."""


@dataclass
class Budget:
    """When a worker stops: after `walks` walks, after `seconds`, or when `stop()` says so (None: no limit)."""

    walks: Optional[int] = None
    seconds: Optional[float] = None
    stop: Optional[Callable[[], bool]] = None
    report: Optional[Callable[[int, int], None]] = None
    """Told (walks, steps) now and then, for progress displays."""


def worker_seed(seed: int, worker: int) -> int:
    """The seed of one worker: a function of the run's seed and the worker's index only."""
    return random.Random(f"leaderfollower-simulate:{seed}:{worker}").getrandbits(63)


def run_worker(
    spec: RaftSpec,
    properties: Sequence[Property],
    strategy: str,
    depth: int,
    seed: int,
    worker: int,
    budget: Budget,
) -> WorkerResult:
    """Walk until the budget ends or a violation is found; the garbage collector is paused meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()  # walks allocate many long-lived acyclic tuples; the collector would rescan them for nothing
    try:
        return _run(spec, properties, strategy, depth, seed, worker, budget)
    finally:
        if was_enabled:
            gc.enable()


def _run(
    spec: RaftSpec,
    properties: Sequence[Property],
    strategy_name: str,
    depth: int,
    seed: int,
    worker: int,
    budget: Budget,
) -> WorkerResult:
    return _Worker(spec, properties, strategy_name, depth, seed, worker, budget).run()


class _Worker:
    """One worker's loop, in steps small enough to read: start, walk, stop, sum up."""

    def __init__(
        self,
        spec: RaftSpec,
        properties: Sequence[Property],
        strategy_name: str,
        depth: int,
        seed: int,
        worker: int,
        budget: Budget,
    ) -> None:
        wseed = worker_seed(seed, worker)
        self.spec = spec
        self.depth = depth
        self.budget = budget
        self.rng = random.Random(wseed)
        self.steps = WalkSteps(spec)
        self.monitor = Monitor(spec, self.steps, properties)
        self.strategy = STRATEGIES[strategy_name](self.steps, self.rng, depth)
        self.result = WorkerResult(worker=worker, seed=wseed, started=time.monotonic())
        self.taken = [0] * len(self.steps.names)
        self.enabled_counts = [0] * len(self.steps.names)
        self.total_steps = 0
        self.start_time = time.perf_counter()
        self.deadline = None if budget.seconds is None else self.start_time + budget.seconds

    def found(self, prop: str, kind: str, entry: int, path: list[int], detail: str = "", extra: Optional[Action] = None) -> Found:
        """A finding: the actions from the initial state through the walk's entry and path (and `extra`)."""
        labels = self.steps.labels
        actions = self.strategy.prefix(entry) + [labels[lid] for lid in path]
        if extra is not None:
            actions.append(extra)
        return Found(prop, kind, actions, detail, self.result.walks, time.perf_counter() - self.start_time)

    def run(self) -> WorkerResult:
        """Check the initial state, walk until a violation or the budget, and sum up."""
        result, monitor, budget = self.result, self.monitor, self.budget
        init_key = self.steps.key(self.spec.init())
        verdict = monitor.check(init_key)
        if verdict is not None:
            result.violation = self.found(verdict[0].name, verdict[0].kind, -1, [], verdict[1])
        for prop in monitor.witnesses(init_key):
            result.witnesses[prop.name] = self.found(prop.name, prop.kind, -1, [])
        reported = 0
        while result.violation is None and not self._budget_spent():
            if self.steps.size > CLEAR_AT:
                self.steps.clear()
                monitor.reset()
                self.strategy.forget_keys()
                result.clears += 1
            self._walk()
            if budget.report is not None and self.total_steps - reported >= REPORT_EVERY:
                reported = self.total_steps
                budget.report(result.walks, self.total_steps)
        names = self.steps.names
        result.steps = self.total_steps
        result.seconds = time.perf_counter() - self.start_time
        result.taken = {names[k]: c for k, c in enumerate(self.taken) if c}
        result.enabled = {names[k]: c for k, c in enumerate(self.enabled_counts) if c}
        result.figures = self.strategy.figures()
        return result

    def _budget_spent(self) -> bool:
        budget = self.budget
        if budget.walks is not None and self.result.walks >= budget.walks:
            return True
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            return True
        return budget.stop is not None and budget.stop()

    def _moves(self, key: Key, entry: int, path: list[int]) -> Optional[list[Move]]:
        """The moves from `key`, counted as enabled; None (and a finding where one is due) where the walk ends."""
        result = self.result
        try:
            moves, enabled = self.steps.moves(key)
        except NonLocalAction as exc:
            result.violation = self.found("LocalActions", "error", entry, path, str(exc), exc.action)
            return None
        except Exception:  # an action raised: name it, as the explorer does
            action, message = self.steps.culprit(key)
            result.violation = self.found("ActionRaised", "error", entry, path, message, action)
            return None
        if not moves:
            if not enabled:
                result.violation = self.found("Deadlock", "error", entry, path, "no action is enabled")
            return None
        grow = len(self.steps.names) - len(self.enabled_counts)
        if grow > 0:
            self.enabled_counts += [0] * grow
            self.taken += [0] * grow
        counts = self.enabled_counts
        for move in moves:
            counts[move[0]] += 1
        return moves

    def _pick(self, moves: list[Move], weights: Optional[list[float]]) -> int:
        """The index of the move to take (-1: every enabled kind has weight 0, the walk ends)."""
        if weights is None:
            return self.rng.randrange(len(moves))
        total = 0.0
        cumulative = []
        for move in moves:
            total += weights[move[0]]
            cumulative.append(total)
        if total <= 0.0:
            return -1
        pick = bisect.bisect_right(cumulative, self.rng.random() * total)
        return min(pick, len(moves) - 1)  # rand() * total may round up to total

    def _walk(self) -> None:
        """One walk from where the strategy says, for at most its limit of steps."""
        steps, monitor, strategy, result = self.steps, self.monitor, self.strategy, self.result
        begin = strategy.start()
        result.walks += 1
        key, entry, weights, at, left = begin.key, begin.entry, begin.weights, begin.depth, begin.limit
        path: list[int] = []
        while left > 0:
            left -= 1
            moves = self._moves(key, entry, path)
            if moves is None:
                break
            if weights is not None and len(weights) < len(steps.names):
                weights = weights + [1.0] * (len(steps.names) - len(weights))
            pick = self._pick(moves, weights)
            if pick < 0:
                break
            move = moves[pick]
            nxt = steps.successor(key, move)
            path.append(move[1])
            self.taken[move[0]] += 1
            at += 1
            self.total_steps += 1
            verdict = monitor.check(nxt) or monitor.check_step(key, nxt, move[2])
            if verdict is not None:
                result.violation = self.found(verdict[0].name, verdict[0].kind, entry, path, verdict[1])
                break
            self._observe(nxt, entry, path)
            if strategy.observes:
                kept = strategy.observe(nxt, entry, path, at)
                if kept >= 0:
                    entry = kept
                    path = []
                    if strategy.extend:  # a walk that found something new gets a fresh segment from there
                        left = max(left, min(strategy.extend, self.depth - at))
            key = nxt
        result.max_depth = max(result.max_depth, at)

    def _observe(self, key: Key, entry: int, path: list[int]) -> None:
        """Count the state as seen and note any sometimes property it witnesses."""
        result = self.result
        if self.monitor.pending_sometimes:
            for prop in self.monitor.witnesses(key):
                result.witnesses[prop.name] = self.found(prop.name, prop.kind, entry, path)
        if len(result.distinct) < DISTINCT_CAP:
            result.distinct.add(self.steps.fingerprint(key))
        else:
            result.distinct_capped = True


def describe(result: WorkerResult) -> dict[str, Any]:
    """A worker's figures as plain values (for progress lines and tests)."""
    return {"worker": result.worker, "walks": result.walks, "steps": result.steps, "seconds": round(result.seconds, 3), **result.figures}
