"""The engines of `verify`: what one is, what it is given, and what it reports.

How this works: an `Engine` is a name and a `run` from a `VerifyContext` (the spec,
the options, the explorer's result once it has run) to an `EngineOutcome`
(per-property statuses, figures, seconds).  `FunctionEngine` makes one of a
function, with the flags that say where it may run (checker/jobs/verify_side.py).
The engines themselves and their registry are in checker/jobs/verify.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from leaderfollower.spec.raft import RaftSpec

from leaderfollower.checker.explore.result import ExploreResult


@dataclass
class EngineOutcome:
    """What one engine found: per-property statuses, its own figures, and how long it took."""

    engine: str
    ok: bool
    seconds: float
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        """The engine's section of the result document."""
        out: dict[str, Any] = {"ok": self.ok, "seconds": round(self.seconds, 3), "properties": self.properties, **self.figures}
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class VerifyContext:
    """Shared inputs of the engines of one run; the explorer's result once it has run."""

    spec: RaftSpec
    progress: Optional[Callable[[str], Callable[[Any], None]]] = None
    """Makes each engine's progress callback: it takes the explorer's `Progress`, or a line of text."""
    explored: Optional[ExploreResult] = None
    options: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    """One engine of `verify`: its name in documents and on the command line, and how it runs."""

    @property
    def name(self) -> str:
        """The engine's name (`explorer`, `z3-bounded`, ...)."""
        ...

    def run(self, ctx: VerifyContext) -> EngineOutcome:
        """Check the context's spec; report every property it judges with a `Status`."""
        ...


@dataclass(frozen=True)
class FunctionEngine:
    """An engine made of a function (how the engines here are written)."""

    name: str
    fn: Callable[[VerifyContext], EngineOutcome]
    independent: bool = False
    """It needs nothing of the explorer's result (`ctx.explored`) but what `reads` says:
    it may run in a second process (checker/jobs/verify_side.py)."""
    reads: Optional[Callable[[VerifyContext], object]] = None
    """For an independent engine: what it takes from the explorer's result, if anything
    (a run without it is redone in order when this differs once the explorer has run)."""
    time_boxed: bool = False
    """It does as much as a time box allows on every core (the simulation): it runs alone."""

    def run(self, ctx: VerifyContext) -> EngineOutcome:
        """Call the function."""
        return self.fn(ctx)
