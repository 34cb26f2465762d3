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
from .steps import Key, NonLocalAction, WalkSteps
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
    wseed = worker_seed(seed, worker)
    rng = random.Random(wseed)
    steps = WalkSteps(spec)
    monitor = Monitor(spec, steps, properties)
    strategy = STRATEGIES[strategy_name](steps, rng, depth)
    result = WorkerResult(worker=worker, seed=wseed, started=time.monotonic())
    names = steps.names
    taken = [0] * len(names)
    enabled_counts = [0] * len(names)
    distinct = result.distinct
    observes = strategy.observes
    extend = strategy.extend
    rand = rng.random
    randrange = rng.randrange
    start_time = time.perf_counter()
    deadline = None if budget.seconds is None else start_time + budget.seconds
    stop = budget.stop
    max_walks = budget.walks
    total_steps = 0
    report = budget.report
    reported = 0

    def found(prop: str, kind: str, entry: int, path: list[int], detail: str = "", extra: Optional[Action] = None) -> Found:
        labels = steps.labels
        actions = strategy.prefix(entry) + [labels[lid] for lid in path]
        if extra is not None:
            actions.append(extra)
        return Found(prop, kind, actions, detail, result.walks, time.perf_counter() - start_time)

    init_key = steps.key(spec.init())
    verdict = monitor.check(init_key)
    if verdict is not None:
        result.violation = found(verdict[0].name, verdict[0].kind, -1, [], verdict[1])
    for prop in monitor.witnesses(init_key):
        result.witnesses[prop.name] = found(prop.name, prop.kind, -1, [])

    while result.violation is None:
        if max_walks is not None and result.walks >= max_walks:
            break
        if deadline is not None and time.perf_counter() >= deadline:
            break
        if stop is not None and stop():
            break
        if steps.size > CLEAR_AT:
            steps.clear()
            monitor.reset()
            strategy.forget_keys()
            result.clears += 1
        begin = strategy.start()
        result.walks += 1
        key = begin.key
        entry = begin.entry
        weights = begin.weights
        at = begin.depth
        path: list[int] = []
        left = begin.limit
        while left > 0:
            left -= 1
            try:
                moves, enabled = steps.moves(key)
            except NonLocalAction as exc:
                result.violation = found("LocalActions", "error", entry, path, str(exc), exc.action)
                break
            except Exception:  # an action raised: name it, as the explorer does
                action, message = steps.culprit(key)
                result.violation = found("ActionRaised", "error", entry, path, message, action)
                break
            if not moves:
                if not enabled:
                    result.violation = found("Deadlock", "error", entry, path, "no action is enabled")
                break
            if len(enabled_counts) < len(names):
                grow = len(names) - len(enabled_counts)
                enabled_counts += [0] * grow
                taken += [0] * grow
            for move in moves:
                enabled_counts[move[0]] += 1
            if weights is None:
                pick = randrange(len(moves))
            else:
                if len(weights) < len(names):
                    weights = weights + [1.0] * (len(names) - len(weights))
                total = 0.0
                cumulative = []
                for move in moves:
                    total += weights[move[0]]
                    cumulative.append(total)
                if total <= 0.0:
                    break
                pick = bisect.bisect_right(cumulative, rand() * total)
                if pick >= len(moves):  # rand() * total rounded up to total
                    pick = len(moves) - 1
            move = moves[pick]
            nxt = steps.successor(key, move)
            path.append(move[1])
            taken[move[0]] += 1
            at += 1
            total_steps += 1
            verdict = monitor.check(nxt) or monitor.check_step(key, nxt, move[2])
            if verdict is not None:
                result.violation = found(verdict[0].name, verdict[0].kind, entry, path, verdict[1])
                break
            if monitor.pending_sometimes:
                for prop in monitor.witnesses(nxt):
                    result.witnesses[prop.name] = found(prop.name, prop.kind, entry, path)
            if len(distinct) < DISTINCT_CAP:
                distinct.add(steps.fingerprint(nxt))
            else:
                result.distinct_capped = True
            if observes:
                kept = strategy.observe(nxt, entry, path, at)
                if kept >= 0:
                    entry = kept
                    path = []
                    if extend:  # a walk that found something new gets a fresh segment from there
                        left = max(left, min(extend, depth - at))
            key = nxt
        if at > result.max_depth:
            result.max_depth = at
        if report is not None and total_steps - reported >= REPORT_EVERY:
            reported = total_steps
            report(result.walks, total_steps)
    result.steps = total_steps
    result.seconds = time.perf_counter() - start_time
    result.taken = {names[k]: c for k, c in enumerate(taken) if c}
    result.enabled = {names[k]: c for k, c in enumerate(enabled_counts) if c}
    result.figures = strategy.figures()
    return result


def describe(result: WorkerResult) -> dict[str, Any]:
    """A worker's figures as plain values (for progress lines and tests)."""
    return {"worker": result.worker, "walks": result.walks, "steps": result.steps, "seconds": round(result.seconds, 3), **result.figures}
