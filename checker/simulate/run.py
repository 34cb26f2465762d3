"""The `simulate` job: workers, budgets, shrinking, the result document and the traces.

How this works: `simulate` starts one process per worker (one in-process worker for
`workers=1`), each walking with its own seed, derived from the run's seed and the
worker's index only (walk.py).  Without a time budget (`walks` only) every worker
walks its share of the walks to the end or to its first violation, and the
violation reported is the one found in the earliest walk (ties: the lowest worker):
the whole run is then a function of its seed, worker count and walk budget.  With a
time budget the first violation found stops every worker; which worker finds it
first depends on timing, but each worker's walks are still a function of the seed.

A violation is never reported on the walk's word: the walk's actions are replayed
through the spec (`RaftSpec.apply`), and shrunk (shrink.py) into a trace that
replays strictly and breaks the same property.  Witnesses of sometimes properties
are shrunk the same way (with a smaller time budget).

`summarise` makes the JSON document (the `properties` list has the rows of
`check --json`, with statuses that never claim more than a simulation knows:
`no-violation-found`, never `holds`).
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from leaderfollower.spec.properties import LIVENESS_KINDS, PROPERTIES, Property
from leaderfollower.spec.actions import ACTION_NAMES
from leaderfollower.spec.raft import RaftSpec

from ..formats.itf import write_itf
from ..explore.traces import Trace, replay
from .shrink import Shrunk, broken_at_end, shrink
from .strategies import DEFAULT_STRATEGY, STRATEGIES
from .walk import Budget, Found, WorkerResult, run_worker

DOC_VERSION = 1
DEFAULT_DEPTH = 200
"""Default longest walk, in steps from the initial state."""
SHRINK_SECONDS = 30.0
WITNESS_SHRINK_SECONDS = 1.0

ProgressFn = Callable[["Progress"], None]


class SimulationError(Exception):
    """A simulation cannot run as asked (a bad budget, an unknown strategy); the message says why.

    `option` names the argument that was wrong (the command line shows it as `--option`).
    """

    def __init__(self, option: str, detail: str) -> None:
        super().__init__(f"{option}: {detail}" if option else detail)
        self.option = option
        self.detail = detail


@dataclass
class Progress:
    """A snapshot of a running simulation, for progress bars."""

    walks: int
    steps: int
    seconds: float


@dataclass
class Finding:
    """A violation or a witness, with its shrunk trace and the walk it came from."""

    property: str
    kind: str
    trace: Trace
    walk_length: int
    detail: str = ""
    worker: int = 0
    walk: int = 0
    seconds: float = 0.0
    shrink: Optional[Shrunk] = None
    also: list[str] = field(default_factory=list)
    """Other properties the trace's last state (or step) breaks too."""


@dataclass
class SimulationResult:
    """Everything a simulation did and found."""

    spec: RaftSpec
    properties: tuple[Property, ...]
    strategy: str
    seed: int
    workers: int
    depth: int
    budget_seconds: Optional[float]
    budget_walks: Optional[int]
    walks: int
    steps: int
    seconds: float
    distinct_states: int
    distinct_exact: bool
    max_depth: int
    taken: dict[str, int]
    enabled: dict[str, int]
    violation: Optional[Finding]
    witnesses: dict[str, Finding]
    figures: dict[str, int] = field(default_factory=dict)
    time_to_violation: Optional[float] = None
    """Seconds from the start to the walk that found the violation (before shrinking)."""

    @property
    def ok(self) -> bool:
        """No violation found (which is not a proof of anything)."""
        return self.violation is None


def _check_budget(seconds: Optional[float], walks: Optional[int], depth: int, workers: int, strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise SimulationError("strategy", f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    if seconds is None and walks is None:
        raise SimulationError("", "a simulation needs a budget: seconds, walks or both")
    if seconds is not None and not seconds > 0:
        raise SimulationError("seconds", f"expected a positive number of seconds, got {seconds}")
    if walks is not None and walks < 1:
        raise SimulationError("walks", f"expected at least 1, got {walks}")
    if depth < 1:
        raise SimulationError("depth", f"expected at least 1 step, got {depth}")
    if workers < 1:
        raise SimulationError("workers", f"expected at least 1, got {workers}")


def simulate(
    spec: RaftSpec,
    *,
    strategy: str = DEFAULT_STRATEGY,
    seconds: Optional[float] = None,
    walks: Optional[int] = None,
    depth: int = DEFAULT_DEPTH,
    seed: int = 0,
    workers: int = 1,
    properties: Optional[Sequence[Property]] = None,
    progress: Optional[ProgressFn] = None,
    shrink_seconds: float = SHRINK_SECONDS,
) -> SimulationResult:
    """Walk the spec's model until the budget ends or a property breaks; shrink what was found."""
    _check_budget(seconds, walks, depth, workers, strategy)
    # A spec may carry its own property list (a variant's); getattr's Any is pinned here.
    props: tuple[Property, ...] = tuple(properties if properties is not None else getattr(spec, "properties", PROPERTIES))
    start = time.perf_counter()
    start_monotonic = time.monotonic()
    if workers == 1:
        report = None if progress is None else (lambda w, st: progress(Progress(w, st, time.perf_counter() - start)))
        results = [run_worker(spec, props, strategy, depth, seed, 0, Budget(walks=walks, seconds=seconds, report=report))]
    else:
        results = _run_processes(spec, props, strategy, depth, seed, workers, walks, seconds, progress, start)
    wall = time.perf_counter() - start
    return _combine(spec, props, strategy, seed, workers, depth, seconds, walks, results, wall, shrink_seconds, start_monotonic)


def _shares(walks: Optional[int], workers: int) -> list[Optional[int]]:
    if walks is None:
        return [None] * workers
    return [walks // workers + (1 if k < walks % workers else 0) for k in range(workers)]


def _worker_main(
    spec: RaftSpec,
    props: tuple[Property, ...],
    strategy: str,
    depth: int,
    seed: int,
    worker: int,
    walks: Optional[int],
    deadline: Optional[float],
    stop_on_found: bool,
    stop: Any,
    out: Any,
    counters: Any,
) -> None:
    def report(done_walks: int, done_steps: int) -> None:
        counters[2 * worker] = done_walks
        counters[2 * worker + 1] = done_steps

    # The process ends after this: the collector never needs to walk the walks' tables.
    gc.disable()
    try:
        # The deadline is on the monotonic clock (shared by every process), so that the
        # time it takes to start a worker comes out of the budget instead of adding to it.
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        budget = Budget(walks=walks, seconds=left, stop=stop.is_set, report=report)
        result = run_worker(spec, props, strategy, depth, seed, worker, budget)
        if result.violation is not None and stop_on_found:
            stop.set()
        out.put(("done", worker, result))
    except BaseException as exc:  # the parent reports it; a worker must not die silently
        stop.set()
        out.put(("error", worker, f"{type(exc).__name__}: {exc}"))


def _run_processes(
    spec: RaftSpec,
    props: tuple[Property, ...],
    strategy: str,
    depth: int,
    seed: int,
    workers: int,
    walks: Optional[int],
    seconds: Optional[float],
    progress: Optional[ProgressFn],
    start: float,
) -> list[WorkerResult]:
    # Fork: a user's spec class loaded from a file exists in the children without being importable there.
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    out = ctx.Queue()
    # Without a clock, a run is reproducible only if no worker is cut short by another's find.
    stop_on_found = seconds is not None
    deadline = None if seconds is None else time.monotonic() - (time.perf_counter() - start) + seconds
    counters = ctx.Array("q", 2 * workers, lock=False)
    procs = [
        ctx.Process(
            target=_worker_main,
            args=(spec, props, strategy, depth, seed, k, share, deadline, stop_on_found, stop, out, counters),
            daemon=True,
        )
        for k, share in enumerate(_shares(walks, workers))
    ]
    for p in procs:
        p.start()
    results: dict[int, WorkerResult] = {}
    errors: list[str] = []
    try:
        while len(results) + len(errors) < workers:
            try:
                what, worker, payload = out.get(timeout=0.5)
            except queue.Empty:
                if progress is not None:
                    progress(Progress(sum(counters[0::2]), sum(counters[1::2]), time.perf_counter() - start))
                if not any(p.is_alive() for p in procs) and out.empty():
                    errors.append("a worker process ended without a result")
                    break
                continue
            if what == "error":
                errors.append(f"worker {worker}: {payload}")
            else:
                results[worker] = payload
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    if errors:
        raise RuntimeError("simulation workers failed: " + "; ".join(errors))
    return [results[k] for k in sorted(results)]


def _combine(
    spec: RaftSpec,
    props: tuple[Property, ...],
    strategy: str,
    seed: int,
    workers: int,
    depth: int,
    seconds: Optional[float],
    walks: Optional[int],
    results: list[WorkerResult],
    wall: float,
    shrink_seconds: float,
    start_monotonic: float,
) -> SimulationResult:
    distinct: set[int] = set()
    for r in results:
        distinct |= r.distinct
    taken: dict[str, int] = {}
    enabled: dict[str, int] = {}
    for r in results:
        for name, c in r.taken.items():
            taken[name] = taken.get(name, 0) + c
        for name, c in r.enabled.items():
            enabled[name] = enabled.get(name, 0) + c
    found = [(r.violation.walk, r.worker, r.violation) for r in results if r.violation is not None]
    violation = None
    time_to_violation = None
    if found:
        if seconds is not None:  # timed: the first to be found
            found.sort(key=lambda t: t[2].seconds)
        else:
            found.sort(key=lambda t: (t[0], t[1]))
        _, worker, raw = found[0]
        # From the start of the run: the worker's own time plus how late it started.
        time_to_violation = raw.seconds + max(0.0, results[[r.worker for r in results].index(worker)].started - start_monotonic)
        violation = _finish(spec, props, raw, worker, shrink_seconds)
    shortest: dict[str, tuple[Found, int]] = {}
    for r in results:
        for name, w in r.witnesses.items():
            if name not in shortest or len(w.actions) < len(shortest[name][0].actions):
                shortest[name] = (w, r.worker)
    witnesses = {name: _finish(spec, props, w, worker, WITNESS_SHRINK_SECONDS) for name, (w, worker) in shortest.items()}
    figures: dict[str, int] = {}
    for r in results:
        for key, value in r.figures.items():
            figures[key] = figures.get(key, 0) + value
    return SimulationResult(
        spec=spec,
        properties=props,
        strategy=strategy,
        seed=seed,
        workers=workers,
        depth=depth,
        budget_seconds=seconds,
        budget_walks=walks,
        walks=sum(r.walks for r in results),
        steps=sum(r.steps for r in results),
        seconds=wall,
        distinct_states=len(distinct),
        distinct_exact=not any(r.distinct_capped for r in results),
        max_depth=max(r.max_depth for r in results),
        taken=taken,
        enabled=enabled,
        violation=violation,
        witnesses=witnesses,
        figures=figures,
        time_to_violation=time_to_violation,
    )


ERROR_KINDS = ("error",)


def _finish(spec: RaftSpec, props: tuple[Property, ...], raw: Found, worker: int, shrink_seconds: float) -> Finding:
    """Replay a walk's finding through the spec, and shrink it when there is time for it."""
    if raw.kind in ERROR_KINDS:
        # An action that raised (or a wrong locality declaration): the trace up to the state it raised in.
        trace = replay(spec, raw.actions[:-1]) if raw.actions and raw.property != "Deadlock" else replay(spec, raw.actions)
        return Finding(raw.property, raw.kind, trace, len(raw.actions), raw.detail, worker, raw.walk, raw.seconds)
    shrunk = shrink(spec, props, raw.property, raw.actions, seconds=shrink_seconds) if shrink_seconds > 0 else None
    trace = shrunk.trace if shrunk is not None else replay(spec, raw.actions)
    # Checked again on the trace as replayed, whatever the walk said.
    broken = broken_at_end(spec, props, trace)
    if raw.property not in broken:
        raise RuntimeError(f"simulation: the walk's {raw.property} finding does not replay (a bug in the simulator)")
    also = [name for name in broken if name != raw.property and (raw.kind == "sometimes") == (name in _sometimes(props))]
    return Finding(raw.property, raw.kind, trace, len(raw.actions), raw.detail, worker, raw.walk, raw.seconds, shrunk, also)


def _sometimes(props: tuple[Property, ...]) -> set[str]:
    return {p.name for p in props if p.kind == "sometimes"}


# ------------------------------------------------------------------ the document


def property_rows(result: SimulationResult) -> list[dict[str, Any]]:
    """One record per property: name, kind, status and, for findings, the trace's length."""
    rows: list[dict[str, Any]] = []
    v = result.violation
    for prop in result.properties:
        row: dict[str, Any] = {"name": prop.name, "kind": prop.kind, "description": prop.description}
        if v is not None and (v.property == prop.name or (prop.name in v.also and v.kind not in ERROR_KINDS)):
            row["status"] = "violated"
            row["depth"] = len(v.trace) - 1
            row["walk_length"] = v.walk_length
            if v.detail and v.property == prop.name:
                row["error"] = v.detail
        elif prop.kind in LIVENESS_KINDS:
            row["status"] = "skipped"
            row["why"] = "a walk is finite: liveness under fairness is judged on the state graph (check)"
        elif prop.kind == "sometimes":
            w = result.witnesses.get(prop.name)
            if w is not None:
                row["status"] = "witnessed"
                row["depth"] = len(w.trace) - 1
            else:
                row["status"] = "not-witnessed"
        else:
            row["status"] = "no-violation-found"
        rows.append(row)
    if v is not None and v.kind in ERROR_KINDS:
        rows.append({"name": v.property, "kind": "error", "description": "an action raised an exception" if v.property == "ActionRaised" else v.property,
                     "status": "violated", "depth": len(v.trace), "error": v.detail})
    return rows


def summarise(result: SimulationResult, trace_files: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The run as a JSON-ready document (stable keys; see docs/result-format.md)."""
    spec = result.spec
    rows = property_rows(result)
    if trace_files:
        rows = [{**row, **({"trace_file": trace_files[row["name"]]} if row["name"] in trace_files else {})} for row in rows]
    names = list(ACTION_NAMES) + sorted(set(result.enabled) - set(ACTION_NAMES))
    doc: dict[str, Any] = {
        "version": DOC_VERSION,
        "engine": "simulate",
        "spec": spec.name,
        "spec_description": spec.description,
        "params": spec.params.to_dict(),
        "ok": result.ok,
        "complete": False,
        "strategy": result.strategy,
        "seed": result.seed,
        "workers": result.workers,
        "depth": result.depth,
        "budget": {"seconds": result.budget_seconds, "walks": result.budget_walks},
        "walks": result.walks,
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "steps_per_second": round(result.steps / result.seconds) if result.seconds > 0 else None,
        "distinct_states": result.distinct_states,
        "distinct_states_exact": result.distinct_exact,
        "max_depth": result.max_depth,
        "properties": rows,
        "coverage": {name: {"enabled": result.enabled.get(name, 0), "taken": result.taken.get(name, 0)} for name in names},
        **result.figures,
    }
    if result.violation is not None:
        v = result.violation
        doc["violation"] = {
            "property": v.property,
            "also_violated": v.also,
            "trace_length": len(v.trace) - 1,
            "walk_length": v.walk_length,
            "worker": v.worker,
            "walk": v.walk,
            "seconds_to_find": round(v.seconds, 3),
            "shrink_seconds": round(v.shrink.seconds, 3) if v.shrink else None,
            "shrink_complete": v.shrink.complete if v.shrink else None,
        }
    return doc


def write_traces(result: SimulationResult, directory: Path, include_witnesses: bool = True) -> dict[str, str]:
    """Write the violation's (and the witnesses') trace as ITF JSON; returns property -> file path."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    findings = [result.violation] if result.violation is not None else []
    if include_witnesses:
        findings += list(result.witnesses.values())
    for f in findings:
        prefix = "witness" if f.kind == "sometimes" else "counterexample"
        path = directory / f"{prefix}-{f.property}.itf.json"
        what = f"{'witness of' if f.kind == 'sometimes' else 'violation of'} {f.property}, found by simulation ({result.strategy}, seed {result.seed})"
        write_itf(path, f.trace, result.spec.params, result.spec.name, what)
        written[f.property] = str(path)
    return written


def default_workers() -> int:
    """All cores (`os.sched_getaffinity` where the platform has it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
