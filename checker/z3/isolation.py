"""Running a proof's obligations in worker processes: limits, parallelism, progress and resume.

How this works: each obligation (`obligations.Task`) is solved in a worker process
of a `pebble.ProcessPool` (one worker per core by default).  A worker's limits are
layered: Z3's high watermark (`memory_high_watermark_mb`: the query gives up with
`unknown`, "max. memory exceeded"), Z3's hard cap above it (`memory_max_size`:
Z3's state is lost, so the worker exits at once), and the kernel's cap on the address space above both.  After either of
Z3's caps the worker retires (Z3 refuses further work in that process): the next
task it is given goes to a fresh worker.  A worker that dies
(the kernel's OOM killer, an abort, the hard cap) or runs past the per-obligation
wall-clock budget is reported as `unknown` with the reason and replaced by a fresh
one, and the run goes on.  One hard query therefore costs at most its limits, never
the machine.

Each result is appended to the results file as it arrives (JSON lines) with the
obligation's term hash (`obligations.term_hash`).  A later run given the same file
skips every obligation whose hash it holds as proved: an interrupted run keeps what
it proved, and a changed encoding or lemma (a different hash) is checked again.
Only `proved` is reused; failed and unknown obligations are solved again.

`workers=0` solves in this process, one after the other (the library default,
and the tests'): the same code path without the pool.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import resource
import signal
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import pebble
import z3

from leaderfollower.checker.z3.obligations import Task
from leaderfollower.checker.z3.results import Obligation
from leaderfollower.checker.z3.solving import Solver

DEFAULT_MEMORY_MB = 3500
"""Z3's memory limit per worker: two workers stay under 8 GB together."""


class WorkersFailed(RuntimeError):
    """Every worker process exited before taking an obligation (the pool could not run at all)."""


OnDone = Callable[[Obligation, int, int], None]
"""on_done(obligation, done, total): called in this process as each obligation finishes."""


@dataclass(frozen=True)
class Limits:
    """How obligations are run: worker processes (0: here), Z3's memory per worker, wall clock per obligation."""

    workers: int = 0
    memory_mb: int = DEFAULT_MEMORY_MB
    obligation_seconds: Optional[float] = None
    """Wall-clock budget of one obligation in a worker (None: only the per-query timeouts)."""

    def describe(self) -> str:
        """One line for the progress output."""
        if self.workers == 0:
            return "in this process"
        budget = f", {self.obligation_seconds:.0f} s per obligation" if self.obligation_seconds else ""
        return f"{self.workers} worker processes, Z3 memory {self.memory_mb} MB each{budget}"


class ResultsFile:
    """The JSON-lines record of solved obligations, keyed by term hash (what a resumed run skips)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proved: set[str] = set()
        if path.exists():
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not a JSON line of a results file ({exc.msg})") from None
                if not isinstance(row, dict) or not isinstance(row.get("hash"), str):
                    raise ValueError(f"{path}:{number}: expected an object with a 'hash' string")
                if row.get("status") == "proved":
                    self.proved.add(row["hash"])

    def append(self, ob: Obligation) -> None:
        """Record one result (flushed at once: a run killed later keeps it)."""
        row = {k: v for k, v in asdict(ob).items() if k not in ("cti", "support")}
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())


EXIT_OUT_OF_MEMORY = 77
"""A worker's exit code when Z3 hit a memory cap in the middle of a task and could not answer: its state is lost."""

EXIT_RETIRED = 78
"""A worker's exit code when it retires before starting a task (its Z3 hit a memory cap before): the task is rescheduled."""

_IN_WORKER = False
_POISONED = False


def _memory_error(message: str) -> bool:
    """Z3's words for its memory caps: the watermark's, the hard cap's, and what it says afterwards."""
    return any(words in message for words in ("memory exceeded", "out of memory", "Resource limits hit"))


def hard_cap_mb(memory_mb: int) -> int:
    """Z3's hard memory cap for a watermark: far enough above that the watermark (checked less often) acts first."""
    return memory_mb * 2 + 1024


def _init_worker(memory_mb: int) -> None:
    """A worker's limits: Z3's watermark, Z3's hard cap above it, and an address-space cap above both."""
    global _IN_WORKER
    _IN_WORKER = True
    z3.set_param("memory_high_watermark_mb", memory_mb)
    z3.set_param("memory_max_size", hard_cap_mb(memory_mb))
    hard = (hard_cap_mb(memory_mb) + 2048) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C is the parent's: it stops the pool and keeps the results


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def solve_task(task: Task) -> Obligation:
    """Solve a task with its own proof's solver (the fixed-size or the parametric one)."""
    return task.setup.solve(task)


def work(task: Task, proved: frozenset[str], hashed: bool, solver: Solver = solve_task) -> Obligation:
    """Solve a task (or skip it when its hash was proved before); runs in a worker or here."""
    global _POISONED
    if _POISONED:
        os._exit(EXIT_RETIRED)  # this worker's Z3 hit a memory cap on the last task: a fresh worker takes this one
    digest = task.setup.term_hash(task) if hashed else ""
    if digest and digest in proved:
        ob = Obligation(task.lemma, task.action, "proved", reason="resumed: proved by an earlier run", hash=digest)
    else:
        try:
            ob = solver(task)
        except (z3.Z3Exception, MemoryError) as exc:
            if isinstance(exc, z3.Z3Exception) and not _memory_error(str(exc)):
                raise
            if _IN_WORKER:
                os._exit(EXIT_OUT_OF_MEMORY)  # Z3 past a memory cap keeps no usable state
            ob = Obligation(task.lemma, task.action, "unknown", reason=f"out of memory ({type(exc).__name__})")
        ob.hash = digest
    # After either cap Z3 refuses more work in this process ("Resource limits hit"): retire the worker.
    _POISONED = _IN_WORKER and _memory_error(ob.reason)
    ob.peak_rss_mb = peak_rss_mb()
    return ob


def run_tasks(
    tasks: Sequence[Task],
    limits: Limits,
    *,
    results: Optional[ResultsFile] = None,
    on_done: Optional[OnDone] = None,
    solver: Solver = solve_task,
) -> list[Obligation]:
    """Every task's obligation, in the tasks' order; each recorded in `results` as it finishes."""
    proved = frozenset(results.proved) if results is not None else frozenset()
    hashed = results is not None
    out: list[Optional[Obligation]] = [None] * len(tasks)

    def finished(k: int, ob: Obligation) -> None:
        out[k] = ob
        if results is not None:
            results.append(ob)
        if on_done is not None:
            on_done(ob, sum(o is not None for o in out), len(tasks))

    if limits.workers == 0:
        for k, task in enumerate(tasks):
            finished(k, work(task, proved, hashed, solver))
    else:
        _run_pool(tasks, limits, proved, hashed, solver, finished)
    return [o for o in out if o is not None]


def run_proof(
    tasks: Sequence[Task],
    limits: Limits,
    results_file: Optional[Path],
    what: str,
    progress: Optional[Callable[[str, int, int], None]],
    on_obligation: Optional[OnDone],
) -> list[Obligation]:
    """`run_tasks` for a proof's entry point: the results file by path, `progress(what, done, total)` and
    `on_obligation(obligation, done, total)` after each obligation."""

    def done(ob: Obligation, k: int, total: int) -> None:
        if progress:
            progress(what, k, total)
        if on_obligation:
            on_obligation(ob, k, total)

    results = ResultsFile(results_file) if results_file is not None else None
    return run_tasks(tasks, limits, results=results, on_done=done)


def _run_pool(
    tasks: Sequence[Task], limits: Limits, proved: frozenset[str], hashed: bool, solver: Solver, finished: Callable[[int, Obligation], None]
) -> None:
    context = multiprocessing.get_context("spawn")  # no fork of a process holding Z3 state and pool threads
    pool = pebble.ProcessPool(max_workers=limits.workers, initializer=_init_worker, initargs=(limits.memory_mb,), context=context)

    def schedule(task: Task) -> "Future[Obligation]":
        return pool.schedule(work, args=(task, proved, hashed, solver), timeout=limits.obligation_seconds)

    try:
        pending = {schedule(task): (k, task) for k, task in enumerate(tasks)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                k, task = pending.pop(future)
                ob = _outcome(future, task, limits)
                if ob is None:
                    pending[schedule(task)] = (k, task)
                else:
                    finished(k, ob)
    finally:
        pool.stop()  # type: ignore[no-untyped-call]
        pool.join()


def _outcome(future: "Future[Obligation]", task: Task, limits: Limits) -> Optional[Obligation]:
    """The worker's obligation, an unknown one saying why the worker gave none, or None: run it again."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        # Spawned workers import the caller's __main__ module: a script that starts a proof
        # at import time makes each worker start one too, and the workers die bootstrapping.
        raise WorkersFailed(
            "the proof's worker processes all exited before taking an obligation; if this runs from a script,"
            ' put the call under `if __name__ == "__main__":` (workers are spawned and import the script)'
        ) from exc
    except FutureTimeout:
        seconds = limits.obligation_seconds or 0.0
        reason = f"ran past its {seconds:g} s budget; the worker was stopped"
    except pebble.ProcessExpired as exc:
        if exc.exitcode == EXIT_RETIRED:
            return None
        seconds = 0.0
        if exc.exitcode == EXIT_OUT_OF_MEMORY:
            reason = f"Z3 ran out of memory ({limits.memory_mb} MB watermark); the worker was replaced"
        else:
            reason = f"the worker died (exit code {exc.exitcode}): out of memory or killed"
    return Obligation(task.lemma, task.action, "unknown", seconds, reason=reason)
