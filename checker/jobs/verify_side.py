"""How `verify` runs its engines: in order, or with the independent ones in a second process.

How this works: the explorer is one process (it keeps the graph that liveness and
conformance read), and the Z3 engines are one process each that need nothing of
it.  So with two workers or more (`workers`, default the machine's cores), the
engines marked `independent` are run, in their order, by a forked child process
(`SideRun`) while this process runs the others, in theirs; the child sends each
outcome as it is done.  Every engine runs exactly as it would in order, on the
same spec and options, so the result document is the same but for the timings.
Two things keep it so: an independent engine that takes something of the
explorer's result (`reads`: BMC's depth is capped at the diameter) is run again
here, in order, when what it took without the explorer differs from what it
would take now; and the outcomes are put back in the order asked for.

An engine that raises is a failed engine with its error, wherever it runs; a child
that dies fails the engines it had not finished, naming its exit code.  Ctrl-C
(or SIGTERM turned into `KeyboardInterrupt`) reaches this process only (the child
ignores SIGINT): the engine under way here and the child's are failed as
interrupted, the child is stopped, and the engines never started are left out
(`not_run` in the document).  With `workers` 1, or nothing to run beside, the
engines run in order in this process, as before.
"""
from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any, Callable, Mapping, Optional

from leaderfollower.checker.conform.run import quiet_worker
from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.jobs.engine import Engine, EngineOutcome, VerifyContext


def run_engine(name: str, ctx: VerifyContext, table: Mapping[str, Engine]) -> EngineOutcome:
    """One engine's outcome; an unknown engine or an engine that raised is a failed outcome saying why."""
    engine = table.get(name)
    if engine is None:
        return EngineOutcome(name, False, 0.0, error=f"engine {name!r} is not available in this build")
    try:
        return engine.run(ctx)
    except Exception as exc:  # an engine crash is a failed engine, reported with its cause
        return EngineOutcome(name, False, 0.0, error=f"{type(exc).__name__}: {exc}")


def interrupted_outcome(name: str, signal_name: str, started: float) -> EngineOutcome:
    """The outcome of an engine a signal stopped."""
    return EngineOutcome(name, False, time.perf_counter() - started, error=f"interrupted by {signal_name}")


def workers_of(ctx: VerifyContext) -> int:
    """The `workers` option, or the machine's cores when it is 0 or absent."""
    from leaderfollower.checker.simulate.run import default_workers

    return int(ctx.options.get("workers", 0)) or default_workers()


def _flag(table: Mapping[str, Engine], name: str, attribute: str) -> bool:
    """An engine's `independent` or `time_boxed` (see `FunctionEngine`); False for an engine without it."""
    return bool(getattr(table.get(name), attribute, False))


def run_engines(ctx: VerifyContext, engines: tuple[str, ...], table: Mapping[str, Engine]) -> tuple[dict[str, EngineOutcome], Optional[str]]:
    """Run the engines (see the module comment): their outcomes, and the signal that interrupted the run, if one did."""
    side = tuple(name for name in engines if _flag(table, name, "independent"))
    boxed = tuple(name for name in engines if name not in side and _flag(table, name, "time_boxed"))
    here = tuple(name for name in engines if name not in side and name not in boxed)
    if workers_of(ctx) < 2 or not side or not here:
        return run_in_order(ctx, engines, table)
    child = SideRun(ctx, side, table)
    try:
        explored_after: dict[str, Optional[ExploreResult]] = {}
        outcomes, interrupted = run_in_order(ctx, here, table, explored_after)
        if interrupted is not None:
            outcomes.update(child.stop(interrupted))
            return outcomes, interrupted
        try:
            outcomes.update(child.wait(ctx))
        except KeyboardInterrupt as exc:
            outcomes.update(child.stop(str(getattr(exc, "signal_name", "SIGINT"))))
            return outcomes, str(getattr(exc, "signal_name", "SIGINT"))
    finally:
        child.end()
    interrupted = redo_stale(ctx, engines, outcomes, explored_after, table)
    if interrupted is None:
        # A time-boxed engine last, alone, with every core as in order: its walks do not shrink.
        last, interrupted = run_in_order(ctx, boxed, table)
        outcomes.update(last)
    return outcomes, interrupted


def run_in_order(
    ctx: VerifyContext, engines: tuple[str, ...], table: Mapping[str, Engine], explored_after: Optional[dict[str, Optional[ExploreResult]]] = None
) -> tuple[dict[str, EngineOutcome], Optional[str]]:
    """Run the engines one after the other here; a `KeyboardInterrupt` stops the run (see the module comment).

    `explored_after` gets, per engine, the explorer's result as it stood after it.
    """
    outcomes: dict[str, EngineOutcome] = {}
    for name in engines:
        started = time.perf_counter()
        try:
            outcomes[name] = run_engine(name, ctx, table)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM turned into one: keep what the engines before found
            signal_name = str(getattr(exc, "signal_name", "SIGINT"))
            outcomes[name] = interrupted_outcome(name, signal_name, started)
            return outcomes, signal_name
        if explored_after is not None:
            explored_after[name] = ctx.explored
    return outcomes, None


def redo_stale(
    ctx: VerifyContext,
    engines: tuple[str, ...],
    outcomes: dict[str, EngineOutcome],
    explored_after: dict[str, Optional[ExploreResult]],
    table: Mapping[str, Engine],
) -> Optional[str]:
    """Run again here each side engine whose `reads` differs from what it took; the interrupting signal, if any.

    In order, an engine would have seen the explorer's result as the engines before
    it left it; the side process saw none.
    """
    alone = VerifyContext(ctx.spec, None, None, ctx.options)
    saved, interrupted = ctx.explored, None
    try:
        for k, name in enumerate(engines):
            if name in explored_after or name not in outcomes:
                continue  # run here already, or not at all
            before = [e for e in engines[:k] if e in explored_after]
            ctx.explored = explored_after[before[-1]] if before else None
            if _reads(table, name, ctx) != _reads(table, name, alone):
                again, interrupted = run_in_order(ctx, (name,), table)
                outcomes.update(again)
                if interrupted is not None:
                    break
    finally:
        ctx.explored = saved
    return interrupted


def _reads(table: Mapping[str, Engine], name: str, ctx: VerifyContext) -> object:
    reads = getattr(table.get(name), "reads", None)
    return reads(ctx) if reads is not None else None


def _side(conn: Connection, ctx: VerifyContext, engines: tuple[str, ...], table: Mapping[str, Engine]) -> None:
    """The child's work: each engine in order, each outcome sent as soon as it is done."""
    quiet_worker()  # the parent decides what an interrupt stops; its SIGTERM ends the child quietly
    for name in engines:
        conn.send(("started", name, None))
        conn.send(("done", name, run_engine(name, ctx, table)))
    conn.close()


class SideRun:
    """The independent engines in a forked child process (see the module comment)."""

    def __init__(self, ctx: VerifyContext, engines: tuple[str, ...], table: Mapping[str, Engine]) -> None:
        self.engines = engines
        self.outcomes: dict[str, EngineOutcome] = {}
        self.current: Optional[str] = None
        self.started = time.perf_counter()
        mp = multiprocessing.get_context("fork")
        self.conn, child_end = mp.Pipe(duplex=False)
        # No progress callback: the terminal's one live display belongs to this process.
        alone = VerifyContext(ctx.spec, None, None, dict(ctx.options))
        self.proc: Any = mp.Process(target=_side, args=(child_end, alone, engines, table), name="leaderfollower-verify-side")
        # Not a daemon: an engine may start processes of its own (a daemon may not); `end` stops it.
        self.proc.start()
        child_end.close()

    def _receive(self, block: bool) -> bool:
        """Take one message from the child (waiting for it if `block`); False when none came or the child is gone."""
        if not block and not self.conn.poll():
            return False
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            return False
        what, name, outcome = message
        if what == "done":
            self.outcomes[name] = outcome  # by the name asked for, as in order (an engine may call itself otherwise)
            self.current = None
        else:
            self.current, self.started = name, time.perf_counter()
        return True

    def wait(self, ctx: VerifyContext) -> dict[str, EngineOutcome]:
        """Every side engine's outcome, once the child is done (a dead child fails the engines it left)."""
        bar: Optional[Callable[[Any], None]] = None
        shown: Optional[str] = None
        while len(self.outcomes) < len(self.engines):
            if self.current is not None and ctx.progress is not None:
                if self.current != shown:  # a display per engine, labelled with its name
                    bar, shown = ctx.progress(self.current), self.current
                assert bar is not None
                bar("running in a second process")
            # Woken every second to keep the display alive; a dead child ends the wait.
            if not self.conn.poll(1.0):
                if not self.proc.is_alive() and not self.conn.poll():
                    break
                continue
            if not self._receive(block=True):
                break
        self.proc.join(timeout=10)
        for name in self.engines:
            if name not in self.outcomes:
                self.outcomes[name] = EngineOutcome(
                    name, False, 0.0, error=f"the process running it stopped (exit code {self.proc.exitcode}) before it finished"
                )
        return self.outcomes

    def stop(self, signal_name: str) -> dict[str, EngineOutcome]:
        """Stop the child at an interrupt: the outcomes it had, and the engine it was running failed as interrupted."""
        while self._receive(block=False):
            pass
        if self.current is not None and self.current not in self.outcomes:
            self.outcomes[self.current] = interrupted_outcome(self.current, signal_name, self.started)
        self.proc.terminate()
        self.proc.join(timeout=10)
        return self.outcomes

    def end(self) -> None:
        """Make sure the child is gone, whatever happened here (it has normally ended already)."""
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(timeout=10)
        self.conn.close()
